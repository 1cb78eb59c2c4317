"""The process's one APScheduler (shared with python-telegram-bot's JobQueue when Telegram runs).

Jobs live in memory and are rebuilt from the database at every start; nothing is pickled. A funding time
missed while the bot was down is settled once at start, with its own timestamp (idempotent per symbol
and funding time in the database).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.jobs import settle_scheduled_funding
from core.domain.funding import funding_times
from core.services import alerts, buttons
from core.services import funding as funding_service
from core.services.core import Core

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


def new_scheduler() -> AsyncIOScheduler:
    return AsyncIOScheduler(timezone=UTC)


def funding_moment(now: datetime) -> datetime:
    """The funding time a job firing at `now` settles: the latest 00:00/08:00/16:00 UTC at or before now."""
    return now.replace(hour=now.hour - now.hour % 8, minute=0, second=0, microsecond=0)


async def funding_job(core: Core) -> None:
    try:
        paid = await settle_scheduled_funding(core, funding_moment(core.clock.now()))
        log.info("funding settled: %d payments", paid)
    except Exception:
        log.exception("funding job failed")


async def digest_job(core: Core) -> None:
    """The daily digest (off by default; per-user setting), keyed by date so it goes out once a day."""
    try:
        now = core.clock.now()
        await alerts.send_digests(core, now.replace(hour=0, minute=0, second=0, microsecond=0))
    except Exception:
        log.exception("digest job failed")


async def quiz_reminder_job(core: Core) -> None:
    try:
        await alerts.send_quiz_reminders(core, core.clock.now())
    except Exception:
        log.exception("quiz reminders failed")


async def housekeeping_job(core: Core) -> None:
    try:
        gone = await buttons.prune(core)
        log.info("housekeeping: %d old buttons, %d old update ids removed", *gone)
    except Exception:
        log.exception("housekeeping failed")


async def catch_up_funding(core: Core) -> list[datetime]:
    """Settle the funding times between the last one applied and now (once each)."""
    last = await funding_service.last_settled(core)
    if last is None:
        return []
    missed = funding_times(last, core.clock.now())
    for moment in missed:
        await settle_scheduled_funding(core, moment)
    return missed


def install_jobs(scheduler: AsyncIOScheduler, core: Core, extra: dict[str, tuple[Job, float]] | None = None) -> None:
    """Funding at 00:00, 08:00, 16:00 UTC, plus interval jobs (outbox retries, feed polling, digests)."""
    scheduler.add_job(
        funding_job,
        CronTrigger(hour="0,8,16", minute=0, timezone=UTC),
        args=[core],
        id="funding",
        replace_existing=True,
        misfire_grace_time=3600,
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        digest_job, CronTrigger(hour=0, minute=5, timezone=UTC), args=[core], id="digest", replace_existing=True,
        misfire_grace_time=3600, coalesce=True, max_instances=1,
    )
    scheduler.add_job(
        quiz_reminder_job, CronTrigger(hour=18, minute=0, timezone=UTC), args=[core], id="quiz_reminders",
        replace_existing=True, misfire_grace_time=3600, coalesce=True, max_instances=1,
    )
    scheduler.add_job(
        housekeeping_job, CronTrigger(hour=3, minute=30, timezone=UTC), args=[core], id="housekeeping",
        replace_existing=True, misfire_grace_time=3600, coalesce=True, max_instances=1,
    )
    for name, (job, seconds) in (extra or {}).items():
        scheduler.add_job(job, "interval", seconds=seconds, id=name, replace_existing=True, coalesce=True,
                          max_instances=1, misfire_grace_time=max(1, int(seconds)))
