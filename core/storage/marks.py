"""Last known marks (a manual market survives a restart)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from core.storage.db import Tx
from core.storage.rows import dec, fetch_all, stamp, text


async def save_marks(tx: Tx, marks: Mapping[str, Decimal], now: datetime) -> None:
    await tx.executemany(
        "INSERT INTO marks (symbol, price, updated_at) VALUES (?, ?, ?) ON CONFLICT (symbol) DO UPDATE SET "
        "price = excluded.price, updated_at = excluded.updated_at",
        [(symbol, text(price), stamp(now)) for symbol, price in marks.items()],
    )


async def load_marks(tx: Tx) -> dict[str, Decimal]:
    return {row[0]: dec(row[1]) for row in await fetch_all(tx, "SELECT symbol, price FROM marks")}
