"""The replay feed: historical candle and funding CSVs played back as ticks (DESIGN §3).

Candle files hold `timestamp_ms,open,high,low,close[,volume]` (a header line is optional, further columns
such as Binance's `close_time,…` are ignored), one file per symbol named after it:
`BTCUSDT_2022-11-09_5m.csv` replays "BTC". Files whose name contains "funding" hold
`timestamp_ms,funding_rate` events instead.

Each candle becomes four path points: the open at the candle's time, the extreme nearer to the open at ⅓
of the interval, the other extreme at ⅔, and the close 1 ms before the candle ends (the interval is the
smallest gap between consecutive timestamps). When both extremes are equally far from the open the low
comes first: most learners are long, and visiting the low first liquidates them no later than the real
market could have. Points of all symbols merge in time order; points at the same time share one Tick.
A funding event rides on the first Tick at or after its time as `Tick.funding_settlements`.
"""

from __future__ import annotations

import asyncio
import csv
import heapq
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import groupby, pairwise
from pathlib import Path
from typing import TypeVar

from core.domain.money import BadNumber, parse_decimal
from core.market.feed import DEFAULT_FUNDING_RATE, FeedState
from core.ports import Clock, Tick, TickHandler

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_SPEED = 60.0
CANDLE_COLUMNS = "timestamp_ms,open,high,low,close[,volume]"
FUNDING_COLUMNS = "timestamp_ms,funding_rate"
EARLIEST_MS, LATEST_MS = 10**11, 10**14  # outside: seconds or microseconds, not milliseconds
INTERVAL_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


class ReplayFileError(ValueError):
    """A replay file that cannot be played; the message names the file and, when it applies, the line."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        where = f"{path}, line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.problem = Path(path), line, problem


class _Bad(Exception):
    """A problem with one row, before the file and line are known."""


@dataclass(frozen=True)
class Candle:
    at_ms: int  # open time, epoch milliseconds UTC
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None = None


@dataclass(frozen=True)
class FundingEvent:
    at_ms: int
    symbol: str
    rate: Decimal


Row = TypeVar("Row", Candle, FundingEvent)


def symbol_of(path: str | Path) -> str:
    """`BTCUSDT_2022-11-09_5m.csv` → "BTC": the name before the first "_", without a trailing USDT.

    A "-" also ends the symbol, so Binance's own dumps (`BTCUSDT-1m-2022-11.csv`) name it too.
    """
    head = re.split(r"[_\-.]", Path(path).name, maxsplit=1)[0].upper()
    return head.removesuffix("USDT") or head


def is_funding_file(path: str | Path) -> bool:
    return "funding" in Path(path).name.lower()


def at_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every non-blank line, skipping a first line that holds no number (a header)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            for raw in reader:
                cells = [cell.strip() for cell in raw]
                if not any(cells) or (reader.line_num == 1 and not any(map(_is_number, cells))):
                    continue
                yield reader.line_num, cells
    except OSError as exc:
        raise ReplayFileError(path, None, f"cannot be read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ReplayFileError(path, None, f"is not a text CSV file ({exc})") from exc


def _is_number(text: str) -> bool:
    try:
        parse_decimal(text)
    except BadNumber:
        return False
    return True


def _timestamp(text: str) -> int:
    if not text.isdigit():
        raise _Bad(f"timestamp_ms '{text}' is not a whole number of milliseconds")
    value = int(text)
    if not EARLIEST_MS <= value < LATEST_MS:
        raise _Bad(f"timestamp_ms {value} is not in epoch milliseconds (seconds or microseconds?)")
    return value


def _number(name: str, text: str) -> Decimal:
    try:
        return parse_decimal(text)
    except BadNumber as exc:
        raise _Bad(f"{name} '{text}' is not a number") from exc


def _candle(cells: list[str]) -> Candle:
    if len(cells) < 5:
        raise _Bad(f"expected {CANDLE_COLUMNS}, found {len(cells)} column(s)")
    stamp = _timestamp(cells[0])
    open_, high, low, close = (
        _number(n, t) for n, t in zip(("open", "high", "low", "close"), cells[1:5], strict=True)
    )
    volume = _number("volume", cells[5]) if len(cells) > 5 and cells[5] else None
    if min(open_, high, low, close) <= 0:
        raise _Bad("prices must be positive")
    if high < max(open_, close):
        raise _Bad(f"high {high} is below max(open, close) = {max(open_, close)}")
    if low > min(open_, close):
        raise _Bad(f"low {low} is above min(open, close) = {min(open_, close)}")
    if volume is not None and volume < 0:
        raise _Bad("volume must not be negative")
    return Candle(stamp, open_, high, low, close, volume)


def _funding(cells: list[str], symbol: str) -> FundingEvent:
    if len(cells) != 2:
        raise _Bad(f"expected {FUNDING_COLUMNS}, found {len(cells)} column(s)")
    return FundingEvent(_timestamp(cells[0]), symbol, _number("funding_rate", cells[1]))


def _load(path: Path, parse: Callable[[list[str]], Row]) -> list[Row]:
    """Parse every row, refusing unsorted or repeated timestamps; errors carry the file and line."""
    items: list[Row] = []
    previous_line = 0
    for line, cells in _rows(path):
        try:
            item = parse(cells)
            if items and item.at_ms <= items[-1].at_ms:
                order = "repeats" if item.at_ms == items[-1].at_ms else "goes back before"
                raise _Bad(f"timestamp {item.at_ms} {order} the one on line {previous_line}")
        except _Bad as exc:
            raise ReplayFileError(path, line, str(exc)) from None
        items.append(item)
        previous_line = line
    if not items:
        raise ReplayFileError(path, None, "holds no rows")
    return items


def load_candles(path: str | Path) -> list[Candle]:
    """Read and validate a candle CSV; raises ReplayFileError naming the file and line."""
    return _load(Path(path), _candle)


def load_funding(path: str | Path) -> list[FundingEvent]:
    """Read and validate a funding CSV `timestamp_ms,funding_rate`."""
    symbol = symbol_of(path)
    return _load(Path(path), lambda cells: _funding(cells, symbol))


def candle_interval_ms(path: str | Path, candles: Sequence[Candle]) -> int:
    """The smallest gap between candles; for a single candle, the interval in the file name (`_5m`)."""
    if len(candles) > 1:
        return min(b.at_ms - a.at_ms for a, b in pairwise(candles))
    match = re.search(r"[_-](\d+)([smhdw])(?:[-_.]|$)", Path(path).name)
    if match is None:
        raise ReplayFileError(path, None, "one candle and no interval in the name (e.g. BTCUSDT_…_5m.csv)")
    return int(match[1]) * INTERVAL_UNITS_MS[match[2]]


def candle_points(candles: Iterable[Candle], interval_ms: int) -> Iterator[tuple[int, Decimal]]:
    """Open, the extreme nearer to the open (ties: low first), the other extreme, close — with times."""
    for candle in candles:
        high_first = abs(candle.high - candle.open) < abs(candle.open - candle.low)
        first, second = (candle.high, candle.low) if high_first else (candle.low, candle.high)
        yield candle.at_ms, candle.open
        yield candle.at_ms + interval_ms // 3, first
        yield candle.at_ms + 2 * interval_ms // 3, second
        yield candle.at_ms + interval_ms - 1, candle.close


def _tagged(symbol: str, points: Iterable[tuple[int, Decimal]]) -> Iterator[tuple[int, str, Decimal]]:
    return ((ms, symbol, price) for ms, price in points)


def parse_replay_spec(spec: str) -> tuple[list[Path], float]:
    """`replay:PATH[,PATH…][@SPEED]` → (paths, speed); SPEED follows the last "@" (default 60)."""
    kind, colon, rest = spec.partition(":")
    if kind.strip().lower() != "replay" or not colon:
        raise ValueError(f"'{spec}' is not a replay feed; write replay:PATH[,PATH…][@SPEED]")
    speed = DEFAULT_SPEED
    if "@" in rest:
        rest, _, speed_text = rest.rpartition("@")
        speed = parse_speed(speed_text)
    paths = [Path(part.strip()) for part in rest.split(",") if part.strip()]
    if not paths:
        raise ValueError("replay needs at least one file: replay:PATH[,PATH…][@SPEED]")
    return paths, speed


def parse_speed(text: str) -> float:
    cleaned = text.strip().lower().removesuffix("x")
    try:
        speed = float(cleaned)
    except ValueError:
        speed = math.nan
    if not math.isfinite(speed) or speed <= 0:
        raise ValueError(f"replay speed '{text}' must be a positive number of times real time, e.g. @60")
    return speed


class ReplayFeed(FeedState):
    """Plays candle files back: `ticks()`/`advance()` on a virtual clock, `run()` at SPEED × real time."""

    name = "replay"

    def __init__(
        self,
        paths: Sequence[str | Path],
        speed: float = DEFAULT_SPEED,
        *,
        tick_sizes: Mapping[str, Decimal] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__()
        self.speed = parse_speed(str(speed))
        self._tick_sizes = dict(tick_sizes or {})
        self._sleep = sleep
        self._candles: dict[str, tuple[int, list[Candle]]] = {}
        events: list[FundingEvent] = []
        for path in map(Path, paths):
            if is_funding_file(path):
                events.extend(load_funding(path))
            else:
                self._add_candles(path)
        if not self._candles:
            raise ValueError("replay needs at least one candle file (funding files alone have no prices)")
        self._events = sorted(events, key=lambda e: e.at_ms)
        self._rates: dict[str, Decimal] = {}
        self._stream = self._generate()
        self._pending: Tick | None = None

    def _add_candles(self, path: Path) -> None:
        symbol = symbol_of(path)
        if symbol in self._candles:
            raise ReplayFileError(path, None, f"a second candle file for {symbol}; give one file per symbol")
        candles = load_candles(path)
        self._candles[symbol] = (candle_interval_ms(path, candles), candles)

    @property
    def symbols(self) -> list[str]:
        return list(self._candles)

    @property
    def start(self) -> datetime:
        return at_ms(min(candles[0].at_ms for _, candles in self._candles.values()))

    @property
    def end(self) -> datetime:
        return at_ms(max(candles[-1].at_ms + step - 1 for step, candles in self._candles.values()))

    def funding_rate(self, symbol: str) -> Decimal:
        return self._rates.get(symbol, DEFAULT_FUNDING_RATE)

    def _price(self, symbol: str, price: Decimal) -> Decimal:
        tick = self._tick_sizes.get(symbol)
        return price if tick is None else (price / tick).to_integral_value() * tick

    def _generate(self) -> Iterator[Tick]:
        streams = [
            _tagged(symbol, candle_points(candles, step)) for symbol, (step, candles) in self._candles.items()
        ]
        events = iter(self._events)
        event = next(events, None)
        for ms, group in groupby(heapq.merge(*streams, key=lambda point: point[0]), key=lambda p: p[0]):
            due: dict[str, Decimal] = {}
            while event is not None and event.at_ms <= ms:
                due[event.symbol] = event.rate
                event = next(events, None)
            yield Tick(at_ms(ms), {s: self._price(s, p) for _, s, p in group}, due)
        while event is not None:  # events after the last candle still settle, on a tick of their own
            yield Tick(at_ms(event.at_ms), {}, {event.symbol: event.rate})
            event = next(events, None)

    def _peek(self) -> Tick | None:
        if self._pending is None:
            self._pending = next(self._stream, None)
        return self._pending

    def _take(self) -> Tick:
        tick = self._peek()
        assert tick is not None
        self._pending = None
        self._rates.update(tick.funding_settlements)
        return self.apply(tick)

    def ticks(self) -> Iterator[Tick]:
        """Every tick not yet played, in time order, each applied as it is yielded (the console's !replay)."""
        while self._peek() is not None:
            yield self._take()

    def advance(self, until: datetime) -> list[Tick]:
        played = []
        while (tick := self._peek()) is not None and tick.at <= until:
            played.append(self._take())
        return played

    async def run(self, on_tick: TickHandler, clock: Clock) -> None:
        """Play the remaining ticks at `speed` × real time (measured on `clock`), then return."""
        first = self._peek()
        if first is None:
            return
        market_origin, wall_origin = first.at, clock.now()
        while (tick := self._peek()) is not None:
            wait = (tick.at - market_origin).total_seconds() / self.speed
            wait -= (clock.now() - wall_origin).total_seconds()
            if wait > 0:
                await self._sleep(wait)
            await on_tick(self._take())
