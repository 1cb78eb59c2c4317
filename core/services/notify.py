"""Pushes: written to the outbox inside the event's transaction, delivered afterwards, once."""

from __future__ import annotations

import logging
from typing import Any

from core.services.core import Core
from core.storage import outbox
from core.storage.db import Tx

log = logging.getLogger(__name__)

PRIORITIES = {
    "liquidation": 0,
    "margin_danger": 1,
    "margin_warning": 2,
    "order_filled": 3,
    "price_alert": 4,
    "funding": 5,
    "digest": 6,
    "quiz_reminder": 6,
}


async def push(
    core: Core, tx: Tx, user_id: int, kind: str, text: str, data: dict[str, Any], key: str
) -> None:
    """Queue a push for a user; `key` makes the event idempotent (one row per event and user)."""
    added = await outbox.enqueue(
        tx, user_id, kind, PRIORITIES.get(kind, 3), text, data, f"{user_id}:{key}", core.clock.now()
    )
    if added:
        core.notify_outbox()
