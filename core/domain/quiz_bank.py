"""Conceptual quiz questions, at least three per lesson topic, sized for a Telegram quiz poll."""

from __future__ import annotations

from dataclasses import dataclass

# Telegram poll limits: question 300, option 100, explanation 200 characters.
MAX_TEXT_CHARS = 300
MAX_OPTION_CHARS = 100
MAX_EXPLANATION_CHARS = 200


@dataclass(frozen=True, slots=True)
class Question:
    """A four-option question with one correct answer and a short explanation shown afterwards."""

    id: str
    topic: str
    difficulty: int
    text: str
    options: tuple[str, str, str, str]
    correct: int
    explanation: str

    def __post_init__(self) -> None:
        problems = [
            what
            for what, bad in (
                ("difficulty must be 1, 2 or 3", self.difficulty not in (1, 2, 3)),
                ("correct must index an option", not 0 <= self.correct < len(self.options)),
                ("options must be distinct", len(set(self.options)) != len(self.options)),
                (f"text over {MAX_TEXT_CHARS} characters", len(self.text) > MAX_TEXT_CHARS),
                ("an option is too long", any(len(o) > MAX_OPTION_CHARS for o in self.options)),
                ("explanation empty or too long", not 0 < len(self.explanation) <= MAX_EXPLANATION_CHARS),
            )
            if bad
        ]
        if problems:
            raise ValueError(f"question {self.id}: {'; '.join(problems)}")


Q = Question

QUESTIONS: tuple[Question, ...] = (
    # --- isolated ---------------------------------------------------------------------------------
    Q("iso-01", "isolated", 1,
      "You open a BTC long in isolated mode with 100 USDT of margin at 10x. What is the most it can lose?",
      ("Your whole futures balance", "The 100 USDT margin (plus any margin you add to it later)",
       "1,000 USDT, the full position size", "Nothing, isolated positions cannot be liquidated"),
      1, "An isolated position only owns its margin. Liquidation takes that margin and nothing else."),
    Q("iso-02", "isolated", 1,
      "In isolated mode, what serves as collateral for a position?",
      ("All the free USDT in your wallet", "The profits of your other open positions",
       "Only the margin assigned to that position", "The exchange's insurance fund"),
      2, "Each isolated position has its own pot. The wallet and other trades stay out of it unless you "
         "add margin yourself with /margin."),
    Q("iso-03", "isolated", 2,
      "Your isolated ETH long is getting close to liquidation. Which action moves its liquidation price "
      "further away?",
      ("Raising the leverage with /leverage",
       "Switching ETH to cross with /mode",
       "Opening a cross position on BTC",
       "Adding margin with /margin ETH add 50"),
      3, "More margin in the pot means the price must travel further before equity meets maintenance. "
         "The mode can't change while a position is open."),
    Q("iso-04", "isolated", 2,
      "When is an isolated position liquidated?",
      ("When its margin plus unrealised PnL falls to its maintenance margin",
       "When its unrealised loss equals your whole wallet",
       "When the last traded price touches your entry price",
       "When the account's margin ratio reaches 50 %"),
      0, "Isolated liquidation looks at that position alone: its own margin plus its PnL against its "
         "maintenance margin."),
    Q("iso-05", "isolated", 3,
      "An isolated BTC position is liquidated. You also hold an isolated SOL position and 2,000 USDT of "
      "free balance. What happens to them?",
      ("Both are used to cover the BTC loss", "SOL is closed too, the free USDT stays",
       "Both stay exactly as they were", "The free USDT is used, SOL stays open"),
      2, "An isolated liquidation costs only that position's margin. Other positions and the free "
         "balance are untouched."),
    Q("iso-06", "isolated", 3,
      "You want to take 30 USDT back out of an open isolated position. When does /margin SYM remove 30 "
      "work?",
      ("Any time, the margin is always yours",
       "Only while the position keeps at least its initial margin at the current mark",
       "Only after the position is closed", "Only after switching the symbol to cross"),
      1, "Removing margin is allowed only if the position still holds its initial margin at the current "
         "mark; otherwise it would sit too close to liquidation."),
    # --- cross ------------------------------------------------------------------------------------
    Q("crs-01", "cross", 1,
      "What is the collateral for a position in cross margin?",
      ("The cross wallet balance plus the PnL of all cross positions",
       "Only the margin you typed when opening it",
       "The exchange's insurance fund",
       "Only the profit of that same position"),
      0, "Cross positions share one pool: the cross wallet balance plus the unrealised PnL of every "
         "cross position."),
    Q("crs-02", "cross", 2,
      "In cross mode, when is the account liquidated?",
      ("When any single position is down 50 %", "When the wallet falls below its starting value",
       "When the last price crosses your entry price",
       "When total maintenance margin ÷ margin balance reaches 100 %"),
      3, "Cross looks at the account as a whole: once the maintenance needed equals the margin balance "
         "(ratio 100 %), it is liquidated."),
    Q("crs-03", "cross", 2,
      "Your cross account is liquidated. Which positions are closed?",
      ("Only the one with the biggest loss", "Every cross position of the account",
       "Every position, isolated ones included", "None, a cross liquidation only cancels orders"),
      1, "A cross liquidation closes all cross positions together. Isolated positions sit outside the "
         "cross pool and are not touched."),
    Q("crs-04", "cross", 1,
      "In cross, one trade is down while another is up. What does the winner's unrealised profit do?",
      ("It stays locked until you close the winner", "It is sent to the insurance fund",
       "It raises the shared margin balance that keeps the loser alive",
       "It lowers your leverage to 1x"),
      2, "Unrealised profit counts in the cross margin balance, so it helps carry the losses of the "
         "other cross positions."),
    Q("crs-05", "cross", 3,
      "You hold a cross BTC long and change its leverage from 10x to 20x with /leverage. What happens "
      "to its liquidation price?",
      ("It moves much closer to the current price", "It moves further away",
       "It stays the same; only the initial margin locked changes", "It doubles"),
      2, "Cross liquidation depends on balance and maintenance margin, not leverage. Leverage only sets "
         "the initial margin and so the available balance."),
    Q("crs-06", "cross", 3,
      "Your futures wallet holds 10,000 USDT, of which 3,000 is margin of isolated positions. You also "
      "have cross positions. What can a cross liquidation take at most?",
      ("The full 10,000",
       "Nothing at all",
       "Only the 3,000",
       "The 7,000 cross wallet balance"),
      3, "Isolated margins are moved out of the cross pool. A cross liquidation can take the cross "
         "wallet balance, never the isolated pots."),
    # --- isolated-benefits ------------------------------------------------------------------------
    Q("isb-01", "isolated-benefits", 1,
      "Which is a main benefit of isolated margin?",
      ("A loss can't go beyond the margin of the losing position",
       "Positions can never be liquidated", "Hedges need less margin than in cross",
       "Funding fees are waived"),
      0, "The core benefit is containment: each trade risks its own margin and nothing more."),
    Q("isb-02", "isolated-benefits", 2,
      "You trade BTC, ETH and SOL at once, all isolated. SOL crashes and is liquidated. What happens to "
      "the BTC and ETH trades?",
      ("They are closed to repay SOL", "They keep running with their own margins",
       "Their leverage is cut in half", "They switch to cross automatically"),
      1, "Isolated pots are separate, so one coin crashing cannot drain the margin or the gains of the "
         "others."),
    Q("isb-03", "isolated-benefits", 2,
      "In isolated mode, can a BTC position run at 3x while a DOGE position runs at 15x?",
      ("No, one leverage applies to the whole account", "Only if both are longs",
       "Yes, leverage is chosen per position", "Only after closing the BTC position"),
      2, "Leverage is set per symbol, so each isolated trade can get the leverage that suits its risk."),
    Q("isb-04", "isolated-benefits", 2,
      "Why is it easier to plan stops around an isolated position?",
      ("Its liquidation price moves whenever any coin moves", "Stops are free in isolated",
       "Isolated positions have no liquidation price",
       "Its liquidation price stays put unless you change it or funding is paid"),
      3, "With fixed margin the liquidation level only shifts when you change that position or funding "
         "touches its margin, so you can plan around it."),
    Q("isb-05", "isolated-benefits", 3,
      "During a sudden crash, why don't isolated positions set off a chain of liquidations?",
      ("Each loss is capped at its own margin, so one liquidation can't weaken the others",
       "The exchange pauses isolated trading",
       "Isolated uses the last price instead of the mark",
       "Isolated positions are hedged automatically"),
      0, "No pot can borrow from another, so a liquidation in one trade leaves the rest exactly as "
         "strong as before."),
    # --- cross-benefits ---------------------------------------------------------------------------
    Q("crb-01", "cross-benefits", 1,
      "Which is a benefit of cross margin?",
      ("Each trade's loss is capped at its own margin",
       "One balance backs every position, so less money sits idle",
       "Liquidation can never happen", "The liquidation price never moves"),
      1, "Cross is capital-efficient: one shared balance backs every position instead of a separate "
         "cushion per trade."),
    Q("crb-02", "cross-benefits", 2,
      "Why does a losing cross position usually last longer than the same trade held isolated with the "
      "same initial margin?",
      ("Free balance and other profits absorb its loss first",
       "The exchange gives cross traders a grace period",
       "Cross positions use lower leverage", "Cross ignores maintenance margin"),
      0, "In cross, equity elsewhere in the pool covers the floating loss, so liquidation sits further "
         "away. It is delayed, not removed."),
    Q("crb-03", "cross-benefits", 2,
      "You are long BTC and short ETH in cross. Why does the pair often need less margin than as two "
      "isolated trades?",
      ("Short positions need no margin", "Cross halves all trading fees",
       "A move that hurts one leg tends to help the other, and the pool nets them",
       "Hedged pairs are never liquidated anywhere"),
      2, "Offsetting legs move in opposite PnL directions; a shared pool lets the winner's gain cover "
         "the loser's loss."),
    Q("crb-04", "cross-benefits", 1,
      "What does 'simpler fund management' mean for cross margin?",
      ("You never pay fees", "The bot trades for you", "You can't add margin",
       "You don't have to move margin between positions by hand"),
      3, "One balance serves all cross positions, so there is no per-trade margin to top up or shift "
         "around."),
    Q("crb-05", "cross-benefits", 2,
      "Who gets the most out of cross margin's capital efficiency?",
      ("A trader running several offsetting positions on a well-funded account",
       "Someone holding a single 1x position", "A beginner trying leverage for the first time",
       "Someone who opens the app once a week"),
      0, "Cross shines when many positions share one healthy pool, especially offsetting ones. It "
         "helps least with a single low-leverage trade."),
    Q("crb-06", "cross-benefits", 3,
      "A hedge held as two isolated legs can lose one leg to liquidation while the pair is nearly flat. "
      "Why is that less likely in cross?",
      ("Cross positions can't be liquidated", "The profitable leg's gain supports the losing leg",
       "Cross uses a higher maintenance rate", "Cross closes hedges automatically"),
      1, "Isolated legs can't share profit, so one can hit liquidation while the other sits on a gain. "
         "In cross that gain counts toward the shared margin."),
    # --- cross-danger -----------------------------------------------------------------------------
    Q("dng-01", "cross-danger", 1,
      "What is the biggest danger of cross margin?",
      ("Fees are higher than in isolated",
       "If positions go wrong together, the whole cross balance can be lost",
       "Stop-losses don't work", "Leverage is capped at 5x"),
      1, "Shared collateral means shared risk: simultaneous losses drain one pool and can liquidate "
         "everything in it."),
    Q("dng-02", "cross-danger", 2,
      "You hold cross longs on BTC, ETH and SOL. Why is a market-wide drop especially dangerous?",
      ("The exchange closes correlated positions first", "The mark price stops updating",
       "These coins tend to fall together, so all losses hit one pool at once",
       "Funding doubles during a drop"),
      2, "Correlated coins fall together, and in cross all their losses add up against the same "
         "balance."),
    Q("dng-03", "cross-danger", 2,
      "Your DOGE cross position collapses. How can that hurt your untouched BTC cross position?",
      ("It can't, each symbol is separate",
       "DOGE's loss drains the shared margin balance, so BTC can be liquidated too",
       "BTC's leverage is raised", "BTC's entry price is moved"),
      1, "In cross, a loss anywhere lowers the common margin balance. At a 100 % margin ratio every "
         "cross position closes, BTC included."),
    Q("dng-04", "cross-danger", 3,
      "After a cross liquidation, roughly what is left of the cross balance?",
      ("The full initial margins of all positions", "Exactly half of the balance",
       "The balance you had before the trades opened",
       "About the maintenance margin minus a clearance fee, often little or nothing"),
      3, "Liquidation fires when equity equals maintenance margin. A clearance fee comes out of that, "
         "and a fast gap can leave nothing."),
    Q("dng-05", "cross-danger", 2,
      "Which habit best limits the danger of cross margin?",
      ("Raising leverage to push the liquidation price away",
       "Turning off alerts to avoid panic",
       "Opening more correlated positions to average out",
       "Keeping speculative bets isolated and watching /health"),
      3, "Fence risky bets in isolated so they can't drain the pool, and keep an eye on the margin "
         "ratio with /health."),
    # --- comparison -------------------------------------------------------------------------------
    Q("cmp-01", "comparison", 1,
      "Risk exposure: what can one bad position cost you in each mode?",
      ("Isolated: the whole balance. Cross: its margin", "Isolated: its own margin. Cross: the whole "
       "cross balance", "Both modes: only its margin", "Both modes: the whole balance"),
      1, "Isolated fences each trade; cross shares one balance, so in the worst case all of it is "
         "exposed."),
    Q("cmp-02", "comparison", 1,
      "Which mode is more capital-efficient?",
      ("Cross, because one shared balance backs all positions",
       "Isolated, because each trade has dedicated margin", "Both are equal",
       "Neither, margin mode doesn't affect capital use"),
      0, "Cross lets the same money support many positions; isolated ties up a separate margin in each "
         "trade."),
    Q("cmp-03", "comparison", 2,
      "How do liquidations differ between the modes?",
      ("Isolated: the whole account. Cross: one position", "Neither mode liquidates positions",
       "Isolated: one position at a known price. Cross: the whole account at a moving price",
       "Both liquidate at the last traded price"),
      2, "Isolated liquidation is contained and predictable; cross liquidation depends on the whole "
         "pool and can close everything."),
    Q("cmp-04", "comparison", 1,
      "Who is cross margin usually best suited to?",
      ("Experienced traders, hedgers and active market timers",
       "First-time futures traders",
       "People who check positions once a month",
       "Anyone who wants a fixed loss per trade"),
      0, "Cross suits people who can manage shared risk: experienced traders, hedgers and those who "
         "watch the market closely."),
    Q("cmp-05", "comparison", 2,
      "Which statement about flexibility is right?",
      ("Cross lets you set margin per position; isolated can't", "Only cross supports leverage",
       "Neither mode lets you change margin",
       "Isolated lets you tune each position; cross is managed as one book"),
      3, "Isolated gives per-position control of margin and leverage; cross trades that for control at "
         "the level of the whole account."),
    # --- choosing ---------------------------------------------------------------------------------
    Q("cho-01", "choosing", 1,
      "You have never traded futures before. Which mode should you start with?",
      ("Cross, to get the most from your balance", "Isolated, so a mistake costs only one trade's margin",
       "Whichever has lower fees", "Cross with maximum leverage"),
      1, "Beginners are usually advised to start isolated: each mistake has a known, limited cost."),
    Q("cho-02", "choosing", 2,
      "You trade BTC alongside a few small meme coins. Which setup fits best?",
      ("Isolated, since their risk levels differ a lot", "Cross for everything, they're all crypto",
       "Cross only for the meme coins", "Neither, trade one coin at a time"),
      0, "Coins with very different risk belong in separate pots, so a meme-coin crash can't eat the "
         "BTC trade's margin."),
    Q("cho-03", "choosing", 2,
      "You run a hedging strategy with long and short legs that offset each other and watch it all "
      "day. Which mode is usually the better fit?",
      ("Isolated, to keep each leg apart", "It makes no difference", "Isolated with maximum leverage",
       "Cross, so the legs can support each other"),
      3, "Hedgers and arbitrageurs benefit from cross: offsetting legs share one pool and need less "
         "margin in total."),
    Q("cho-04", "choosing", 2,
      "Which wish points towards isolated margin?",
      ("Getting the most out of every USDT",
       "Letting winners fund losers",
       "Holding hedged pairs cheaply",
       "Knowing in advance where each position gets liquidated"),
      3, "A predictable liquidation level per trade is a hallmark of isolated; the other wishes favour "
         "cross."),
    Q("cho-05", "choosing", 3,
      "Which trader profile fits cross margin best?",
      ("New, trading several coins, checking once a day", "Wants a strict loss limit on every trade",
       "Experienced, confident in their view, adjusting positions in real time",
       "Rarely online and dislikes surprises"),
      2, "Cross rewards experience, conviction and close monitoring; the other profiles are better "
         "served by isolated."),
    # --- both -------------------------------------------------------------------------------------
    Q("bth-01", "both", 1,
      "Can one account use isolated for some symbols and cross for others?",
      ("No, the mode is account-wide", "Yes, the mode is set per symbol", "Only on paper accounts",
       "Only for BTC"),
      1, "The margin mode belongs to each symbol, so you can mix modes across your positions."),
    Q("bth-02", "both", 2,
      "A common split among seasoned traders is:",
      ("Cross for speculative altcoins, isolated for BTC", "Isolated for hedges, cross for meme coins",
       "Cross for everything under 5x", "Isolated for speculative altcoins, cross for core BTC/ETH"),
      3, "Wild bets get a hard loss ceiling in isolated; steady core positions use the shared balance in "
         "cross."),
    Q("bth-03", "both", 2,
      "Why put a volatile altcoin bet in isolated while your BTC position sits in cross?",
      ("So an altcoin collapse costs only its own margin and can't drain the cross pool",
       "Altcoins cannot be traded in cross", "Isolated pays lower funding",
       "To freeze BTC's liquidation price"),
      0, "Isolating the risky bet keeps its worst case small and leaves the cross balance for the core "
         "position."),
    Q("bth-04", "both", 3,
      "You hold DOGE isolated, BTC and ETH in cross. The cross book is liquidated. What happens to DOGE?",
      ("It keeps running with its own margin",
       "It is closed as well",
       "Its margin is moved into the cross pool",
       "It is switched to cross"),
      0, "A cross liquidation only closes cross positions. The isolated DOGE pot is outside the pool and "
         "stays open."),
    Q("bth-05", "both", 2,
      "Why do many traders keep core BTC positions in cross?",
      ("BTC cannot be isolated", "Cross liquidation never happens on BTC",
       "They expect slower trends and want the shared balance to absorb dips",
       "Cross has no maintenance margin"),
      2, "For slow-moving core positions, the shared balance gives room to ride out pullbacks."),
    # --- faq --------------------------------------------------------------------------------------
    Q("faq-01", "faq", 1,
      "Can you switch a symbol from isolated to cross while its position is open?",
      ("Yes, any time", "No, only when the symbol has no position and no open order",
       "Yes, but only while in profit", "Only after raising the leverage"),
      1, "Binance refuses a mode change while the symbol has a position or an open order. Decide the "
         "mode before you open."),
    Q("faq-02", "faq", 1,
      "With cross margin, can your positions still be liquidated?",
      ("No, the shared balance always covers losses", "No, not if you use 1x leverage",
       "Yes; cross delays it, but at a 100 % margin ratio cross positions are liquidated",
       "Only BTC positions can be"),
      2, "The shared balance buys time, but once losses eat it down to the maintenance margin, "
         "liquidation still happens."),
    Q("faq-03", "faq", 1,
      "Can you use stop-loss and take-profit orders with cross margin?",
      ("Only in isolated", "Only take-profit", "Only together with a trailing stop",
       "Yes, they work in both modes"),
      3, "/sl and /tp work the same in both modes, and using them is wise whatever mode you pick."),
    Q("faq-04", "faq", 2,
      "In cross mode, what is 'effective leverage'?",
      ("Total position size divided by account equity, drifting as PnL floats",
       "The number you typed with /leverage", "Always 1x", "The maximum leverage of the bracket"),
      0, "In cross your real exposure is total notional over equity. It changes as prices move, whatever "
         "the /leverage setting says."),
    Q("faq-05", "faq", 2,
      "Is isolated always the better mode?",
      ("Safer for most users, but hedgers and active traders may do better in cross",
       "Yes, always",
       "No, cross is always better",
       "It only matters for BTC"),
      0, "Safer is not the same as better: isolated limits the downside, while cross can suit skilled, "
         "attentive or hedged strategies."),
    Q("faq-06", "faq", 2,
      "You closed your ETH position, yet /mode ETH cross is refused. The most likely reason?",
      ("Cross needs a profit first", "ETH can't use cross", "You still have an open ETH order",
       "Your leverage is too low"),
      2, "A mode change needs no position and no open order on the symbol. Cancel with /cancel, then "
         "switch."),
    Q("faq-07", "faq", 3,
      "In isolated mode, what does the leverage you choose decide?",
      ("Nothing, it's cosmetic", "The margin behind the position and so its liquidation price",
       "The maintenance margin rate", "The funding rate you pay"),
      1, "Isolated margin is notional ÷ leverage, so leverage sets the pot size and with it the "
         "liquidation price."),
    # --- tools ------------------------------------------------------------------------------------
    Q("tls-01", "tools", 1,
      "What does a trailing stop do?",
      ("Closes at a fixed price you set once",
       "Switches the mode when the price falls",
       "Adds margin automatically",
       "Follows the price your way and closes if it turns back by a set percent"),
      3, "A trailing stop moves with a favourable price and fires once the price reverses by the chosen "
         "amount, locking in part of the gain."),
    Q("tls-02", "tools", 1,
      "Which command shows the margin ratio and each position's distance to liquidation?",
      ("/price", "/history", "/quiz", "/health"),
      3, "/health is the margin health check: margin ratio plus how far each position is from "
         "liquidation."),
    Q("tls-03", "tools", 1,
      "You want a ping if BTC's mark drops below 60,000. What do you use?",
      ("/trail BTC 60000", "/alert BTC < 60000", "/mode BTC isolated", "/margin BTC add 60000"),
      1, "/alert watches a price level and notifies you when the mark crosses it."),
    Q("tls-04", "tools", 2,
      "Why are automatic tools useful whatever margin mode you use?",
      ("They react to fast moves even when you are away", "They remove all risk",
       "They raise leverage safely", "They stop funding payments"),
      0, "Alerts, stops and health warnings act in seconds, day or night, which matters in both modes."),
    Q("tls-05", "tools", 2,
      "Which tool protects profit on a winning trade while letting it keep running?",
      ("A price alert", "Adding margin", "A trailing stop", "Switching to cross"),
      2, "A trailing stop ratchets behind the price, so gains are partly locked while the trade stays "
         "open."),
    # --- paper-trading ----------------------------------------------------------------------------
    Q("pap-01", "paper-trading", 1,
      "What is the main point of paper trading?",
      ("Earning real profit faster", "Practising with simulated money so mistakes cost nothing real",
       "Avoiding fees on real exchanges", "Getting higher leverage"),
      1, "Paper trading lets you test both margin modes under real rules without risking real money."),
    Q("pap-02", "paper-trading", 1,
      "How much practice USDT does a new Margin Dojo account get by default?",
      ("100", "1,000", "10,000", "1,000,000"),
      2, "/start opens an account with 10,000 paper USDT; /reset starts over."),
    Q("pap-03", "paper-trading", 2,
      "What is a good way to learn the difference between the modes here?",
      ("Only read about them", "Use maximum leverage to learn fast", "Trade only in cross",
       "Try the same idea in each mode and compare with /compare and /whatif"),
      3, "Seeing the same positions side by side in both modes makes the difference concrete."),
    Q("pap-04", "paper-trading", 2,
      "Why treat paper money as if it were real?",
      ("So the habits you build carry over to real trading", "The bot converts it to cash later",
       "Paper losses are charged to your card", "To unlock higher leverage"),
      0, "Careless play teaches careless habits. Trading paper seriously builds the discipline real "
         "money needs."),
    Q("pap-05", "paper-trading", 3,
      "What does paper trading NOT teach well?",
      ("How liquidation prices work", "How each mode reacts to a crash",
       "The stress of risking real money", "How stops and alerts behave"),
      2, "The mechanics are the same, but fear and greed feel weaker with play money. Start small when "
         "you move to real funds."),
    # --- mark-price -------------------------------------------------------------------------------
    Q("mrk-01", "mark-price", 1,
      "Which price triggers liquidation on Binance USDⓈ-M futures?",
      ("The mark price",
       "The last traded price",
       "Your entry price",
       "The daily open price"),
      0, "Liquidation and unrealised PnL follow the mark price; fills and realised PnL use the last "
         "price."),
    Q("mrk-02", "mark-price", 2,
      "You were liquidated, but the chart's candles never touched your liquidation price. The likely "
      "reason?",
      ("A bug at the exchange", "Funding was paid twice",
       "The chart shows the last price, while liquidation follows the mark price",
       "Your leverage changed by itself"),
      2, "Charts usually plot last price. The mark can reach your liquidation level even when the last "
         "price doesn't."),
    Q("mrk-03", "mark-price", 2,
      "What is the mark price built from?",
      ("An index of spot prices from several exchanges, adjusted for funding and basis",
       "Only the last trade on this exchange", "Your average entry price", "The best bid in the book"),
      0, "The mark blends a multi-exchange spot index with funding and basis terms, giving a steadier "
         "fair value."),
    Q("mrk-04", "mark-price", 1,
      "Which of these is computed from the mark price?",
      ("The realised PnL of a closed trade", "The unrealised PnL of an open position",
       "The depth of the order book", "Your trading fee tier"),
      1, "Open positions are valued at the mark, so unrealised PnL and liquidation checks use it."),
    Q("mrk-05", "mark-price", 2,
      "Why do exchanges liquidate on a mark price instead of the last price?",
      ("To make liquidations faster", "To charge higher fees", "Because the last price isn't public",
       "So one thin spike or manipulated trade can't liquidate everyone"),
      3, "A fair, smoothed price protects traders from brief spikes on one venue's order book."),
    # --- brackets ---------------------------------------------------------------------------------
    Q("brk-01", "brackets", 1,
      "How is maintenance margin computed on Binance USDⓈ-M?",
      ("Initial margin ÷ 2", "Notional × maintenance rate − maintenance amount of its bracket",
       "Always 1 % of the margin", "Leverage × entry price"),
      1, "MM = notional × rate − maintenance amount, with rate and amount taken from the bracket the "
         "notional falls into."),
    Q("brk-02", "brackets", 2,
      "What happens to the maintenance margin rate as a position's notional grows?",
      ("It falls", "It stays the same", "It rises in steps, like tax brackets", "It drops to zero"),
      2, "Bigger positions are riskier to unwind, so higher notional brackets carry higher rates."),
    Q("brk-03", "brackets", 2,
      "Why does each bracket subtract a 'maintenance amount'?",
      ("So MM doesn't jump at the boundary between brackets", "To give big traders a discount",
       "To pay funding", "To cover trading fees"),
      0, "The amount makes MM continuous: at a boundary, both brackets give the same maintenance margin."),
    Q("brk-04", "brackets", 3,
      "Illustrative bracket: rate 0.5 %, maintenance amount 50. What is MM for a 100,000 USDT notional?",
      ("500",
       "50",
       "550",
       "450"),
      3, "100,000 × 0.5 % = 500, minus the 50 maintenance amount = 450."),
    Q("brk-05", "brackets", 2,
      "Does your leverage change a position's maintenance margin?",
      ("Yes, higher leverage raises MM", "Yes, MM = margin ÷ leverage", "Only in cross",
       "No, MM depends on notional and bracket; leverage sets initial margin"),
      3, "Leverage decides initial margin only. Maintenance margin comes from the notional and its "
         "bracket."),
    Q("brk-06", "brackets", 3,
      "Why can't a very large position use 125x leverage?",
      ("Higher brackets allow a lower maximum leverage", "125x is only for shorts",
       "Large positions must be cross", "It can, leverage is never capped"),
      0, "Each bracket has its own leverage cap, and the cap shrinks as the notional grows."),
    # --- cross-liq-moves --------------------------------------------------------------------------
    Q("clm-01", "cross-liq-moves", 1,
      "Your cross liquidation price moved though you didn't touch the position. A likely cause?",
      ("The exchange changed your entry price", "Another cross position gained or lost",
       "Your stop-loss expired", "The bot switched you to isolated"),
      1, "A cross liquidation price depends on the other cross positions' PnL and maintenance, so it "
         "moves when they do."),
    Q("clm-02", "cross-liq-moves", 2,
      "Which of these does NOT move a cross liquidation price?",
      ("A funding payment", "A trading fee taken from the wallet",
       "Changing the leverage with /leverage", "Another cross position's loss"),
      2, "Leverage doesn't enter the cross formula; it only changes initial margin. Funding, fees and "
         "other positions do move it."),
    Q("clm-03", "cross-liq-moves", 2,
      "Funding is settled every 8 hours. How can it move a liquidation price?",
      ("It changes the wallet (cross) or the position's own margin (isolated)",
       "It can't",
       "It changes your entry price",
       "It rewrites the bracket table"),
      0, "Funding is paid from or into the cross wallet, or the isolated margin, and either one feeds "
         "the liquidation price."),
    Q("clm-04", "cross-liq-moves", 3,
      "A cross liquidation price is solved for one symbol while holding what fixed?",
      ("Nothing, it's fixed at entry", "Only the leverage", "The funding rate for a year",
       "The wallet plus the other positions' PnL and maintenance at current marks"),
      3, "It's a snapshot: the rest of the account is frozen at current marks. When any of that "
         "changes, the price is recomputed."),
    Q("clm-05", "cross-liq-moves", 3,
      "Another coin you hold in cross rallies strongly in your favour. What happens to the liquidation "
      "price of your cross BTC long?",
      ("It moves closer to the current price", "It doesn't change",
       "It moves further below the current price", "BTC is closed automatically"),
      2, "The rally adds unrealised profit to the shared pool, so BTC must fall further before the "
         "account hits its maintenance margin."),
    # --- liquidation-leftover ---------------------------------------------------------------------
    Q("lft-01", "liquidation-leftover", 1,
      "Where does the margin left between the liquidation price and the bankruptcy price go?",
      ("Back to your wallet", "To the insurance fund", "To the traders on the other side",
       "It is destroyed"),
      1, "The exchange keeps that buffer in its insurance fund, which pays for liquidations that close "
         "beyond bankruptcy."),
    Q("lft-02", "liquidation-leftover", 2,
      "What is the bankruptcy price of a position?",
      ("The price where you are liquidated", "The lowest price of the day",
       "The price where its margin would be exactly zero", "The price the market opened at"),
      2, "At the bankruptcy price, margin plus PnL equals zero. Liquidation happens earlier, at the "
         "maintenance margin."),
    Q("lft-03", "liquidation-leftover", 2,
      "Why isn't a position liquidated only when its margin reaches zero?",
      ("Exchanges like to keep your money",
       "The maintenance buffer lets it be closed before it loses more than its margin",
       "Funding must be paid first", "The insurance fund needs no buffer"),
      1, "Closing a position takes time and liquidity. The maintenance buffer covers slippage so the "
         "loss doesn't exceed the margin."),
    Q("lft-04", "liquidation-leftover", 2,
      "What is the clearance fee in a cross liquidation?",
      ("A fee for opening cross positions", "A monthly account fee", "Funding paid to short sellers",
       "A charge on the liquidated notional paid to the insurance fund"),
      3, "Here it's 0.5 % of the liquidated notional, never more than what remains, and it goes to the "
         "insurance fund."),
    Q("lft-05", "liquidation-leftover", 3,
      "A fast gap pushes the price past your bankruptcy price. Can your paper wallet go negative?",
      ("No, the insurance fund absorbs the shortfall", "Yes, you owe the difference",
       "Yes, but only in isolated", "Only if you had a stop-loss"),
      0, "A wallet never drops below zero: the insurance fund covers any loss beyond bankruptcy."),
    Q("lft-06", "liquidation-leftover", 3,
      "You had 100 USDT of isolated margin and were liquidated. How much of your account did you lose?",
      ("About 96, the rest is returned",
       "Nothing, it is refunded",
       "The whole wallet",
       "Exactly the 100 USDT margin"),
      3, "In isolated you lose the whole position margin: what was left at liquidation goes to the "
         "insurance fund, not back to you."),
)

_BY_ID: dict[str, Question] = {q.id: q for q in QUESTIONS}


def questions_for(topic: str) -> tuple[Question, ...]:
    """Every question on a lesson topic, in bank order (empty for an unknown topic)."""
    return tuple(q for q in QUESTIONS if q.topic == topic)


def question(question_id: str) -> Question | None:
    """The question with that id, or None."""
    return _BY_ID.get(question_id)
