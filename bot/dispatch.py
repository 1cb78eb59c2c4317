"""One entry point for every platform: a chat line from an actor in, replies out. No traceback escapes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.commands import COMMANDS, Parsed, parse
from bot.render import describe
from core.errors import Refused
from core.results import Actor
from core.services import accounts, market, trading
from core.services.core import Core

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    type: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Core, Actor, Parsed], Awaitable[object]]


async def _long_short(core: Core, actor: Actor, p: Parsed) -> object:
    a = p.args
    for extra in ("limit", "sl", "tp"):
        if extra in a:
            raise Refused("not_available", "Limit, stop-loss and take-profit orders are not open yet.",
                          f"/{'long' if a['side'] > 0 else 'short'} {a['symbol']} 100 10x")
    amount = trading.Amount(a["amount"], a["is_qty"])
    return await trading.open_position(core, actor, a["symbol"], a["side"], amount, a["leverage"], a["mode"])


async def _close(core: Core, actor: Actor, p: Parsed) -> object:
    if p.args.get("all"):
        return await trading.close_all(core, actor, p.confirm)
    return await trading.close_position(core, actor, p.args["symbol"], p.args.get("pct"), p.args.get("qty"))


async def _margin(core: Core, actor: Actor, p: Parsed) -> object:
    return await trading.change_margin(core, actor, p.args["symbol"], p.args["amount"], p.args["adding"])


async def _leverage(core: Core, actor: Actor, p: Parsed) -> object:
    return await trading.set_leverage(core, actor, p.args["symbol"], p.args["leverage"])


async def _mode(core: Core, actor: Actor, p: Parsed) -> object:
    return await trading.set_mode(core, actor, p.args["symbol"], p.args["mode"])


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
    "long": _long_short,
    "short": _long_short,
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


def help_reply(command: str | None) -> Reply:
    if command:
        spec = COMMANDS.get(command)
        if spec is None:
            return error_reply(Refused("unknown_command", f"There is no /{command[:30]} command.", "/help"))
        return Reply("help", f"{spec.usage}\n{spec.summary}", {"command": command, "usage": spec.usage})
    lines = [f"{spec.usage} — {spec.summary}" for spec in COMMANDS.values()]
    return Reply("help", "Commands:\n" + "\n".join(lines), {"commands": sorted(COMMANDS)})


def error_reply(exc: Refused) -> Reply:
    return Reply("error", str(exc), {"code": exc.code, "message": exc.message, "example": exc.example})


async def handle(core: Core, actor: Actor, text: str, bot_username: str | None = None) -> Reply:
    """Parse, run and render one line. Every failure becomes one clear reply and changes nothing."""
    try:
        parsed = parse(text, bot_username)
        if parsed.name == "help":
            return help_reply(parsed.args["command"])
        result = await HANDLERS[parsed.name](core, actor, parsed)
    except Refused as exc:
        return error_reply(exc)
    except Exception:
        log.exception("command failed: %r", text[:80])
        return error_reply(Refused("internal", "Something went wrong on our side; nothing was changed.", "/help"))
    kind, body, data = describe(result)
    return Reply(kind, body, data)
