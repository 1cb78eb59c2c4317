"""The Discord adapter (discord.py 2.7): a client with slash commands, persistent buttons and DM pushes.

Slash commands need only `Intents.default()`. With `DISCORD_GUILD_IDS` set, commands are copied to those
servers and synced at start-up (instant, for development); the global sync is slow and rate-limited, so it
is a deliberate step: `margin-dojo discord sync`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord
from discord import app_commands

from bot.config import Config
from bot.discord import commands, views
from bot.discord.notifier import DiscordNotifier
from core.ports import Notifier
from core.services.core import Core

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0  # seconds to log in, connect and receive READY


class DojoClient(discord.Client):
    """A client that knows the core; the command tree lives on `tree`."""

    def __init__(self, core: Core | None, config: Config, *, sync_guilds: bool = True) -> None:
        # Display names reach replies (leaderboards): nothing we send may ping @everyone or a role.
        super().__init__(intents=discord.Intents.default(), allowed_mentions=discord.AllowedMentions.none())
        self.core = core
        self.config = config
        self.sync_guilds = sync_guilds
        self.tree: app_commands.CommandTree[Any] = commands.DojoTree(self)
        commands.install(self.tree)

    async def setup_hook(self) -> None:
        views.register(self)
        if self.sync_guilds:
            for guild_id in self.config.discord_guild_ids:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to server %s", len(synced), guild_id)


def build_client(core: Core | None, config: Config, *, sync_guilds: bool = True) -> DojoClient:
    """The production client, without connecting (tests attach `DiscordHarness` to it and `client.tree`)."""
    return DojoClient(core, config, sync_guilds=sync_guilds)


class DiscordAdapter:
    """`bot.runtime.Adapter` for Discord: the gateway connection runs as a background task."""

    name = "discord"

    def __init__(self, core: Core, config: Config) -> None:
        self.config = config
        self.client = build_client(core, config)
        self.notifier: Notifier = DiscordNotifier(self.client, core)
        self._task: asyncio.Task[None] | None = None

    def scheduler(self) -> None:
        return None

    async def start(self) -> None:
        from bot.main import StartupError

        try:
            await self.client.login(self.config.discord_token)
        except discord.LoginFailure as exc:
            await self.client.close()
            raise StartupError(f"DISCORD_BOT_TOKEN refused by Discord: {exc}") from exc
        except discord.HTTPException as exc:  # e.g. syncing to a DISCORD_GUILD_IDS server the bot is not in
            await self.client.close()
            raise StartupError(f"Discord refused the start-up (check DISCORD_GUILD_IDS): {exc}") from exc
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord")
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait({self._task, ready}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if ready in done:
            log.info("discord: connected as %s", self.client.user)
            return
        ready.cancel()
        failure = self._task.exception() if self._task in done and not self._task.cancelled() else None
        await self.stop()
        reason = f"the connection failed: {failure}" if failure else f"no READY within {READY_TIMEOUT:.0f} s"
        raise StartupError(f"Discord: {reason}")

    async def stop(self) -> None:
        await self.client.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


async def sync_global(client: DojoClient) -> list[app_commands.AppCommand]:
    """Publish the commands to every server (takes a while to show up in Discord clients)."""
    return await client.tree.sync()


async def sync_commands(config: Config) -> int:
    """`margin-dojo discord sync`: log in, sync the commands globally, say what was synced, close."""
    if not config.discord_token:
        print("margin-dojo: DISCORD_BOT_TOKEN is not set; nothing to sync. Put it in .env and run again.")
        return 2
    client = build_client(None, config, sync_guilds=False)
    try:
        await client.login(config.discord_token)
        synced = await sync_global(client)
    except discord.LoginFailure as exc:
        print(f"margin-dojo: DISCORD_BOT_TOKEN refused by Discord: {exc}")
        return 2
    except discord.HTTPException as exc:
        print(f"margin-dojo: Discord refused the sync: {exc}")
        return 1
    finally:
        await client.close()
    names = ", ".join(f"/{c.name}" for c in sorted(synced, key=lambda c: c.name))
    print(f"Synced {len(synced)} global commands: {names}")
    print("Global commands can take a while to appear; DISCORD_GUILD_IDS syncs to test servers instantly.")
    return 0
