"""Funding settlements already applied (idempotency across restarts)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from core.storage.db import Tx
from core.storage.rows import fetch_one, stamp, text


async def claim(tx: Tx, symbol: str, funding_time: datetime, rate: Decimal, now: datetime) -> bool:
    """Record a settlement; False when this symbol's funding at that time was already applied."""
    cursor = await tx.execute(
        "INSERT OR IGNORE INTO funding_events (symbol, funding_time, rate, applied_at) VALUES (?, ?, ?, ?)",
        (symbol, stamp(funding_time), text(rate), stamp(now)),
    )
    return (cursor.rowcount or 0) > 0


async def last_funding_time(tx: Tx) -> str | None:
    row = await fetch_one(tx, "SELECT MAX(funding_time) FROM funding_events")
    return row[0] if row and row[0] else None
