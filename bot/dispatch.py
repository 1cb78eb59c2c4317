"""One entry point for every platform: a chat line from an actor in, replies out. No traceback escapes."""

from __future__ import annotations

import logging

from bot.commands import parse
from bot.registry import COMMANDS, HANDLERS, describe
from bot.replies import Button, Reply
from core.domain.throttle import Verdict
from core.errors import Refused
from core.results import Actor
from core.services.core import Core

log = logging.getLogger(__name__)

__all__ = ["SILENT", "Button", "Reply", "error_reply", "handle", "help_reply"]


SILENT = Reply("silent", "")  # adapters send nothing for it


def help_reply(command: str | None) -> Reply:
    if command:
        spec = COMMANDS.get(command)
        if spec is None:
            return error_reply(Refused("unknown_command", f"There is no /{command[:30]} command.", "/help"))
        text = "\n".join(part for part in (spec.usage, spec.summary, spec.details) if part)
        return Reply("help", text, {"command": command, "usage": spec.usage})
    lines = [f"{spec.usage} — {spec.summary}" for spec in COMMANDS.values()]
    return Reply("help", "Commands:\n" + "\n".join(lines), {"commands": sorted(COMMANDS)})


def error_reply(exc: Refused) -> Reply:
    return Reply("error", str(exc), {"code": exc.code, "message": exc.message, "example": exc.example})


async def handle(core: Core, actor: Actor, text: str, bot_username: str | None = None) -> Reply:
    """Parse, run and render one line. Every failure becomes one clear reply and changes nothing."""
    verdict = core.admit(actor)
    if verdict is Verdict.SILENT:
        return SILENT
    if verdict is Verdict.NOTICE:
        return error_reply(Refused("rate_limited", "Easy there: that is a lot of commands at once. "
                                   "Wait a few seconds; I will ignore commands until then.", "/positions"))
    try:
        parsed = parse(text, bot_username)
        if parsed.name == "help":
            return help_reply(parsed.args["command"])
        result = await HANDLERS[parsed.name](core, actor, parsed)
        return describe(result)
    except Refused as exc:
        return error_reply(exc)
    except Exception:
        log.exception("command failed: %r", text[:80])
        return error_reply(Refused("internal", "Something went wrong on our side; nothing was changed.", "/help"))
