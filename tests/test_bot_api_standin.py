"""Proves that python-telegram-bot's real Application runs end to end against the Bot API stand-in."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from telegram import (
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    PollAnswer,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, EndPointNotFound, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    PollAnswerHandler,
)

from tests.fakes.bot_api import BotApiStandIn, UploadedFile, tiny_png

ALICE = 4242
GROUP = -1001234567890


@dataclass
class Harness:
    api: BotApiStandIn
    app: Application[Any, Any, Any, Any, Any, Any]
    errors: list[BaseException] = field(default_factory=list)
    poll_answers: list[PollAnswer] = field(default_factory=list)


async def eventually(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    """Handlers run after the HTTP round trip the stand-in observes; poll for their side effects."""
    step = 0.005
    for _ in range(int(seconds / step)):
        if condition():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"condition still false after {seconds}s")


async def _ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Again", callback_data="again:1")]])
    await update.effective_message.reply_text("pong", reply_markup=keyboard)


async def _button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("noted")
    await query.edit_message_text(f"<b>pressed</b> {query.data}", parse_mode=ParseMode.HTML)


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BotApiStandIn]:
    # Opt in to timedelta periods: otherwise *constructing* RetryAfter (any 429) emits a
    # PTBDeprecationWarning in PTB 22.8, which filterwarnings=error turns into the raised exception.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    # httpx honours HTTP(S)_PROXY; never send 127.0.0.1 traffic to a proxy.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    async with BotApiStandIn() as standin:
        yield standin
        assert standin.internal_errors == []


@pytest.fixture
async def bot(api: BotApiStandIn) -> AsyncIterator[Harness]:
    app = api.application_builder().job_queue(None).build()
    harness = Harness(api, app)

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.error is not None
        harness.errors.append(context.error)

    async def on_poll_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.poll_answer is not None
        harness.poll_answers.append(update.poll_answer)

    app.add_handler(CommandHandler("ping", _ping))
    app.add_handler(CallbackQueryHandler(_button))
    app.add_handler(PollAnswerHandler(on_poll_answer))
    app.add_error_handler(on_error)

    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=dtm.timedelta(seconds=1))
    try:
        yield harness
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert harness.errors == []


async def test_ping_reply_keyboard_and_callback_edit(bot: Harness) -> None:
    api = bot.api
    assert bot.app.bot.username == "DojoTestBot"
    assert [c.method for c in api.calls[:2]] == ["getMe", "deleteWebhook"]

    api.push_update(api.message(ALICE, "/ping", first_name="Alice", username="alice"))
    sent = await api.wait_for("sendMessage")
    assert sent.encoding == "form"
    assert sent.params["chat_id"] == ALICE
    assert sent.params["text"] == "pong"
    assert sent.params["reply_markup"] == {"inline_keyboard": [[{"text": "Again", "callback_data": "again:1"}]]}
    message_id = sent.result["message_id"]
    assert sent.result["from"]["username"] == "DojoTestBot"
    assert sent.result["reply_markup"] == sent.params["reply_markup"]

    api.push_update(api.callback(ALICE, "again:1", message_id))
    answered = await api.wait_for("answerCallbackQuery")
    assert answered.ok and answered.params["text"] == "noted"
    edited = await api.wait_for("editMessageText")
    assert edited.ok, edited.error
    assert (edited.params["chat_id"], edited.params["message_id"]) == (ALICE, message_id)

    stored = api.message_for(ALICE, message_id)
    assert stored is not None
    assert stored["text"] == "pressed again:1"  # HTML parsed into text + entities
    assert stored["entities"] == [{"type": "bold", "offset": 0, "length": 7}]
    assert "reply_markup" not in stored  # editMessageText without reply_markup drops the keyboard
    assert "edit_date" in stored
    assert bot.errors == []


async def test_quiz_poll_and_poll_answer(bot: Harness) -> None:
    api = bot.api
    message = await bot.app.bot.send_poll(
        ALICE,
        "Q?",
        ["a", "b", "c", "d"],
        type="quiz",
        is_anonymous=False,
        correct_option_ids=[1],
        explanation="because",
    )
    poll = message.poll
    assert poll is not None
    assert poll.type == "quiz" and not poll.is_anonymous and not poll.is_closed
    assert poll.correct_option_ids == (1,)
    assert poll.explanation == "because"
    assert [o.text for o in poll.options] == ["a", "b", "c", "d"]
    assert len({o.persistent_id for o in poll.options}) == 4
    assert poll.allows_revoting is False and poll.members_only is False

    call = api.calls_to("sendPoll")[0]
    assert call.params["options"] == [{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "d"}]
    assert call.params["correct_option_ids"] == [1]
    assert call.params["is_anonymous"] is False

    api.push_update(api.poll_answer(ALICE, poll.id, [1], first_name="Alice"))
    await eventually(lambda: len(bot.poll_answers) == 1)
    await api.wait_confirmed()
    assert api.pending_updates == []
    stopped = await bot.app.bot.stop_poll(ALICE, message.message_id)
    assert stopped.is_closed
    assert [o.voter_count for o in stopped.options] == [0, 1, 0, 0]
    assert stopped.total_voter_count == 1

    assert len(bot.poll_answers) == 1
    answer = bot.poll_answers[0]
    assert answer.poll_id == poll.id and answer.option_ids == (1,)
    assert answer.option_persistent_ids == (poll.options[1].persistent_id,)
    assert answer.user is not None and answer.user.id == ALICE

    with pytest.raises(BadRequest, match=r"(?i)poll has already been closed"):
        await bot.app.bot.stop_poll(ALICE, message.message_id)
    assert bot.errors == []


async def test_send_photo_multipart_and_download(bot: Harness) -> None:
    api = bot.api
    png = tiny_png(120, 60)
    message = await bot.app.bot.send_photo(ALICE, photo=png, caption="chart <i>1h</i>", parse_mode="HTML")
    call = api.calls_to("sendPhoto")[0]
    assert call.encoding == "multipart"
    upload = call.params["photo"]
    assert isinstance(upload, UploadedFile) and upload.data == png and upload.filename
    assert call.params["chat_id"] == ALICE

    assert message.caption == "chart 1h"
    largest = message.photo[-1]
    assert (largest.width, largest.height) == (120, 60)
    assert len(message.photo) == 2  # thumbnail + original

    file = await bot.app.bot.get_file(largest.file_id)
    assert bytes(await file.download_as_bytearray()) == png  # served via base_file_url
    assert bot.errors == []


async def test_group_command_addressing(bot: Harness) -> None:
    api = bot.api
    api.push_update(api.message(ALICE, "/ping@OtherBot", chat_id=GROUP, chat_type="supergroup"))
    api.push_update(api.message(ALICE, "/ping@DojoTestBot", chat_id=GROUP, chat_type="supergroup"))
    sent = await api.wait_for("sendMessage")
    # Updates are handled in order, so /ping@OtherBot was already (not) handled by now.
    assert len(api.calls_to("sendMessage")) == 1
    addressed = api.message_for(GROUP, sent.result["reply_to_message"]["message_id"])
    assert addressed is not None and addressed["text"] == "/ping@DojoTestBot"
    assert sent.params["reply_parameters"] == {"message_id": addressed["message_id"]}  # PTB quotes in groups
    assert addressed["entities"] == [{"type": "bot_command", "offset": 0, "length": 17}]
    assert bot.errors == []


async def test_failure_injection(bot: Harness) -> None:
    api, tg = bot.api, bot.app.bot
    api.fail_next("sendMessage", chat_id=ALICE)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await tg.send_message(ALICE, "hello")
    assert (await tg.send_message(ALICE, "hello again")).text == "hello again"  # only once

    api.fail_next("sendMessage", chat_id=ALICE, retry_after=3)
    with pytest.raises(RetryAfter) as excinfo:
        await tg.send_message(ALICE, "flood")
    assert excinfo.value.retry_after == dtm.timedelta(seconds=3)

    # A blocked user in a handler surfaces in the error handler.
    api.fail_next("sendMessage", chat_id=ALICE)
    api.push_update(api.message(ALICE, "/ping"))
    failed = await api.wait_for("sendMessage", lambda c: c.ok is False)
    assert failed.status == 403
    await eventually(lambda: len(bot.errors) == 1)
    assert isinstance(bot.errors[0], Forbidden)
    await api.wait_confirmed()
    assert api.pending_failures == 0
    bot.errors.clear()

    with pytest.raises(EndPointNotFound):
        await tg.do_api_request("sendTelepathy", api_kwargs={"chat_id": ALICE})
    assert api.calls_to("sendTelepathy")[0].status == 404
    assert bot.errors == []


async def test_formatting_and_validation_errors(bot: Harness) -> None:
    tg = bot.app.bot
    with pytest.raises(BadRequest, match=r"(?i)reserved and must be escaped"):
        await tg.send_message(ALICE, "PnL: +5.2%", parse_mode=ParseMode.MARKDOWN_V2)
    ok = await tg.send_message(ALICE, r"*PnL* \+5\.2%", parse_mode=ParseMode.MARKDOWN_V2)
    assert ok.text == "PnL +5.2%" and ok.entities[0].type == "bold"
    with pytest.raises(BadRequest, match=r"(?i)unsupported start tag"):
        await tg.send_message(ALICE, "price <5 USDT", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await tg.send_message(
            ALICE, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="d" * 65)]])
        )
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await tg.edit_message_text("PnL +5.2%", chat_id=ALICE, message_id=ok.message_id, entities=ok.entities)
    assert bot.errors == []


async def test_chat_members_and_admins(bot: Harness) -> None:
    api, tg = bot.api, bot.app.bot
    api.register_chat(GROUP, "supergroup", title="Dojo Traders")
    api.owners[GROUP] = 1
    api.admins[GROUP] = {2, api.bot_id}

    owner = await tg.get_chat_member(GROUP, 1)
    admin = await tg.get_chat_member(GROUP, 2)
    member = await tg.get_chat_member(GROUP, 3)
    assert isinstance(owner, ChatMemberOwner)
    assert isinstance(admin, ChatMemberAdministrator) and admin.can_delete_messages
    assert isinstance(member, ChatMemberMember)
    admins = await tg.get_chat_administrators(GROUP)
    assert [m.user.id for m in admins] == [1, 2, api.bot_id]

    chat = await tg.get_chat(GROUP)
    assert isinstance(chat, ChatFullInfo) and chat.title == "Dojo Traders" and chat.type == "supergroup"
    assert await tg.leave_chat(GROUP)
    with pytest.raises(Forbidden):
        await tg.send_message(GROUP, "still here?")
    assert bot.errors == []


async def test_commands_webhook_and_document(bot: Harness) -> None:
    api, tg = bot.api, bot.app.bot
    assert await tg.set_my_commands([("ping", "Check the bot"), ("quiz", "Practice")])
    assert [(c.command, c.description) for c in await tg.get_my_commands()] == [
        ("ping", "Check the bot"),
        ("quiz", "Practice"),
    ]
    assert api.calls_to("setMyCommands")[0].params["commands"][0] == {"command": "ping", "description": "Check the bot"}
    assert await tg.delete_my_commands()
    assert await tg.get_my_commands() == ()

    info = await tg.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0

    doc = await tg.send_document(ALICE, document=b"a,b\n1,2\n", filename="trades.csv", caption="export")
    assert doc.document is not None and doc.document.file_name == "trades.csv"
    assert doc.document.file_size == 8
    assert bot.errors == []


async def test_raw_http_json_form_long_poll_and_wait_for_diagnostics(api: BotApiStandIn) -> None:
    url = f"{api.base_url}/bot{api.default_token}"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/sendMessage", json={"chat_id": 7, "text": "[not json]"}) as resp:
            body = await resp.json()
        assert body["ok"] and body["result"]["text"] == "[not json]"
        markup = json.dumps({"inline_keyboard": [[{"text": "t", "callback_data": "1"}]]})
        async with session.post(f"{url}/sendmessage", data={"chat_id": "7", "text": "1", "reply_markup": markup}):
            pass
        async with session.post(f"{url}/getUpdates", data={"timeout": "0.2"}) as resp:
            assert (await resp.json())["result"] == []  # long poll expired
        api.push_update(api.message(7, "hi"))
        api.push_update(api.message(7, "there"))
        async with session.get(f"{url}/getUpdates", params={"timeout": "5"}) as resp:
            updates = (await resp.json())["result"]
        assert [u["message"]["text"] for u in updates] == ["hi", "there"]
        async with session.post(f"{url}/getUpdates", json={"offset": updates[-1]["update_id"] + 1}) as resp:
            assert (await resp.json())["result"] == []
        async with session.post(f"{url}/getUpdates", json={}) as resp:
            assert (await resp.json())["result"] == []  # confirmed updates are gone
        async with session.post(f"{url}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method noSuchMethod",
            }

    both = await api.wait_for("sendMessage", count=2)
    assert [c.encoding for c in both] == ["json", "form"]
    mark = api.mark()
    api.fail_next("getMe", error_code=401, description="Unauthorized")
    async with aiohttp.ClientSession() as session, session.get(f"{url}/getMe") as resp:
        assert resp.status == 401
    assert (await api.wait_for("getMe", since=mark)).error == "Unauthorized"

    form_call = api.calls[1]
    assert form_call.method == "sendMessage" and form_call.encoding == "form"
    assert form_call.params == {"chat_id": 7, "text": "1", "reply_markup": json.loads(markup)}
    assert api.calls[0].params["text"] == "[not json]"
    assert api.calls_to("noSuchMethod")[0].ok is False
    with pytest.raises(AssertionError, match=r"sendPhoto.*sendMessage\(chat_id=7"):
        await api.wait_for("sendPhoto", timeout=0.05)
