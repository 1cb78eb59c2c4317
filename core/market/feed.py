"""The manual feed and what every feed shares: latest marks, funding rates, staleness."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from core.ports import Clock, Tick, TickHandler

DEFAULT_FUNDING_RATE = Decimal("0.0001")
SAMPLE_EVERY = timedelta(minutes=5)
DAY = timedelta(hours=24)  # Binance's interest component: 0.01 % per 8 h


class FeedState:
    """Latest marks and funding rates of a feed; base class of every feed."""

    name = "base"

    def __init__(self, marks: Mapping[str, Decimal] | None = None) -> None:
        self._marks: dict[str, Decimal] = dict(marks or {})
        self._funding: dict[str, Decimal] = {}
        self._updated_at: datetime | None = None
        self._samples: deque[tuple[datetime, dict[str, Decimal]]] = deque()  # for the 24 h change

    def mark(self, symbol: str) -> Decimal | None:
        return self._marks.get(symbol)

    def marks(self) -> dict[str, Decimal]:
        return dict(self._marks)

    def funding_rate(self, symbol: str) -> Decimal:
        return self._funding.get(symbol, DEFAULT_FUNDING_RATE)

    def is_stale(self, now: datetime) -> bool:
        return False

    def apply(self, tick: Tick) -> Tick:
        """Record a tick's marks as the latest and return it."""
        self._marks.update(tick.marks)
        self._updated_at = tick.at
        if not self._samples or tick.at - self._samples[-1][0] >= SAMPLE_EVERY:
            self._samples.append((tick.at, dict(self._marks)))
            while len(self._samples) > 1 and tick.at - self._samples[1][0] >= DAY:
                self._samples.popleft()
        return tick

    def change_window(self) -> timedelta:
        """How far back `change_24h` reaches: a day, or less while the feed is younger than that."""
        if self._updated_at is None or not self._samples:
            return timedelta(0)
        return min(DAY, self._updated_at - self._samples[0][0])

    def change_24h(self, symbol: str) -> Decimal | None:
        """Relative change of the mark against 24 h ago (or the oldest mark seen, when younger than that)."""
        now = self._marks.get(symbol)
        past = next((marks[symbol] for _, marks in self._samples if symbol in marks), None)
        if now is None or past is None or past == 0:
            return None
        return now / past - 1

    def advance(self, until: datetime) -> list[Tick]:
        return []

    async def run(self, on_tick: TickHandler, clock: Clock) -> None:
        return None

    async def close(self) -> None:
        return None


class ManualFeed(FeedState):
    """Marks move only when an admin (`/setprice`) or the console (`!price`) says so."""

    name = "manual"

    def set_marks(self, marks: Mapping[str, Decimal], at: datetime) -> Tick:
        return self.apply(Tick(at=at, marks=dict(marks)))

    def set_funding_rate(self, symbol: str, rate: Decimal) -> None:
        self._funding[symbol] = rate
