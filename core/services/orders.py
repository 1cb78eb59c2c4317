"""Resting orders: placing limit entries, stop-loss, take-profit and trailing stops; listing and cancelling them.

Each use case is one transaction. What fills them on each tick is in `order_fills`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from core.domain import orders as rules
from core.domain import trading as trade_rules
from core.domain.instruments import Instrument
from core.domain.money import ONE, ZERO, floor_to_step, plain
from core.domain.orders import Order, OrderType
from core.domain.positions import Mode, Position
from core.errors import Refused
from core.results import Actor, PositionChanged
from core.services import trading
from core.services.core import Core, Loaded, load, load_account
from core.storage import accounts as acc
from core.storage import orders as store
from core.storage import positions as pos
from core.storage.db import Tx
from core.text import price as fmt_price

FIVE_PCT = Decimal("0.05")
log = logging.getLogger(__name__)

MAX_OPEN_ORDERS = 50  # per account: abuse protection (limits, stops and trails together)


@dataclass(frozen=True)
class OrderPlaced:
    order: Order
    mark: Decimal
    replaced: tuple[int, ...] = ()  # ids of the same kind of stop it replaced
    note: str | None = None  # e.g. the stop sits past the liquidation price


@dataclass(frozen=True)
class OpenedWithOrders:
    """A market open with its stop-loss and/or take-profit attached."""

    change: PositionChanged
    orders: tuple[Order, ...]
    replaced: tuple[int, ...] = ()


@dataclass(frozen=True)
class OrdersListed:
    orders: tuple[Order, ...]
    marks: dict[str, Decimal]


@dataclass(frozen=True)
class OrderCancelled:
    order: Order
    released: Decimal
    available_balance: Decimal


# --- placing ---------------------------------------------------------------------------------------------


async def open_with_orders(
    core: Core,
    actor: Actor,
    symbol: str,
    side: int,
    amount: trading.Amount,
    leverage: int | None = None,
    mode: Mode | None = None,
    prices: dict[str, Decimal] | None = None,
) -> OpenedWithOrders | OrderPlaced:
    """`/long BTC 1000 10x [@LIMIT] [sl=P] [tp=P]`. `prices` holds any of "limit", "sl", "tp"."""
    instrument = core.instrument(symbol)
    symbol = instrument.symbol
    mark = core.mark(symbol)
    given = prices or {}
    limit, sl, tp = given.get("limit"), given.get("sl"), given.get("tp")
    trading.check_amount(amount, side, symbol)
    _check_entry_prices(instrument, side, mark, given)
    reference = mark if limit is None else limit
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        cancel_orphaned(core, tx, loaded.account.id, symbol)
        entry = trading.opening_order(core, loaded, symbol, side, amount, leverage, mode, reference)
        acc.save_symbol_setting(tx, loaded.account.id, symbol, entry.mode, entry.leverage)
        if limit is not None:
            return await _place_limit(core, tx, loaded, entry, mark, sl, tp)
        change = await trading.fill(core, tx, loaded, entry, mark, opening=True)
        position = next((p for p in await pos.positions_of(tx, loaded.account.id) if p.symbol == symbol), None)
        if position is None or position.side != side:
            raise Refused(
                "no_position",
                f"sl=/tp= protect the position this order opens, but after it your {symbol} position is "
                f"{position.side_name if position else 'closed'}. Use /sl or /tp on it instead.",
                "/positions",
            )
        placed, replaced = await attach_stops(core, tx, loaded.account.id, position, sl, tp)
        return OpenedWithOrders(change, placed, replaced)


async def _place_limit(
    core: Core, tx: Tx, loaded: Loaded, entry: Position, mark: Decimal,
    sl: Decimal | None, tp: Decimal | None,
) -> OrderPlaced:
    """Rest a limit order; it holds its initial margin + maker fee from the available balance until it ends."""
    if len(await store.open_orders_of(tx, loaded.account.id)) >= MAX_OPEN_ORDERS:
        raise Refused("too_many_orders", f"You have {MAX_OPEN_ORDERS} open orders already; cancel one first.",
                      "/orders")
    limit = entry.entry_price
    fee, reserve = rules.reserve_for(entry.qty, limit, entry.leverage, core.catalog.fees.maker)
    existing = loaded.position(entry.symbol)
    held = existing.qty if existing is not None and existing.side == entry.side else ZERO
    trade_rules.check_leverage(core.instrument(entry.symbol), entry.leverage, (held + entry.qty) * limit)
    trade_rules.check_affordable(loaded.view, entry, entry.qty, limit, fee)
    order = Order(0, loaded.account.id, entry.symbol, entry.side, "limit", entry.qty, limit, entry.leverage,
                  entry.mode, reserve, attached_sl=sl, attached_tp=tp)
    return OrderPlaced(await store.add_order(tx, order, core.clock.now()), mark)


async def place_stop(core: Core, actor: Actor, symbol: str, order_type: OrderType, price: Decimal) -> OrderPlaced:
    """`/sl SYM PRICE`, `/tp SYM PRICE`: a reduce-only close of the whole position, triggered by the mark."""
    instrument = core.instrument(symbol)
    symbol = instrument.symbol
    mark = core.mark(symbol)
    command = "sl" if order_type == "stop_loss" else "tp"
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        opening = _entry_example(symbol, 1, mark, {command: price}, instrument.tick_size)
        position = _position_or_refuse(loaded, symbol, opening)
        example = rules.example_stop(order_type, symbol, position.side, mark, instrument.tick_size)
        rules.check_tick(instrument, price, f"/{command} {symbol} {{price}}")
        rules.check_stop_side(order_type, position.side, price, mark, example)
        order, replaced = await _add_stop(core, tx, loaded.account.id, position, order_type, price)
        return OrderPlaced(order, mark, replaced, _liquidation_note(loaded, order))


async def place_trailing(core: Core, actor: Actor, symbol: str, percent: Decimal) -> OrderPlaced:
    """`/trail SYM 2%`: closes the position when the mark retraces 2 % from its best since now."""
    rate = rules.callback_rate(percent)
    symbol = core.instrument(symbol).symbol
    mark = core.mark(symbol)
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        position = _position_or_refuse(loaded, symbol, f"/long {symbol} 100 10x")
        order, replaced = await _add_stop(
            core, tx, loaded.account.id, position, "trailing_stop", None, rate=rate, best=mark
        )
        return OrderPlaced(order, mark, replaced, _liquidation_note(loaded, order))


def _position_or_refuse(loaded: Loaded, symbol: str, example: str) -> Position:
    position = loaded.position(symbol)
    if position is None:
        raise Refused("no_position", f"You have no open {symbol} position to protect.", example)
    return position


async def _add_stop(
    core: Core, tx: Tx, account_id: int, position: Position, order_type: OrderType,
    price: Decimal | None, rate: Decimal | None = None, best: Decimal | None = None,
) -> tuple[Order, tuple[int, ...]]:
    """One stop of each kind per position: a new one replaces the old."""
    now = core.clock.now()
    old = [o.id for o in await store.open_orders_of(tx, account_id, position.symbol) if o.type == order_type]
    await store.cancel(tx, old, "replaced", now)
    order = Order(0, account_id, position.symbol, -position.side, order_type, None, price, position.leverage,
                  position.mode, callback_rate=rate, best_mark=best)
    return await store.add_order(tx, order, now), tuple(old)


async def attach_stops(
    core: Core, tx: Tx, account_id: int, position: Position, sl: Decimal | None,
    tp: Decimal | None,
) -> tuple[tuple[Order, ...], tuple[int, ...]]:
    placed: list[Order] = []
    replaced: list[int] = []
    for order_type, value in _stops(sl, tp):
        order, old = await _add_stop(core, tx, account_id, position, order_type, value)
        placed.append(order)
        replaced.extend(old)
    return tuple(placed), tuple(replaced)


def _stops(sl: Decimal | None, tp: Decimal | None) -> list[tuple[OrderType, Decimal]]:
    given: list[tuple[OrderType, Decimal | None]] = [("stop_loss", sl), ("take_profit", tp)]
    return [(order_type, value) for order_type, value in given if value is not None]


def _liquidation_note(loaded: Loaded, order: Order) -> str | None:
    view = loaded.view.position(order.symbol)
    trigger = order.trigger_price
    if view is None or view.liquidation_price is None or trigger is None or order.type == "take_profit":
        return None
    if order.side * (trigger - view.liquidation_price) < 0:
        return None
    return (f"Careful: the liquidation price {fmt_price(view.liquidation_price)} comes before this stop, so the "
            "position would be liquidated first. Add margin or move the stop.")


def _check_entry_prices(instrument: Instrument, side: int, mark: Decimal, given: dict[str, Decimal]) -> None:
    """Prices on the tick grid; a limit on the waiting side of the mark; stops on either side of the entry."""
    example = _entry_example(instrument.symbol, side, mark, given, instrument.tick_size)
    for value in given.values():
        rules.check_tick(instrument, value, example)
    limit = given.get("limit")
    if limit is not None:
        rules.check_limit_side(instrument.symbol, side, limit, mark, example)
    reference, versus = (mark, "mark") if limit is None else (limit, "limit")
    for order_type, value in _stops(given.get("sl"), given.get("tp")):
        rules.check_stop_side(order_type, side, value, reference, example, versus)


def _entry_example(symbol: str, side: int, mark: Decimal, given: dict[str, Decimal], tick: Decimal) -> str:
    """A correct version of an opening command: a limit 5 % past the mark, stops 5 % either side of entry."""
    words = [f"/{'long' if side > 0 else 'short'} {symbol} 100 10x"]
    reference = mark
    if "limit" in given:
        reference = floor_to_step(mark * (ONE - side * FIVE_PCT), tick)
        words.append(f"@{plain(reference)}")
    for key, sign in (("sl", -1), ("tp", 1)):
        if key in given:
            words.append(f"{key}={plain(floor_to_step(reference * (ONE + sign * side * FIVE_PCT), tick))}")
    return " ".join(words)


# --- listing and cancelling ------------------------------------------------------------------------------


async def list_orders(core: Core, actor: Actor) -> OrdersListed:
    """`/orders`: the caller's open orders, oldest first."""
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        cancel_orphaned(core, tx, loaded.account.id)
        orders = tuple(await store.open_orders_of(tx, loaded.account.id))
        marks = {s: m for s in sorted({o.symbol for o in orders}) if (m := core.feed.mark(s)) is not None}
        return OrdersListed(orders, marks)


async def cancel_order(core: Core, actor: Actor, order_id: int) -> OrderCancelled:
    """`/cancel ID`: only the caller's own open order; anything else is refused and nothing changes."""
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        order = await store.order_by_id(tx, order_id)
        if order is None or order.account_id != loaded.account.id or order.status != "open":
            raise Refused("no_order", f"You have no open order #{order_id}.", "/orders")
        await store.cancel(tx, [order.id], "user", core.clock.now())
        after = await load_account(core, tx, loaded.user, loaded.account)
        return OrderCancelled(order, order.reserved_margin, after.view.available_balance)


def cancel_orphaned(core: Core, tx: Tx, account_id: int, symbol: str | None = None) -> None:
    """Cancel reduce-only orders whose position closed or flipped, in the caller's transaction."""
    store.cancel_orphaned(tx, account_id, core.clock.now(), symbol)


async def cancel_account_orders(core: Core, tx: Tx, account_id: int, reason: str) -> int:
    """Binance: a liquidation first cancels every open order of the account, releasing what they hold."""
    return await store.cancel_all_open(tx, account_id, reason, core.clock.now())
