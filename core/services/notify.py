"""Pushes: written to the outbox inside the event's transaction, delivered afterwards, once."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from core.ports import DeliveryError, Notifier, Outgoing
from core.services.core import Core
from core.storage import accounts as acc
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


async def deliver_pending(core: Core, notifiers: Mapping[str, Notifier]) -> int:
    """Send what is due through each user's platform; mark it delivered only after the send returned."""
    now = core.clock.now()
    async with core.db.transaction() as tx:
        rows = await outbox.pending(tx, now)
    sent = 0
    for row in rows:
        notifier = notifiers.get(row.platform)
        if notifier is None:
            continue
        message = Outgoing(row.platform, row.platform_user_id, row.chat_id, row.kind, row.priority, row.text, row.data)
        try:
            await notifier.send(message)
        except DeliveryError as exc:
            await _failed(core, row, exc)
            continue
        async with core.db.transaction() as tx:
            await outbox.mark_delivered(tx, [row.id], core.clock.now())
        sent += 1
    return sent


async def _failed(core: Core, row: outbox.OutboxRow, exc: DeliveryError) -> None:
    async with core.db.transaction() as tx:
        if exc.permanent:
            log.info("pushes paused for user %s: %s", row.user_id, exc)
            await acc.set_pushes(tx, row.user_id, False)
            return
        delay = exc.retry_after if exc.retry_after is not None else min(300.0, 2.0 ** min(row.attempts, 8))
        await outbox.postpone(tx, [row.id], core.clock.now() + timedelta(seconds=delay))
