"""Market time moving by itself: ticks, funding times and sweeps, in time order (console and replays)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.feeds import as_state
from core.clock import VirtualClock
from core.domain.funding import funding_times
from core.ports import Tick
from core.services import alerts, funding
from core.services.core import Core
from core.services.market import on_tick


async def apply_tick(core: Core, tick: Tick) -> None:
    as_state(core.feed).apply(tick)
    await on_tick(core, tick)
    if tick.funding_settlements:
        await funding.settle(core, tick.at, tick.funding_settlements)


async def settle_scheduled_funding(core: Core, at: datetime) -> int:
    rates = {symbol: core.feed.funding_rate(symbol) for symbol in core.catalog.symbols}
    return await funding.settle(core, at, rates)


async def run_until(core: Core, clock: VirtualClock, target: datetime) -> None:
    """`!advance`: the feed's ticks and the 8-hourly funding times up to `target`, in order."""
    start = clock.now()
    ticks = core.feed.advance(target)
    scheduled = core.feed.name != "replay"  # replays carry their own funding times
    events: list[tuple[datetime, int, Tick | None]] = [(t.at, 0, t) for t in ticks]
    if scheduled:
        events += [(moment, 1, None) for moment in funding_times(start, target)]
    events += [(midnight, 2, None) for midnight in midnights(start, target)]
    events.sort(key=lambda event: (event[0], event[1]))
    for at, kind, tick in events:
        clock.set(at)
        if tick is not None:
            await apply_tick(core, tick)
        elif kind == 1:
            await settle_scheduled_funding(core, at)
        else:
            await alerts.send_digests(core, at)
            await alerts.send_quiz_reminders(core, at)
    clock.set(target)


def midnights(after: datetime, until: datetime) -> list[datetime]:
    """UTC midnights m with after < m ≤ until (daily digests)."""
    return [moment for moment in funding_times(after, until) if moment.hour == 0]


async def play(core: Core, clock: VirtualClock | None, ticks: Iterable[Tick]) -> int:
    """`!replay`: every tick in order, synchronously."""
    count = 0
    for tick in ticks:
        if clock is not None:
            clock.set(tick.at)
        await apply_tick(core, tick)
        count += 1
    return count
