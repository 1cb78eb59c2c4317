"""Market use cases: quotes, and the admin's manual price setting."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from core.errors import Refused
from core.market.feed import FeedState, ManualFeed
from core.ports import Tick
from core.results import Actor, Prices, PricesSet
from core.services import alerts, order_fills
from core.services.core import Core
from core.services.risk import sweep
from core.storage import marks as marks_store


def prices(core: Core, symbols: list[str]) -> Prices:
    names = core.symbols_named(symbols)
    known = {s: p for s in names if (p := core.feed.mark(s)) is not None}
    changes, minutes = {}, 0
    if isinstance(core.feed, FeedState):
        minutes = int(core.feed.change_window().total_seconds() // 60)
        if minutes > 0:  # a change over no time at all says nothing
            changes = {s: c for s in known if (c := core.feed.change_24h(s)) is not None}
    unpriced = tuple(s for s in names if s not in known) if symbols else ()  # only what was asked for by name
    return Prices(known, core.feed.name, changes, minutes, unpriced)


async def set_prices(core: Core, actor: Actor | None, marks: Mapping[str, Decimal]) -> PricesSet:
    """`/setprice` (admins only, manual feed only) and the console's `!price` (actor None)."""
    if actor is not None and actor.key not in core.settings.admins:
        raise Refused("not_admin", "Only the bot's admins can set prices.", "/price BTC")
    feed = core.feed
    if not isinstance(feed, ManualFeed):
        raise Refused(
            "not_manual_feed",
            f"Prices come from the {feed.name} market here; /setprice works only on the manual feed.",
            "/price BTC",
        )
    checked: dict[str, Decimal] = {}
    for symbol, value in marks.items():
        instrument = core.instrument(symbol)
        if value <= 0:
            raise Refused("bad_price", "A price must be more than zero.", f"/setprice {instrument.symbol} 60000")
        checked[instrument.symbol] = value
    tick = feed.set_marks(checked, core.clock.now())
    async with core.db.transaction() as tx:
        await marks_store.save_marks(tx, checked, tick.at)
    outcomes = await on_tick(core, tick)
    return PricesSet(checked, outcomes)


async def on_tick(core: Core, tick: Tick) -> int:
    """Every mark change: resting orders trigger, then the liquidation sweep, then margin-health and price
    alerts. Returns how many liquidations happened."""
    await order_fills.on_tick(core, tick)
    liquidations = len(await sweep(core, tick))
    await alerts.on_tick(core, tick)
    return liquidations


async def remember_marks(core: Core) -> None:
    """Save the feed's current marks (after a replay or an advance) so a restart starts from them."""
    marks = core.feed.marks()
    if marks:
        async with core.db.transaction() as tx:
            await marks_store.save_marks(tx, marks, core.clock.now())
