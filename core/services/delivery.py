"""The delivery worker: outbox rows become merged, prioritised, rate-limited pushes, each event sent once.

Rows are the source of truth: a row is marked delivered only after its send returned, so rows written but
never sent (a crash, a restart) go out when a worker next drains. Within one worker, a row is queued at most
once; before each send the rows are checked again, so nothing already delivered is sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.domain.alerts import AlertSettings, held_until, merge_groups, merged_text
from core.domain.ratelimit import (
    DEFAULT_LIMITS,
    PRIVATE,
    Delivery,
    DeliveryScheduler,
    PlatformLimits,
    backoff,
    chat_key,
)
from core.ports import Clock, DeliveryError, Notifier, Outgoing
from core.services.core import Core
from core.storage import accounts as acc
from core.storage import alerts as alert_store
from core.storage import outbox
from core.storage.db import Tx
from core.storage.outbox import OutboxRow

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
MAX_ATTEMPTS = 12  # backoff 1 s, 2 s … capped at 5 min: about 20 minutes of retries, then the row is given up
FAILURE_PAUSE = 5.0  # seconds the loop waits after an unexpected error before draining again


@dataclass(frozen=True)
class Batch:
    """Outbox rows of one user sent as one message, most urgent first."""

    rows: tuple[OutboxRow, ...]

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(row.id for row in self.rows)

    @property
    def head(self) -> OutboxRow:
        return self.rows[0]

    def only(self, ids: set[int]) -> Batch:
        return Batch(tuple(row for row in self.rows if row.id in ids))

    def message(self) -> Outgoing:
        head = self.head
        if len(self.rows) == 1:
            return Outgoing(head.platform, head.platform_user_id, head.chat_id, head.kind, head.priority,
                            head.text, head.data)
        data: dict[str, Any] = {
            **head.data,
            "merged": [{"kind": row.kind, "text": row.text, "data": row.data} for row in self.rows],
        }
        text = merged_text([row.text for row in self.rows])
        return Outgoing(head.platform, head.platform_user_id, head.chat_id, head.kind, head.priority, text, data)


Item = Delivery[Batch]


def limits_for(platforms: Iterable[str], limits: Iterable[PlatformLimits]) -> list[PlatformLimits]:
    """The configured limits of each platform; a platform without any (the console) is unlimited."""
    known = {spec.platform: spec for spec in limits}
    return [known.get(platform, PlatformLimits(platform)) for platform in platforms]


class DeliveryWorker:
    """Reads due outbox rows, merges each user's rows of one moment, sends by priority within the limits."""

    def __init__(
        self,
        core: Core,
        notifiers: Mapping[str, Notifier],
        *,
        limits: Iterable[PlatformLimits] = DEFAULT_LIMITS,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        merge_window: timedelta = timedelta(seconds=1),
        settle_delay: float = 0.05,
        batch_size: int = 1000,
    ) -> None:
        self.core = core
        self.notifiers = dict(notifiers)
        self.clock = clock or core.clock
        self.scheduler: DeliveryScheduler[Item] = DeliveryScheduler(limits_for(self.notifiers, limits))
        self.merge_window = merge_window
        self.settle_delay = settle_delay  # after a wake-up by a new row, let the rest of its tick arrive
        self.batch_size = batch_size
        self.next_wake_at: datetime | None = None
        self._sleep = sleep
        self._epoch = self.clock.now()
        self._queued: set[int] = set()  # row ids handed to the scheduler and not yet settled
        self._later: datetime | None = None  # earliest postponed retry or end of quiet hours
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()

    # ----------------------------------------------------------------------------------------- public

    async def drain_once(self) -> int:
        """Queue what is due, send what the limits allow now; returns how many messages were sent."""
        async with self._lock:
            now = self.clock.now()
            await self._collect(now)
            sent = 0
            items = self.scheduler.due(self._seconds(self.clock.now()))
            try:
                for item in items:
                    sent += await self._deliver(item)
            finally:  # whatever was not sent (an error, a cancellation) is read again from the outbox
                for item in items:
                    self._queued.difference_update(item.payload.ids)
            self.next_wake_at = self._next_wake(self.clock.now())
            return sent

    async def run(self) -> None:
        """Drain, then wait for a new outbox row or the next due time; until `stop()` (or cancelled)."""
        changed = self.core.outbox_changed
        while not self._stop.is_set():
            changed.clear()
            try:
                await self.drain_once()
            except Exception:
                log.exception("push delivery failed; trying again shortly")
                self.next_wake_at = self.clock.now() + timedelta(seconds=FAILURE_PAUSE)
            wake = self.next_wake_at
            delay = None if wake is None else max(0.0, (wake - self.clock.now()).total_seconds())
            if await self._wait(delay) and self.settle_delay > 0 and not self._stop.is_set():
                await self._sleep(self.settle_delay)

    def stop(self) -> None:
        """Let `run` return after the send in progress (cancelling could cut a transaction short)."""
        self._stop.set()

    # -------------------------------------------------------------------------------------- collecting

    async def _collect(self, now: datetime) -> None:
        async with self.core.db.transaction() as tx:
            rows = [r for r in await outbox.deliverable(tx, now, self.notifiers, self.batch_size)
                    if r.id not in self._queued]
            settings = await alert_store.settings_of(tx, {r.user_id for r in rows})
            off = [r.id for r in rows if not settings[r.user_id].enabled(r.kind)]
            if off:
                await outbox.skip(tx, off, "off", now)  # switched off after it was written
            stale = await _stale_margin_alerts(tx, rows)
            if stale:
                await outbox.skip(tx, stale, "stale", now)  # held (quiet hours) while the danger passed
            off += stale
            retry_at = await outbox.next_attempt_after(tx, now, self.notifiers)
        ready, holds = _split(rows, settings, now, set(off))
        for group in merge_groups(ready, self.merge_window):
            batch = Batch(tuple(group))
            head = batch.head
            self.scheduler.push(Delivery(head.platform, head.chat_id, PRIVATE, head.priority, batch))
            self._queued.update(batch.ids)
        self._later = min([*holds, *([retry_at] if retry_at else [])], default=None)

    # -------------------------------------------------------------------------------------- sending

    async def _deliver(self, item: Item) -> int:
        batch = item.payload
        now = self.clock.now()
        async with self.core.db.transaction() as tx:
            alive = await outbox.still_pending(tx, batch.ids)
            settings = await alert_store.settings_for(tx, batch.head.user_id)
        due = _still_due(batch, alive, settings, now)
        if due is None:
            return 0  # delivered meanwhile, pushes paused, or quiet hours began: re-read when due
        batch = due
        try:
            await self.notifiers[batch.head.platform].send(batch.message())
        except DeliveryError as exc:
            await self._failed(item, batch, exc, now)
            return 0
        except Exception as exc:  # an adapter bug must not stop the worker: retry like a temporary error
            log.exception("push to user %s failed", batch.head.user_id)
            await self._failed(item, batch, DeliveryError(str(exc), permanent=False), now)
            return 0
        async with self.core.db.transaction() as tx:
            await outbox.mark_delivered(tx, list(batch.ids), self.clock.now())
        return 1

    async def _failed(self, item: Item, batch: Batch, exc: DeliveryError, now: datetime) -> None:
        user_id = batch.head.user_id
        ids = list(batch.ids)
        if exc.permanent:
            # the user blocked the bot or closed DMs: pause pushes until they write again (ensure_user)
            log.info("pushes paused for user %s: %s", user_id, exc)
            async with self.core.db.transaction() as tx:
                await acc.set_pushes(tx, user_id, False)
            return
        attempt = max(row.attempts for row in batch.rows) + 1
        async with self.core.db.transaction() as tx:
            if attempt >= MAX_ATTEMPTS:
                log.warning("giving up push rows %s to user %s after %s attempts: %s", ids, user_id, attempt, exc)
                await outbox.skip(tx, ids, "failed", now)
                return
            delay = exc.retry_after if exc.retry_after is not None else backoff(attempt)
            until = now + timedelta(seconds=delay)
            await outbox.postpone(tx, ids, until)
        if exc.retry_after is not None:  # the platform said when: nothing more to that chat before then
            self.scheduler.pause_chat(chat_key(item), self._seconds(until))
        self._later = until if self._later is None else min(self._later, until)

    # -------------------------------------------------------------------------------------- waiting

    def _seconds(self, moment: datetime) -> float:
        return (moment - self._epoch).total_seconds()

    def _next_wake(self, now: datetime) -> datetime | None:
        wakes = [self._later] if self._later is not None else []
        at = self.scheduler.next_wake(self._seconds(now))
        if at is not None:
            wakes.append(self._epoch + timedelta(seconds=at))
        return min(wakes, default=None)

    async def _wait(self, delay: float | None) -> bool:
        """Until the outbox changes (True) or `delay` seconds pass (False); forever without a delay."""
        changed = self.core.outbox_changed
        if changed.is_set() or self._stop.is_set():
            return True
        waiter = asyncio.ensure_future(changed.wait())
        tasks: set[asyncio.Future[Any]] = {waiter, asyncio.ensure_future(self._stop.wait())}
        if delay is not None:
            tasks.add(asyncio.ensure_future(self._sleep(delay)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return waiter in done


MARGIN_KINDS = ("margin_warning", "margin_danger")


async def _stale_margin_alerts(tx: Tx, rows: Sequence[OutboxRow]) -> list[int]:
    """Margin alerts whose level is no longer raised (the position closed, or the ratio fell back)."""
    margin_rows = [r for r in rows if r.kind in MARGIN_KINDS]
    if not margin_rows:
        return []
    raised = await alert_store.raised_subjects(tx, {r.user_id for r in margin_rows})
    return [r.id for r in margin_rows if (r.user_id, _subject(r)) not in raised]


def _subject(row: OutboxRow) -> str:
    return "cross" if row.data.get("scope") == "cross" else str(row.data.get("symbol"))


def _split(
    rows: Sequence[OutboxRow], settings: Mapping[int, AlertSettings], now: datetime, off: set[int]
) -> tuple[list[OutboxRow], list[datetime]]:
    """Rows to send now, and when the rows held by quiet hours may go."""
    ready: list[OutboxRow] = []
    holds: list[datetime] = []
    for row in rows:
        if row.id in off:
            continue
        until = held_until(row.kind, now, settings[row.user_id])
        if until is None:
            ready.append(row)
        else:
            holds.append(until)
    return ready, holds


def _still_due(batch: Batch, alive: set[int], settings: AlertSettings, now: datetime) -> Batch | None:
    """What of a batch may still go: undelivered rows, not held by quiet hours that began since it was queued."""
    ids = {row.id for row in batch.rows if row.id in alive and held_until(row.kind, now, settings) is None}
    return batch.only(ids) if ids else None
