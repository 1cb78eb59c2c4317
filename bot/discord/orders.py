"""Order slash commands: open orders, cancelling, stop-loss, take-profit and trailing stops."""

from __future__ import annotations

from typing import Any

from discord import app_commands

from bot.discord.commands import SHARE, Interaction, run_line, symbol_autocomplete
from bot.discord.interactions import line, word

Callback = app_commands.Range[float, 0.01, 99.99]  # a hint for Discord's client; the core checks again


@app_commands.command(name="orders", description="Your open orders")
@app_commands.describe(share=SHARE)
async def orders(interaction: Interaction, share: bool = False) -> None:
    await run_line(interaction, "/orders", share=share)


@app_commands.command(name="cancel", description="Cancel an open order")
@app_commands.describe(order="The order id from /orders")
async def cancel(interaction: Interaction, order: str) -> None:
    await run_line(interaction, line("/cancel", order))


@app_commands.command(name="sl", description="Stop-loss: close the position when the mark reaches a price")
@app_commands.describe(symbol="Symbol, e.g. BTC", price="Trigger price in USDT")
@app_commands.autocomplete(symbol=symbol_autocomplete)
async def sl(interaction: Interaction, symbol: str, price: str) -> None:
    await run_line(interaction, line("/sl", symbol, price))


@app_commands.command(name="tp", description="Take-profit: close the position when the mark reaches a price")
@app_commands.describe(symbol="Symbol, e.g. BTC", price="Trigger price in USDT")
@app_commands.autocomplete(symbol=symbol_autocomplete)
async def tp(interaction: Interaction, symbol: str, price: str) -> None:
    await run_line(interaction, line("/tp", symbol, price))


@app_commands.command(name="trail", description="Trailing stop: close after the mark falls back by a percentage")
@app_commands.describe(symbol="Symbol, e.g. BTC", callback="Callback in percent, e.g. 1.5")
@app_commands.autocomplete(symbol=symbol_autocomplete)
async def trail(interaction: Interaction, symbol: str, callback: Callback) -> None:
    await run_line(interaction, line("/trail", symbol, f"{word(callback)}%"))


COMMANDS: tuple[Any, ...] = (orders, cancel, sl, tp, trail)
