"""Conversions between exact decimals and TEXT columns, and between rows and domain objects."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TypeVar, cast

import aiosqlite

from core.domain.positions import Mode, Position

T = TypeVar("T")


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


Params = Iterable[object] | Mapping[str, object]


def _bind(params: Params) -> tuple[object, ...] | dict[str, object]:
    return dict(params) if isinstance(params, Mapping) else tuple(params)


async def fetch_all(tx: aiosqlite.Connection, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
    """All rows of a query in one trip to aiosqlite's thread (execute + fetch + close would be three)."""
    return list(await tx.execute_fetchall(sql, _bind(params)))


async def fetch_one(tx: aiosqlite.Connection, sql: str, params: Params = ()) -> aiosqlite.Row | None:
    rows = await tx.execute_fetchall(sql, _bind(params))
    return next(iter(rows), None)


async def in_order(writes: Sequence[Awaitable[T]]) -> list[T]:
    """Run statements that need no answer from each other in one trip: gather starts them in list order, so
    aiosqlite's queue receives (and its thread runs) them in that order, back to back, while we wait once."""
    results = await asyncio.gather(*writes, return_exceptions=True)  # every one finishes; none left unread
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [cast(T, result) for result in results]
