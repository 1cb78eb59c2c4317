"""The teaching commands end to end through their own command table (the way bot.dispatch runs a feature):
parse → handler → renderer, with transcript data carrying the engine's numbers."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.commands import parse
from bot.features import teaching as feature
from bot.replies import Reply
from core.clock import VirtualClock
from core.domain.instruments import load_catalog
from core.domain.lessons import LESSONS
from core.domain.money import plain
from core.domain.positions import evaluate
from core.domain.whatif import as_mode, outcome_at
from core.errors import Refused
from core.market.feed import ManualFeed
from core.results import Actor
from core.services import trading
from core.services.accounts import portfolio
from core.services.core import Core, Settings
from core.storage.db import Database

D = Decimal
CATALOG = load_catalog()
RATE = CATALOG.fees.liquidation_clearance
ALICE = Actor("console", "alice", "alice", chat_id="private:alice")


async def run(core: Core, actor: Actor, text: str) -> Reply:
    """What bot.dispatch.handle does, with this feature's own table."""
    try:
        parsed = parse(text, commands=feature.COMMANDS)
        result = await feature.HANDLERS[parsed.name](core, actor, parsed)
    except Refused as exc:
        return Reply("error", str(exc), {"code": exc.code, "message": exc.message, "example": exc.example})
    reply = feature.RENDERERS[type(result)](result)
    json.dumps(reply.data)  # the console transcript must be able to print it
    return reply


@pytest.fixture
async def core(tmp_path):  # type: ignore[no-untyped-def]
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    c = Core(db=db, catalog=CATALOG, feed=ManualFeed({"BTC": D(60000), "ETH": D(3000), "SOL": D(150)}),
             clock=VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)),
             settings=Settings(admins=frozenset({"console:admin"})))
    yield c
    await db.close()


async def _book(core: Core) -> None:
    await trading.open_position(core, ALICE, "BTC", 1, trading.Amount(D(1000), False), 10, "isolated")
    await trading.open_position(core, ALICE, "ETH", 1, trading.Amount(D(200), False), 5, "isolated")


async def test_whatif_data_carries_the_engines_numbers_and_changes_nothing(core: Core) -> None:
    await _book(core)
    before = (await portfolio(core, ALICE)).account
    reply = await run(core, ALICE, "/whatif -20%")
    assert reply.type == "whatif"
    positions = [v.position for v in before.positions]
    wallet, marks = before.wallet_balance, {"BTC": D(60000), "ETH": D(3000)}
    iso = evaluate(wallet, as_mode(positions, "isolated"), marks, CATALOG)
    cross = evaluate(wallet, as_mode(positions, "cross"), marks, CATALOG)
    for data, iv, cv in zip(reply.data["positions"], iso.positions, cross.positions, strict=True):
        assert data["isolated"]["liquidation_price"] == plain(iv.liquidation_price)
        assert data["cross"]["liquidation_price"] == plain(cv.liquidation_price)
    assert reply.data["cross"]["margin_ratio"] == plain(cross.margin_ratio)
    [shock] = reply.data["shocks"]
    moved = {s: p * D("0.8") for s, p in marks.items()}
    for mode in ("isolated", "cross"):
        expected = outcome_at(wallet, as_mode(positions, mode), moved, CATALOG, RATE, mode)  # type: ignore[arg-type]
        assert shock[mode]["lost"] == plain(expected.lost)
        assert shock[mode]["liquidated"] == list(expected.liquidated)
    assert shock["isolated"]["liquidated"] == ["BTC", "ETH"]
    assert (await portfolio(core, ALICE)).account == before


async def test_whatif_defaults_to_four_shocks_and_compare_to_none(core: Core) -> None:
    await _book(core)
    whatif = await run(core, ALICE, "/whatif")
    assert [s["label"] for s in whatif.data["shocks"]] == ["-5 %", "-10 %", "-20 %", "-30 %"]
    compare = await run(core, ALICE, "/compare")
    assert compare.type == "compare" and compare.data["shocks"] == []
    assert compare.data["verdict"].startswith("BTC")


async def test_inline_positions_a_price_and_a_crash_shape(core: Core) -> None:
    inline = await run(core, ALICE, "/whatif long BTC 1000 10x, short ETH 500 5x")
    assert inline.data["source"] == "inline"
    assert [p["symbol"] for p in inline.data["positions"]] == ["BTC", "ETH"]
    assert inline.data["positions"][1]["side"] == "short"
    priced = await run(core, ALICE, "/whatif long BTC 1000 10x BTC 50000")
    assert priced.data["shocks"][0]["marks"]["BTC"] == "50000"
    crash = await run(core, ALICE, "/whatif long BTC 1000 10x crash wick30")
    assert crash.data["shocks"][0]["isolated"]["liquidated"] == ["BTC"]
    big = await run(core, ALICE, "/whatif long BTC 9000 10x, long ETH 5000 5x")
    assert big.data["code"] == "whatif_too_big"
    ok = await run(core, ALICE, "/whatif long BTC 9000 10x, long ETH 5000 5x wallet=20000")
    assert ok.data["wallet"] == "20000"


async def test_whatif_moves_one_symbol_by_a_percentage(core: Core) -> None:
    await _book(core)
    reply = await run(core, ALICE, "/whatif BTC -10%")
    [shock] = reply.data["shocks"]
    assert shock["label"] == "BTC -10 %"
    assert shock["marks"] == {"BTC": "54000", "ETH": "3000"}  # only BTC moved
    assert shock["isolated"]["liquidated"] == ["BTC"] and shock["cross"]["liquidated"] == []
    assert shock["isolated"]["lost"] == shock["cross"]["lost"]  # BTC's margin, lost either way…
    assert "cross still holds BTC" in shock["verdict"]  # …but only cross can still win it back
    refused = await run(core, ALICE, "/whatif SOL -10%")
    assert refused.data["code"] == "no_position"


async def test_learn_pages_have_a_next_button_and_end_with_a_quiz(core: Core) -> None:
    index = await run(core, ALICE, "/learn")
    assert [t["topic"] for t in index.data["topics"]] == [x.topic for x in LESSONS]
    page = await run(core, ALICE, "/learn isolated")
    assert page.buttons[0].label == "Next ▶" and page.buttons[0].command == "/learn isolated 2"
    last = await run(core, ALICE, f"/learn isolated {page.data['pages']}")
    assert last.buttons[0].command == "/quiz isolated"
    assert "In numbers" in last.text  # the worked example, computed by the engine
    assert (await run(core, ALICE, "/learn isolated 99")).data["code"] == "bad_page"


async def test_advise_asks_five_questions_one_at_a_time_then_recommends(core: Core) -> None:
    reply = await run(core, ALICE, "/advise")
    steps = 0
    while reply.type == "advise":
        steps += 1
        assert reply.buttons and all(b.command and b.command.startswith("/advise") for b in reply.buttons)
        assert reply.buttons[0].command is not None
        reply = await run(core, ALICE, reply.buttons[0].command)
    assert steps == 5
    assert reply.type == "advice" and reply.data["mode"] == "isolated" and reply.data["reasons"]
    inline = await run(core, ALICE, "/advise experienced one yes active all")
    assert inline.data["mode"] == "cross"


async def test_quiz_answer_and_stats_through_the_commands(core: Core) -> None:
    asked = await run(core, ALICE, "/quiz")
    assert asked.type == "quiz"
    assert set(asked.data) == {"ask_id", "question_id", "topic", "question", "options", "correct", "explanation"}
    assert all(f"{i}) " in asked.text for i in range(1, 5))
    answered = await run(core, ALICE, f"/answer {asked.data['correct'] + 1}")
    assert answered.type == "quiz_answer" and answered.data["correct"] is True
    again = await run(core, ALICE, f"/answer 1 {asked.data['ask_id']}")
    assert again.data["code"] == "already_answered"
    stats = await run(core, ALICE, "/quiz stats")
    assert stats.data["answered"] == 1
    group = Actor("console", "alice", "alice", chat_id="group:g", chat_kind="group")
    refused = await run(core, group, "/quiz round")
    assert refused.data["code"] == "not_group_admin"
    admin = Actor("console", "admin", "admin", chat_id="group:g", chat_kind="group")
    round_reply = await run(core, admin, "/quiz round")
    assert round_reply.type == "quiz" and round_reply.data["round"] is True
    board = await run(core, group, "/quiz board")
    assert board.type == "quiz_board"


async def test_chart_replies_carry_a_png_and_the_numbers(core: Core) -> None:
    await _book(core)
    reply = await run(core, ALICE, "/chart BTC")
    assert reply.type == "chart" and reply.photo is not None and reply.photo.startswith(b"\x89PNG")
    assert reply.data["isolated_liquidation_price"] is not None and reply.data["points"]
    account = await run(core, ALICE, "/chart account")
    assert account.photo is not None and account.data["points"][0]["kind"] == "reset"


async def test_drill_commands(core: Core) -> None:
    listing = await run(core, ALICE, "/drill")
    assert {d["name"] for d in listing.data["drills"]} >= {"crash50", "article-isolated", "article-cross"}
    story = await run(core, ALICE, "/drill article-isolated")
    assert [e["symbols"] for e in story.data["isolated"]["events"]] == [["BTC"]]
    assert (await run(core, ALICE, "/drill wick30")).data["code"] == "no_position"


BAD_INPUTS = [
    "/learn a b c", "/learn isolated x", "/advise maybe", "/advise exp=new exp=some", "/whatif -", "/whatif %",
    "/whatif abc%", "/whatif -150%", "/whatif BTC", "/whatif BTC -5", "/whatif crash", "/whatif long",
    "/whatif long BTC", "/whatif long BTC 100", "/whatif long BTC 100 500x", "/whatif long XYZ 100 10x",
    "/whatif long BTC 100 10x, long BTC 5 5x", "/whatif long BTC 0.00001 10x", "/whatif -10% -20%", "/compare -10%",
    "/drill a b", "/quiz a b", "/quiz round x y", "/answer", "/answer 5", "/answer 1 x", "/answer 1 99999",
    "/chart", "/chart long BTC 100", "/chart BTC ETH", "/chart XYZ", "/whatif wallet=abc long BTC 100 10x",
    "/whatif long BTC 1e9999 10x", "/whatif NaN%", "/learn isolated ²", "/answer 1 ²",
]


@pytest.mark.parametrize("text", BAD_INPUTS)
async def test_bad_input_gets_one_clear_refusal_with_an_example(core: Core, text: str) -> None:
    reply = await run(core, ALICE, text)
    assert reply.type == "error", reply.text
    assert reply.data["code"] and reply.data["example"].startswith("/")


async def test_console_transcript_carries_whatif_numbers(core: Core) -> None:
    from bot.console.app import run_json

    await _book(core)
    out = io.StringIO()
    assert isinstance(core.clock, VirtualClock)
    await run_json(core, core.clock, io.StringIO("!as alice\n/whatif -20%\n"), out)
    line = json.loads(out.getvalue().splitlines()[-1])
    assert line["type"] == "whatif" and line["data"]["shocks"][0]["isolated"]["liquidated"] == ["BTC", "ETH"]
