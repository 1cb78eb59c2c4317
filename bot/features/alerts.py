"""Alert commands: price alerts, push settings (thresholds, quiet hours, kinds) and margin health."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.commands import Parsed, Spec, no_args, number, symbol_word
from bot.registry_types import Handler
from bot.render import to_data
from bot.replies import Button, Reply
from core.domain.alerts import KIND_WORDS, AlertSettings, HealthLine, pct, ratio_pct
from core.domain.money import plain
from core.errors import Refused
from core.results import Actor
from core.services import alerts, chats
from core.services.chats import GROUP_SETTINGS, ChatSetting
from core.services.core import Core
from core.text import price

__all__ = ["COMMANDS", "HANDLERS", "RENDERERS"]

ALERT = re.compile(r"^([A-Za-z0-9]{2,14})\s*(<=?|>=?|below|above)\s*(\S+)$", re.IGNORECASE)
QUIET = re.compile(r"^(\d{1,2})-(\d{1,2})$")
ON_OFF = {"on": True, "off": False}

# ------------------------------------------------------------------------------------------- grammar


def _alert(words: list[str]) -> dict[str, Any]:
    example = "/alert BTC < 60000"
    found = ALERT.match(" ".join(words))
    if not found:
        raise Refused("missing_argument", "/alert needs a symbol, < or >, and a price.", example)
    symbol = symbol_word(found.group(1), example)
    direction = "above" if found.group(2).lower() in (">", ">=", "above") else "below"
    return {"symbol": symbol, "direction": direction, "price": number(found.group(3), "price", example)}


def _alerts(words: list[str]) -> dict[str, Any]:
    if not words:
        return {}
    if len(words) == 2 and words[0].lower() == "off":
        word = words[1].lstrip("#")
        if word.isdecimal() and len(word) <= 12:
            return {"off": int(word)}
        raise Refused("bad_alert_id", f"'{words[1][:20]}' is not an alert number; /alerts lists yours.",
                      "/alerts off 3")
    raise Refused("unexpected_argument", "/alerts lists your price alerts; /alerts off ID removes one.",
                  "/alerts off 3")


def _settings(words: list[str]) -> dict[str, Any]:
    if not words:
        return {}
    example = "/settings warning 60"
    if len(words) != 2:
        raise Refused("missing_argument", "/settings needs what to change and its new value.", example)
    what, value = words[0].lower(), words[1].lower()
    if what.replace("-", "_") in GROUP_SETTINGS:  # a group's own settings (admins only, checked in core)
        return {"group": what.replace("-", "_"), "value": value}
    if what == "quiet":
        return {"quiet": _quiet(value)}
    if value in ON_OFF:
        if what == "liquidation":
            raise Refused("always_on", "Liquidation notices are always sent, even in quiet hours.",
                          "/settings quiet 23-7")
        return {"kind": KIND_WORDS.get(what, what), "on": ON_OFF[value]}
    if what in ("warning", "danger"):
        return {"threshold": what, "percent": number(value.removesuffix("%"), f"{what} level", example)}
    raise Refused("unexpected_argument", f"I don't understand '{words[0][:20]} {words[1][:20]}' here.", example)


def _quiet(value: str) -> tuple[int, int] | None:
    if value in ("off", "none"):
        return None
    found = QUIET.match(value)
    if not found:
        raise Refused("bad_quiet_hours", f"'{value[:20]}' is not an hour range like 23-7 (UTC).",
                      "/settings quiet 23-7")
    return int(found.group(1)), int(found.group(2))


COMMANDS: dict[str, Spec] = {
    "alert": Spec("/alert SYM <|> PRICE", "tell me once when a mark crosses a price", _alert),
    "alerts": Spec("/alerts · /alerts off ID", "your price alerts; remove one", _alerts),
    "settings": Spec(
        "/settings [warning N|danger N|quiet 23-7|KIND on|off] · in a group (admins): quiz_rounds on|off",
        "margin alert levels, quiet hours (UTC) and which pushes you get",
        _settings,
    ),
    "health": Spec("/health", "margin ratio and distance to liquidation of everything open", no_args("health")),
}

# ------------------------------------------------------------------------------------------- handlers


async def _set_alert(core: Core, actor: Actor, p: Parsed) -> object:
    a = p.args
    return await alerts.add_price_alert(core, actor, a["symbol"], a["direction"], a["price"])


async def _list_alerts(core: Core, actor: Actor, p: Parsed) -> object:
    if "off" in p.args:
        return await alerts.remove_price_alert(core, actor, p.args["off"])
    return await alerts.price_alerts(core, actor)


async def _change_settings(core: Core, actor: Actor, p: Parsed) -> object:
    a = p.args
    if "group" in a:
        return await chats.set_chat_setting(core, actor, a["group"], a["value"])
    if "quiet" in a:
        return await alerts.set_quiet(core, actor, a["quiet"])
    if "kind" in a:
        return await alerts.set_kind(core, actor, a["kind"], a["on"])
    if "threshold" in a:
        return await alerts.set_threshold(core, actor, a["threshold"], a["percent"])
    return await alerts.show_settings(core, actor)


async def _health(core: Core, actor: Actor, p: Parsed) -> object:
    return await alerts.health(core, actor)


HANDLERS: dict[str, Handler] = {
    "alert": _set_alert,
    "alerts": _list_alerts,
    "settings": _change_settings,
    "health": _health,
}

# ------------------------------------------------------------------------------------------- renderers


def _sign(direction: str) -> str:
    return ">" if direction == "above" else "<"


def render_alert_set(r: alerts.PriceAlertSet) -> Reply:
    now = f" (now {price(r.mark)})" if r.mark is not None else ""
    text = f"Price alert #{r.id}: I'll tell you once when {r.symbol} goes {r.direction} {price(r.price)}{now}."
    return Reply("alert_set", text, to_data(r), (Button("My alerts", "/alerts"),))


def render_alerts(r: alerts.PriceAlerts) -> Reply:
    if not r.alerts:
        return Reply("alerts", "No price alerts. Set one: /alert BTC < 60000", {"alerts": []})
    lines = []
    for a in r.alerts:
        mark = r.marks.get(a.symbol)
        lines.append(f"#{a.id} {a.symbol} {_sign(a.direction)} {price(a.price)}"
                     + (f" (now {price(mark)})" if mark is not None else ""))
    data = {"alerts": [{"id": a.id, "symbol": a.symbol, "direction": a.direction, "price": plain(a.price),
                        "mark_price": plain(r.marks.get(a.symbol))} for a in r.alerts]}
    buttons = tuple(Button(f"Remove #{a.id}", f"/alerts off {a.id}") for a in r.alerts[:4])
    return Reply("alerts", "Your price alerts:\n" + "\n".join(lines) + "\nRemove one: /alerts off ID", data, buttons)


def render_alert_removed(r: alerts.PriceAlertRemoved) -> Reply:
    return Reply("alert_removed", f"Price alert #{r.id} ({r.symbol}) removed.", to_data(r))


def settings_text(s: AlertSettings) -> str:
    quiet = f"{s.quiet[0]:02d}:00–{s.quiet[1]:02d}:00 UTC" if s.quiet else "off"
    kinds = ", ".join(f"{kind} {'on' if on else 'off'}" for kind, on in s.all_kinds().items())
    return (f"Margin warning at {pct(s.warning)}, danger at {pct(s.danger)} (liquidation at 100 %).\n"
            f"Quiet hours: {quiet} (liquidation notices always come through).\n"
            f"Pushes: {kinds}.\n"
            "Change: /settings warning 60 · /settings danger 85 · /settings quiet 23-7 · /settings funding on")


def settings_data(s: AlertSettings) -> dict[str, Any]:
    return {"warning": plain(s.warning), "danger": plain(s.danger),
            "quiet": list(s.quiet) if s.quiet else None, "kinds": s.all_kinds()}


def render_settings(r: alerts.AlertSettingsShown) -> Reply:
    head = f"Saved ({r.changed}).\n" if r.changed else ""
    return Reply("settings", head + settings_text(r.settings), {**settings_data(r.settings), "changed": r.changed})


def _health_line(line: HealthLine) -> str:
    if line.symbol is None:
        return f"Cross account: margin ratio {ratio_pct(line.margin_ratio)}"
    distance = f"{line.distance_pct:.2f} % away" if line.distance_pct is not None else "no liquidation price"
    return (f"{line.symbol} {line.side} {line.mode}: ratio {ratio_pct(line.margin_ratio)}, "
            f"liq {price(line.liquidation_price)} ({distance}), mark {price(line.mark_price)}")


def render_health(r: alerts.HealthReport) -> Reply:
    data = {"warning": plain(r.warning), "danger": plain(r.danger), "lines": to_data(list(r.lines))}
    if not r.lines:
        return Reply("health", "Nothing open, nothing at risk. Try /long BTC 100 10x", data)
    text = "\n".join(_health_line(line) for line in r.lines)
    text += f"\nAlerts at {pct(r.warning)} (warning) and {pct(r.danger)} (danger); liquidation at 100 %."
    return Reply("health", text, data, (Button("🔄 Refresh", "/health"), Button("Positions", "/positions")))


def render_chat_setting(r: ChatSetting) -> Reply:
    return Reply("group_setting", f"This group's {r.key.replace('_', ' ')} is now {r.value}.",
                 {"chat_id": r.chat_id, "key": r.key, "value": r.value})


RENDERERS: dict[type, Callable[[Any], Reply]] = {
    alerts.PriceAlertSet: render_alert_set,
    alerts.PriceAlerts: render_alerts,
    alerts.PriceAlertRemoved: render_alert_removed,
    alerts.AlertSettingsShown: render_settings,
    alerts.HealthReport: render_health,
    ChatSetting: render_chat_setting,
}
