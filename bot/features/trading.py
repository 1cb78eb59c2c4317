"""Trading commands: account, positions, margin management, prices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.commands import TRADING_COMMANDS as COMMANDS
from bot.commands import Parsed
from bot.registry_types import Handler
from bot.render import to_data
from bot.replies import Reply
from core.results import Actor, SymbolSettings
from core.services import accounts, market, trading
from core.services.core import Core

__all__ = ["COMMANDS", "HANDLERS", "RENDERERS"]


async def _close(core: Core, actor: Actor, p: Parsed) -> object:
    if p.args.get("all"):
        return await trading.close_all(core, actor, p.confirm)
    return await trading.close_position(core, actor, p.args["symbol"], p.args.get("pct"), p.args.get("qty"))


async def _margin(core: Core, actor: Actor, p: Parsed) -> object:
    return await trading.change_margin(core, actor, p.args["symbol"], p.args["amount"], p.args["adding"])


async def _leverage(core: Core, actor: Actor, p: Parsed) -> object:
    if p.args["leverage"] is None:
        return await accounts.symbol_settings(core, actor, p.args["symbol"])
    return await trading.set_leverage(core, actor, p.args["symbol"], p.args["leverage"])


async def _mode(core: Core, actor: Actor, p: Parsed) -> object:
    if p.args["mode"] is None:
        return await accounts.symbol_settings(core, actor, p.args["symbol"])
    return await trading.set_mode(core, actor, p.args["symbol"], p.args["mode"])


def _settings_reply(r: SymbolSettings) -> Reply:
    lines = []
    for row in r.rows:
        why = "" if row.chosen else " (defaults: never chosen)"
        lock = "; mode kept by an open position or order" if row.locked else ""
        lines.append(f"{row.symbol}: {row.mode}, {row.leverage}x{why}; up to {row.max_leverage}x at this size{lock}")
    first = r.rows[0]
    other = "cross" if first.mode == "isolated" else "isolated"
    lev = 5 if first.leverage == 10 else 10  # an example that changes something
    if len(r.rows) > 1:
        lines.append("Change: /mode BTC cross · /leverage BTC 10")
    elif first.locked:  # its mode cannot change now: offer only what can
        lines.append(f"Change: /leverage {first.symbol} {lev}")
    else:
        lines.append(f"Change: /leverage {first.symbol} {lev} · /mode {first.symbol} {other}")
    return Reply("symbol_settings", "\n".join(lines), to_data(r))


RENDERERS: dict[type, Callable[[Any], Reply]] = {SymbolSettings: _settings_reply}


async def _reset(core: Core, actor: Actor, p: Parsed) -> object:
    return await accounts.reset(core, actor, p.args["balance"], p.confirm)


async def _price(core: Core, actor: Actor, p: Parsed) -> object:
    return market.prices(core, p.args["symbols"])


async def _setprice(core: Core, actor: Actor, p: Parsed) -> object:
    return await market.set_prices(core, actor, p.args["marks"])


async def _start(core: Core, actor: Actor, p: Parsed) -> object:
    return await accounts.start(core, actor)


async def _positions(core: Core, actor: Actor, p: Parsed) -> object:
    return await accounts.portfolio(core, actor)


async def _balance(core: Core, actor: Actor, p: Parsed) -> object:
    return await accounts.balance(core, actor)


async def _history(core: Core, actor: Actor, p: Parsed) -> object:
    return await accounts.history(core, actor)


async def _leaderboard(core: Core, actor: Actor, p: Parsed) -> object:
    return await accounts.leaderboard(core, actor)


HANDLERS: dict[str, Handler] = {
    "start": _start,
    "price": _price,
    "close": _close,
    "positions": _positions,
    "balance": _balance,
    "history": _history,
    "margin": _margin,
    "leverage": _leverage,
    "mode": _mode,
    "reset": _reset,
    "setprice": _setprice,
    "leaderboard": _leaderboard,
}


