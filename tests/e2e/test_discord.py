"""The Discord adapter end to end: discord.py's real CommandTree and Interactions, a real Core on SQLite."""

from __future__ import annotations

# isort: off
# The harness must be imported before discord: it silences discord's audioop DeprecationWarning.
from tests.fakes.discord_harness import DEFAULT_GUILD_ID, DiscordHarness, Response

# isort: on
import asyncio
import copy
import logging
import socket
import struct
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.config import Config
from bot.discord import commands, render
from bot.discord.app import DiscordAdapter, DojoClient, build_client, sync_commands, sync_global
from bot.discord.interactions import actor_of
from bot.discord.notifier import DiscordNotifier
from bot.replies import Button, Reply
from core.clock import VirtualClock
from core.domain.instruments import load_catalog
from core.domain.throttle import CommandThrottle
from core.market.feed import ManualFeed
from core.ports import Notifier
from core.services import notify
from core.services.core import Core, Settings
from core.services.delivery import DeliveryWorker
from core.storage import accounts as acc
from core.storage import positions as positions_store
from core.storage.db import Database

ALICE = 111_111_111_111_111_111
BOB = 222_222_222_222_222_222
CAROL = 333_333_333_333_333_333
ADMIN = 444_444_444_444_444_444
ALERTS_CHANNEL = 555_555_555_555_555_555
OTHER_GUILD = 1_200_000_000_000_000_777
ADMIN_PERMISSIONS = "8"  # administrator


def _png_1x1() -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(
        b"IEND", b""
    )


PNG = _png_1x1()


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", refuse)


@pytest.fixture(autouse=True)
def no_logged_errors(caplog: pytest.LogCaptureFixture) -> Any:
    """bot.dispatch logs (and hides) unexpected exceptions: none may happen in these tests."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def open_core(path: Path, throttle: int = 1000) -> Core:
    db = Database(path)
    await db.open()
    feed = ManualFeed({"BTC": Decimal("60000"), "ETH": Decimal("3000")})
    return Core(db=db, catalog=load_catalog(), feed=feed, clock=VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)),
                settings=Settings(admins=frozenset({f"discord:{ADMIN}", "console:admin"})),
                throttle=CommandThrottle(limit=throttle))


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    c = await open_core(tmp_path / "t.sqlite3")
    yield c
    await c.db.close()


async def attached(core: Core, config: Config | None = None) -> tuple[DojoClient, DiscordHarness]:
    client = build_client(core, config or Config())
    h = DiscordHarness.attach(client, client.tree, run_setup_hook=True)
    await h.start()
    return client, h


@pytest.fixture
async def h(core: Core) -> AsyncIterator[DiscordHarness]:
    client, harness = await attached(core)
    yield harness
    await harness.close()
    await client.close()


async def slash(h: DiscordHarness, name: str, options: dict[str, Any] | None = None, *, user: int = ALICE,
                guild: int | None = DEFAULT_GUILD_ID, **kw: Any) -> list[Response]:
    kw.setdefault("username", {ALICE: "alice", BOB: "bob", CAROL: "carol", ADMIN: "admin"}.get(user, "someone"))
    return await h.run_command(h.slash(name, options, user_id=user, guild_id=guild, **kw))


def reply_of(responses: list[Response]) -> Response:
    """The one message a command answered with: the immediate reply, or the followup of a deferral."""
    callbacks = [r for r in responses if r.kind == "callback"]
    assert len(callbacks) == 1, responses
    if callbacks[0].type == 4:
        assert len(responses) == 1, responses
        return callbacks[0]
    assert callbacks[0].type == 5, responses
    followups = [r for r in responses if r.kind == "followup"]
    assert len(followups) == 1 and len(responses) == 2, responses
    return followups[0]


async def positions_of(core: Core, user_id: int) -> list[str]:
    async with core.db.transaction() as tx:
        user = await acc.find_user(tx, "discord", str(user_id))
        if user is None:
            return []
        account = await acc.find_account(tx, user.id)
        assert account is not None
        return [p.symbol for p in await positions_store.positions_of(tx, account.id)]


# ---------------------------------------------------------------- every command answers once

SMOKE: list[tuple[str, dict[str, Any]]] = [
    ("start", {}),
    ("help", {"command": "long"}),
    ("price", {"symbols": "BTC ETH"}),
    ("long", {"symbol": "BTC", "amount": "1000", "leverage": 10, "mode": "cross"}),
    ("short", {"symbol": "ETH", "amount": "0.5eth", "leverage": 5, "mode": "isolated"}),
    ("close", {"symbol": "BTC", "percent": 50}),
    ("positions", {}),
    ("balance", {}),
    ("history", {}),
    ("margin add", {"symbol": "ETH", "amount": "10"}),
    ("margin remove", {"symbol": "ETH", "amount": "5"}),
    ("leverage", {"symbol": "BTC", "leverage": 20}),
    ("mode", {"mode": "cross", "symbol": "SOL"}),
    ("leaderboard", {}),
    ("reset", {}),
    ("setprice", {"symbol": "BTC", "price": "61000"}),
    ("orders", {}),
    ("cancel", {"order": "1"}),
    ("sl", {"symbol": "BTC", "price": "50000"}),
    ("tp", {"symbol": "BTC", "price": "70000"}),
    ("trail", {"symbol": "BTC", "callback": 1.5}),
    ("alert add", {"symbol": "BTC", "direction": ">", "price": "65000"}),
    ("alert list", {}),
    ("alert off", {"alert_id": "1"}),
    ("health", {}),
    ("settings show", {}),
    ("settings set", {"key": "quiet", "value": "22-07"}),
    ("settings alerts-channel", {}),
    ("whatif", {"shock": "-10%"}),
    ("compare", {}),
    ("advise", {}),
    ("learn", {"topic": "isolated", "page": 2}),
    ("drill", {}),
    ("quiz", {}),
    ("answer", {"option": 1}),
    ("chart", {"symbol": "BTC"}),
]


def every_command_path(client: DojoClient) -> set[str]:
    paths = set()
    for command in client.tree.get_commands():
        if isinstance(command, discord.app_commands.Group):
            paths |= {f"{command.name} {sub.name}" for sub in command.commands}
        else:
            paths.add(command.name)
    return paths


def test_the_smoke_list_covers_every_command(core: Core) -> None:
    client = build_client(core, Config())
    assert every_command_path(client) == {name for name, _ in SMOKE}


@pytest.mark.parametrize("in_guild", [True, False], ids=["guild", "dm"])
async def test_every_command_answers_exactly_once(h: DiscordHarness, in_guild: bool) -> None:
    guild = DEFAULT_GUILD_ID if in_guild else None
    await slash(h, "long", {"symbol": "ETH", "amount": "100", "leverage": 5}, guild=guild)
    for name, options in SMOKE:
        responses = await slash(h, name, options, guild=guild)  # strict harness: any swallowed error raises
        reply = reply_of(responses)
        assert reply.text, name
        assert not reply.text.startswith("Unknown command"), (name, reply.text)
        assert "I don't understand" not in reply.text and "needs" not in reply.text, (name, reply.text)
    assert h.errors == [] and h.unmocked_routes == []


async def test_options_become_the_chat_line(h: DiscordHarness, core: Core) -> None:
    reply = reply_of(await slash(h, "long", {"symbol": "btc", "amount": "0.01btc", "leverage": 10, "mode": "cross"}))
    assert "Opened a long BTC: bought 0.01 BTC" in reply.text and "10x cross" in reply.text
    reply = reply_of(await slash(h, "close", {"symbol": "BTC", "percent": 50}))
    assert "Reduced your long BTC: sold 0.005 BTC" in reply.text
    reply = reply_of(await slash(h, "close", {"symbol": "all"}))
    assert "confirm" in reply.text and len(reply.custom_ids) == 2
    assert await positions_of(core, ALICE) == ["BTC"]
    reply = reply_of(await slash(h, "mode", {"symbol": "ETH"}))
    assert reply.text.startswith("ETH: isolated, 20x")  # no mode given: it shows the symbol's setting
    reply = reply_of(await slash(h, "whatif", {"shock": "-10%", "symbol": "btc"}))
    assert "BTC -10 %" in reply.text  # one symbol moved, whatever the order the options were filled in


async def test_symbol_autocomplete_offers_the_catalog(h: DiscordHarness) -> None:
    choices = await h.complete(h.autocomplete("long", {"symbol": "bt"}, focused="symbol", user_id=ALICE))
    assert [c["value"] for c in choices] == ["BTC"]
    choices = await h.complete(h.autocomplete("close", {"symbol": "a"}, focused="symbol", user_id=ALICE))
    assert choices[0]["value"] == "all"


# ---------------------------------------------------------------- refusals change nothing


async def test_bad_amount_is_refused_with_an_example(h: DiscordHarness, core: Core) -> None:
    reply = reply_of(await slash(h, "long", {"symbol": "BTC", "amount": "abc", "leverage": 10}))
    assert "not a usable number" in reply.text and "Example: /long BTC 1000 10x isolated" in reply.text
    assert reply.ephemeral
    assert await positions_of(core, ALICE) == []


async def test_forged_out_of_range_leverage_is_refused_like_a_typed_one(h: DiscordHarness, core: Core) -> None:
    forged = reply_of(await slash(h, "long", {"symbol": "BTC", "amount": "100", "leverage": 500}))
    typed = reply_of(await slash(h, "long", {"symbol": "BTC", "amount": "100 500x"}))
    assert "Leverage '500x' must be given once" in forged.text
    assert forged.text == typed.text and forged.ephemeral
    # a float forged into the integer option, and a value outside the mode choices
    await slash(h, "long", {"symbol": "BTC", "amount": "100", "leverage": 2.5}, option_types={"leverage": 10})
    assert "I don't understand '2.5x'" in h.last.text
    await slash(h, "long", {"symbol": "BTC", "amount": "100", "mode": "sideways"})
    assert "I don't understand 'sideways'" in h.last.text
    # leverage above the bracket's maximum but inside the grammar: the core refuses
    await slash(h, "long", {"symbol": "BTC", "amount": "5000", "leverage": 150})
    assert h.last.ephemeral and "Example:" in h.last.text and "Opened" not in h.last.text
    assert await positions_of(core, ALICE) == []


async def test_a_throttled_user_gets_one_notice_then_silence(tmp_path: Path) -> None:
    core = await open_core(tmp_path / "s.sqlite3", throttle=2)
    client, h = await attached(core)
    try:
        for _ in range(2):
            assert "Unknown" not in reply_of(await slash(h, "price")).text
        assert "Easy there" in reply_of(await slash(h, "price")).text
        assert await slash(h, "price") == []  # no answer at all: Discord says the app did not respond
        deferred = await slash(h, "compare")  # a deferred command takes its "thinking…" message back
        assert [(r.kind, r.type) for r in deferred] == [("callback", 5), ("delete_original", None)]
    finally:
        await h.close()
        await client.close()
        await core.db.close()


async def test_an_interaction_is_applied_once(h: DiscordHarness, core: Core) -> None:
    payload = h.slash("long", {"symbol": "BTC", "amount": "100", "leverage": 10}, user_id=ALICE)
    assert len(await h.run_command(payload)) == 1
    assert await h.run_command(payload) == []
    reply = reply_of(await slash(h, "positions", guild=None))
    assert reply.embed is not None and len(reply.embed["fields"]) == 1


# ---------------------------------------------------------------- replies: privacy, embeds, files


async def test_personal_data_is_ephemeral_in_a_server_unless_shared(h: DiscordHarness) -> None:
    await slash(h, "long", {"symbol": "BTC", "amount": "1000", "leverage": 10, "mode": "cross"})
    reply = reply_of(await slash(h, "positions"))
    assert reply.ephemeral
    embed = reply.embed
    assert embed is not None and embed["title"] == "Positions"
    assert "Wallet" in embed["description"] and "Cross margin ratio" in embed["description"]
    assert embed["fields"][0]["name"] == "BTC long 10x cross" and "liq " in embed["fields"][0]["value"]
    for name in ("balance", "history", "health"):
        assert reply_of(await slash(h, name)).ephemeral, name
    assert not reply_of(await slash(h, "positions", {"share": True})).ephemeral
    assert not reply_of(await slash(h, "balance", {"share": True})).ephemeral
    assert not reply_of(await slash(h, "price")).ephemeral  # public market data
    assert not reply_of(await slash(h, "balance", guild=None)).ephemeral  # a DM is private already


async def test_a_chart_is_an_attachment_after_a_deferral(h: DiscordHarness) -> None:
    await slash(h, "long", {"symbol": "BTC", "amount": "1000", "leverage": 10})
    deferred, followup = await slash(h, "chart", {"symbol": "BTC"})
    assert deferred.type == 5 and deferred.ephemeral
    assert followup.kind == "followup" and "BTC long" in followup.text
    ((name, png),) = followup.files
    assert name == "chart.png" and png.startswith(b"\x89PNG")


async def test_a_chart_button_defers_then_edits_in_the_picture(h: DiscordHarness) -> None:
    @h.tree.command(name="testmenu", description="A reply with a chart button, through the adapter's render path")
    async def testmenu(interaction: discord.Interaction) -> None:
        reply = Reply("menu", "Pick one", {}, (Button("Chart BTC", "/chart BTC"),), photo=PNG)
        await commands.answer(interaction, actor_of(interaction), reply)

    await slash(h, "long", {"symbol": "BTC", "amount": "1000", "leverage": 10}, guild=None)
    sent = reply_of(await slash(h, "testmenu", guild=None))
    assert sent.files == [("chart.png", PNG)] and not sent.ephemeral
    deferred, edited = await h.press(h.button(sent.custom_ids[0], user_id=ALICE, message_id=sent.message_id))
    assert deferred.type == 6 and edited.kind == "edit_original" and edited.message_id == sent.message_id
    ((name, png),) = edited.files
    assert name == "chart.png" and png != PNG and png.startswith(b"\x89PNG")
    assert "BTC long" in edited.text


def test_long_help_goes_into_an_embed() -> None:
    reply = Reply("help", "x" * 2500)
    fields = render.message(reply)
    assert "content" not in fields and len(fields["embed"].description) == 2500


# ---------------------------------------------------------------- buttons


def button_id(response: Response, label_start: str) -> str:
    for row in response.components:
        for comp in row.get("components", []):
            if comp.get("label", "").startswith(label_start):
                return str(comp["custom_id"])
    raise AssertionError(f"no button {label_start!r} in {response.components}")


async def test_a_stranger_cannot_press_someone_elses_button(h: DiscordHarness, core: Core) -> None:
    await slash(h, "long", {"symbol": "BTC", "amount": "1000", "leverage": 10})
    shown = reply_of(await slash(h, "positions", {"share": True}))
    close_id = button_id(shown, "Close BTC")
    assert close_id.startswith("dojo:b:")
    responses = await h.press(h.button(close_id, user_id=BOB, username="bob", guild_id=DEFAULT_GUILD_ID,
                                       message_id=shown.message_id))
    assert [(r.type, r.ephemeral) for r in responses] == [(4, True)]
    assert h.last.content == "This button belongs to alice."
    assert await positions_of(core, ALICE) == ["BTC"]
    assert h.messages[shown.message_id]["embeds"] == shown.embeds  # the message did not change

    (edited,) = await h.press(h.button(close_id, user_id=ALICE, guild_id=DEFAULT_GUILD_ID,
                                       message_id=shown.message_id))
    assert edited.type == 7 and edited.message_id == shown.message_id
    assert "Closed your long BTC: sold" in edited.text and edited.embeds == []
    assert await positions_of(core, ALICE) == []


async def test_confirmation_buttons_yes_and_no(h: DiscordHarness, core: Core) -> None:
    await slash(h, "long", {"symbol": "BTC", "amount": "1000", "leverage": 10})
    asked = reply_of(await slash(h, "reset", {"balance": "5000"}))
    yes, no = asked.custom_ids
    assert no == "dojo:x" and yes.startswith("dojo:b:")
    # "No" from someone else: refused when Discord tells whose command the message answered
    message = copy.deepcopy(h.messages[asked.message_id])
    message["interaction_metadata"] = {"id": str(asked.interaction_id), "type": 2, "user": h.user_payload(ALICE)}
    await h.press(h.button(no, user_id=BOB, username="bob", guild_id=DEFAULT_GUILD_ID, message=message,
                           message_id=asked.message_id))
    assert h.last.ephemeral and h.last.content == "This button belongs to alice."
    await h.press(h.button(yes, user_id=ALICE, guild_id=DEFAULT_GUILD_ID, message_id=asked.message_id))
    assert h.last.type == 7 and "Fresh paper account: 5,000.00 USDT." in h.last.text and h.last.components == []
    assert await positions_of(core, ALICE) == []

    again = reply_of(await slash(h, "reset"))
    await h.press(h.button("dojo:x", user_id=ALICE, guild_id=DEFAULT_GUILD_ID, message_id=again.message_id))
    assert h.last.type == 7 and h.last.components == [] and "Dismissed" in h.last.text


async def test_buttons_still_work_after_a_restart(tmp_path: Path) -> None:
    core = await open_core(tmp_path / "r.sqlite3")
    client, h = await attached(core)
    try:
        await slash(h, "long", {"symbol": "BTC", "amount": "1000", "leverage": 10}, guild=None)
        shown = reply_of(await slash(h, "positions", guild=None))
        half_id = button_id(shown, "Close 50% BTC")
        message = copy.deepcopy(h.messages[shown.message_id])
    finally:
        await h.close()
        await client.close()
        await core.db.close()

    core = await open_core(tmp_path / "r.sqlite3")  # a new process: new core, new client, same database
    client, h = await attached(core)
    try:
        (edited,) = await h.press(h.button(half_id, user_id=ALICE, message=message))
        assert edited.type == 7 and "Reduced your long BTC: sold 0.083 BTC" in edited.text
        assert await positions_of(core, ALICE) == ["BTC"]
    finally:
        await h.close()
        await client.close()
        await core.db.close()


# ---------------------------------------------------------------- quizzes


async def test_a_quiz_answer_by_button_gets_private_feedback(h: DiscordHarness) -> None:
    asked = reply_of(await slash(h, "quiz", {"topic": "isolated"}))
    assert asked.ephemeral and "❓ Quiz [isolated]" in asked.text
    ask_id = int(asked.custom_ids[0].split(":")[2])
    assert asked.custom_ids == [f"dojo:q:{ask_id}:{i}" for i in range(4)]
    labels = [c["label"] for row in asked.components for c in row["components"]]
    assert [label[:3] for label in labels] == ["1) ", "2) ", "3) ", "4) "]

    stranger = await h.press(h.button(asked.custom_ids[0], user_id=BOB, username="bob", guild_id=DEFAULT_GUILD_ID,
                                      message_id=asked.message_id))
    assert [(r.type, r.ephemeral) for r in stranger] == [(4, True)]

    edit, feedback = await h.press(h.button(asked.custom_ids[0], user_id=ALICE, guild_id=DEFAULT_GUILD_ID,
                                            message_id=asked.message_id))
    assert edit.type == 7 and all(c["disabled"] for row in edit.components for c in row["components"])
    assert feedback.kind == "followup" and feedback.ephemeral
    assert "Score" in feedback.text and ("Right" in feedback.text or "Not quite" in feedback.text)
    again = await h.press(h.button(asked.custom_ids[1], user_id=ALICE, guild_id=DEFAULT_GUILD_ID,
                                   message_id=asked.message_id))
    assert [(r.type, r.ephemeral) for r in again] == [(4, True)]  # answered once: the core refuses

    (next_question,) = await h.press(h.button(feedback.custom_ids[0], user_id=ALICE, guild_id=DEFAULT_GUILD_ID,
                                              message_id=feedback.message_id))
    assert next_question.type == 7 and "❓ Quiz" in next_question.text
    assert next_question.custom_ids[0].startswith("dojo:q:")


async def test_a_group_round_is_public_and_stays_open(h: DiscordHarness) -> None:
    asked = reply_of(await slash(h, "quiz", {"topic": "round"}, user=ADMIN, permissions=ADMIN_PERMISSIONS))
    assert not asked.ephemeral and "Group round" in asked.text
    for user, name in ((ALICE, "alice"), (BOB, "bob")):
        (feedback,) = await h.press(h.button(asked.custom_ids[2], user_id=user, username=name,
                                             guild_id=DEFAULT_GUILD_ID, message_id=asked.message_id))
        assert feedback.type == 4 and feedback.ephemeral and "Score" in feedback.text
    assert h.messages[asked.message_id]["components"] == asked.components  # still open for everyone


# ---------------------------------------------------------------- groups: admin settings, leaderboards


async def test_only_server_admins_set_the_alerts_channel(h: DiscordHarness, core: Core) -> None:
    from core.services.chats import chat_setting

    await slash(h, "settings alerts-channel", user=BOB)
    assert h.last.ephemeral and "Only this group's admins" in h.last.text
    await slash(h, "settings alerts-channel", guild=None, user=ADMIN)
    assert "inside the group" in h.last.text
    assert await chat_setting(core, "discord", str(DEFAULT_GUILD_ID), "alerts_channel") is None
    await slash(h, "settings alerts-channel", user=ADMIN, permissions=ADMIN_PERMISSIONS,
                channel_id=ALERTS_CHANNEL)
    assert f"<#{ALERTS_CHANNEL}>" in h.last.text
    assert await chat_setting(core, "discord", str(DEFAULT_GUILD_ID), "alerts_channel") == str(ALERTS_CHANNEL)


async def test_the_alerts_channel_can_be_picked_as_an_option(h: DiscordHarness, core: Core) -> None:
    from core.services.chats import chat_setting

    payload = h.slash("settings alerts-channel", {"channel": ALERTS_CHANNEL}, user_id=ADMIN, username="admin",
                      guild_id=DEFAULT_GUILD_ID, permissions=ADMIN_PERMISSIONS)
    payload["data"]["resolved"] = {"channels": {str(ALERTS_CHANNEL): {
        "id": str(ALERTS_CHANNEL), "type": 0, "name": "alerts", "guild_id": str(DEFAULT_GUILD_ID),
        "permissions": "2048", "parent_id": None, "position": 1, "flags": 0}}}
    reply = reply_of(await h.run_command(payload))
    assert f"<#{ALERTS_CHANNEL}>" in reply.text
    assert await chat_setting(core, "discord", str(DEFAULT_GUILD_ID), "alerts_channel") == str(ALERTS_CHANNEL)


async def test_a_server_leaderboard_ranks_its_members(h: DiscordHarness) -> None:
    await slash(h, "start", user=ALICE)
    await slash(h, "start", user=CAROL, guild=None)
    await slash(h, "start", user=BOB, guild=OTHER_GUILD)
    board = reply_of(await slash(h, "leaderboard"))
    assert not board.ephemeral and "alice" in board.text
    assert "carol" not in board.text and "bob" not in board.text
    everyone = reply_of(await slash(h, "leaderboard", guild=None, user=CAROL))
    assert all(name in everyone.text for name in ("alice", "bob", "carol"))


# ---------------------------------------------------------------- pushes


async def queue_push(core: Core, user_id: int, text: str, key: str) -> None:
    async with core.db.transaction() as tx:
        user = await acc.find_user(tx, "discord", str(user_id))
        assert user is not None
        await notify.push(core, tx, user.id, "price_alert", text, {}, key)


async def drain(core: Core, notifiers: dict[str, Notifier]) -> int:
    """One pass of the production delivery worker."""
    return await DeliveryWorker(core, notifiers).drain_once()


async def test_pushes_go_by_dm(h: DiscordHarness, core: Core) -> None:
    await slash(h, "start", user=BOB)
    await queue_push(core, BOB, "Margin ratio 80 %", "w1")
    assert await drain(core, {"discord": DiscordNotifier(h.client, core)}) == 1
    (dm,) = h.dms
    assert dm.user_id == BOB and dm.content == "Margin ratio 80 %"


async def test_closed_dms_fall_back_to_the_alerts_channel_once_explained(h: DiscordHarness, core: Core) -> None:
    notifiers = {"discord": DiscordNotifier(h.client, core)}
    await slash(h, "start", user=BOB)  # Bob writes in the server, so it is one of his
    await slash(h, "settings alerts-channel", user=ADMIN, permissions=ADMIN_PERMISSIONS, channel_id=ALERTS_CHANNEL)
    h.fail_dm(BOB, code=50007)
    await queue_push(core, BOB, "Margin ratio 80 %", "w1")
    assert isinstance(core.clock, VirtualClock)
    core.clock.advance(timedelta(seconds=2))  # two events, not one tick's merged alerts
    await queue_push(core, BOB, "Margin ratio 90 %", "w2")
    assert await drain(core, notifiers) == 2
    assert h.dms == [] and [f.user_id for f in h.failed_sends] == [BOB, BOB]
    first, second = h.channel_messages
    assert first.channel_id == ALERTS_CHANNEL and first.content.startswith(f"<@{BOB}> Margin ratio")
    assert render.DM_CLOSED_LINE in first.content
    assert first.payload["allowed_mentions"]["users"] == [BOB]
    assert first.payload["allowed_mentions"]["parse"] == []
    assert second.content == f"<@{BOB}> Margin ratio 90 %"  # told once only


async def test_an_unusable_alerts_channel_falls_through_to_the_next_server(h: DiscordHarness, core: Core) -> None:
    other_channel = ALERTS_CHANNEL + 1
    await slash(h, "start", user=BOB)
    assert isinstance(core.clock, VirtualClock)
    core.clock.advance(timedelta(minutes=1))
    await slash(h, "start", user=BOB, guild=OTHER_GUILD)  # joined last, so its channel is tried first
    await slash(h, "settings alerts-channel", user=ADMIN, permissions=ADMIN_PERMISSIONS, channel_id=ALERTS_CHANNEL)
    await slash(h, "settings alerts-channel", user=ADMIN, permissions=ADMIN_PERMISSIONS, channel_id=other_channel,
                guild=OTHER_GUILD)
    h.fail_dm(BOB)
    h.fail_channel(other_channel)  # the bot may no longer post there (403, code 50013)
    await queue_push(core, BOB, "Order filled", "o1")
    assert await drain(core, {"discord": DiscordNotifier(h.client, core)}) == 1
    assert [f.channel_id for f in h.failed_sends] == [h.dm_channel_id(BOB), other_channel]
    (posted,) = h.channel_messages
    assert posted.channel_id == ALERTS_CHANNEL and posted.content.startswith(f"<@{BOB}> Order filled")


async def test_closed_dms_without_an_alerts_channel_pause_pushes(h: DiscordHarness, core: Core) -> None:
    await slash(h, "start", user=CAROL)
    h.fail_dm(CAROL, at="open")
    await queue_push(core, CAROL, "Liquidated", "l1")
    assert await drain(core, {"discord": DiscordNotifier(h.client, core)}) == 0
    assert h.channel_messages == []
    async with core.db.transaction() as tx:
        user = await acc.find_user(tx, "discord", str(CAROL))
    assert user is not None and not user.pushes_enabled


# ---------------------------------------------------------------- start-up and sync


async def test_guild_ids_sync_instantly_at_start_up(core: Core) -> None:
    client, h = await attached(core, Config(discord_guild_ids=(DEFAULT_GUILD_ID,)))
    try:
        synced = {c["name"] for c in h.synced_commands[DEFAULT_GUILD_ID]}
        assert {"long", "positions", "margin", "settings", "quiz"} <= synced
        assert None not in h.synced_commands  # the global sync is a deliberate step
        assert {c.name for c in await sync_global(client)} == synced
        synced_long = next(c for c in h.synced_commands[None] if c["name"] == "long")
        long_options = {o["name"]: o for o in synced_long["options"]}
        assert (long_options["leverage"]["min_value"], long_options["leverage"]["max_value"]) == (1, 150)
        assert [c["value"] for c in long_options["mode"]["choices"]] == ["isolated", "cross"]
        assert long_options["symbol"]["autocomplete"] and long_options["amount"]["type"] == 3
    finally:
        await h.close()
        await client.close()


async def test_sync_without_a_token_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert await sync_commands(Config()) == 2
    assert "DISCORD_BOT_TOKEN is not set" in capsys.readouterr().out


def test_the_adapter_fits_the_runtime(core: Core) -> None:
    adapter = DiscordAdapter(core, Config(discord_token="x"))
    assert adapter.name == "discord" and adapter.notifier.platform == "discord" and adapter.scheduler() is None


async def test_a_refused_token_stops_start_up_with_a_clear_message(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.main import StartupError

    adapter = DiscordAdapter(core, Config(discord_token="not-a-token"))

    async def refuse(token: str) -> None:
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(adapter.client, "login", refuse)
    with pytest.raises(StartupError, match="DISCORD_BOT_TOKEN refused"):
        await adapter.start()
    assert adapter.client.is_closed()

