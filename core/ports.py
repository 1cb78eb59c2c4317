"""The seams of the core: time, market data and message delivery are injected, never imported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...


@dataclass(frozen=True)
class Tick:
    """Marks that changed at one moment.

    `funding_settlements` are funding payments due at this moment with their rates (replay files carry
    their own funding times); sim and live feeds leave it empty and the scheduler settles funding at
    00:00, 08:00 and 16:00 UTC with `PriceFeed.funding_rate`.
    """

    at: datetime
    marks: Mapping[str, Decimal]
    funding_settlements: Mapping[str, Decimal] = field(default_factory=dict)


TickHandler = Callable[[Tick], Awaitable[None]]


class PriceFeed(Protocol):
    """Where marks come from: sim, manual, replay or live (see DESIGN §3)."""

    name: str  # "sim", "manual", "replay", "live"

    def mark(self, symbol: str) -> Decimal | None:
        """Latest mark of a symbol, None if the feed has never priced it."""
        ...

    def marks(self) -> dict[str, Decimal]:
        """Latest marks of every priced symbol."""
        ...

    def funding_rate(self, symbol: str) -> Decimal:
        """Current funding rate per 8 h (fraction, e.g. 0.0001)."""
        ...

    def is_stale(self, now: datetime) -> bool:
        """True when trading must be refused because marks are too old (live feed only)."""
        ...

    def advance(self, until: datetime) -> list[Tick]:
        """Move the feed's market time forward to `until` and return the ticks on the way (virtual clock)."""
        ...

    async def run(self, on_tick: TickHandler, clock: Clock) -> None:
        """Produce ticks in real time until cancelled (sim, replay, live). Manual feeds return at once."""
        ...

    async def close(self) -> None:
        """Release network resources."""
        ...


@dataclass(frozen=True)
class Outgoing:
    """One message to push to one user of one platform."""

    platform: str
    user_id: str
    chat_id: str
    kind: str  # liquidation, margin_warning, order_filled, price_alert, funding, digest, ...
    priority: int  # lower is more urgent
    text: str
    data: Mapping[str, object]


class DeliveryError(Exception):
    """A send failed. `permanent` means the user cannot receive pushes (blocked the bot, DMs closed)."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Notifier(Protocol):
    """Delivers pushes on one platform; raises DeliveryError on failure."""

    platform: str

    async def send(self, message: Outgoing) -> None: ...
