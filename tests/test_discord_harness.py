"""Proves tests/fakes/discord_harness.py against a small demo tree, using discord.py's real machinery."""

from __future__ import annotations

# isort: off
# The harness must be imported before discord: it silences discord's audioop DeprecationWarning.
from tests.fakes.discord_harness import (
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    DiscordHarness,
    HarnessError,
    UnmockedRouteError,
)

# isort: on
import asyncio
import contextlib
import enum
import io
import socket
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Literal

import discord
import pytest
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.webhook.async_ import async_context

ALICE = 111_111_111_111_111_111
BOB = 222_222_222_222_222_222
ANNOUNCE_CHANNEL = 333_333_333_333_333_333
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]


def _png_1x1() -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


PNG = _png_1x1()


class ResetView(discord.ui.View):
    """Persistent: timeout=None and every item has an explicit custom_id."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Reset account", style=discord.ButtonStyle.danger, custom_id="dojo:reset")
    async def reset(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.edit_message(content=f"Account of {interaction.user.id} reset", view=None)


class TicketView(discord.ui.View):
    """Not persistent: auto-generated custom_ids, bound to the message it was sent with."""

    def __init__(self, seen: dict[str, Any]) -> None:
        super().__init__(timeout=60)
        self.seen = seen

    @discord.ui.select(options=[discord.SelectOption(label=s, value=s) for s in ("BTCUSDT", "ETHUSDT")])
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[Any]) -> None:
        self.seen["picked"] = select.values
        await interaction.response.defer()  # type 6: acknowledge without changing the message

    @discord.ui.button(label="Submit")
    async def submit(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.edit_message(content=f"Submitted {self.seen.get('picked')}", view=None)


class Side(enum.Enum):
    long = "long"
    short = "short"


# Built at import time, i.e. with no running event loop (see test_view_built_without_loop_is_dead).
VIEW_BUILT_AT_IMPORT = ResetView()


@dataclass
class Demo:
    client: discord.Client
    tree: app_commands.CommandTree[Any]
    seen: dict[str, Any] = field(default_factory=dict)


def build_demo() -> Demo:
    client = discord.Client(intents=discord.Intents.default())
    tree = app_commands.CommandTree(client)
    demo = Demo(client, tree)

    @tree.command(name="open", description="Open a paper futures position")
    @app_commands.describe(
        symbol="Market, e.g. BTCUSDT",
        side="Long or short",
        size="Notional in USDT",
        leverage="Leverage (1-125)",
    )
    @app_commands.choices(side=[Choice(name="Long", value="long"), Choice(name="Short", value="short")])
    async def open_(
        interaction: discord.Interaction,
        symbol: str,
        side: Choice[str],
        size: Range[float, 1.0, 100_000.0],
        leverage: Range[int, 1, 125] = 10,
    ) -> None:
        demo.seen["open"] = {"symbol": symbol, "side": side, "size": size, "leverage": leverage}
        embed = discord.Embed(title="Position opened", description=f"{side.name} {symbol} {size}x{leverage}")
        embed.add_field(name="Leverage", value=str(leverage))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @open_.autocomplete("symbol")
    async def symbol_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        demo.seen["autocomplete_namespace"] = dict(interaction.namespace.__dict__)
        return [Choice(name=s, value=s) for s in SYMBOLS if current.upper() in s][:25]

    margin = app_commands.Group(name="margin", description="Manage isolated margin")

    @margin.command(name="add", description="Add margin to an isolated position")
    @app_commands.describe(amount="USDT to move into the position")
    async def margin_add(
        interaction: discord.Interaction, amount: Range[float, 0.01, None], confirm: bool = False
    ) -> None:
        demo.seen["margin_add"] = (amount, confirm)
        await interaction.response.send_message(f"Added {amount} USDT (confirm={confirm})")

    tree.add_command(margin)

    @tree.command(name="chart", description="Render your PnL chart")
    async def chart(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="Rendering done")
        msg = await interaction.followup.send("Your chart", file=discord.File(io.BytesIO(PNG), filename="pnl.png"))
        demo.seen["followup_message"] = msg

    @tree.command(name="alerts", description="Send a test alert by DM")
    async def alerts(interaction: discord.Interaction) -> None:
        try:
            await interaction.user.send("Test alert: BTCUSDT liquidation price reached")
        except discord.Forbidden as exc:
            demo.seen["dm_error"] = exc
            await interaction.response.send_message(f"I can't DM you (code {exc.code})", ephemeral=True)
        else:
            await interaction.response.send_message("Check your DMs", ephemeral=True)

    @tree.command(name="announce", description="Post to the announcements channel")
    async def announce(interaction: discord.Interaction, text: str) -> None:
        channel = interaction.client.get_partial_messageable(ANNOUNCE_CHANNEL)
        try:
            await channel.send(text, embed=discord.Embed(title="Announcement"))
        except discord.Forbidden as exc:
            await interaction.response.send_message(f"failed: {exc.code}", ephemeral=True)
        else:
            await interaction.response.send_message("posted", ephemeral=True)

    @tree.command(name="reset", description="Reset your paper account")
    async def reset(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Reset your paper account?", view=ResetView())

    @tree.command(name="season", description="Admin: start a new season")
    @app_commands.checks.has_permissions(administrator=True)
    async def season(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("New season started")

    @tree.command(name="boom", description="Always fails")
    async def boom(interaction: discord.Interaction) -> None:
        raise ZeroDivisionError("kaboom")

    @tree.command(name="trade", description="Order ticket with a short-lived view")
    async def trade(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Order ticket", view=TicketView(demo.seen), ephemeral=True)

    @tree.command(name="report", description="Deferred; the report is sent by a background task")
    async def report(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)

        async def later() -> None:
            await asyncio.sleep(0.05)  # outlives the command callback
            await interaction.followup.send("Weekly report", ephemeral=True)

        demo.seen["report_task"] = asyncio.create_task(later())

    @tree.command(name="side", description="Three ways to declare a fixed set of values")
    @app_commands.choices(plain=[Choice(name="Long", value="long"), Choice(name="Short", value="short")])
    async def side(
        interaction: discord.Interaction,
        lit: Literal["long", "short"] = "long",
        en: Side = Side.long,
        plain: str = "long",
    ) -> None:
        demo.seen["side"] = (lit, en, plain)
        await interaction.response.send_message("ok")

    @tree.error
    async def on_tree_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, (app_commands.CheckFailure, app_commands.TransformerError)):
            demo.seen["tree_error"] = error
            await interaction.response.send_message(f"rejected: {type(error).__name__}", ephemeral=True)
            return
        demo.seen["unexpected_errors"] = demo.seen.get("unexpected_errors", 0) + 1
        raise error  # unexpected: escapes the invoker task, the harness reports it

    return demo


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", refuse)


@pytest.fixture
async def demo() -> Any:
    d = build_demo()
    d.client.add_view(ResetView())  # inside the running loop, like a setup_hook would
    async with DiscordHarness.attach(d.client, d.tree) as h:
        yield h, d


async def test_slash_payload_shape_follows_registered_parameter_types(demo: Any) -> None:
    h, _ = demo
    payload = h.slash(
        "open",
        {"symbol": "BTCUSDT", "side": "long", "size": 250, "leverage": 20},
        user_id=ALICE,
        guild_id=DEFAULT_GUILD_ID,
    )
    assert payload["type"] == 2
    assert payload["data"]["name"] == "open" and payload["data"]["type"] == 1 and payload["data"]["id"]
    types = {o["name"]: (o["type"], o["value"]) for o in payload["data"]["options"]}
    assert types == {"symbol": (3, "BTCUSDT"), "side": (3, "long"), "size": (10, 250), "leverage": (4, 20)}
    assert payload["member"]["user"]["username"] == "alice"

    nested = h.slash(["margin", "add"], {"amount": 5, "confirm": True}, user_id=ALICE)
    assert nested["data"]["name"] == "margin"
    (sub,) = nested["data"]["options"]
    assert (sub["type"], sub["name"]) == (1, "add")
    assert sub["options"] == [
        {"name": "amount", "type": 10, "value": 5},
        {"name": "confirm", "type": 5, "value": True},
    ]
    assert "user" in nested and "member" not in nested  # no guild_id -> bot DM context

    with pytest.raises(ValueError, match="no option 'amout'"):
        h.slash("margin add", {"amout": 1}, user_id=ALICE)


async def test_ephemeral_embed_reply_with_range_and_choices(demo: Any) -> None:
    h, d = demo
    responses = await h.run_command(
        h.slash(
            "open",
            {"symbol": "ETHUSDT", "side": "short", "size": 250, "leverage": 20},
            user_id=ALICE,
            guild_id=DEFAULT_GUILD_ID,
        )
    )
    assert [r.type for r in responses] == [4]
    r = h.last
    assert r.ephemeral and r.kind == "callback"
    assert r.embed is not None and r.embed["title"] == "Position opened"
    assert "Short ETHUSDT 250.0x20" in r.text
    seen = d.seen["open"]
    assert seen["side"] == Choice(name="Short", value="short")
    assert isinstance(seen["size"], float) and seen["size"] == 250.0  # type 10 -> float()
    assert seen["leverage"] == 20
    interaction = h.last_interaction
    assert interaction is not None and isinstance(interaction.user, discord.Member)
    assert interaction.guild_id == DEFAULT_GUILD_ID and interaction.channel_id == DEFAULT_CHANNEL_ID
    assert not interaction.command_failed


async def test_group_subcommand_in_dm(demo: Any) -> None:
    h, d = demo
    await h.run_command(h.slash("margin add", {"amount": 12.5}, user_id=BOB, username="bob"))
    assert d.seen["margin_add"] == (12.5, False)
    assert h.last.content == "Added 12.5 USDT (confirm=False)" and not h.last.ephemeral
    interaction = h.last_interaction
    assert isinstance(interaction.user, discord.User) and interaction.user.name == "bob"
    assert isinstance(interaction.channel, discord.DMChannel)


async def test_autocomplete(demo: Any) -> None:
    h, d = demo
    payload = h.autocomplete("open", {"side": "long", "symbol": "us"}, focused="symbol", user_id=ALICE)
    assert payload["type"] == 4
    choices = await h.autocomplete(payload)
    assert [c["value"] for c in choices] == SYMBOLS
    assert h.last.type == 8
    assert await h.complete(h.autocomplete("open", {"symbol": "eth"}, focused="symbol", user_id=ALICE)) == [
        {"name": "ETHUSDT", "value": "ETHUSDT"}
    ]
    assert d.seen["autocomplete_namespace"] == {"symbol": "eth"}


async def test_deferred_reply_edit_and_followup_with_file(demo: Any) -> None:
    h, d = demo
    responses = await h.run_command(h.slash("chart", user_id=ALICE, guild_id=DEFAULT_GUILD_ID))
    assert [(r.kind, r.type) for r in responses] == [
        ("callback", 5),
        ("edit_original", None),
        ("followup", None),
    ]
    deferred, edit, followup = responses
    assert not deferred.ephemeral and deferred.content is None
    assert edit.content == "Rendering done" and edit.message_id == deferred.message_id
    assert followup.content == "Your chart"
    assert followup.files == [("pnl.png", PNG)]
    assert h.original_message(deferred.interaction_id)["content"] == "Rendering done"
    msg = d.seen["followup_message"]  # WebhookMessage built from the recorder's reply
    assert isinstance(msg, discord.WebhookMessage) and msg.attachments[0].filename == "pnl.png"
    assert msg.attachments[0].size == len(PNG)


async def test_persistent_button_pressed_without_a_known_message(demo: Any) -> None:
    h, _ = demo
    responses = await h.press(h.button("dojo:reset", user_id=BOB, guild_id=DEFAULT_GUILD_ID))
    assert [r.type for r in responses] == [7]
    assert h.last.content == f"Account of {BOB} reset" and h.last.components == []


async def test_button_on_a_message_the_bot_sent(demo: Any) -> None:
    h, _ = demo
    (sent,) = await h.run_command(h.slash("reset", user_id=ALICE, guild_id=DEFAULT_GUILD_ID))
    assert sent.custom_ids == ["dojo:reset"]
    await h.press(h.button("dojo:reset", user_id=ALICE, guild_id=DEFAULT_GUILD_ID, message_id=sent.message_id))
    assert h.last.type == 7 and h.last.message_id == sent.message_id
    assert h.messages[sent.message_id]["content"] == f"Account of {ALICE} reset"
    assert h.messages[sent.message_id]["components"] == []


async def test_unknown_custom_id_is_silently_ignored(demo: Any) -> None:
    h, _ = demo
    assert await h.press(h.button("dojo:nope", user_id=ALICE)) == []


async def test_view_built_without_loop_is_dead() -> None:
    """discord.py gotcha: a View constructed outside a running loop never dispatches its buttons."""
    d = build_demo()
    d.client.add_view(VIEW_BUILT_AT_IMPORT)
    async with DiscordHarness.attach(d.client, d.tree) as h:
        assert await h.press(h.button("dojo:reset", user_id=ALICE)) == []


async def test_dm_success_and_closed_dms(demo: Any) -> None:
    h, d = demo
    await h.run_command(h.slash("alerts", user_id=ALICE, guild_id=DEFAULT_GUILD_ID))
    assert h.last.content == "Check your DMs"
    (dm,) = h.dms
    assert dm.user_id == ALICE and dm.channel_id == h.dm_channel_id(ALICE)
    assert dm.content.startswith("Test alert")

    h.fail_dm(BOB)
    await h.run_command(h.slash("alerts", user_id=BOB, guild_id=DEFAULT_GUILD_ID))
    assert h.last.content == "I can't DM you (code 50007)" and h.last.ephemeral
    err = d.seen["dm_error"]
    assert isinstance(err, discord.Forbidden) and (err.status, err.code) == (403, 50007)
    assert err.text == "Cannot send messages to this user"
    assert len(h.dms) == 1 and h.failed_sends[0].user_id == BOB


async def test_channel_send_and_failure(demo: Any) -> None:
    h, _ = demo
    await h.run_command(h.slash("announce", {"text": "Season 2 starts"}, user_id=ALICE, guild_id=DEFAULT_GUILD_ID))
    (msg,) = h.channel_messages
    assert (msg.channel_id, msg.content, msg.embed["title"]) == (
        ANNOUNCE_CHANNEL,
        "Season 2 starts",
        "Announcement",
    )
    h.fail_channel(ANNOUNCE_CHANNEL)
    await h.run_command(h.slash("announce", {"text": "again"}, user_id=ALICE, guild_id=DEFAULT_GUILD_ID))
    assert h.last.content == "failed: 50013" and len(h.channel_messages) == 1


async def test_forged_out_of_range_values_reach_the_callback(demo: Any) -> None:
    """discord.py 2.7 does NOT enforce Range min/max (nor int-ness) locally: only Discord's client does."""
    h, d = demo
    await h.run_command(
        h.slash(
            "open",
            {"symbol": "BTCUSDT", "side": "long", "size": -5, "leverage": 500},
            user_id=ALICE,
            guild_id=DEFAULT_GUILD_ID,
        )
    )
    assert h.last.type == 4
    assert d.seen["open"]["size"] == -5.0 and d.seen["open"]["leverage"] == 500
    await h.run_command(
        h.slash(
            "open",
            {"symbol": "BTCUSDT", "side": "long", "size": 10, "leverage": 2.5},
            user_id=ALICE,
            guild_id=DEFAULT_GUILD_ID,
        )
    )
    assert d.seen["open"]["leverage"] == 2.5  # a float in an integer option passes through untouched
    await h.run_command(h.slash("margin add", {"amount": 0}, user_id=ALICE))
    assert d.seen["margin_add"] == (0.0, False)


async def test_forged_choice_is_rejected_by_choice_annotation(demo: Any) -> None:
    h, d = demo
    d.seen.pop("open", None)
    await h.run_command(
        h.slash(
            "open",
            {"symbol": "BTCUSDT", "side": "sideways", "size": 10},
            user_id=ALICE,
            guild_id=DEFAULT_GUILD_ID,
        )
    )
    assert "open" not in d.seen
    assert h.last.content == "rejected: TransformerError"
    assert h.last_interaction.command_failed


async def test_admin_check_uses_member_permissions(demo: Any) -> None:
    h, _ = demo
    await h.run_command(h.slash("season", user_id=BOB, guild_id=DEFAULT_GUILD_ID))
    assert h.last.content == "rejected: MissingPermissions"
    await h.run_command(h.slash("season", user_id=ALICE, guild_id=DEFAULT_GUILD_ID, permissions="8"))
    assert h.last.content == "New season started"


async def test_unhandled_errors_are_surfaced(demo: Any) -> None:
    h, d = demo
    with pytest.raises(HarnessError, match="ZeroDivisionError: kaboom") as info:
        await h.run_command(h.slash("boom", user_id=ALICE))
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert await h.run_command(h.slash("boom", user_id=ALICE), strict=False) == []
    assert isinstance(h.errors[-1], app_commands.CommandInvokeError)
    # gotcha: an on_error that re-raises an AppCommandError is called twice per failure (once inside
    # CommandTree._call, once more by the _from_interaction wrapper).
    assert d.seen["unexpected_errors"] == 4


async def test_non_persistent_view_is_routed_by_message_id(demo: Any) -> None:
    h, d = demo
    (ticket,) = await h.run_command(h.slash("trade", user_id=ALICE, guild_id=DEFAULT_GUILD_ID))
    assert ticket.ephemeral and ticket.components[0]["components"][0]["type"] == 3
    select_id, submit_id = ticket.custom_ids
    assert await h.press(h.select(select_id, ["ETHUSDT"], user_id=ALICE)) == []  # unknown message: ignored
    (ack,) = await h.press(
        h.select(select_id, ["ETHUSDT"], user_id=ALICE, guild_id=DEFAULT_GUILD_ID, message_id=ticket.message_id)
    )
    assert ack.type == 6 and d.seen["picked"] == ["ETHUSDT"]
    await h.press(h.button(submit_id, user_id=ALICE, guild_id=DEFAULT_GUILD_ID, message_id=ticket.message_id))
    assert (h.last.type, h.last.content, h.last.ephemeral) == (7, "Submitted ['ETHUSDT']", True)


async def test_settle_waits_for_background_followups(demo: Any) -> None:
    h, _ = demo
    responses = await h.run_command(h.slash("report", user_id=ALICE))
    assert [(r.type, r.ephemeral) for r in responses] == [(5, True)]
    await h.settle()
    assert (h.last.kind, h.last.content, h.last.ephemeral) == ("followup", "Weekly report", True)


async def test_which_fixed_value_declarations_reject_forged_values(demo: Any) -> None:
    h, d = demo
    await h.run_command(h.slash("side", {"lit": "sideways", "plain": "sideways"}, user_id=ALICE))
    assert d.seen["side"] == ("sideways", Side.long, "sideways")  # Literal and choices= on str: NOT checked
    await h.run_command(h.slash("side", {"en": "sideways"}, user_id=ALICE))
    assert h.last.content == "rejected: TransformerError"  # Enum (like Choice[str]) is checked


async def test_expired_interaction_token(demo: Any) -> None:
    h, _ = demo
    h.fail_next_interaction_response()
    await h.run_command(h.slash("margin add", {"amount": 1}, user_id=ALICE), strict=False)
    error = h.errors[-1].original
    assert isinstance(error, discord.NotFound) and error.code == 10062
    assert h.responses == []


async def test_unknown_rest_route_is_refused(demo: Any) -> None:
    h, _ = demo
    with pytest.raises(UnmockedRouteError, match=r"GET /guilds/\{guild_id\}"):
        await h.client.fetch_guild(DEFAULT_GUILD_ID)

    @h.tree.command(name="guildinfo", description="Swallows every error")
    async def guildinfo(interaction: discord.Interaction) -> None:
        with contextlib.suppress(Exception):
            await interaction.client.fetch_guild(DEFAULT_GUILD_ID)
        await interaction.response.send_message("n/a")

    with pytest.raises(HarnessError, match="UnmockedRouteError"):  # strict mode still notices
        await h.run_command(h.slash("guildinfo", user_id=ALICE))
    assert h.last.content == "n/a" and len(h.unmocked_routes) == 2


async def test_attach_to_client_subclass_with_setup_hook() -> None:
    class DojoClient(discord.Client):
        def __init__(self) -> None:
            super().__init__(intents=discord.Intents.default(), application_id=42)
            self.tree = app_commands.CommandTree(self)

        async def setup_hook(self) -> None:
            self.add_view(ResetView())
            await self.tree.sync()

    client = DojoClient()

    @client.tree.command(name="ping", description="Ping")
    async def ping(interaction: discord.Interaction, times: Range[int, 1, 3] = 1) -> None:
        await interaction.response.send_message("pong " * times)

    async with DiscordHarness.attach(client, client.tree, run_setup_hook=True) as h:
        synced = h.synced_commands[None]
        assert synced[0]["name"] == "ping"
        assert (synced[0]["options"][0]["min_value"], synced[0]["options"][0]["max_value"]) == (1, 3)
        payload = h.slash("ping", {"times": 2}, user_id=ALICE)
        assert payload["application_id"] == "42"
        await h.run_command(payload)
        assert h.last.content == "pong pong "
        await h.press(h.button("dojo:reset", user_id=ALICE))
        assert h.last.type == 7
    assert "request" not in vars(client.http)  # REST interception removed
    assert not isinstance(async_context.get(), type(h._adapter))  # webhook adapter restored
    with pytest.raises(ValueError, match="not the CommandTree"):
        DiscordHarness.attach(client, app_commands.CommandTree(discord.Client(intents=discord.Intents.default())))
