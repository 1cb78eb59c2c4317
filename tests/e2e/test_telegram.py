"""The Telegram adapter end to end: PTB's real Application (polling loop, handlers, rate limiter) against the
Bot API stand-in on 127.0.0.1, and a real Core on a SQLite file with a manual feed."""

from __future__ import annotations

import html
import json
import logging
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from telegram import Update
from telegram.error import InvalidToken

from bot.config import Config
from bot.registry import COMMANDS
from bot.replies import Reply
from bot.scheduler import install_jobs
from bot.telegram import render
from bot.telegram.app import TelegramAdapter
from core.clock import VirtualClock
from core.domain.instruments import load_catalog
from core.market.feed import ManualFeed
from core.ports import DeliveryError, Outgoing
from core.results import Actor
from core.services import accounts
from core.services.core import Core, Settings
from core.services.delivery import DeliveryWorker
from core.storage.db import Database
from tests.fakes.bot_api import BotApiStandIn, Call, tiny_png

ALICE, BOB, ADMIN = 4242, 5151, 1001
GROUP = -1001234567890
NAMES = {ALICE: "Alice", BOB: "Bob", ADMIN: "Ada"}


@dataclass
class World:
    api: BotApiStandIn
    path: Path
    core: Core
    adapter: TelegramAdapter
    adapters: list[TelegramAdapter] = field(default_factory=list)

    async def say(self, user: int, text: str, method: str = "sendMessage", **kwargs: Any) -> Call:
        """A person writes; the bot's answer (the last message of it) is returned."""
        since = self.api.mark()
        chat = kwargs.get("chat_id", user)
        self.api.push_message(user, text, first_name=NAMES[user], **kwargs)
        return await self.api.wait_for(method, lambda c: c.params.get("chat_id") == chat, since=since)

    async def press(self, user: int, data: str, message_id: int, chat_id: int, method: str) -> Call:
        since = self.api.mark()
        self.api.push_callback(user, data, message_id, chat_id, first_name=NAMES[user])
        return await self.api.wait_for(method, since=since)

    async def deliver(self) -> int:
        return await DeliveryWorker(self.core, {"telegram": self.adapter.notifier}).drain_once()

    async def restart(self) -> None:
        """Stop the Application and the database, then start both again on the same file."""
        await self.adapter.stop()
        await self.core.db.close()
        self.core = await open_core(self.path, self.core.feed.marks())
        self.adapter = await start_adapter(self.api, self.core)
        self.adapters.append(self.adapter)


async def open_core(path: Path, marks: dict[str, Decimal]) -> Core:
    db = Database(path)
    await db.open()
    return Core(db=db, catalog=load_catalog(), feed=ManualFeed(marks),
                clock=VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)),
                settings=Settings(admins=frozenset({f"telegram:{ADMIN}"})))


async def start_adapter(api: BotApiStandIn, core: Core, config: Config | None = None) -> TelegramAdapter:
    config = config or Config(telegram_token=api.default_token)
    adapter = TelegramAdapter(core, config, api.application_builder(), poll_timeout=timedelta(seconds=1))
    await adapter.start()
    return adapter


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BotApiStandIn]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # httpx must not send loopback traffic to a proxy
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    async with BotApiStandIn() as standin:
        yield standin
        assert standin.internal_errors == []


@pytest.fixture
async def world(api: BotApiStandIn, tmp_path: Path) -> AsyncIterator[World]:
    path = tmp_path / "dojo.sqlite3"
    core = await open_core(path, {"BTC": Decimal("60000"), "ETH": Decimal("3000")})
    adapter = await start_adapter(api, core)
    w = World(api, path, core, adapter, [adapter])
    try:
        yield w
    finally:
        await w.adapter.stop()
        await w.core.db.close()
    assert [e for a in w.adapters for e in a.errors] == []  # the error handler saw nothing


def pre_lines(text: str) -> list[str]:
    return [line for block in re.findall(r"<pre>(.*?)</pre>", text, re.S) for line in html.unescape(block).split("\n")]


def callback_data(call: Call) -> list[str]:
    return [b["callback_data"] for row in call.params["reply_markup"]["inline_keyboard"] for b in row]


def button(call: Call, label: str) -> str:
    rows = call.params["reply_markup"]["inline_keyboard"]
    return next(b["callback_data"] for row in rows for b in row if b["text"] == label)


async def test_start_open_positions_close(world: World) -> None:
    started = await world.say(ALICE, "/start")
    assert started["parse_mode"] == "HTML"
    assert "Welcome to Margin Dojo" in started["text"] and "10,000" in started["text"]
    menus = {json.loads(scope)["type"]: [c["command"] for c in listed]
             for (scope, _), listed in world.api.commands.items()}
    assert "setprice" not in menus["all_private_chats"] and "setprice" in menus["chat"]  # the admin's own menu
    assert "start" not in menus["all_group_chats"] and "positions" in menus["all_group_chats"]

    opened = await world.say(ALICE, "/long BTC 100 10x")
    assert opened["text"].startswith("Opened")

    portfolio = await world.say(ALICE, "/positions")
    table = pre_lines(portfolio["text"])
    assert table and table[0].startswith("BTC long 10x isolated")
    assert all(len(line) <= render.PRE_WIDTH for line in table)
    stored = world.api.message_for(ALICE, portfolio.result["message_id"])
    assert stored is not None and any(e["type"] == "pre" for e in stored["entities"])
    assert all(1 <= len(d.encode()) <= 64 for d in callback_data(portfolio))

    refreshed = await world.press(ALICE, button(portfolio, "🔄 Refresh"), portfolio.result["message_id"], ALICE,
                                  "editMessageText")
    assert refreshed["message_id"] == portfolio.result["message_id"]  # refresh edits in place

    closed = await world.say(ALICE, "/close BTC")
    assert closed["text"].startswith("Closed")


async def test_confirmation_button_belongs_to_its_owner(world: World) -> None:
    await world.say(ALICE, "/long BTC 100 10x")
    question = await world.say(ALICE, "/reset@DojoTestBot", chat_id=GROUP, chat_type="supergroup")
    yes, no = button(question, "✅ Yes"), button(question, "✖ No")
    message_id = question.result["message_id"]

    refused = await world.press(BOB, yes, message_id, GROUP, "answerCallbackQuery")
    assert refused["text"] == "This button belongs to Alice." and refused["show_alert"] is True
    refused = await world.press(BOB, no, message_id, GROUP, "answerCallbackQuery")
    assert "belongs to Alice" in refused["text"]
    alice = Actor("telegram", str(ALICE), "Alice", chat_id=str(ALICE))
    assert len((await accounts.portfolio(world.core, alice)).account.positions) == 1  # nothing changed
    assert world.api.calls_to("editMessageText") == []

    edited = await world.press(ALICE, yes, message_id, GROUP, "editMessageText")
    assert "Fresh paper account" in edited["text"]
    assert (await accounts.portfolio(world.core, alice)).account.positions == ()


async def test_group_commands_are_addressed_and_mention_the_sender(world: World) -> None:
    since = world.api.mark()
    world.api.push_message(BOB, "/balance@OtherBot", chat_id=GROUP, chat_type="supergroup", first_name="Bob")
    reply = await world.say(BOB, "/balance@DojoTestBot", chat_id=GROUP, chat_type="supergroup")
    assert [c.method for c in world.api.calls[since:]].count("sendMessage") == 1  # @OtherBot was left alone
    assert reply["text"].startswith(f'<a href="tg://user?id={BOB}">Bob</a>')
    assert reply.result["entities"][0] == {"type": "text_link", "offset": 0, "length": 3,
                                           "url": f"tg://user?id={BOB}"}
    assert reply.result["reply_to_message"]["text"] == "/balance@DojoTestBot"


async def test_admin_moves_the_price_and_the_liquidation_is_pushed(world: World) -> None:
    await world.say(ALICE, "/long BTC 100 10x")
    refused = await world.say(BOB, "/setprice BTC 50000")
    assert "Only the bot's admins" in refused["text"]
    assert await world.deliver() == 0

    done = await world.say(ADMIN, "/setprice BTC 50000")
    assert "Marks set" in done["text"]
    since = world.api.mark()
    assert await world.deliver() == 1
    push = await world.api.wait_for("sendMessage", since=since)
    assert push["chat_id"] == ALICE and "iquidat" in push["text"]


async def test_restart_loses_no_button_and_no_push(world: World) -> None:
    await world.say(ALICE, "/long BTC 100 10x")
    question = await world.say(ALICE, "/reset")
    await world.say(ADMIN, "/setprice BTC 50000")  # Alice is liquidated: a push waits in the outbox

    await world.restart()
    since = world.api.mark()
    assert await world.deliver() == 1
    assert (await world.api.wait_for("sendMessage", since=since))["chat_id"] == ALICE
    edited = await world.press(ALICE, button(question, "✅ Yes"), question.result["message_id"], ALICE,
                               "editMessageText")
    assert "Fresh paper account" in edited["text"]


async def test_blocked_user_gets_no_push_until_they_write_again(world: World) -> None:
    await world.say(ALICE, "/long BTC 100 10x")
    world.api.blocked_chats.add(ALICE)
    await world.say(ADMIN, "/setprice BTC 50000")
    assert await world.deliver() == 0  # 403: pushes pause for Alice
    world.api.blocked_chats.discard(ALICE)
    assert await world.deliver() == 0  # still paused: Telegram doesn't say when a user unblocks

    await world.say(ALICE, "/balance")  # writing again re-enables pushes
    since = world.api.mark()
    assert await world.deliver() == 1
    assert "iquidat" in (await world.api.wait_for("sendMessage", since=since))["text"]


async def test_notifier_maps_telegram_errors(world: World) -> None:
    message = Outgoing("telegram", str(ALICE), str(ALICE), "price_alert", 4, "BTC < 50,000", {})
    world.api.fail_next("sendMessage", chat_id=ALICE, retry_after=3)
    with pytest.raises(DeliveryError) as flood:
        await world.adapter.notifier.send(message)
    assert flood.value.permanent is False and flood.value.retry_after == 3
    world.api.fail_next("sendMessage", chat_id=ALICE)
    with pytest.raises(DeliveryError) as blocked:
        await world.adapter.notifier.send(message)
    assert blocked.value.permanent is True
    world.api.fail_next("sendMessage", chat_id=ALICE, error_code=502, description="Bad Gateway")
    with pytest.raises(DeliveryError) as down:
        await world.adapter.notifier.send(message)
    assert down.value.permanent is False and down.value.retry_after is None
    await world.adapter.notifier.send(message)
    assert world.api.last_sent(ALICE)["text"] == "🔔 BTC < 50,000"  # type: ignore[index]


async def test_photo_reply(world: World) -> None:
    png = tiny_png(120, 60)
    if "chart" in COMMANDS:
        await world.say(ALICE, "/long BTC 100 10x")
        sent = await world.say(ALICE, "/chart BTC", method="sendPhoto")
    else:
        actor = Actor("telegram", str(ALICE), "Alice", chat_id=str(ALICE))
        since = world.api.mark()
        await render.send_reply(world.adapter.app.bot, world.core, actor, ALICE,
                                Reply("chart", "BTC <long> PnL", {}, (), png))
        sent = await world.api.wait_for("sendPhoto", since=since)
        assert sent.params["photo"].data == png and sent["caption"] == "BTC &lt;long&gt; PnL"
    assert sent.encoding == "multipart" and sent.params["photo"].filename.endswith(".png")
    assert sent.result["photo"]


async def test_long_replies_are_split_and_escaped() -> None:
    lines = [render.Line(f"{i} <b>&</b> " + "é" * 60) for i in range(200)]
    lines += [render.Line("BTC long " + "x" * 50, pre=True) for _ in range(100)]
    chunks = render.html_chunks(lines, prefix='<a href="tg://user?id=1">A</a>\n')
    assert len(chunks) > 2 and all(render.units(c) < 4096 for c in chunks)
    assert all(c.count("<pre>") == c.count("</pre>") for c in chunks)
    assert "<b>" not in "".join(chunks) and "&lt;b&gt;" in chunks[0]
    assert render.html_chunks([render.Line("")]) == ["…"]


async def test_quiz_stays_private_in_groups(world: World) -> None:
    reply = await world.say(ALICE, "/quiz@DojoTestBot", chat_id=GROUP, chat_type="supergroup")
    assert "private" in reply["text"]
    link = reply["reply_markup"]["inline_keyboard"][0][0]["url"]
    assert link == "https://t.me/DojoTestBot?start=quiz"
    board = await world.say(ALICE, "/quiz@DojoTestBot board", chat_id=GROUP, chat_type="supergroup")
    assert "Quiz board" in board["text"]
    assert world.api.calls_to("sendPoll") == []

    since = world.api.mark()
    world.api.push_message(ALICE, "/start quiz", first_name="Alice")  # the link opens a private quiz
    poll = await world.api.wait_for("sendPoll", since=since)
    assert poll["chat_id"] == ALICE


async def test_quiz_poll_answered_and_next_question(world: World) -> None:
    since = world.api.mark()
    world.api.push_message(ALICE, "/quiz", first_name="Alice")
    poll = await world.api.wait_for("sendPoll", since=since)
    assert poll["type"] == "quiz" and poll["is_anonymous"] is False
    assert "correct_option_id" not in poll.params and len(poll["correct_option_ids"]) == 1
    assert 0 < len(poll["explanation"]) <= 200
    poll_id, right = poll.result["poll"]["id"], poll["correct_option_ids"][0]

    since = world.api.mark()
    world.api.push_poll_answer(BOB, poll_id, [right], first_name="Bob")  # a forwarded poll: not Bob's question
    world.api.push_poll_answer(ALICE, poll_id, [right], first_name="Alice")
    verdict = await world.api.wait_for("sendMessage", since=since)
    assert verdict["chat_id"] == ALICE and "✅" in verdict["text"] and "reply_markup" not in verdict.params
    following = await world.api.wait_for("sendPoll", since=since)
    assert following.result["poll"]["id"] != poll_id

    since = world.api.mark()
    wrong = (following["correct_option_ids"][0] + 1) % len(following["options"])
    world.api.push_poll_answer(ALICE, following.result["poll"]["id"], [wrong], first_name="Alice")
    assert "❌" in (await world.api.wait_for("sendMessage", since=since))["text"]
    await world.api.wait_for("sendPoll", since=since)
    assert [c["chat_id"] for c in world.api.calls_to("sendMessage")] == [ALICE, ALICE]  # nothing for Bob


async def test_quiz_me_button_asks_a_quiz_poll(world: World) -> None:
    first = await world.say(ALICE, "/learn isolated")
    pages = int(re.search(r"\(1/(\d+)\)", first["text"]).group(1))  # type: ignore[union-attr]
    last = await world.say(ALICE, f"/learn isolated {pages}")
    poll = await world.press(ALICE, button(last, "Quiz me ▶"), last.result["message_id"], ALICE, "sendPoll")
    assert poll["chat_id"] == ALICE and poll["type"] == "quiz"
    assert "reply_markup" not in world.api.message_for(ALICE, last.result["message_id"])  # type: ignore[operator]


async def test_deep_link_joins_a_group_board(world: World) -> None:
    world.api.register_chat(GROUP, "supergroup", title="Dojo Traders")
    reply = await world.say(ALICE, f"/start join-{GROUP}")
    assert "You're on the board of Dojo Traders" in reply["text"]
    board = await world.say(BOB, "/leaderboard", chat_id=GROUP, chat_type="supergroup")
    assert "Alice" in board["text"]
    assert any(b.get("url", "").endswith(f"start=join-{GROUP}")
               for row in board["reply_markup"]["inline_keyboard"] for b in row)


async def test_each_update_is_applied_once_and_edits_are_ignored(world: World) -> None:
    first = await world.say(ALICE, "/long BTC 100 10x")
    payload = {"update_id": 10_000, "message": world.api.message(ALICE, "/close BTC")["message"]}
    bot = world.adapter.app.bot
    since = world.api.mark()
    await world.adapter.app.process_update(Update.de_json(payload, bot))
    await world.adapter.app.process_update(Update.de_json(payload, bot))  # a redelivery
    edited = dict(world.api.message(ALICE, "/long BTC 100 10x")["message"], edit_date=1)
    await world.adapter.app.process_update(Update.de_json({"update_id": 10_001, "edited_message": edited}, bot))
    replies = [c for c in world.api.calls[since:] if c.method == "sendMessage"]
    assert [r["text"][:6] for r in replies] == ["Closed"]
    assert first["text"].startswith("Opened")


async def test_webhook_mode(api: BotApiStandIn, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    core = await open_core(tmp_path / "hook.sqlite3", {"BTC": Decimal("60000")})
    config = Config(telegram_token=api.default_token, telegram_webhook_url="https://dojo.example/tg/hook",
                    port=port, webhook_secret="s3cret")
    adapter = await start_adapter(api, core, config)
    try:
        assert api.webhook_url == "https://dojo.example/tg/hook"
        assert api.calls_to("setWebhook")[0]["secret_token"] == "s3cret"
        update = {"update_id": 1, **api.message(ALICE, "/start")}
        since = api.mark()
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/tg/hook"
            async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}) as r:
                assert r.status == 403
            async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}) as r:
                assert r.status == 200
        assert "Welcome" in (await api.wait_for("sendMessage", since=since))["text"]
    finally:
        await adapter.stop()
        await core.db.close()
    assert adapter.errors == []


async def test_adapter_built_from_configuration_alone(api: BotApiStandIn, tmp_path: Path) -> None:
    core = await open_core(tmp_path / "conf.sqlite3", {"BTC": Decimal("60000")})
    config = Config(telegram_token=api.default_token, telegram_api_base_url=api.base_url)  # a self-hosted server
    adapter = TelegramAdapter(core, config, poll_timeout=timedelta(seconds=1))
    await adapter.start()
    try:
        since = api.mark()
        api.push_message(ALICE, "/start", first_name="Alice")
        assert "Welcome" in (await api.wait_for("sendMessage", since=since))["text"]
    finally:
        await adapter.stop()
        await core.db.close()
    assert adapter.errors == []


async def test_a_refused_token_stops_the_start_cleanly(api: BotApiStandIn, tmp_path: Path) -> None:
    core = await open_core(tmp_path / "bad.sqlite3", {"BTC": Decimal("60000")})
    adapter = TelegramAdapter(core, Config(telegram_token=api.default_token), api.application_builder())
    api.fail_next("getMe", error_code=401, description="Unauthorized")
    try:
        with pytest.raises(InvalidToken):
            await adapter.start()
        assert not adapter.app.running and adapter.scheduler() is not None
    finally:
        await core.db.close()


async def test_core_jobs_share_the_job_queue_scheduler(api: BotApiStandIn, tmp_path: Path) -> None:
    core = await open_core(tmp_path / "jobs.sqlite3", {"BTC": Decimal("60000")})
    adapter = TelegramAdapter(core, Config(telegram_token=api.default_token), api.application_builder())
    try:
        scheduler = adapter.scheduler()
        assert scheduler is not None and adapter.app.job_queue is not None
        assert scheduler is adapter.app.job_queue.scheduler
        install_jobs(scheduler, core)  # what bot.runtime does before starting the adapters
        await adapter.start()
        assert scheduler.running and scheduler.get_job("funding") is not None
    finally:
        await adapter.stop()
        await core.db.close()
    assert not scheduler.running and adapter.errors == []


async def test_errors_are_logged_without_the_token(
    api: BotApiStandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core = await open_core(tmp_path / "log.sqlite3", {"BTC": Decimal("60000")})
    try:
        adapter = TelegramAdapter(core, Config(telegram_token=api.default_token), api.application_builder())
        with caplog.at_level(logging.INFO):
            await adapter.on_error(None, SimpleNamespace(error=RuntimeError(f"GET /bot{api.default_token}/x")))
            logging.getLogger("httpx").info("HTTP Request: POST %s/bot%s/getMe", api.base_url, api.default_token)
        assert len(adapter.errors) == 1
        assert "RuntimeError" in caplog.text and api.default_token not in caplog.text
        assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
        await adapter.app.shutdown()
    finally:
        await core.db.close()


async def test_the_logs_of_a_whole_run_never_contain_the_token(
    caplog: pytest.LogCaptureFixture, api: BotApiStandIn, tmp_path: Path
) -> None:
    """Everything a run logs at DEBUG (PTB, httpx, our code, errors) is scanned for the bot token."""
    caplog.set_level(logging.DEBUG)
    core = await open_core(tmp_path / "scan.sqlite3", {"BTC": Decimal("60000")})
    adapter = await start_adapter(api, core)
    world = World(api, tmp_path / "scan.sqlite3", core, adapter, [adapter])
    try:
        await world.say(ALICE, "/start")
        await world.say(ALICE, "/long BTC 100 10x")
        await world.say(ALICE, "/setprice BTC 1")  # refused: not an admin
        api.fail_next("sendMessage", chat_id=ALICE, error_code=403)
        await world.say(ALICE, "/positions")
    finally:
        await world.adapter.stop()
        await world.core.db.close()
    assert "getUpdates" in caplog.text or "sendMessage" in caplog.text  # the run did log its calls
    assert api.default_token not in caplog.text
    assert api.default_token.split(":")[1] not in caplog.text
