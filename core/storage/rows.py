"""Conversions between exact decimals and TEXT columns, and between rows and domain objects."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import cast

import aiosqlite

from core.domain.positions import Mode, Position
from core.storage.db import Params, Tx, bind


def text(value: Decimal) -> str:
    return format(value, "f")


def dec(value: object) -> Decimal:
    return Decimal(str(value))


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def position_from(row: aiosqlite.Row) -> Position:
    return Position(
        symbol=row["symbol"],
        side=int(row["side"]),
        qty=dec(row["qty"]),
        entry_price=dec(row["entry_price"]),
        leverage=int(row["leverage"]),
        mode=cast(Mode, row["margin_mode"]),
        margin=dec(row["margin"]),
    )


async def fetch_all(tx: Tx, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
    """All rows of a query in one trip to aiosqlite's thread (execute + fetch + close would be three)."""
    return list(await tx.execute_fetchall(sql, bind(params)))


async def fetch_one(tx: Tx, sql: str, params: Params = ()) -> aiosqlite.Row | None:
    rows = await tx.execute_fetchall(sql, bind(params))
    return next(iter(rows), None)
