"""Every command of every feature in one table; platforms look commands up here, never elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from bot.commands import Spec
from bot.features import alerts, orders, teaching, trading
from bot.registry_types import Handler
from bot.render import describe as describe_shared
from bot.replies import Button, Reply

Renderer = Callable[[Any], Reply]

FEATURES: tuple[ModuleType, ...] = (trading, orders, alerts, teaching)

COMMANDS: dict[str, Spec] = {}
HANDLERS: dict[str, Handler] = {}
RENDERERS: dict[type, Renderer] = {}
for _feature in FEATURES:
    COMMANDS.update(_feature.COMMANDS)
    HANDLERS.update(_feature.HANDLERS)
    RENDERERS.update(getattr(_feature, "RENDERERS", {}))


def describe(result: object) -> Reply:
    """A service result as a reply: a feature's own renderer, else the shared trading renderer."""
    renderer = RENDERERS.get(type(result))
    if renderer is not None:
        return renderer(result)
    kind, text, data = describe_shared(result)
    return Reply(kind, text, data, buttons_for(kind, data))


def buttons_for(kind: str, data: dict[str, Any]) -> tuple[Button, ...]:
    if kind == "confirm":
        return (Button("✅ Yes", str(data["command"])), Button("✖ No", None))
    if kind == "positions":
        rows: list[Button] = []
        for p in data["positions"][:4]:
            symbol = p["symbol"]
            rows.append(Button(f"Close 50% {symbol}", f"/close {symbol} 50%"))
            rows.append(Button(f"Close {symbol}", f"/close {symbol}"))
            if p["margin_mode"] == "isolated":
                rows.append(Button(f"+100 margin {symbol}", f"/margin {symbol} add 100"))
        return (*rows, Button("🔄 Refresh", "/positions"))
    return ()
