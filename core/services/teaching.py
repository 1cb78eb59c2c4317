"""Teaching use cases: lessons (their worked examples are in `worked_examples`), the advisor, what-if and
drills.

Nothing here changes an account: what-if and drills run on copies of the positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from core.domain import advice as adv
from core.domain import drills as dr
from core.domain import whatif as wi
from core.domain.drills import Leg
from core.domain.lessons import LESSONS, TOPICS, lesson
from core.domain.money import ZERO, money
from core.domain.positions import Position
from core.errors import Refused
from core.results import Actor
from core.services.core import Core, load
from core.services.worked_examples import worked_example

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
    positions = [dr.open_leg(core.instrument(leg.symbol), leg, core.mark(core.instrument(leg.symbol).symbol))
                 for leg in legs]
    needed = sum((leg.margin for leg in legs), ZERO)
    if needed > wallet:
        raise Refused("whatif_too_big", f"Those positions need {needed:,.2f} USDT of margin; the wallet holds "
                      f"{wallet:,.2f}. Use smaller amounts or add wallet=AMOUNT.", WHATIF_EXAMPLE + " wallet=5000")
    return positions


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
