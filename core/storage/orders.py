"""Resting orders."""

from __future__ import annotations

from decimal import Decimal

import aiosqlite

from core.storage.rows import dec


async def reserved_margin(tx: aiosqlite.Connection, account_id: int) -> Decimal:
    """Initial margin held by the account's open orders."""
    async with tx.execute(
        "SELECT reserved_margin FROM orders WHERE account_id = ? AND status = 'open'", (account_id,)
    ) as cursor:
        rows = await cursor.fetchall()
    return sum((dec(row[0]) for row in rows), Decimal(0))


async def has_open_orders(tx: aiosqlite.Connection, account_id: int, symbol: str) -> bool:
    async with tx.execute(
        "SELECT 1 FROM orders WHERE account_id = ? AND symbol = ? AND status = 'open' LIMIT 1", (account_id, symbol)
    ) as cursor:
        return await cursor.fetchone() is not None
