"""The outbox: notifications written with the event that caused them, delivered once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from core.storage.rows import stamp


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


async def enqueue(
    tx: aiosqlite.Connection,
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


async def pending(tx: aiosqlite.Connection, now: datetime, limit: int = 500) -> list[OutboxRow]:
    async with tx.execute(
        "SELECT o.*, u.platform, u.platform_user_id, u.push_chat_id FROM outbox o JOIN users u ON u.id = o.user_id "
        "WHERE o.delivered_at IS NULL AND u.pushes_enabled = 1 "
        "AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?) ORDER BY o.priority, o.id LIMIT ?",
        (stamp(now), limit),
    ) as cursor:
        rows = await cursor.fetchall()
    return [
        OutboxRow(
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
        )
        for row in rows
    ]


async def mark_delivered(tx: aiosqlite.Connection, ids: list[int], now: datetime) -> None:
    await tx.executemany(
        "UPDATE outbox SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL", [(stamp(now), i) for i in ids]
    )


async def postpone(tx: aiosqlite.Connection, ids: list[int], until: datetime) -> None:
    await tx.executemany(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?",
        [(stamp(until), i) for i in ids],
    )
