"""The console chat: interactive with a prompt, or `--json` transcript mode (DESIGN §5)."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.commands import TRADING_COMMANDS
from bot.dispatch import Reply, error_reply, handle
from bot.registry import describe
from core.clock import VirtualClock
from core.errors import Refused
from core.ports import Outgoing
from core.results import Actor
from core.services import market
from core.services.core import Core
from core.services.delivery import DeliveryWorker

DURATION = re.compile(r"^(\d{1,6})([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class ConsoleNotifier:
    """Pushes for console users go to the same output as replies."""

    platform = "console"

    def __init__(self, session: ConsoleSession) -> None:
        self.session = session

    async def send(self, message: Outgoing) -> None:
        kind, data = message.kind, dict(message.data)
        if kind in ("margin_warning", "margin_danger"):  # DESIGN §5 names one type; the level tells them apart
            data["level"] = "danger" if kind == "margin_danger" else "warning"
            kind = "margin_warning"
        self.session.emit(Reply(kind, message.text, data), kind="push", user=message.user_id)


class ConsoleSession:
    def __init__(self, core: Core, clock: VirtualClock | None, out: TextIO, json_mode: bool, user: str) -> None:
        self.core = core
        self.clock = clock
        self.out = out
        self.json_mode = json_mode
        self.user = user
        self.group: str | None = None
        self.worker = DeliveryWorker(core, {"console": ConsoleNotifier(self)})

    @property
    def chat(self) -> str:
        return f"group:{self.group}" if self.group else f"private:{self.user}"

    def actor(self) -> Actor:
        kind = "group" if self.group else "private"
        return Actor("console", self.user, self.user, chat_id=self.chat, chat_kind=kind)

    def emit(self, reply: Reply, kind: str = "reply", user: str | None = None) -> None:
        recipient = user or self.user
        chat = f"private:{recipient}" if kind == "push" else self.chat
        if self.json_mode:
            obj: dict[str, Any] = {"chat": chat, "user": recipient, "kind": kind, "type": reply.type,
                                   "text": reply.text, "data": reply.data}
            self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        else:
            prefix = f"🔔 [{recipient}] " if kind == "push" else ""
            self.out.write(prefix + reply.text + "\n")
            if reply.photo is not None:  # a terminal shows no pictures: keep the chart as a file
                self.out.write(f"(picture saved to {save_picture(reply.photo)})\n")
        self.out.flush()

    async def line(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if text.startswith("!"):
            try:
                await self.directive(text)
            except Refused as exc:
                self.emit(error_reply(exc))
        else:
            if text.isdecimal() and len(text) == 1:  # the console takes a quiz answer as a bare number
                text = f"/answer {text}"
            reply = await handle(self.core, self.actor(), text)
            if reply.type != "silent":
                self.emit(reply)
        await self.flush_pushes()

    async def flush_pushes(self) -> None:
        await self.worker.drain_once()

    async def directive(self, text: str) -> None:
        words = text.split()
        name, args = words[0].lower(), words[1:]
        if name == "!as" and len(args) == 1:
            self.user = args[0][:40]
        elif name == "!in" and args[:1] == ["private"]:
            self.group = None
        elif name == "!in" and len(args) == 2 and args[0] == "group":
            self.group = args[1][:40]
        elif name == "!price":
            await self.set_prices(args)
        elif name == "!advance" and len(args) == 1:
            await self.advance(args[0])
        elif name == "!replay" and len(args) == 1:
            await self.replay(args[0])
        else:
            raise Refused("bad_directive", f"Unknown or malformed directive '{text[:40]}'.", "!price BTC 60000")

    async def set_prices(self, args: list[str]) -> None:
        """`!price`: `/setprice`'s grammar and service, without the admin check (the console is the admin)."""
        marks = TRADING_COMMANDS["setprice"].parse(args)["marks"]
        self.emit(describe(await market.set_prices(self.core, None, marks)))

    async def advance(self, word: str) -> None:
        found = DURATION.match(word.lower())
        if not found or self.clock is None:
            raise Refused("bad_duration", f"'{word[:20]}' is not a duration.", "!advance 8h")
        step = timedelta(**{UNITS[found.group(2)]: int(found.group(1))})
        if step > timedelta(days=366):
            raise Refused("bad_duration", "Advance at most a year at a time.", "!advance 30d")
        target = self.clock.now() + step
        from bot.jobs import run_until

        await run_until(self.core, self.clock, target)
        await market.remember_marks(self.core)
        self.emit(Reply("advance", f"Clock moved to {target.isoformat()}.", {"now": target.isoformat()}))

    async def replay(self, spec: str) -> None:
        from bot.jobs import play
        from core.market.replay import ReplayFeed, ReplayFileError

        try:
            feed = ReplayFeed([p for p in spec.split(",") if p])
        except (ReplayFileError, OSError) as exc:
            raise Refused("bad_replay_file", str(exc)[:300], "!replay BTCUSDT_crash.csv") from exc
        count = await play(self.core, self.clock, feed.ticks())
        await market.remember_marks(self.core)
        self.emit(Reply("replay", f"Replayed {count} ticks.", {"ticks": count}))


async def run_json(core: Core, clock: VirtualClock, stdin: TextIO, out: TextIO) -> int:
    session = ConsoleSession(core, clock, out, json_mode=True, user="console")
    for raw in stdin:
        await session.line(raw)
    return 0


async def run_interactive(core: Core, clock: VirtualClock | None, background: list[asyncio.Task[None]]) -> int:
    session = ConsoleSession(core, clock, sys.stdout, json_mode=False, user="you")
    market_name = "simulated market" if core.feed.name == "sim" else f"{core.feed.name} market"
    session.emit(Reply("start", f"Margin Dojo console — paper money, {market_name}. /help for commands, "
                       "Ctrl-D to leave.", {}))
    loop = asyncio.get_running_loop()
    pushes = asyncio.create_task(_push_loop(session))
    try:
        while True:
            sys.stdout.write("you> ")
            sys.stdout.flush()
            raw = await loop.run_in_executor(None, sys.stdin.readline)
            if not raw:
                break
            await session.line(raw)
    finally:
        pushes.cancel()
        for task in background:
            task.cancel()
    sys.stdout.write("\nBye.\n")
    return 0


async def _push_loop(session: ConsoleSession) -> None:
    event = session.core.outbox_changed
    while True:
        await event.wait()
        event.clear()
        await session.flush_pushes()


def save_picture(png: bytes, folder: Path = Path("data/charts")) -> Path:
    """Write a chart under ./data/charts (where `make run` keeps its database), named by time; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"chart-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S-%f')}.png"
    path.write_bytes(png)
    return path
