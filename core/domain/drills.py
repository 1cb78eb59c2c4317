"""Drills: stylised market paths replayed on copies of positions, step by step, in both margin modes.

At every step the engine's own rules decide (`whatif.liquidations`, the risk sweep's decision): an isolated
position loses exactly its margin, a cross book is closed all at once with the clearance fee. Two stories
replay the source article's examples with fixed positions so everybody sees the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.domain import margin as m
from core.domain.instruments import Catalog, Instrument
from core.domain.money import ZERO, money
from core.domain.positions import Mode, Position
from core.domain.trading import qty_from_margin
from core.domain.whatif import ModeOutcome, as_mode, liquidations, settle, verdict
from core.errors import Refused


def _path(minutes: int, factors: str) -> tuple[tuple[int, Decimal], ...]:
    """Evenly spaced steps, `minutes` apart, each a factor of the starting mark."""
    return tuple((i * minutes, Decimal(f)) for i, f in enumerate(factors.split()))


@dataclass(frozen=True)
class Shape:
    """A price path: (minute, factor of the starting mark); `symbols` None moves every symbol."""

    name: str
    title: str
    summary: str
    path: tuple[tuple[int, Decimal], ...]
    symbols: frozenset[str] | None = None

    def marks_at(self, start: Mapping[str, Decimal], factor: Decimal) -> dict[str, Decimal]:
        return {s: p * factor if self.symbols is None or s in self.symbols else p for s, p in start.items()}

    @property
    def low(self) -> Decimal:
        return min(f for _, f in self.path)

    @property
    def high(self) -> Decimal:
        return max(f for _, f in self.path)


SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("crash50", "A −50 % day", "every coin slides for 24 hours, then capitulates to half its price",
              _path(60, "1 .98 .96 .95 .93 .90 .88 .85 .82 .80 .78 .75 .72 .70 .68 .65 .62 .60 .58 .56 .54 "
                        ".52 .51 .50")),
        Shape("wick30", "A −30 % wick", "a one-hour flash crash to −30 % that recovers almost fully",
              _path(5, "1 .97 .92 .85 .78 .72 .70 .74 .82 .90 .95 .97 .98")),
        Shape("bleed", "A slow bleed", "two weeks of steady losses, about −1.8 % a day, −25 % in all",
              _path(1440, "1 .982 .964 .946 .928 .910 .892 .874 .856 .838 .820 .802 .784 .766 .748")),
        Shape("squeeze", "A short squeeze", "prices rip +40 % in two hours, then settle at +30 %",
              _path(15, "1 1.02 1.05 1.10 1.18 1.25 1.32 1.40 1.35 1.30 1.30")),
    )
}


@dataclass(frozen=True)
class Leg:
    """A hypothetical position opened like `/long SYM MARGIN LEVx` (a story's, or typed inline after /whatif)."""

    symbol: str
    side: int
    margin: Decimal
    leverage: int
    mode: Mode | None = None

    def opened(self, instrument: Instrument, price: Decimal, mode: Mode | None = None) -> Position:
        """The leg opened at `price` as the engine opens it: qty from margin × leverage, floored to the lot."""
        qty = qty_from_margin(instrument, self.margin, self.leverage, price)
        chosen: Mode = mode or self.mode or "isolated"
        pm = money(m.initial_margin(qty, price, self.leverage)) if chosen == "isolated" else ZERO
        return Position(instrument.symbol, self.side, qty, price, self.leverage, chosen, pm)


def open_leg(instrument: Instrument, leg: Leg, price: Decimal) -> Position:
    """A leg typed by a user (/whatif, /chart), checked like an order: leverage within the bracket, at least a lot."""
    sym = instrument.symbol
    example = f"/whatif {'long' if leg.side > 0 else 'short'} {sym} 1000 10x"
    cap = instrument.max_leverage_for(leg.margin * leg.leverage)
    if not 1 <= leg.leverage <= cap:
        raise Refused("leverage_too_high", f"{sym} allows 1x to {cap}x for that size, not {leg.leverage}x.", example)
    position = leg.opened(instrument, price)
    if position.qty < instrument.lot_size:
        raise Refused("qty_below_lot", f"That buys less than the smallest {sym} order ({instrument.lot_size}).",
                      example)
    return position


@dataclass(frozen=True)
class Story:
    name: str
    title: str
    summary: str
    wallet: Decimal
    marks: Mapping[str, Decimal]
    legs: tuple[Leg, ...]
    mode: Mode  # the mode the article tells the story in
    shape: Shape


D = Decimal
STORIES: dict[str, Story] = {
    s.name: s
    for s in (
        Story(
            "article-isolated", "The article's isolated example",
            "1,000 USDT at 10x on BTC beside 200 USDT at 5x on ETH, isolated, in a 2,000 USDT wallet; "
            "BTC crashes 30 % in two hours while ETH holds",
            D(2000), {"BTC": D(50000), "ETH": D(2500)},
            (Leg("BTC", 1, D(1000), 10), Leg("ETH", 1, D(200), 5)), "isolated",
            Shape("btc-crash", "BTC crash", "BTC −30 % in two hours",
                  _path(10, "1 .98 .95 .93 .91 .89 .87 .85 .80 .75 .72 .70"), frozenset({"BTC"})),
        ),
        Story(
            "article-cross", "The article's cross example",
            "a 10,000 USDT cross account with leveraged longs on BTC, ETH, SOL and DOGE; the whole market "
            "drops 25 % in two hours",
            D(10000), {"BTC": D(50000), "ETH": D(2500), "SOL": D(125), "DOGE": D("0.2")},
            (Leg("BTC", 1, D(3000), 5), Leg("ETH", 1, D(2000), 10), Leg("SOL", 1, D(1000), 10),
             Leg("DOGE", 1, D(500), 20)), "cross",
            Shape("market-drop", "Market-wide drop", "every coin −25 % in two hours",
                  _path(10, "1 .98 .96 .94 .92 .90 .88 .86 .84 .82 .80 .78 .76 .75")),
        ),
    )
}

NAMES: tuple[str, ...] = (*SHAPES, *STORIES)


def story_positions(story: Story, catalog: Catalog) -> tuple[Position, ...]:
    """The story's legs opened at its marks as the engine opens them (qty from margin × leverage)."""
    positions = []
    for leg in story.legs:
        instrument = catalog.get(leg.symbol)
        if instrument is None:
            raise KeyError(f"story {story.name}: unknown symbol {leg.symbol}")
        positions.append(leg.opened(instrument, story.marks[leg.symbol], story.mode))
    return tuple(positions)


@dataclass(frozen=True)
class DrillEvent:
    minute: int
    mode: Mode
    symbols: tuple[str, ...]
    lost: Decimal  # what this liquidation took from the wallet
    marks: dict[str, Decimal]


def elapsed(minutes: int) -> str:
    """How far into a path: "after 45 min", "after 3h 20m", "after 6d 2h"."""
    if minutes < 60:
        return f"after {minutes} min"
    if minutes < 24 * 60:
        return f"after {minutes // 60}h {minutes % 60:02d}m"
    return f"after {minutes // (24 * 60)}d {minutes % (24 * 60) // 60}h"


@dataclass(frozen=True)
class DrillRun:
    mode: Mode
    events: tuple[DrillEvent, ...]
    outcome: ModeOutcome  # at the end of the path
    lowest_equity: Decimal
    equity: tuple[tuple[int, Decimal], ...]  # (minute, equity) after each step

    def events_text(self) -> str:
        """Each liquidation of the run in one phrase: "after 3h 20m: BTC liquidated (-996.00)"."""
        return "; ".join(f"{elapsed(e.minute)}: {', '.join(e.symbols)} liquidated (-{e.lost:,.2f})"
                         for e in self.events) or "nothing liquidated"


@dataclass(frozen=True)
class DrillReport:
    name: str
    title: str
    summary: str
    wallet: Decimal
    positions: tuple[Position, ...]
    marks: dict[str, Decimal]  # at the start
    story_mode: Mode | None  # the article's mode for a story, None for a shape on your own positions
    isolated: DrillRun
    cross: DrillRun
    verdict: str


def replay(
    wallet: Decimal, positions: Sequence[Position], start: Mapping[str, Decimal], shape: Shape, catalog: Catalog,
    clearance_rate: Decimal, mode: Mode,
) -> DrillRun:
    """Walk the path with copies of the positions in `mode`, liquidating as the sweep would at each step."""
    open_positions = list(as_mode(positions, mode))
    wallet_now = wallet
    events: list[DrillEvent] = []
    closed_all: list[str] = []
    fund = ZERO
    equity: list[tuple[int, Decimal]] = []
    marks = dict(start)
    for minute, factor in shape.path:
        marks = shape.marks_at(start, factor)
        view, outcomes = liquidations(wallet_now, open_positions, marks, catalog, clearance_rate)
        closed = [v.position.symbol for o in outcomes for v in o.closed]
        for o in outcomes:
            events.append(DrillEvent(minute, o.mode, tuple(v.position.symbol for v in o.closed), o.lost, marks))
            wallet_now += o.wallet_change
            fund += o.insurance_fund
        closed_all.extend(closed)
        open_positions = [p for p in open_positions if p.symbol not in closed]
        upnl = sum((v.unrealized_pnl for v in view.positions if v.position.symbol not in closed), ZERO)
        equity.append((minute, wallet_now + upnl))
    outcome = settle(mode, wallet, wallet_now, open_positions, marks, catalog, closed_all, fund)
    lowest = min((e for _, e in equity), default=wallet)
    return DrillRun(mode, tuple(events), outcome, lowest, tuple(equity))


def run_shape(
    shape: Shape, wallet: Decimal, positions: Sequence[Position], marks: Mapping[str, Decimal], catalog: Catalog,
    clearance_rate: Decimal, story_mode: Mode | None = None, about: tuple[str, str, str] | None = None,
) -> DrillReport:
    """Replay a shape on copies of the positions, once all isolated and once all cross."""
    name, title, summary = about or (shape.name, shape.title, shape.summary)
    iso = replay(wallet, positions, marks, shape, catalog, clearance_rate, "isolated")
    cross = replay(wallet, positions, marks, shape, catalog, clearance_rate, "cross")
    return DrillReport(
        name, title, summary, wallet, tuple(positions), dict(marks), story_mode, iso, cross,
        verdict(title, iso.outcome, cross.outcome),
    )


def run_story(story: Story, catalog: Catalog, clearance_rate: Decimal) -> DrillReport:
    positions = story_positions(story, catalog)
    return run_shape(
        story.shape, story.wallet, positions, story.marks, catalog, clearance_rate, story.mode,
        (story.name, story.title, story.summary),
    )
