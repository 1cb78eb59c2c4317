"""Button tokens and processed platform updates."""

from __future__ import annotations

from datetime import datetime

from core.storage.db import Tx
from core.storage.rows import fetch_one, stamp


async def save_button(tx: Tx, token: str, user_id: int, command: str, now: datetime) -> None:
    await tx.execute(
        "INSERT INTO buttons (token, user_id, command, created_at) VALUES (?, ?, ?, ?)",
        (token, user_id, command, stamp(now)),
    )


async def find_button(tx: Tx, token: str) -> tuple[int, str, str] | None:
    """(owner user id, owner display name, command) of a token."""
    row = await fetch_one(
        tx,
        "SELECT b.user_id, u.display_name, b.command FROM buttons b JOIN users u ON u.id = b.user_id WHERE b.token = ?",
        (token,),
    )
    return (int(row[0]), str(row[1]), str(row[2])) if row else None


async def first_time(tx: Tx, platform: str, update_id: str, now: datetime) -> bool:
    """Remember an update; False when it was seen before (a redelivery)."""
    cursor = await tx.execute(
        "INSERT OR IGNORE INTO processed_updates (platform, update_id, processed_at) VALUES (?, ?, ?)",
        (platform, update_id, stamp(now)),
    )
    return (cursor.rowcount or 0) > 0


async def prune(tx: Tx, buttons_before: datetime, updates_before: datetime) -> tuple[int, int]:
    """Forget old button tokens and processed update ids; returns how many of each went."""
    buttons = await tx.execute("DELETE FROM buttons WHERE created_at < ?", (stamp(buttons_before),))
    updates = await tx.execute("DELETE FROM processed_updates WHERE processed_at < ?", (stamp(updates_before),))
    return buttons.rowcount or 0, updates.rowcount or 0
