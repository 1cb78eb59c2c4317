"""Trading slash commands: account, positions, margin management, prices (twin of bot/features/trading.py)."""

from __future__ import annotations

from typing import Any

from discord import app_commands

from bot.discord.commands import (
    MODE_CHOICES,
    SHARE,
    Choice,
    Interaction,
    run_line,
    starting_with,
    symbol_autocomplete,
)
from bot.discord.interactions import core_of, line, word
from bot.registry import COMMANDS as CHAT_COMMANDS

Leverage = app_commands.Range[int, 1, 150]  # the grammar's bounds; the bracket's maximum is checked by the core
Percent = app_commands.Range[float, 0.01, 100.0]

AMOUNT = "Margin in USDT (1000 or 1000usdt) or a quantity with the coin (0.5btc)"
SYMBOL = "Symbol, e.g. BTC"
PRICE = "Price in USDT"


@app_commands.command(name="start", description="Open your paper account (10,000 USDT) and take the tour")
async def start(interaction: Interaction) -> None:
    await run_line(interaction, "/start")


@app_commands.command(name="help", description="List the commands, or explain one")
@app_commands.describe(command="A command name, e.g. long")
async def help_(interaction: Interaction, command: str | None = None) -> None:
    await run_line(interaction, line("/help", command))


@help_.autocomplete("command")
async def help_autocomplete(interaction: Interaction, current: str) -> list[Choice[str]]:
    return starting_with(current, sorted(CHAT_COMMANDS))


@app_commands.command(name="price", description="Current mark prices")
@app_commands.describe(symbols="Symbols separated by spaces, e.g. BTC ETH (default: all)")
async def price(interaction: Interaction, symbols: str | None = None) -> None:
    await run_line(interaction, line("/price", symbols))


async def _open(interaction: Interaction, side: str, symbol: str, amount: str, leverage: int | None,
                mode: str | None, limit: str | None, sl: str | None, tp: str | None) -> None:
    await run_line(interaction, line(
        f"/{side}", symbol, amount, f"{leverage}x" if leverage is not None else None, mode,
        f"@{limit}" if limit else None, f"sl={sl}" if sl else None, f"tp={tp}" if tp else None,
    ))


OPEN_OPTIONS: dict[str, str] = {
    "symbol": SYMBOL,
    "amount": AMOUNT,
    "leverage": "Leverage, 1 to the bracket's maximum (default: your symbol setting)",
    "mode": "Margin mode (default: your symbol setting)",
    "limit": "Limit price: fill only when the mark reaches it",
    "sl": "Stop-loss price",
    "tp": "Take-profit price",
}


@app_commands.command(name="long", description="Open or add to a long (buy)")
@app_commands.describe(**OPEN_OPTIONS)
@app_commands.choices(mode=MODE_CHOICES)
async def long(interaction: Interaction, symbol: str, amount: str, leverage: Leverage | None = None,
               mode: str | None = None, limit: str | None = None, sl: str | None = None,
               tp: str | None = None) -> None:
    await _open(interaction, "long", symbol, amount, leverage, mode, limit, sl, tp)


@app_commands.command(name="short", description="Open or add to a short (sell)")
@app_commands.describe(**OPEN_OPTIONS)
@app_commands.choices(mode=MODE_CHOICES)
async def short(interaction: Interaction, symbol: str, amount: str, leverage: Leverage | None = None,
                mode: str | None = None, limit: str | None = None, sl: str | None = None,
                tp: str | None = None) -> None:
    await _open(interaction, "short", symbol, amount, leverage, mode, limit, sl, tp)


long.autocomplete("symbol")(symbol_autocomplete)
short.autocomplete("symbol")(symbol_autocomplete)


@app_commands.command(name="close", description="Reduce or close a position, or close them all")
@app_commands.describe(symbol="Symbol, or 'all' for every position", percent="Close this percentage",
                       qty="Close this quantity, e.g. 0.01btc")
async def close(interaction: Interaction, symbol: str, percent: Percent | None = None,
                qty: str | None = None) -> None:
    await run_line(interaction, line("/close", symbol, f"{word(percent)}%" if percent is not None else None, qty))


@close.autocomplete("symbol")
async def close_autocomplete(interaction: Interaction, current: str) -> list[Choice[str]]:
    return starting_with(current, ("all", *core_of(interaction).catalog.symbols))


@app_commands.command(name="positions", description="Your positions with liquidation prices")
@app_commands.describe(share=SHARE)
async def positions(interaction: Interaction, share: bool = False) -> None:
    await run_line(interaction, "/positions", share=share)


@app_commands.command(name="balance", description="Wallet, available balance and return")
@app_commands.describe(share=SHARE)
async def balance(interaction: Interaction, share: bool = False) -> None:
    await run_line(interaction, "/balance", share=share)


@app_commands.command(name="history", description="Your last trades")
@app_commands.describe(share=SHARE)
async def history(interaction: Interaction, share: bool = False) -> None:
    await run_line(interaction, "/history", share=share)


margin = app_commands.Group(name="margin", description="Move margin in or out of an isolated position")


@margin.command(name="add", description="Add margin to an isolated position (liquidation moves away)")
@app_commands.describe(symbol=SYMBOL, amount="USDT to add")
@app_commands.autocomplete(symbol=symbol_autocomplete)
async def margin_add(interaction: Interaction, symbol: str, amount: str) -> None:
    await run_line(interaction, line("/margin", symbol, "add", amount))


@margin.command(name="remove", description="Take margin back while the position keeps its initial margin")
@app_commands.describe(symbol=SYMBOL, amount="USDT to remove")
@app_commands.autocomplete(symbol=symbol_autocomplete)
async def margin_remove(interaction: Interaction, symbol: str, amount: str) -> None:
    await run_line(interaction, line("/margin", symbol, "remove", amount))


@app_commands.command(name="leverage", description="Set a symbol's leverage, or show it")
@app_commands.describe(symbol=SYMBOL, leverage="Leverage, 1 to the bracket's maximum (leave out: show it)")
@app_commands.autocomplete(symbol=symbol_autocomplete)
async def leverage(interaction: Interaction, symbol: str, leverage: Leverage | None = None) -> None:
    await run_line(interaction, line("/leverage", symbol, leverage))


@app_commands.command(name="mode", description="Set the margin mode (before opening), or show it")
@app_commands.describe(mode="isolated or cross (leave out: show the modes)", symbol="Only this symbol (default: all)")
@app_commands.choices(mode=MODE_CHOICES)
@app_commands.autocomplete(symbol=symbol_autocomplete)
async def mode(interaction: Interaction, mode: str | None = None, symbol: str | None = None) -> None:
    await run_line(interaction, line("/mode", symbol, mode))


@app_commands.command(name="leaderboard", description="Who is up the most (in a server: its members)")
async def leaderboard(interaction: Interaction) -> None:
    await run_line(interaction, "/leaderboard")


@app_commands.command(name="reset", description="Start over with a fresh paper account (asks first)")
@app_commands.describe(balance="Starting balance in USDT (default 10,000)")
async def reset(interaction: Interaction, balance: str | None = None) -> None:
    await run_line(interaction, line("/reset", balance))


@app_commands.command(name="setprice", description="Admins: set a mark on the manual feed")
@app_commands.describe(symbol=SYMBOL, price=PRICE)
@app_commands.autocomplete(symbol=symbol_autocomplete)
async def setprice(interaction: Interaction, symbol: str, price: str) -> None:
    await run_line(interaction, line("/setprice", symbol, price))


COMMANDS: tuple[Any, ...] = (start, help_, price, long, short, close, positions, balance, history, margin, leverage,
                             mode, leaderboard, reset, setprice)
