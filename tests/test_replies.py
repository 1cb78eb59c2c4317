"""What a user reads and can rely on: reply wording, contradictions refused, fair boards, marks kept."""

from __future__ import annotations

import io
import json
from decimal import Decimal as D

from bot.console.app import run_json
from bot.dispatch import handle
from core.results import Actor
from core.services import market
from core.storage import marks as marks_store
from core.text import price
from tests.conftest import table_snapshot


async def test_closing_a_short_says_the_short_was_closed_by_buying(core, actor) -> None:
    alice = actor("alice")
    await handle(core, alice, "/short ETH 500 5x")
    reply = await handle(core, alice, "/close ETH")
    assert reply.text.startswith("Closed your short ETH: bought")
    reduced = await handle(core, alice, "/long BTC 1000 10x")
    assert reduced.text.startswith("Opened a long BTC: bought")
    assert (await handle(core, alice, "/close BTC 50%")).text.startswith("Reduced your long BTC: sold")


async def test_contradicting_options_are_refused_and_change_nothing(core, actor) -> None:
    alice = actor("alice")
    await handle(core, alice, "/start")
    before = await table_snapshot(core)
    for line in ("/long ETH 100 10x isolated cross", "/long BTC 100 10x @59000 @58000", "/long BTC 100 sl=1 sl=2"):
        reply = await handle(core, alice, line)
        assert reply.type == "error" and reply.data["code"] == "duplicate_option", line
    assert await table_snapshot(core) == before


async def test_close_all_with_nothing_open_is_refused_without_asking(core, actor) -> None:
    reply = await handle(core, actor("alice"), "/close all")
    assert reply.type == "error" and reply.data["code"] == "no_position"


async def test_the_leaderboard_counts_open_profit_and_loss(core, actor, admin) -> None:
    group = {"chat_id": "group:dojo", "chat_kind": "group"}
    ann = Actor("console", "ann", "ann", **group)
    ben = Actor("console", "ben", "ben", **group)
    await handle(core, ann, "/long BTC 1000 10x")
    await handle(core, ben, "/short BTC 1000 10x")
    await market.set_prices(core, None, {"BTC": D(63000)})
    board = await handle(core, ann, "/leaderboard")
    names = [row["name"] for row in board.data["rows"]]
    assert names == ["ann", "ben"]
    assert D(board.data["rows"][0]["return_pct"]) > 0 > D(board.data["rows"][1]["return_pct"])


async def test_a_replays_last_marks_survive_a_restart(core, tmp_path) -> None:
    candles = tmp_path / "BTCUSDT_test_1h.csv"
    candles.write_text("timestamp_ms,open,high,low,close\n1700000000000,60000,60100,59000,59500\n"
                       "1700003600000,59500,59600,51000,51000\n")
    out = io.StringIO()
    await run_json(core, core.clock, io.StringIO(f"!replay {candles}\n"), out)
    async with core.db.transaction() as tx:
        assert (await marks_store.load_marks(tx))["BTC"] == D(51000)


async def test_a_danger_alert_appears_in_the_transcript_as_a_margin_warning_of_level_danger(core) -> None:
    out = io.StringIO()
    # 0.75 BTC at 60,000 on 977.50 of cross balance: at 58,950 the margin ratio is 176.85 / 190 = 93 %
    lines = "!as alice\n/reset 1000 confirm\n/mode BTC cross\n/long BTC 900 50x\n!price BTC 58950\n"
    await run_json(core, core.clock, io.StringIO(lines), out)
    pushes = [json.loads(line) for line in out.getvalue().splitlines() if '"push"' in line]
    assert pushes and all(p["type"] in {"margin_warning", "liquidation"} for p in pushes)
    assert any(p["data"].get("level") == "danger" for p in pushes if p["type"] == "margin_warning")


async def test_a_cross_liquidation_notice_lists_every_closed_position(core, actor) -> None:
    out = io.StringIO()
    lines = ("!as carol\n/reset 1000 confirm\n/mode cross\n/long BTC 400 20x\n/long ETH 400 20x\n"
             "/long SOL 100 5x isolated\n!price BTC 55000 ETH 2750\n")
    await run_json(core, core.clock, io.StringIO(lines), out)
    [notice] = [json.loads(line) for line in out.getvalue().splitlines() if '"liquidation"' in line]
    assert notice["data"]["mode"] == "cross"
    assert [p["symbol"] for p in notice["data"]["positions"]] == ["BTC", "ETH"]  # SOL is isolated: untouched
    assert "BTC" in notice["text"] and "ETH" in notice["text"] and "In isolated:" in notice["text"]


async def test_an_isolated_liquidation_notice_names_only_its_position_and_what_cross_would_have_done(core) -> None:
    out = io.StringIO()
    lines = "!as dan\n/long BTC 1000 10x\n/long ETH 500 5x\n!price BTC 54000\n"
    await run_json(core, core.clock, io.StringIO(lines), out)
    [notice] = [json.loads(line) for line in out.getvalue().splitlines() if '"liquidation"' in line]
    assert [p["symbol"] for p in notice["data"]["positions"]] == ["BTC"]
    assert "ETH" not in notice["text"].split("In cross:")[0]
    assert notice["data"]["other_mode"]["mode"] == "cross" and "In cross:" in notice["text"]


async def test_the_console_takes_a_quiz_answer_as_a_bare_number(core) -> None:
    out = io.StringIO()
    await run_json(core, core.clock, io.StringIO("!as quinn\n/quiz\n2\n"), out)
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["type"] for r in replies] == ["quiz", "quiz_answer"]
    assert replies[1]["data"]["ask_id"] == replies[0]["data"]["ask_id"]


def test_the_interactive_console_keeps_a_chart_as_a_png_file(tmp_path) -> None:
    from bot.console.app import save_picture

    path = save_picture(b"\x89PNG\r\n\x1a\nfake", tmp_path / "charts")
    assert path.parent == tmp_path / "charts" and path.suffix == ".png"
    assert path.read_bytes().startswith(b"\x89PNG")


def test_prices_read_as_exchanges_show_them() -> None:
    shown = [price(D(v)) for v in ("60000", "2.2", "8.70553923", "0.18117765", "0.00001234")]
    assert shown == ["60,000.00", "2.2000", "8.7055", "0.18118", "0.00001234"]  # never 8 decimals for DOGE
