"""The outbox: notifications written with the event that caused them, delivered once."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from core.storage.db import Tx
from core.storage.rows import fetch_all, fetch_one, stamp

NO_TIME = datetime.min.replace(tzinfo=UTC)  # rows built before created_at was read


@dataclass(frozen=True)
class OutboxRow:
    id: int
    user_id: int
    platform: str
    platform_user_id: str
    chat_id: str
    kind: str
    priority: int
    text: str
    data: dict[str, Any]
    attempts: int
    created_at: datetime = NO_TIME


async def enqueue(
    tx: Tx,
    user_id: int,
    kind: str,
    priority: int,
    body: str,
    data: dict[str, Any],
    key: str,
    now: datetime,
) -> bool:
    """Add a notification unless one with the same idempotency key exists; True when added."""
    cursor = await tx.execute(
        "INSERT OR IGNORE INTO outbox (user_id, kind, priority, text, data, idempotency_key, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (user_id, kind, priority, body, json.dumps(data), key, stamp(now)),
    )
    return (cursor.rowcount or 0) > 0


_SELECT = (
    "SELECT o.*, u.platform, u.platform_user_id, u.push_chat_id FROM outbox o JOIN users u ON u.id = o.user_id "
    "WHERE o.delivered_at IS NULL AND u.pushes_enabled = 1 "
)


async def deliverable(
    tx: Tx, now: datetime, platforms: Collection[str], limit: int = 1000
) -> list[OutboxRow]:
    """Undelivered rows due at `now` for users reachable on one of `platforms`, most urgent first."""
    if not platforms:
        return []
    names = sorted(platforms)
    marks = ",".join("?" * len(names))
    return [
        _row(row)
        for row in await fetch_all(
            tx,
            _SELECT + f"AND u.platform IN ({marks}) AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?) "
            "ORDER BY o.priority, o.id LIMIT ?",
            (*names, stamp(now), limit),
        )
    ]


async def next_attempt_after(tx: Tx, now: datetime, platforms: Collection[str]) -> datetime | None:
    """The earliest postponed retry still to come, for users reachable on `platforms`."""
    if not platforms:
        return None
    names = sorted(platforms)
    marks = ",".join("?" * len(names))
    row = await fetch_one(
        tx,
        "SELECT MIN(o.next_attempt_at) FROM outbox o JOIN users u ON u.id = o.user_id "
        f"WHERE o.delivered_at IS NULL AND u.pushes_enabled = 1 AND u.platform IN ({marks}) "
        "AND o.next_attempt_at > ?",
        (*names, stamp(now)),
    )
    return datetime.fromisoformat(row[0]) if row and row[0] else None


async def still_pending(tx: Tx, ids: Collection[int]) -> set[int]:
    """Which of `ids` are neither delivered nor settled, and whose user still accepts pushes."""
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    return {
        int(row[0])
        for row in await fetch_all(
            tx,
            f"SELECT o.id FROM outbox o JOIN users u ON u.id = o.user_id WHERE o.id IN ({marks}) "
            "AND o.delivered_at IS NULL AND u.pushes_enabled = 1",
            list(ids),
        )
    }


async def skip(tx: Tx, ids: list[int], reason: str, now: datetime) -> None:
    """Settle rows without sending them (`reason`: off, failed): they will never be sent."""
    await tx.executemany(
        "UPDATE outbox SET delivered_at = ?, skipped = ? WHERE id = ? AND delivered_at IS NULL",
        [(stamp(now), reason, i) for i in ids],
    )


async def delivered_count(tx: Tx, user_id: int | None = None) -> int:
    """Rows sent (delivered and not skipped), of one user or of everyone."""
    query = "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL AND skipped IS NULL"
    args: tuple[int, ...] = ()
    if user_id is not None:
        query += " AND user_id = ?"
        args = (user_id,)
    row = await fetch_one(tx, query, args)
    return int(row[0]) if row else 0


def _row(row: aiosqlite.Row) -> OutboxRow:
    return OutboxRow(
        row["id"],
        row["user_id"],
        row["platform"],
        row["platform_user_id"],
        row["push_chat_id"],
        row["kind"],
        row["priority"],
        row["text"],
        json.loads(row["data"]),
        row["attempts"],
        datetime.fromisoformat(row["created_at"]),
    )


async def mark_delivered(tx: Tx, ids: list[int], now: datetime) -> None:
    await tx.executemany(
        "UPDATE outbox SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL", [(stamp(now), i) for i in ids]
    )


async def postpone(tx: Tx, ids: list[int], until: datetime) -> None:
    await tx.executemany(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?",
        [(stamp(until), i) for i in ids],
    )
