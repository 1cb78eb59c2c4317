"""Resting orders filling on each tick: limits at their own price with the maker fee, stops (stop-loss,
take-profit, trailing) at the mark with the taker fee through the trading fill path. Each fill is one
transaction, and its owner gets a push.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.domain import orders as rules
from core.domain.money import plain
from core.domain.orders import Order
from core.domain.positions import Position
from core.errors import Refused
from core.ports import Tick
from core.services import orders, trading
from core.services.core import Core, Loaded, load_account
from core.services.notify import push
from core.storage import accounts as acc
from core.storage import orders as store
from core.storage.db import Tx
from core.text import price as fmt_price
from core.text import usdt

log = logging.getLogger(__name__)

ICONS = {"limit": "📌", "stop_loss": "🛑", "take_profit": "🎯", "trailing_stop": "🛑"}  # a stop is not a win


@dataclass(frozen=True)
class OrderFilled:
    order: Order
    price: Decimal
    qty: Decimal
    fee: Decimal
    realized_pnl: Decimal
    position_side: str | None
    position_qty: Decimal
    wallet_balance: Decimal



async def on_tick(core: Core, tick: Tick) -> int:
    """Fill what the tick's marks trigger, each order in its own transaction; returns how many filled.

    Stops attached to a limit entry are placed when it fills and examined at the same marks.
    """
    marks = dict(tick.marks)
    filled = 0
    seen: set[int] = set()
    while True:
        async with core.db.transaction() as tx:
            candidates = [o for o in await store.open_orders_on(tx, sorted(marks)) if o.id not in seen]
        if not candidates:
            return filled
        for order in candidates:
            seen.add(order.id)
            decision = rules.decide(order, marks[order.symbol])
            if decision.fire or decision.best_mark != order.best_mark:
                try:
                    async with core.db.transaction() as tx:
                        filled += await _apply(core, tx, order.id, marks[order.symbol])
                except Exception:  # one broken order must not hold up the others or the liquidation sweep
                    log.exception("order %s could not be processed; it stays open", order.id)


async def _apply(core: Core, tx: Tx, order_id: int, mark: Decimal) -> int:
    order = await store.order_by_id(tx, order_id)  # read again: it may have changed since the screen
    if order is None or order.status != "open":
        return 0
    decision = rules.decide(order, mark)
    if decision.best_mark is not None and decision.best_mark != order.best_mark:
        await store.set_best_mark(tx, order.id, decision.best_mark, core.clock.now())
    if not decision.fire:
        return 0
    if order.reduce_only:
        return await _trigger_stop(core, tx, await _owner(core, tx, order.account_id), order, mark)
    return await _fill_limit(core, tx, order)


async def _owner(core: Core, tx: Tx, account_id: int) -> Loaded:
    account = await acc.account_by_id(tx, account_id)
    return await load_account(core, tx, await acc.user_by_id(tx, account.user_id), account)


async def _trigger_stop(core: Core, tx: Tx, loaded: Loaded, order: Order, mark: Decimal) -> int:
    """A triggered stop closes at the mark with the taker fee (a market close, reduce-only)."""
    position = loaded.position(order.symbol)
    if position is None or not order.protects(position.side):
        await store.cancel(tx, [order.id], "position_closed", core.clock.now())
        return 0
    qty = position.qty if order.qty is None else min(order.qty, position.qty)
    close = Position(order.symbol, order.side, qty, mark, position.leverage, position.mode)
    change = await trading.fill(core, tx, loaded, close, mark, opening=False)
    await store.mark_filled(tx, order.id, mark, core.clock.now())
    orders.cancel_orphaned(core, tx, order.account_id, order.symbol)
    filled = OrderFilled(order, mark, qty, change.fee, change.realized_pnl, change.position_side,
                         change.position_qty, change.wallet_balance)
    await _push_fill(core, tx, loaded.user.id, filled)
    return 1


async def _fill_limit(core: Core, tx: Tx, order: Order) -> int:
    """A crossed limit fills at its own price with the maker fee; what it held is released first."""
    assert order.qty is not None and order.price is not None
    now = core.clock.now()
    await store.mark_filled(tx, order.id, order.price, now)
    loaded = await _owner(core, tx, order.account_id)  # without this order's reserve
    existing = loaded.position(order.symbol)
    leverage = existing.leverage if existing is not None else order.leverage
    fill = Position(order.symbol, order.side, order.qty, order.price, leverage, order.mode)
    try:
        change = await trading.fill(core, tx, loaded, fill, order.price, opening=True, fee_rate=core.catalog.fees.maker)
    except Refused as exc:  # e.g. losses elsewhere ate the balance it needed: it ends unfilled
        await store.cancel(tx, [order.id], exc.code, now)
        await push(core, tx, loaded.user.id, "order_filled", f"Order #{order.id} could not fill and was "
                   f"cancelled: {exc.message}", {"order_id": order.id, "status": "cancelled", "code": exc.code},
                   f"order:{order.id}")
        return 0
    after = (await _owner(core, tx, order.account_id)).position(order.symbol)
    if after is not None and after.side == order.side:
        await orders.attach_stops(core, tx, order.account_id, after, order.attached_sl, order.attached_tp)
    filled = OrderFilled(order, order.price, order.qty, change.fee, change.realized_pnl, change.position_side,
                         change.position_qty, change.wallet_balance)
    await _push_fill(core, tx, loaded.user.id, filled)
    return 1


async def _push_fill(core: Core, tx: Tx, user_id: int, filled: OrderFilled) -> None:
    await push(core, tx, user_id, "order_filled", fill_text(filled), fill_data(filled), f"order:{filled.order.id}")


def fill_text(f: OrderFilled) -> str:
    """What the owner reads when an order fills (pushed)."""
    o = f.order
    verb = "bought" if o.side > 0 else "sold"
    event, where, fee_kind = ("triggered", "mark", "taker") if o.reduce_only else ("filled", "limit", "maker")
    text = (f"{ICONS[o.type]} {o.label.capitalize()} #{o.id} {event}: {verb} {plain(f.qty)} {o.symbol} at {where} "
            f"{fmt_price(f.price)} "
            f"({fee_kind} fee {usdt(f.fee)}).")
    if f.realized_pnl:
        text += f" Realized PnL {f.realized_pnl:+,.2f} USDT."
    if f.position_side is None:
        return text + f" {o.symbol} position closed. Wallet {usdt(f.wallet_balance)}."
    return text + f" Position: {f.position_side} {plain(f.position_qty)} {o.symbol}."


def fill_data(f: OrderFilled) -> dict[str, Any]:
    o = f.order
    return {
        "order_id": o.id,
        "status": "filled",
        "type": o.type,
        "symbol": o.symbol,
        "side": "buy" if o.side > 0 else "sell",
        "qty": plain(f.qty),
        "price": plain(f.price),
        "fee": plain(f.fee),
        "realized_pnl": plain(f.realized_pnl),
        "position_side": f.position_side,
        "position_qty": plain(f.position_qty),
        "wallet_balance": plain(f.wallet_balance),
    }
