"""Pushes on Discord: a DM, or — when the user's DMs are closed — a mention in a server's alerts channel."""

from __future__ import annotations

import logging

import discord

from bot.discord import render
from bot.discord.interactions import PLATFORM
from core.ports import DeliveryError, Outgoing
from core.services import chats
from core.services.core import Core

log = logging.getLogger(__name__)

DM_CLOSED_TOLD = "dm_closed_explained"  # remembered per user, so the reason is given once


class DMClosed(Exception):
    """Discord refused the DM (403, e.g. code 50007 "Cannot send messages to this user")."""


class DiscordNotifier:
    platform = PLATFORM

    def __init__(self, client: discord.Client, core: Core) -> None:
        self.client = client
        self.core = core

    async def send(self, message: Outgoing) -> None:
        if not message.user_id.isdigit():
            raise DeliveryError(f"not a Discord user id: {message.user_id[:30]!r}", permanent=True)
        user_id = int(message.user_id)
        try:
            await self._dm(user_id, render.push_text(message))
        except DMClosed:
            await self._fallback(user_id, message)

    async def _dm(self, user_id: int, text: str) -> None:
        try:
            channel = await self.client.create_dm(discord.Object(user_id))
            await channel.send(text)
        except discord.Forbidden as exc:
            raise DMClosed(str(exc)) from exc
        except discord.NotFound as exc:  # unknown user
            raise DeliveryError(f"Discord user {user_id}: {exc}", permanent=True) from exc
        except discord.HTTPException as exc:
            raise _transient(exc) from exc

    async def _fallback(self, user_id: int, message: Outgoing) -> None:
        """The alerts channel of the first server (most recent first) that set one, mentioning the user."""
        told_chat = f"dm:{user_id}"
        for guild_id in await chats.chats_of(self.core, PLATFORM, message.user_id):
            channel_id = await chats.chat_setting(self.core, PLATFORM, guild_id, "alerts_channel")
            if channel_id is None or not channel_id.isdigit():
                continue
            explain = await chats.chat_setting(self.core, PLATFORM, told_chat, DM_CLOSED_TOLD) is None
            text = render.fallback_text(user_id, message, explain)
            channel = self.client.get_partial_messageable(int(channel_id))
            mention = discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(user_id)])
            try:
                await channel.send(text, allowed_mentions=mention)
            except (discord.Forbidden, discord.NotFound) as exc:  # channel gone or bot not allowed: next server
                log.info("alerts channel %s of server %s unusable: %s", channel_id, guild_id, exc)
                continue
            except discord.HTTPException as exc:
                raise _transient(exc) from exc
            if explain:
                await chats.remember_once(self.core, PLATFORM, told_chat, DM_CLOSED_TOLD)
            return
        raise DeliveryError(f"Discord user {user_id}: DMs closed and no alerts channel", permanent=True)


def _transient(exc: discord.HTTPException) -> DeliveryError:
    retry_after = getattr(exc, "retry_after", None)
    return DeliveryError(f"Discord: {exc}", permanent=False, retry_after=retry_after)
