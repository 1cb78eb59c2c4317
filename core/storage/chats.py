"""Group chats: members and admin-only settings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from core.storage.db import Tx
from core.storage.rows import dec, fetch_all, fetch_one, stamp


async def remember_member(tx: Tx, platform: str, chat_id: str, user_id: int, now: datetime) -> None:
    await tx.execute(
        "INSERT OR IGNORE INTO chat_members (platform, chat_id, user_id, joined_at) VALUES (?, ?, ?, ?)",
        (platform, chat_id, user_id, stamp(now)),
    )


async def member_balances(
    tx: Tx, platform: str, chat_id: str
) -> list[tuple[int, str, Decimal, Decimal]]:
    """(account id, name, wallet, starting balance) of a chat's members."""
    rows = await fetch_all(
        tx,
        "SELECT a.id, u.display_name, a.wallet_balance, a.starting_balance FROM chat_members m "
        "JOIN users u ON u.id = m.user_id JOIN accounts a ON a.user_id = u.id "
        "WHERE m.platform = ? AND m.chat_id = ?",
        (platform, chat_id),
    )
    return [(int(row[0]), row[1], dec(row[2]), dec(row[3])) for row in rows]


async def get_setting(tx: Tx, platform: str, chat_id: str, key: str) -> str | None:
    row = await fetch_one(
        tx, "SELECT value FROM chat_settings WHERE platform = ? AND chat_id = ? AND key = ?", (platform, chat_id, key)
    )
    return str(row[0]) if row else None


async def set_setting(tx: Tx, platform: str, chat_id: str, key: str, value: str) -> None:
    await tx.execute(
        "INSERT INTO chat_settings (platform, chat_id, key, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (platform, chat_id, key) DO UPDATE SET value = excluded.value",
        (platform, chat_id, key, value),
    )


async def chats_of(tx: Tx, platform: str, platform_user_id: str) -> list[str]:
    """Group chats a user has written in, most recent first."""
    return [
        str(row[0])
        for row in await fetch_all(
            tx,
            "SELECT m.chat_id FROM chat_members m JOIN users u ON u.id = m.user_id "
            "WHERE u.platform = ? AND u.platform_user_id = ? ORDER BY m.joined_at DESC",
            (platform, platform_user_id),
        )
    ]
