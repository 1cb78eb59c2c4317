"""Slash commands run as chat lines: options → `/long BTC 1000 10x cross` → `bot.dispatch.handle` → reply.

The shared grammar and the core validate every option again (Discord's client-side ranges and choices are
not enforced for forged payloads), so every platform refuses the same input with the same words.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import discord
from discord import app_commands

from bot.discord import render, views
from bot.discord.interactions import actor_of, core_of, first_time
from bot.dispatch import SILENT, error_reply, handle
from bot.replies import Reply
from core.errors import Refused
from core.results import Actor

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]
Choice = app_commands.Choice
MODE_CHOICES = [Choice(name="isolated (only this position's margin at risk)", value="isolated"),
                Choice(name="cross (the whole balance backs it)", value="cross")]
SHARE = "Show the answer to the whole channel (default: only you see it)"
AUTOCOMPLETE_LIMIT = 25  # Discord: choices per autocomplete answer


async def run_line(interaction: Interaction, text: str, *, share: bool = False) -> None:
    """Run one composed chat line for the interaction's user and answer it once."""
    if not await first_time(interaction):
        return
    core = core_of(interaction)
    actor = actor_of(interaction)
    in_guild = interaction.guild_id is not None
    slow = views.is_slow(text)
    if slow:  # charts and simulations may take longer than Discord's 3 s
        await interaction.response.defer(thinking=True, ephemeral=in_guild and not share)
    reply = await handle(core, actor, text)
    if reply.type == SILENT.type:  # throttled: say nothing (Discord tells the user the app did not respond)
        if slow:
            await interaction.delete_original_response()
        return
    await answer(interaction, actor, reply, share=share, deferred=slow)


async def answer(interaction: Interaction, actor: Actor, reply: Reply, *, share: bool = False,
                 deferred: bool = False) -> None:
    """Send a reply with its buttons; personal replies in a server are ephemeral unless shared."""
    private = render.is_private(reply, interaction.guild_id is not None, share)
    fields = render.message(reply)
    view = await views.view_for(core_of(interaction), actor, reply)
    if view is not None:
        fields["view"] = view
    if deferred:
        await interaction.followup.send(**fields, ephemeral=private)
    else:
        await interaction.response.send_message(**fields, ephemeral=private)


async def refuse(interaction: Interaction, exc: Refused) -> None:
    await answer(interaction, actor_of(interaction), error_reply(exc))


def starting_with(current: str, names: Iterable[str]) -> list[Choice[str]]:
    typed = current.strip().lower()
    found = [n for n in names if n.lower().startswith(typed)] + [n for n in names if typed in n.lower()[1:]]
    unique = list(dict.fromkeys(found))[:AUTOCOMPLETE_LIMIT]
    return [Choice(name=n, value=n) for n in unique]


async def symbol_autocomplete(interaction: Interaction, current: str) -> list[Choice[str]]:
    return starting_with(current, core_of(interaction).catalog.symbols)


class DojoTree(app_commands.CommandTree[Any]):
    """Turns option conversion failures into the shared error reply; logs anything unexpected."""

    async def on_error(self, interaction: Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.TransformerError):
            value = str(error.value)[:30]
            exc = Refused("bad_option", f"'{value}' is not a usable value for that option.", "/help")
        else:
            log.error("slash command failed", exc_info=error)
            exc = Refused("internal", "Something went wrong on our side; nothing was changed.", "/help")
        if interaction.response.is_done():
            return
        try:
            await interaction.response.send_message(error_reply(exc).text, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not report a failed command to the user")


def install(tree: app_commands.CommandTree[Any]) -> None:
    """Every Discord command, one module per feature (mirroring the Telegram side by name)."""
    from bot.discord import alerts, orders, teaching, trading

    for feature in (trading, orders, alerts, teaching):
        for command in feature.COMMANDS:
            tree.add_command(command)
