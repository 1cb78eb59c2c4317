"""The long-running process: feed, scheduler, delivery and every configured adapter in one event loop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Config
from bot.jobs import apply_tick
from bot.scheduler import catch_up_funding, install_jobs, new_scheduler
from core.clock import SystemClock
from core.ports import Notifier, Tick
from core.services.core import Core
from core.services.delivery import DeliveryWorker

log = logging.getLogger(__name__)

OpenCore = Callable[[Config, SystemClock], AbstractAsyncContextManager[Core]]


class Adapter(Protocol):
    """A chat platform: started and stopped by the runtime, delivering pushes through its notifier."""

    name: str
    notifier: Notifier

    def scheduler(self) -> AsyncIOScheduler | None:
        """The platform's own scheduler to share (Telegram's JobQueue), if any."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def configured_adapters(core: Core, config: Config) -> list[Adapter]:
    adapters: list[Adapter] = []
    if config.telegram_token:
        from bot.telegram.app import TelegramAdapter

        adapters.append(TelegramAdapter(core, config))
    if config.discord_token:
        from bot.discord.app import DiscordAdapter

        adapters.append(DiscordAdapter(core, config))
    return adapters


async def run(config: Config, open_core: OpenCore) -> int:
    clock = SystemClock()
    async with open_core(config, clock) as core:
        adapters = configured_adapters(core, config)
        scheduler = next((s for a in adapters if (s := a.scheduler()) is not None), None) or new_scheduler()
        install_jobs(scheduler, core)
        await catch_up_funding(core)

        async def on_tick(tick: Tick) -> None:
            try:
                await apply_tick(core, tick)
            except Exception:
                log.exception("tick failed")

        tasks = [asyncio.create_task(core.feed.run(on_tick, clock), name="feed")]
        if not adapters:
            from bot.console.app import run_interactive

            scheduler.start()
            try:
                return await run_interactive(core, None, tasks)
            finally:
                scheduler.shutdown(wait=False)
        return await _serve(core, adapters, scheduler, tasks)


async def _serve(
    core: Core, adapters: list[Adapter], scheduler: AsyncIOScheduler, tasks: list[asyncio.Task[None]]
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started: list[Adapter] = []
    worker: DeliveryWorker | None = None
    delivery: asyncio.Task[None] | None = None
    try:
        for adapter in adapters:
            await adapter.start()
            started.append(adapter)
        if not scheduler.running:
            scheduler.start()
        worker = DeliveryWorker(core, {a.name: a.notifier for a in adapters})
        delivery = asyncio.create_task(worker.run(), name="delivery")
        log.info("running: %s", ", ".join(a.name for a in adapters))
        await stop.wait()
    finally:
        if worker is not None and delivery is not None:
            worker.stop()  # let the send in progress finish: cancelling could cut a transaction short
            core.outbox_changed.set()
            await asyncio.wait({delivery}, timeout=10)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for adapter in reversed(started):
            await adapter.stop()
        if scheduler.running:
            scheduler.shutdown(wait=False)
    return 0
