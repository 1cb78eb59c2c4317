"""From a Discord interaction to what the core needs: the actor, the core, and a chat line built from options."""

from __future__ import annotations

from typing import Any

import discord

from core.results import Actor
from core.services import buttons
from core.services.core import Core

PLATFORM = "discord"


def core_of(interaction: discord.Interaction[Any]) -> Core:
    """The core the client was built with (`bot.discord.app.DojoClient.core`)."""
    core: Core = interaction.client.core
    return core


def chat_id_of(interaction: discord.Interaction[Any]) -> str:
    return str(interaction.guild_id) if interaction.guild_id is not None else f"dm:{interaction.user.id}"


def actor_of(interaction: discord.Interaction[Any]) -> Actor:
    """Who speaks, where; `chat_admin` is what Discord says about the member (the core decides what it allows)."""
    user = interaction.user
    in_guild = interaction.guild_id is not None
    perms = interaction.permissions
    return Actor(
        platform=PLATFORM,
        user_id=str(user.id),
        name=user.display_name,
        chat_id=chat_id_of(interaction),
        chat_kind="group" if in_guild else "private",
        chat_admin=in_guild and (perms.administrator or perms.manage_guild),
    )


async def first_time(interaction: discord.Interaction[Any]) -> bool:
    """Apply each interaction once, even if Discord (or a reconnect) delivers it again."""
    return await buttons.first_time(core_of(interaction), PLATFORM, str(interaction.id))


def word(value: object) -> str:
    """An option as a chat word: 10.0 -> "10", 0.5 -> "0.5", text kept as typed (trimmed)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value).strip()


def line(command: str, *parts: object) -> str:
    """`/command` followed by every given option, in the grammar's order; None and "" are left out."""
    words = [command]
    words += [text for part in parts if part is not None and (text := word(part))]
    return " ".join(words)
