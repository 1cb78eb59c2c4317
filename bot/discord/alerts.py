"""Alert slash commands: price alerts, margin health, and settings (incl. a server's alerts channel)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.discord.commands import SHARE, Choice, Interaction, answer, refuse, run_line, symbol_autocomplete
from bot.discord.interactions import actor_of, core_of, first_time, line
from bot.replies import Reply
from core.errors import Refused
from core.services import chats


class TextChannelOption(app_commands.Transformer[Any]):
    """A text channel picked in Discord, kept as sent (only its id is needed, so no guild cache is involved)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return [discord.ChannelType.text, discord.ChannelType.news]

    async def transform(self, interaction: Interaction, value: Any, /) -> Any:
        return value


ChannelOption = app_commands.Transform[app_commands.AppCommandChannel, TextChannelOption]
DIRECTIONS = [Choice(name="rises above (>)", value=">"), Choice(name="falls below (<)", value="<")]

alert = app_commands.Group(name="alert", description="Price alerts")


@alert.command(name="add", description="Tell me when a price crosses a level")
@app_commands.describe(symbol="Symbol, e.g. BTC", direction="Above or below", price="Price in USDT")
@app_commands.choices(direction=DIRECTIONS)
@app_commands.autocomplete(symbol=symbol_autocomplete)
async def alert_add(interaction: Interaction, symbol: str, direction: str, price: str) -> None:
    await run_line(interaction, line("/alert", symbol, direction, price))


@alert.command(name="list", description="Your price alerts")
@app_commands.describe(share=SHARE)
async def alert_list(interaction: Interaction, share: bool = False) -> None:
    await run_line(interaction, "/alerts", share=share)


@alert.command(name="off", description="Switch a price alert off")
@app_commands.describe(alert_id="The alert number from /alert list, e.g. 3")
async def alert_off(interaction: Interaction, alert_id: str) -> None:
    await run_line(interaction, line("/alerts", "off", alert_id))


@app_commands.command(name="health", description="Margin ratio and distance to liquidation per position")
@app_commands.describe(share=SHARE)
async def health(interaction: Interaction, share: bool = False) -> None:
    await run_line(interaction, "/health", share=share)


settings = app_commands.Group(name="settings", description="Alert thresholds, quiet hours and server settings")


@settings.command(name="show", description="Your alert levels, quiet hours and pushes")
async def settings_show(interaction: Interaction) -> None:
    await run_line(interaction, "/settings")


@settings.command(name="set", description="Change a setting: warning 60, danger 85, quiet 23-7, funding on…")
@app_commands.describe(key="warning, danger, quiet, or a push kind (funding, digest…)",
                       value="A percentage, an hour range like 23-7 (UTC), on or off")
async def settings_set(interaction: Interaction, key: str, value: str) -> None:
    await run_line(interaction, line("/settings", key, value))


@settings.command(name="alerts-channel", description="Server admins: where alerts go for members with closed DMs")
@app_commands.describe(channel="The channel (default: this one)")
async def settings_alerts_channel(interaction: Interaction, channel: ChannelOption | None = None) -> None:
    if not await first_time(interaction):
        return
    channel_id = channel.id if channel is not None else interaction.channel_id
    try:
        # the core refuses outside a server and for members who are not its admins
        result = await chats.set_chat_setting(core_of(interaction), actor_of(interaction), "alerts_channel",
                                              str(channel_id))
    except Refused as exc:
        await refuse(interaction, exc)
        return
    # Discord's own channel mention, so the admin can click through to the channel
    text = f"Alerts for members whose DMs are closed now go to <#{result.value}>."
    reply = Reply("group_setting", text, {"key": result.key, "value": result.value})
    await answer(interaction, actor_of(interaction), reply)


COMMANDS: tuple[Any, ...] = (alert, health, settings)
