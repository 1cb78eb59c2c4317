"""Teaching use cases: lessons (with engine-computed worked examples), the advisor, what-if and drills.

Nothing here changes an account: what-if and drills run on copies of the positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from core.domain import advice as adv
from core.domain import drills as dr
from core.domain import margin as m
from core.domain import whatif as wi
from core.domain.drills import Leg
from core.domain.instruments import Instrument
from core.domain.lessons import LESSONS, TOPICS, lesson
from core.domain.money import ZERO, floor_to_step, money, plain
from core.domain.positions import Mode, Position, evaluate, liquidate_isolated
from core.errors import Refused
from core.results import Actor
from core.services.core import Core, load

WHATIF_EXAMPLE = "/whatif long BTC 1000 10x, short ETH 500 5x"


# --- /learn -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LessonIndex:
    topics: tuple[tuple[str, str, int], ...]  # (topic, title, pages)


@dataclass(frozen=True)
class LessonPage:
    topic: str
    title: str
    page: int  # 1-based
    pages: int
    text: str
    next_topic: str | None  # the lesson after this one, offered on the last page


def learn(core: Core, topic: str | None, page: int = 1) -> LessonIndex | LessonPage:
    """A lesson page (the last page of some topics is a worked example the engine computes at today's marks)."""
    if topic is None:
        return LessonIndex(tuple((x.topic, x.title, len(_pages(core, x.topic))) for x in LESSONS))
    found = lesson(topic)
    if found is None:
        raise Refused("unknown_topic", f"There is no lesson '{topic[:30]}'. Topics: {', '.join(TOPICS)}.",
                      "/learn isolated")
    pages = _pages(core, found.topic)
    if not 1 <= page <= len(pages):
        raise Refused("bad_page", f"'{found.topic}' has pages 1 to {len(pages)}.", f"/learn {found.topic} 1")
    index = TOPICS.index(found.topic)
    following = TOPICS[index + 1] if index + 1 < len(TOPICS) else None
    return LessonPage(found.topic, found.title, page, len(pages), pages[page - 1], following)


def _pages(core: Core, topic: str) -> tuple[str, ...]:
    found = lesson(topic)
    assert found is not None
    example = worked_example(core, topic)
    return (*found.pages, example) if example else found.pages


# --- /advise ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdviceChoice:
    code: str
    label: str
    command: str  # the button: answers so far plus this one


@dataclass(frozen=True)
class AdviceStep:
    number: int  # 1-based
    total: int
    key: str
    question: str
    choices: tuple[AdviceChoice, ...]
    answers: dict[str, str]


@dataclass(frozen=True)
class AdviceGiven:
    mode: str
    reasons: tuple[str, ...]
    which: str
    answers: dict[str, str]


_KEY_OF_CODE = {o.code: q.key for q in adv.QUESTIONS for o in q.options}


def advise(words: Sequence[str]) -> AdviceStep | AdviceGiven:
    """No words: the first question. Partial answers (the buttons' `key=code` pairs): the next question.
    All five (codes or pairs, in any order): the recommendation."""
    text = " ".join(words)
    if words:
        try:
            answers = adv.parse_inline(text)
        except adv.BadAdviceInput as exc:
            answers = _partial(words, exc)
        else:
            return _given(answers)
    else:
        answers = {}
    left = adv.missing(answers)
    if not left:
        return _given(answers)
    q = left[0]
    so_far = " ".join(f"{k}={v}" for k, v in answers.items())
    choices = tuple(
        AdviceChoice(o.code, o.label, f"/advise {so_far} {q.key}={o.code}".replace("  ", " ")) for o in q.options
    )
    number = len(adv.QUESTIONS) - len(left) + 1
    return AdviceStep(number, len(adv.QUESTIONS), q.key, q.text, choices, answers)


def _given(answers: dict[str, str]) -> AdviceGiven:
    result = adv.recommend(answers)
    return AdviceGiven(result.mode, result.reasons, result.which, answers)


def _partial(words: Sequence[str], error: adv.BadAdviceInput) -> dict[str, str]:
    """Answers so far, exact codes only (what the buttons send); anything else is refused with the advisor's
    own explanation."""
    answers: dict[str, str] = {}
    for word in " ".join(words).lower().replace(",", " ").split():
        key, _, code = word.rpartition("=")
        owner = _KEY_OF_CODE.get(code)
        if owner is None or (key and key != owner) or owner in answers:
            raise Refused("bad_advice", str(error).split(" Example:")[0], f"/advise {adv.EXAMPLE_WORDS}")
        answers[owner] = code
    return answers


# --- /whatif and /compare ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShockSpec:
    """At most one of: every mark (or only `symbol`'s) by `change` (fraction), `symbol` to `price`, or a built-in
    `crash` path."""

    change: Decimal | None = None
    symbol: str | None = None
    price: Decimal | None = None
    crash: str | None = None


@dataclass(frozen=True)
class WhatIf:
    source: str  # account | inline
    compare_only: bool  # /compare: today's marks, no shocks
    comparison: wi.Comparison
    marks: dict[str, Decimal] = field(default_factory=dict)


async def whatif(
    core: Core, actor: Actor, legs: Sequence[Leg] = (), shock: ShockSpec | None = None,
    compare_only: bool = False, wallet: Decimal | None = None,
) -> WhatIf:
    """The user's open positions (or the inline legs) in isolated and in cross, today and under shocks.
    Read-only: nothing is stored."""
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
    balance = loaded.account.wallet_balance if wallet is None else money(wallet)
    if legs:
        positions = inline_positions(core, legs, balance)
        marks = {p.symbol: p.entry_price for p in positions}
        source = "inline"
    else:
        positions, marks, source = list(loaded.positions), core.marks_for(loaded.positions), "account"
        if wallet is not None:
            raise Refused("unexpected_argument", "wallet= goes with inline positions only.", WHATIF_EXAMPLE)
    if not positions:
        raise Refused("no_position", "You have no open positions to test. Open one, or describe some inline.",
                      WHATIF_EXAMPLE)
    rate = core.catalog.fees.liquidation_clearance
    if compare_only:
        return WhatIf(source, True, wi.compare(balance, positions, marks, core.catalog, rate), marks)
    comparison = wi.compare(balance, positions, marks, core.catalog, rate, _shocks(core, shock, positions))
    if shock is not None and shock.crash is not None:
        outcome = _crash_outcome(core, shock.crash, balance, positions, marks)
        comparison = wi.Comparison(comparison.wallet, comparison.positions, comparison.isolated, comparison.cross,
                                   (outcome,), outcome.verdict)
    return WhatIf(source, False, comparison, marks)


def inline_positions(core: Core, legs: Sequence[Leg], wallet: Decimal) -> list[Position]:
    symbols = [leg.symbol for leg in legs]
    if len(set(symbols)) != len(symbols):
        raise Refused("duplicate_symbol", "One position per symbol (one-way mode): name each symbol once.",
                      WHATIF_EXAMPLE)
    positions = [leg_position(core.instrument(leg.symbol), leg, core.mark(core.instrument(leg.symbol).symbol))
                 for leg in legs]
    needed = sum((leg.margin for leg in legs), ZERO)
    if needed > wallet:
        raise Refused("whatif_too_big", f"Those positions need {needed:,.2f} USDT of margin; the wallet holds "
                      f"{wallet:,.2f}. Use smaller amounts or add wallet=AMOUNT.", WHATIF_EXAMPLE + " wallet=5000")
    return positions


def leg_position(instrument: Instrument, leg: Leg, mark: Decimal) -> Position:
    sym = instrument.symbol
    example = f"/whatif {'long' if leg.side > 0 else 'short'} {sym} 1000 10x"
    cap = instrument.max_leverage_for(leg.margin * leg.leverage)
    if not 1 <= leg.leverage <= cap:
        raise Refused("leverage_too_high", f"{sym} allows 1x to {cap}x for that size, not {leg.leverage}x.", example)
    qty = floor_to_step(leg.margin * leg.leverage / mark, instrument.lot_size)
    if qty < instrument.lot_size:
        raise Refused("qty_below_lot", f"That buys less than the smallest {sym} order ({instrument.lot_size}).",
                      example)
    mode: Mode = leg.mode or "isolated"
    pm = money(qty * mark / leg.leverage) if mode == "isolated" else ZERO
    return Position(sym, leg.side, qty, mark, leg.leverage, mode, pm)


def _shocks(core: Core, spec: ShockSpec | None, positions: Sequence[Position]) -> tuple[wi.Shock, ...]:
    if spec is None:
        return tuple(wi.pct_shock(c) for c in wi.DEFAULT_SHOCKS)
    symbol = None
    if spec.symbol is not None:
        symbol = core.instrument(spec.symbol).symbol
        if symbol not in {p.symbol for p in positions}:
            raise Refused("no_position", f"None of the positions tested is on {symbol}.",
                          f"/whatif {positions[0].symbol} {positions[0].entry_price * Decimal('0.9'):.0f}")
    if spec.change is not None:
        if not Decimal(-1) < spec.change <= Decimal(10):
            raise Refused("bad_shock", "A shock is above −100 % and at most +1000 %.", "/whatif -20%")
        return (wi.pct_shock(spec.change, symbol),)
    if symbol is not None and spec.price is not None:
        return (wi.price_shock(symbol, spec.price),)
    return ()


def _crash_outcome(core: Core, name: str, wallet: Decimal, positions: Sequence[Position],
                   marks: dict[str, Decimal]) -> wi.ShockOutcome:
    shape = dr.SHAPES.get(name.lower())
    if shape is None:
        raise Refused("unknown_crash", f"Built-in crashes: {', '.join(dr.SHAPES)}.", "/whatif crash crash50")
    report = dr.run_shape(shape, wallet, positions, marks, core.catalog, core.catalog.fees.liquidation_clearance)
    final = shape.marks_at(marks, shape.path[-1][1])
    return wi.ShockOutcome(wi.Shock(f"{shape.title} ({shape.name})"), final, report.isolated.outcome,
                           report.cross.outcome, report.verdict)


# --- /drill -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrillList:
    drills: tuple[tuple[str, str, str], ...]  # (name, title, summary)


async def drill(core: Core, actor: Actor, name: str | None) -> dr.DrillReport | DrillList:
    """A built-in crash replayed on a copy of your positions, or one of the article's stories."""
    if name is None:
        shapes = tuple((s.name, s.title, s.summary) for s in dr.SHAPES.values())
        stories = tuple((s.name, s.title, s.summary) for s in dr.STORIES.values())
        return DrillList(shapes + stories)
    key = name.lower()
    rate = core.catalog.fees.liquidation_clearance
    story = dr.STORIES.get(key)
    if story is not None:
        return dr.run_story(story, core.catalog, rate)
    shape = dr.SHAPES.get(key)
    if shape is None:
        raise Refused("unknown_drill", f"There is no drill '{name[:30]}'. Drills: {', '.join(dr.NAMES)}.",
                      "/drill crash50")
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
    if not loaded.positions:
        raise Refused("no_position", "A drill replays your open positions, and you have none. Open one, or watch "
                      "the article's story.", "/drill article-cross")
    marks = core.marks_for(loaded.positions)
    return dr.run_shape(shape, loaded.account.wallet_balance, loaded.positions, marks, core.catalog, rate)


# --- worked examples for /learn: computed by the engine, never typed by hand ---------------------------


def worked_example(core: Core, topic: str) -> str | None:
    """The last page of a lesson: its idea in exact numbers at today's marks (None when it has none, or
    when the instruments or prices it needs are missing)."""
    maker = _EXAMPLES.get(topic)
    if maker is None:
        return None
    try:
        return maker(core)
    except (KeyError, Refused, StopIteration):
        return None


def _reference(core: Core) -> tuple[Instrument, Decimal]:
    """BTC (else the first symbol) and its mark."""
    symbol = "BTC" if core.catalog.get("BTC") else core.catalog.symbols[0]
    mark = core.feed.mark(symbol)
    if mark is None:
        raise KeyError(symbol)
    return core.instrument(symbol), mark


def _away(price: Decimal | None, mark: Decimal) -> str:
    if price is None:
        return "none (it would lie at or below zero)"
    return f"{price:,.2f} ({(price - mark) / mark * 100:+.1f} %)"


def _isolated_example(core: Core) -> str:
    instrument, mark = _reference(core)
    sym = instrument.symbol
    pos = leg_position(instrument, Leg(sym, 1, Decimal(100), 10), mark)
    wallet = core.settings.starting_balance
    view = evaluate(wallet, [pos], {sym: mark}, core.catalog).positions[0]
    more = m.liquidation_price(instrument, 1, pos.qty, pos.entry_price, pos.margin + 50)
    return (f"In numbers (computed now, {sym} mark {mark:,.2f}):\n"
            f"/long {sym} 100 10x isolated buys {plain(pos.qty)} {sym} ({view.notional:,.2f} USDT) with "
            f"{pos.margin:,.2f} USDT of margin.\nLiquidation price: {_away(view.liquidation_price, mark)}.\n"
            f"If it is hit you lose exactly {pos.margin:,.2f} USDT; the other {wallet - pos.margin:,.2f} USDT of a "
            f"{wallet:,.0f} wallet stay untouched.\nAfter /margin {sym} add 50 it moves to {_away(more, mark)}.")


def _cross_example(core: Core) -> str:
    instrument, mark = _reference(core)
    sym = instrument.symbol
    pos = leg_position(instrument, Leg(sym, 1, Decimal(500), 20, "cross"), mark)
    lines = [f"In numbers (computed now, {sym} mark {mark:,.2f}): /long {sym} 500 20x cross buys "
             f"{plain(pos.qty)} {sym}."]
    for wallet in (Decimal(1000), Decimal(3000), Decimal(10000)):
        view = evaluate(wallet, [pos], {sym: mark}, core.catalog).positions[0]
        lines.append(f"• cross wallet {wallet:,.0f} USDT: liquidation price {_away(view.liquidation_price, mark)}")
    lines.append("The 20x only set the 500 USDT of initial margin; the balance decides the price. And when it is "
                 "hit, the whole cross balance goes, not 500.")
    return "\n".join(lines)


def _story_lines(report: dr.DrillReport) -> list[str]:
    lines = []
    for run in (report.isolated, report.cross):
        events = "; ".join(
            f"min {e.minute}: {', '.join(e.symbols)} liquidated (−{e.lost:,.2f})" for e in run.events
        ) or "no liquidation"
        o = run.outcome
        lines.append(f"{run.mode.capitalize()}: {events}. Ends with {o.equity_after:,.2f} of {report.wallet:,.0f} "
                     f"USDT.")
    return lines


def _isolated_benefits_example(core: Core) -> str:
    report = dr.run_story(dr.STORIES["article-isolated"], core.catalog, core.catalog.fees.liquidation_clearance)
    return "\n".join([f"In numbers: {report.summary}.", *_story_lines(report), "Replay it: /drill article-isolated"])


def _cross_danger_example(core: Core) -> str:
    report = dr.run_story(dr.STORIES["article-cross"], core.catalog, core.catalog.fees.liquidation_clearance)
    return "\n".join([f"In numbers: {report.summary}.", *_story_lines(report), "Replay it: /drill article-cross"])


def _cross_benefits_example(core: Core) -> str:
    prices = {"BTC": Decimal(50000), "ETH": Decimal(2500)}
    legs = (Leg("BTC", 1, Decimal(250), 20), Leg("ETH", -1, Decimal(250), 20))
    positions = [leg_position(core.instrument(leg.symbol), leg, prices[leg.symbol]) for leg in legs]
    wallet = Decimal(1000)
    report = dr.run_shape(dr.SHAPES["wick30"], wallet, positions, prices, core.catalog,
                          core.catalog.fees.liquidation_clearance)
    return "\n".join([f"In numbers: a {wallet:,.0f} USDT wallet, long {plain(positions[0].qty)} BTC against short "
                      f"{plain(positions[1].qty)} ETH (20x each), through a −30 % wick that recovers (/drill wick30).",
                      *_story_lines(report)])


def _brackets_example(core: Core) -> str:
    instrument, _ = _reference(core)
    lines = [f"In numbers, {instrument.symbol} brackets today:"]
    for notional in (Decimal(100000), Decimal(500000), Decimal(1000000)):
        b = instrument.bracket_for(notional)
        lines.append(f"• {notional:,.0f} USDT: {notional:,.0f} × {(b.mmr * 100).normalize():f} % − {b.cum:,.0f} = "
                     f"{b.maintenance(notional):,.2f} MM, leverage up to {b.max_leverage}x")
    return "\n".join(lines)


def _leftover_example(core: Core) -> str:
    instrument, mark = _reference(core)
    sym = instrument.symbol
    pos = leg_position(instrument, Leg(sym, 1, Decimal(100), 10), mark)
    view = evaluate(pos.margin, [pos], {sym: mark}, core.catalog).positions[0]
    lp = view.liquidation_price
    assert lp is not None
    at_lp = evaluate(pos.margin, [pos], {sym: lp}, core.catalog).positions[0]
    fund = liquidate_isolated(at_lp).insurance_fund
    return (f"In numbers (computed now): /long {sym} 100 10x isolated at {mark:,.2f}, margin {pos.margin:,.2f}.\n"
            f"Liquidation price {lp:,.2f}, bankruptcy price {view.bankruptcy_price or ZERO:,.2f}.\n"
            f"At the liquidation price {fund:,.2f} USDT of margin is still there (its maintenance margin): it goes "
            f"to the insurance fund, and you lose the whole {pos.margin:,.2f}.")


_EXAMPLES: dict[str, Callable[[Core], str]] = {
    "isolated": _isolated_example,
    "cross": _cross_example,
    "isolated-benefits": _isolated_benefits_example,
    "cross-benefits": _cross_benefits_example,
    "cross-danger": _cross_danger_example,
    "brackets": _brackets_example,
    "liquidation-leftover": _leftover_example,
}
