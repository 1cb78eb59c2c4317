"""Short lessons on isolated and cross margin (Binance USDⓈ-M rules), written for a phone screen.

Pages are plain text (no HTML or Markdown) so every chat platform can show them as they are.
Numbers here are round illustrations; the engine and /whatif compute the exact ones.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAGE_CHARS = 700


@dataclass(frozen=True, slots=True)
class Lesson:
    """One topic of /learn: a slug id, a title and a few phone-sized pages."""

    topic: str
    title: str
    pages: tuple[str, ...]


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "isolated",
        "Isolated margin: one pot per trade",
        (
            "With isolated margin every position gets its own pot of money. You decide the size when you "
            "open it: /long BTC 100 10x isolated puts 100 USDT behind a BTC long at 10x (/short works "
            "the same way).\n\n"
            "That pot is the only collateral the trade may use. If the price runs against you, the trade "
            "can burn through its pot and nothing more: your free balance and your other positions are "
            "never used to rescue it.",
            "The position is liquidated when its own margin plus its unrealised PnL sinks to its "
            "maintenance margin. A bigger pot (lower leverage) puts the liquidation price further away.\n\n"
            "Top the pot up with /margin BTC add 50, or take some back with /margin BTC remove 20 "
            "(allowed only while the position keeps at least its initial margin at the current mark).\n\n"
            "New Margin Dojo accounts start in isolated, the usual advice for beginners.",
        ),
    ),
    Lesson(
        "cross",
        "Cross margin: one shared pool",
        (
            "Cross margin pools your money. Every cross position leans on the same collateral: the cross "
            "wallet balance plus the unrealised PnL of all cross positions together.\n\n"
            "When one trade is losing, spare money in the pool (including profit on other cross trades) "
            "keeps it alive. Apart from the initial margin needed to open a trade, nothing is reserved "
            "for any single position.",
            "Cross judges the account as a whole. Margin ratio = total maintenance margin ÷ margin "
            "balance. When it reaches 100 %, the account is liquidated and every cross position is "
            "closed together.\n\n"
            "Isolated positions live outside this pool, so a cross liquidation leaves them alone.\n\n"
            "Switch a symbol with /mode ETH cross (only while ETH has no position and no open order) and "
            "keep an eye on the ratio with /health.",
        ),
    ),
    Lesson(
        "isolated-benefits",
        "Why traders like isolated",
        (
            "1. Damage is fenced in. A bad trade can only lose the margin you gave it.\n"
            "2. Leverage per position. 3x on a calm BTC swing and 10x on a quick SOL scalp can sit side "
            "by side.\n"
            "3. Many coins at once. If SOL collapses, your BTC and ETH trades keep their own margin and "
            "their gains. One crash cannot wipe out the others.",
            "4. A predictable liquidation price. It only shifts when you change that position (margin, "
            "size) or when funding is paid from its margin, so you can plan entries, exits and stops "
            "around a level that stays put.\n\n"
            "Round example: 800 USDT on BTC at 10x and 300 USDT on ETH at 5x, both isolated. BTC dives "
            "and gets liquidated: you lose the 800, while the ETH trade carries on untouched. "
            "/whatif shows the exact numbers for your own positions.",
            "In a violent market this matters most. When prices lurch, a loss in one isolated trade "
            "cannot drag the rest down with it, so there is no chain of liquidations racing through "
            "your account. Each pot stands or falls on its own.",
        ),
    ),
    Lesson(
        "cross-benefits",
        "Why traders like cross",
        (
            "1. Capital efficiency. No safety cushion has to be parked behind each trade: one balance "
            "backs them all, so less money sits idle.\n"
            "2. Liquidation comes later. A temporary loss is soaked up by the rest of the equity, which "
            "gives the trade time to recover.\n"
            "3. Less bookkeeping. You don't shuffle margin between positions by hand.",
            "4. Hedges are cheaper to carry. Say you are long BTC and short ETH. A market drop hurts the "
            "long and helps the short; in one shared pool the winner's profit offsets the loser's loss, "
            "so the pair needs less cushion than two separate pots.\n\n"
            "Held as two isolated legs, the same hedge can see one leg liquidated while the other sits on "
            "a profit it cannot share. See your own positions both ways with /compare.",
        ),
    ),
    Lesson(
        "cross-danger",
        "The danger of cross",
        (
            "The price of sharing: every cross position can draw on the same money, so every cross "
            "position can also lose it.\n\n"
            "Most coins are correlated: when BTC drops hard, altcoins usually drop with it. A single "
            "market-wide plunge then hits all your cross trades at the same moment, and their losses pile "
            "up against one pool. A collapse in one small coin can even drag a healthy BTC trade into "
            "liquidation.",
            "Round illustration: 10,000 USDT balance, leveraged cross longs on BTC, ETH, SOL and DOGE. A "
            "sudden 15 % slide pushes the margin ratio to 100 %. Every cross position is closed, and what "
            "remains is the leftover maintenance margin minus a clearance fee, often very little.\n\n"
            "Held isolated, the same slide would cost only the pots that broke. Try /whatif -15% to see "
            "the exact result for your own positions.",
            "Habits that help in cross:\n"
            "• keep the margin ratio in /health well below 80 %;\n"
            "• give every leg a /sl;\n"
            "• set /alert levels on the coins that matter;\n"
            "• avoid stacking many correlated longs;\n"
            "• put wild bets in isolated so they cannot drain the pool.",
        ),
    ),
    Lesson(
        "comparison",
        "Isolated vs cross at a glance",
        (
            "⚖️ Risk exposure\nIsolated: only that position's margin.\nCross: the whole cross balance.\n\n"
            "💧 Capital efficiency\nIsolated: lower, each trade holds its own margin.\nCross: higher, one "
            "shared pool serves every trade.\n\n"
            "💥 Liquidation risk\nIsolated: one position, at a price you know in advance.\nCross: the "
            "whole cross account, at a price that moves with everything else.",
            "🎯 Best for\nIsolated: beginners, careful traders, several coins of different risk.\nCross: "
            "experienced traders, hedgers, people who time the market and watch closely.\n\n"
            "🛠 Flexibility\nIsolated: tune each position on its own (leverage, margin).\nCross: steer the "
            "account as one book.\n\n"
            "A picture: isolated is a ship with watertight compartments; cross is one big hull that rides "
            "higher but floods all at once. /compare shows your positions both ways.",
        ),
    ),
    Lesson(
        "choosing",
        "Which mode suits you?",
        (
            "Lean towards isolated if:\n"
            "• you are new to futures;\n"
            "• you hold several coins whose risk differs a lot (BTC next to a meme coin);\n"
            "• you want to know the most each trade can cost before you open it;\n"
            "• you like a liquidation price that stays where it is.",
            "Lean towards cross if:\n"
            "• you have experience and read the market well;\n"
            "• you hedge or run arbitrage, with legs that offset each other;\n"
            "• you trust your directional view and want every USDT working;\n"
            "• you watch your positions as they move and react quickly.\n\n"
            "Not sure? /advise asks five quick questions and explains its answer.",
        ),
    ),
    Lesson(
        "both",
        "Using both modes at once",
        (
            "You don't have to pick one mode for everything: the mode is set per symbol. Many seasoned "
            "traders split their book.\n\n"
            "Speculative bets on jumpy altcoins go isolated, so each bet has a hard ceiling on its loss.\n\n"
            "Core positions in majors like BTC or ETH, where they expect slow trends, go cross, so the "
            "shared balance can carry them through dips. Hedged legs often sit in cross too.",
            "Try it: /mode DOGE isolated, then /long DOGE 50 10x; /mode BTC cross, then /long BTC 500 3x. "
            "If DOGE collapses, only its 50 USDT is gone.\n\n"
            "Remember the other side: a disaster in the cross book can still take the whole cross "
            "balance, although the isolated pots are left alone. /compare and /health show how both "
            "halves are doing.",
        ),
    ),
    Lesson(
        "faq",
        "Questions people ask",
        (
            "Can I switch mode in the middle of a trade?\nNo. A symbol's mode can change only while it has "
            "no open position and no open order. Close the position (/close ETH), cancel its orders "
            "(/orders, /cancel), then use /mode. Check the mode before you open.\n\n"
            "Does cross stop liquidation?\nNo, it only postpones it. The shared balance absorbs losses "
            "until the margin ratio reaches 100 %; then the cross positions are liquidated anyway.",
            "Is isolated safer?\nFor most people, yes: the worst case of each trade is known up front. "
            "Safer is not automatically better, though; hedgers and active traders may get more out of "
            "cross.\n\n"
            "Do stop-loss and take-profit orders work in both modes?\nYes. /sl and /tp behave the same in "
            "isolated and cross, and setting them is wise whatever mode you use.",
            "Is leverage the same in both modes?\nNot quite. In isolated, the leverage you pick decides the "
            "position's margin and so its liquidation price. In cross, /leverage only sets how much "
            "initial margin a trade locks up; the liquidation price ignores it.\n\n"
            "What counts in cross is effective leverage: total position size ÷ account equity. It drifts "
            "as PnL floats. /positions shows it.",
        ),
    ),
    Lesson(
        "tools",
        "Tools that watch for you",
        (
            "🔔 /alert BTC < 60000 pings you when the mark price crosses a level.\n"
            "📉 /trail BTC 2% sets a trailing stop: it follows the price while it moves your way and "
            "closes the position if the price turns back by 2 %.\n"
            "🛑 /sl and /tp attach a stop-loss and a take-profit.\n"
            "❤️ /health is the margin health check: margin ratio and distance to liquidation for each "
            "position.",
            "The bot also pushes margin warnings before a liquidation and tells you when one happens. "
            "Tune the thresholds and quiet hours in /settings.\n\n"
            "Tools don't replace judgement, but they react at 3 a.m. when you can't. They are worth "
            "setting in both modes.",
        ),
    ),
    Lesson(
        "paper-trading",
        "Practise on paper first",
        (
            "Everything in Margin Dojo is paper money: 10,000 practice USDT after /start, real exchange "
            "rules, no real risk.\n\n"
            "Use it to try both modes on the same idea. Open a trade in isolated, note its liquidation "
            "price, then run /compare to see how the same position behaves in cross. /drill serves ready "
            "scenarios, /quiz checks what stuck, and /reset starts a fresh account.",
            "A practice plan:\n"
            "1. One small isolated trade with a /sl.\n"
            "2. Two coins at once; watch one crash without touching the other.\n"
            "3. A hedged pair in cross.\n"
            "4. /whatif -20% before and after adding margin.\n\n"
            "Treat paper money as if it were yours so the habits carry over. When you move to real "
            "funds, start small and only stake money whose loss would not hurt you.",
        ),
    ),
    Lesson(
        "mark-price",
        "Mark price vs last price",
        (
            "Futures have two prices with two jobs.\n\n"
            "The last price is where the latest trade happened. Fills and realised profit use it, and most "
            "charts draw it.\n\n"
            "The mark price is a smoothed fair value, built from an index of spot prices on several "
            "exchanges plus a funding-based adjustment. Unrealised PnL and liquidation use the mark.",
            "Why it matters: a sudden wick on the chart may not liquidate you, and you can be liquidated "
            "although the chart never touched your liquidation price, because the mark got there.\n\n"
            "The mark exists so that one thin spike or a manipulated trade cannot liquidate everybody. In "
            "Margin Dojo the mark drives everything: fills, stops, alerts and liquidations. /price shows "
            "the marks.",
        ),
    ),
    Lesson(
        "brackets",
        "Maintenance margin brackets",
        (
            "Maintenance margin (MM) is the least equity a position must keep to stay open. It is not one "
            "flat percentage: like tax brackets, bigger positions pay a higher rate.\n\n"
            "MM = notional × rate − maintenance amount\n\n"
            "The notional is measured at the mark price, and the notional picks the bracket. Your "
            "leverage plays no part in MM.",
            "Round illustration: up to 50,000 USDT the rate is 0.4 %; above it, 0.5 % with a maintenance "
            "amount of 50.\n"
            "A 100,000 position: 100,000 × 0.5 % − 50 = 450.\n\n"
            "The amount keeps MM smooth at the boundary: at exactly 50,000 both brackets give 200.\n\n"
            "Higher brackets also cap leverage: the bigger the position, the lower the maximum you may "
            "use.",
            "Why you should care: a large position needs more maintenance, so it is liquidated sooner "
            "than a plain leverage sum suggests. If the notional at the liquidation price falls into "
            "another bracket, the exchange works it out with that bracket instead.\n\n"
            "Real rates change from time to time; /whatif uses the table the bot currently has.",
        ),
    ),
    Lesson(
        "cross-liq-moves",
        "Why a cross liquidation price moves",
        (
            "Your cross liquidation price can drift even if you never touch the position. It is solved for "
            "one symbol while everything else is frozen at current marks: the cross wallet, the other "
            "positions' PnL and their maintenance margin. When any of those changes, the answer changes.",
            "What moves it:\n"
            "• other cross positions gaining or losing;\n"
            "• their maintenance margin changing with size or bracket;\n"
            "• funding payments, every 8 h, taken from or paid into the wallet;\n"
            "• trading fees and realised profit or loss when something is closed.\n\n"
            "Not on the list: leverage. In cross, /leverage changes the initial margin locked, not the "
            "liquidation price.",
            "Isolated positions drift far less: only funding, which moves that position's own margin, "
            "nudges their price.\n\n"
            "So check /positions after a funding time (00:00, 08:00, 16:00 UTC) and after big moves in "
            "your other coins. It always shows the current value.",
        ),
    ),
    Lesson(
        "liquidation-leftover",
        "Where the rest of the margin goes",
        (
            "Liquidated, yet some margin seemed to be left? Liquidation fires when equity falls to the "
            "maintenance margin, not to zero.\n\n"
            "The bankruptcy price is where the margin would be exactly zero. The position is taken over "
            "at about that price, and whatever lay between the liquidation price and the bankruptcy "
            "price is not returned to you.",
            "It goes to the insurance fund: a reserve that covers liquidations which close beyond "
            "bankruptcy, so winners still get paid.\n\n"
            "Isolated: you lose exactly that position's margin.\n"
            "Cross: every cross position closes, and a clearance fee (0.5 % of the liquidated notional "
            "here, never more than what is left) also goes to the fund.\n\n"
            "Your wallet never goes below zero: the fund absorbs any shortfall.",
            "Round example: 100 USDT of isolated margin at 10x, so 1,000 USDT of BTC. Its maintenance "
            "margin is roughly 4 USDT. Liquidation hits with about 4 USDT still in the pot, and that goes "
            "to the fund.\n\n"
            "/positions lists both prices for each position; /whatif computes the exact ones.",
        ),
    ),
)

TOPICS: tuple[str, ...] = tuple(item.topic for item in LESSONS)

_BY_TOPIC: dict[str, Lesson] = {item.topic: item for item in LESSONS}


def lesson(topic: str) -> Lesson | None:
    """The lesson for a topic slug (case and surrounding spaces ignored), or None if there is none."""
    return _BY_TOPIC.get(topic.strip().lower())
