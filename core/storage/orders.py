"""Resting orders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import cast

import aiosqlite

from core.domain.orders import Order, OrderType
from core.domain.positions import Mode
from core.storage.db import Tx
from core.storage.rows import dec, fetch_all, fetch_one, stamp, text


def _optional(value: object) -> Decimal | None:
    return None if value is None else dec(value)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else text(value)


def _order(row: aiosqlite.Row) -> Order:
    return Order(
        id=int(row["id"]),
        account_id=int(row["account_id"]),
        symbol=row["symbol"],
        side=int(row["side"]),
        type=cast(OrderType, row["type"]),
        qty=_optional(row["qty"]),
        price=_optional(row["price"]),
        leverage=int(row["leverage"]),
        mode=cast(Mode, row["margin_mode"]),
        reserved_margin=dec(row["reserved_margin"]),
        callback_rate=_optional(row["callback_rate"]),
        best_mark=_optional(row["best_mark"]),
        attached_sl=_optional(row["attached_sl"]),
        attached_tp=_optional(row["attached_tp"]),
        status=row["status"],
        created_at=row["created_at"],
    )


async def add_order(tx: Tx, order: Order, now: datetime) -> Order:
    """Store a new open order (its `id` is ignored) and return it with the id it got."""
    cursor = await tx.execute(
        "INSERT INTO orders (account_id, symbol, side, type, qty, price, leverage, margin_mode, reduce_only, "
        "callback_rate, best_mark, reserved_margin, attached_sl, attached_tp, status, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
        (
            order.account_id,
            order.symbol,
            order.side,
            order.type,
            _text(order.qty),
            _text(order.price),
            order.leverage,
            order.mode,
            int(order.reduce_only),
            _text(order.callback_rate),
            _text(order.best_mark),
            text(order.reserved_margin),
            _text(order.attached_sl),
            _text(order.attached_tp),
            stamp(now),
            stamp(now),
        ),
    )
    stored = await order_by_id(tx, int(cursor.lastrowid or 0))
    assert stored is not None
    return stored


async def order_by_id(tx: Tx, order_id: int) -> Order | None:
    row = await fetch_one(tx, "SELECT * FROM orders WHERE id = ?", (order_id,))
    return _order(row) if row else None


async def open_orders_of(tx: Tx, account_id: int, symbol: str | None = None) -> list[Order]:
    return [
        _order(row)
        for row in await fetch_all(
            tx,
            "SELECT * FROM orders WHERE account_id = ? AND status = 'open' AND (? IS NULL OR symbol = ?) ORDER BY id",
            (account_id, symbol, symbol),
        )
    ]


async def open_orders_on(tx: Tx, symbols: Sequence[str]) -> list[Order]:
    """Every open order on these symbols, oldest first (the order they are examined on a tick)."""
    if not symbols:
        return []
    marks = ",".join("?" * len(symbols))
    return [
        _order(row)
        for row in await fetch_all(
            tx, f"SELECT * FROM orders WHERE status = 'open' AND symbol IN ({marks}) ORDER BY id", list(symbols)
        )
    ]


async def set_best_mark(tx: Tx, order_id: int, best: Decimal, now: datetime) -> None:
    await tx.execute(
        "UPDATE orders SET best_mark = ?, updated_at = ? WHERE id = ? AND status = 'open'",
        (text(best), stamp(now), order_id),
    )


async def mark_filled(tx: Tx, order_id: int, price: Decimal, now: datetime) -> None:
    """Filled: the order no longer holds margin (only open orders count in `reserved_margin`)."""
    await tx.execute(
        "UPDATE orders SET status = 'filled', fill_price = ?, updated_at = ?, end_reason = 'filled' WHERE id = ?",
        (text(price), stamp(now), order_id),
    )


async def cancel(tx: Tx, order_ids: Sequence[int], reason: str, now: datetime) -> None:
    """Cancel these orders (status open or just marked filled); the margin they held is released."""
    await tx.executemany(
        "UPDATE orders SET status = 'cancelled', fill_price = NULL, updated_at = ?, end_reason = ? WHERE id = ?",
        [(stamp(now), reason, order_id) for order_id in order_ids],
    )


def cancel_orphaned(tx: Tx, account_id: int, now: datetime, symbol: str | None = None) -> None:
    """Cancel reduce-only orders left without the position they protect (closed, liquidated or flipped).

    Hook: call it in the transaction of any fill that can close or flip a position; `symbol` None checks all.
    """
    tx.queue(
        "UPDATE orders SET status = 'cancelled', end_reason = 'position_closed', updated_at = ? "
        "WHERE account_id = ? AND status = 'open' AND reduce_only = 1 AND (? IS NULL OR symbol = ?) "
        "AND NOT EXISTS (SELECT 1 FROM positions p WHERE p.account_id = orders.account_id "
        "AND p.symbol = orders.symbol AND p.side = -orders.side)",
        (stamp(now), account_id, symbol, symbol),
    )


async def cancel_open_on(
    tx: Tx, account_id: int, symbols: list[str], reason: str, now: datetime
) -> int:
    """Cancel an account's open orders on these symbols (a liquidation's first step, for what it closes)."""
    marks = ",".join("?" * len(symbols))
    cursor = await tx.execute(
        f"UPDATE orders SET status = 'cancelled', end_reason = ?, updated_at = ? WHERE account_id = ? "
        f"AND status = 'open' AND symbol IN ({marks})",
        (reason, stamp(now), account_id, *symbols),
    )
    return cursor.rowcount or 0


async def cancel_all_open(tx: Tx, account_id: int, reason: str, now: datetime) -> int:
    """Cancel every open order of an account (Binance: the first step of a liquidation; also `/reset`)."""
    cursor = await tx.execute(
        "UPDATE orders SET status = 'cancelled', end_reason = ?, updated_at = ? WHERE account_id = ? "
        "AND status = 'open'",
        (reason, stamp(now), account_id),
    )
    return cursor.rowcount or 0
