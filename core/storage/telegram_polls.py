"""Telegram quiz polls sent: poll id → the quiz question it asks and whose it is (a poll answer has no chat)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.storage.db import Tx
from core.storage.rows import fetch_one, stamp


@dataclass(frozen=True)
class SentPoll:
    poll_id: str
    ask_id: int
    platform_user_id: str
    chat_id: str
    message_id: int
    command: str
    answered: bool = False


async def save_poll(tx: Tx, poll: SentPoll, now: datetime) -> None:
    await tx.execute(
        "INSERT OR IGNORE INTO telegram_polls "
        "(poll_id, ask_id, platform_user_id, chat_id, message_id, command, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (poll.poll_id, poll.ask_id, poll.platform_user_id, poll.chat_id, poll.message_id, poll.command, stamp(now)),
    )


async def find_poll(tx: Tx, poll_id: str) -> SentPoll | None:
    row = await fetch_one(
        tx,
        "SELECT poll_id, ask_id, platform_user_id, chat_id, message_id, command, answered_at "
        "FROM telegram_polls WHERE poll_id = ?",
        (poll_id,),
    )
    if row is None:
        return None
    return SentPoll(
        str(row[0]), int(row[1]), str(row[2]), str(row[3]), int(row[4]), str(row[5]), answered=row[6] is not None
    )


async def mark_answered(tx: Tx, poll_id: str, now: datetime) -> bool:
    """True the first time a poll's answer is recorded."""
    cursor = await tx.execute(
        "UPDATE telegram_polls SET answered_at = ? WHERE poll_id = ? AND answered_at IS NULL", (stamp(now), poll_id)
    )
    return (cursor.rowcount or 0) > 0
