"""The long-running process: feed, delivery and whichever adapters are configured, in one event loop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from bot.config import Config
from bot.jobs import apply_tick
from core.clock import SystemClock
from core.ports import Tick
from core.services.core import Core

log = logging.getLogger(__name__)

OpenCore = Callable[[Config, SystemClock], AbstractAsyncContextManager[Core]]


async def run(config: Config, open_core: OpenCore) -> int:
    clock = SystemClock()
    async with open_core(config, clock) as core:

        async def on_tick(tick: Tick) -> None:
            try:
                await apply_tick(core, tick)
            except Exception:
                log.exception("tick failed")

        feed_task = asyncio.create_task(core.feed.run(on_tick, clock), name="feed")
        if not config.telegram_token and not config.discord_token:
            from bot.console.app import run_interactive

            return await run_interactive(core, None, [feed_task])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            feed_task.cancel()
        return 0
