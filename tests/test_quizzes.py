"""Quizzes: numeric answers recomputed here with Binance's formulas, scoring, refusals, spaced repetition, rounds."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.clock import VirtualClock
from core.domain.instruments import load_catalog
from core.domain.lessons import TOPICS
from core.domain.quiz_numeric import GENERATORS, TOPIC_OF, NumericQuestion, generate
from core.errors import Refused
from core.market.feed import ManualFeed
from core.results import Actor
from core.services import quizzes
from core.services.core import Core, Settings
from core.storage import chats
from core.storage.db import Database

D = Decimal
CATALOG = load_catalog()
CLEARANCE = D("0.005")
CENT = D("0.01")
ALICE = Actor("console", "alice", "alice", chat_id="private:alice")
BOB = Actor("console", "bob", "bob", chat_id="private:bob")


# --- independent formulas (Binance USDⓈ-M), written here on purpose ------------------------------------


def binance_lp(balance: Decimal, side: int, qty: Decimal, entry: Decimal, mmr: Decimal, cum: Decimal) -> Decimal:
    """LP = (balance + cum − s·q·EP) / (q·mmr − s·q); balance is PM (isolated) or CWB − TMM₁ + UPNL₁ (cross)."""
    return (balance + cum - side * qty * entry) / (qty * mmr - side * qty)


def mm_of(symbol: str, notional: Decimal) -> Decimal:
    """Maintenance margin N·mmr − cum, with the bracket floor ≤ N < cap read from the instrument table."""
    for floor, cap, mmr, cum in ((b.floor, b.cap, b.mmr, b.cum) for b in CATALOG.instruments[symbol].brackets):
        if floor <= notional < cap:
            return notional * mmr - cum
    raise AssertionError("no bracket")


def cross_jump_loss(wallet: Decimal, legs: list[tuple[str, int, Decimal, Decimal, Decimal]]) -> Decimal:
    """Wallet loss when every leg (symbol, side, qty, entry, new mark) of a cross book jumps at once."""
    pnl = sum((s * q * (mark - entry) for _, s, q, entry, mark in legs), D(0))
    mm = sum((mm_of(sym, q * mark) for sym, _, q, _, mark in legs), D(0))
    if wallet + pnl > mm:
        return -pnl
    after = wallet + pnl.quantize(D("0.00000001"))
    fee = min(sum((q * mark for _, _, q, _, mark in legs), D(0)) * CLEARANCE, max(D(0), after))
    shortfall = max(D(0), fee - after)
    return wallet - (after - fee + shortfall)


def independent_answer(n: NumericQuestion) -> Decimal | tuple[Decimal, Decimal]:
    p = {k: D(v) if re.fullmatch(r"-?[0-9.E+]+", v) else v for k, v in n.params.items()}
    if n.kind == "liq-iso":
        return binance_lp(p["margin"], int(p["side"]), p["qty"], p["entry"], p["mmr"], p["cum"])
    if n.kind == "add-margin":
        return binance_lp(p["margin"] + p["added"], int(p["side"]), p["qty"], p["entry"], p["mmr"], p["cum"])
    if n.kind == "liq-cross":
        balance = p["wallet"] - p["other_mm"] + p["other_pnl"]
        return binance_lp(balance, int(p["side"]), p["qty"], p["entry"], p["mmr"], p["cum"])
    if n.kind == "margin-ratio":
        mm = p["qty"] * p["mark"] * p["mmr"] - p["cum"]
        return mm / (p["wallet"] + p["qty"] * (p["mark"] - p["entry"]))
    if n.kind == "maintenance":
        return p["notional"] * p["mmr"] - p["cum"]
    if n.kind == "leftover":
        lp = binance_lp(p["margin"], int(p["side"]), p["qty"], p["entry"], *_bracket(p))
        return p["margin"] + int(p["side"]) * p["qty"] * (lp - p["entry"])
    if n.kind == "loss-modes":
        sym, q, entry, mark, pm = p["symbol"], p["qty"], p["entry"], p["mark"], p["margin"]
        iso = pm if pm + q * (mark - entry) <= mm_of(str(sym), q * mark) else q * (entry - mark)
        return iso, cross_jump_loss(p["wallet"], [(str(sym), 1, q, entry, mark)])
    assert n.kind == "hedge"
    drop = 1 - p["drop"] / 100
    btc = ("BTC", 1, p["btc_qty"], p["btc_entry"], p["btc_entry"] * drop)
    eth = ("ETH", -1, p["eth_qty"], p["eth_entry"], p["eth_entry"] * drop)
    return cross_jump_loss(p["wallet"], [btc]), cross_jump_loss(p["wallet"], [btc, eth])


def _bracket(p: Mapping[str, object]) -> tuple[Decimal, Decimal]:
    """The bracket at the liquidation notional, found by trying each (the engine's rule, re-derived)."""
    for b in CATALOG.instruments[str(p["symbol"])].brackets:
        lp = binance_lp(D(str(p["margin"])), int(str(p["side"])), D(str(p["qty"])), D(str(p["entry"])), b.mmr, b.cum)
        if b.floor <= D(str(p["qty"])) * lp < b.cap:
            return b.mmr, b.cum
    raise AssertionError("no bracket")


def _numbers(option: str) -> list[Decimal]:
    return [D(x.replace(",", "")) for x in re.findall(r"-?[0-9][0-9,]*\.[0-9]+", option)]


SEEDS = range(25)


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_numeric_answers_match_binance_formulas_and_wrong_options_differ(kind: str) -> None:
    for seed in SEEDS:
        n = generate(kind, random.Random(f"{kind}:{seed}"), CATALOG)
        q = n.question
        assert len(q.options) == 4 and len(set(q.options)) == 4
        expected = independent_answer(n)
        shown = _numbers(q.options[q.correct])
        if isinstance(expected, tuple):
            assert [abs(a - b) <= CENT for a, b in zip(shown, expected, strict=True)] == [True, True], (q, expected)
        else:
            scale = D(100) if q.options[q.correct].endswith("%") else D(1)
            assert abs(shown[0] - expected * scale) <= CENT, (q, expected)
        for i, option in enumerate(q.options):
            if i != q.correct:
                assert option != q.options[q.correct]


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_numeric_questions_fit_a_telegram_quiz_poll_and_belong_to_a_lesson(kind: str) -> None:
    for seed in SEEDS:
        q = generate(kind, random.Random(f"fit:{kind}:{seed}"), CATALOG).question
        assert len(q.text) <= 300 and len(q.explanation) <= 200
        assert all(0 < len(o) <= 100 for o in q.options)
        assert q.topic == TOPIC_OF[kind] and q.topic in TOPICS
        assert "E+" not in q.text


def test_liquidation_price_distractors_include_the_bybit_shortcut_and_forgotten_cum() -> None:
    seen_bybit = seen_no_cum = False
    for seed in range(60):
        n = generate("liq-iso", random.Random(f"d:{seed}"), CATALOG)
        p = {k: D(v) for k, v in n.params.items() if k != "symbol"}
        s, ep, lev, mmr = int(p["side"]), p["entry"], p["leverage"], p["mmr"]
        bybit = f"{(ep * (1 - s / lev + s * mmr)).quantize(CENT):,.2f}"
        no_cum = f"{binance_lp(p['margin'], s, p['qty'], ep, mmr, D(0)).quantize(CENT):,.2f}"
        others = [o for i, o in enumerate(n.question.options) if i != n.question.correct]
        seen_bybit |= bybit in others
        seen_no_cum |= p["cum"] > 0 and no_cum in others
    assert seen_bybit and seen_no_cum


# --- the service, on a real database ---------------------------------------------------------------------


@pytest.fixture
async def core(tmp_path):  # type: ignore[no-untyped-def]
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    c = Core(db=db, catalog=CATALOG, feed=ManualFeed({"BTC": D(60000)}),
             clock=VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)), settings=Settings())
    yield c
    await db.close()


async def test_an_answer_scores_once_and_a_second_answer_is_refused(core: Core) -> None:
    asked = await quizzes.next_question(core, ALICE)
    assert len(asked.options) == 4 and 0 <= asked.correct <= 3 and len(asked.explanation) <= 200
    result = await quizzes.answer(core, ALICE, asked.ask_id, asked.correct)
    assert result.correct and result.correct_option == asked.correct
    assert result.score > 0 and result.streak == 1 and result.answered == 1
    with pytest.raises(Refused) as twice:
        await quizzes.answer(core, ALICE, asked.ask_id, asked.correct)
    assert twice.value.code == "already_answered"
    assert (await quizzes.stats(core, ALICE)).answered == 1


async def test_someone_elses_question_is_refused(core: Core) -> None:
    asked = await quizzes.next_question(core, ALICE)
    with pytest.raises(Refused) as other:
        await quizzes.answer(core, BOB, asked.ask_id, 0)
    assert other.value.code == "not_your_question"
    with pytest.raises(Refused) as unknown:
        await quizzes.answer(core, ALICE, 999, 0)
    assert unknown.value.code == "unknown_question"
    with pytest.raises(Refused) as bad:
        await quizzes.answer(core, ALICE, asked.ask_id, 4)
    assert bad.value.code == "bad_option"


async def test_an_answer_after_a_restart_still_scores(core: Core, tmp_path) -> None:  # type: ignore[no-untyped-def]
    asked = await quizzes.next_question(core, ALICE)
    await core.db.close()
    await core.db.open()
    result = await quizzes.answer(core, ALICE, asked.ask_id, (asked.correct + 1) % 4)
    assert not result.correct and result.streak == 0 and result.score == 0


async def test_a_wrong_answer_resets_the_streak(core: Core) -> None:
    for _ in range(2):
        asked = await quizzes.next_question(core, ALICE)
        await quizzes.answer(core, ALICE, asked.ask_id, asked.correct)
    asked = await quizzes.next_question(core, ALICE)
    result = await quizzes.answer(core, ALICE, asked.ask_id, (asked.correct + 1) % 4)
    stats = await quizzes.stats(core, ALICE)
    assert result.streak == 0 and stats.best_streak == 2 and stats.correct == 2 and stats.answered == 3


async def _topics_after(core: Core, actor: Actor, right_first: bool, count: int) -> list[str]:
    first = await quizzes.next_question(core, actor)
    await quizzes.answer(core, actor, first.ask_id, first.correct if right_first else (first.correct + 1) % 4)
    topics = [first.topic]
    for _ in range(count):
        asked = await quizzes.next_question(core, actor)
        topics.append(asked.topic)
        await quizzes.answer(core, actor, asked.ask_id, asked.correct)
    return topics


async def test_a_missed_topic_comes_back_sooner_than_one_answered_right(core: Core) -> None:
    missed = await _topics_after(core, ALICE, right_first=False, count=4)
    known = await _topics_after(core, BOB, right_first=True, count=4)
    assert missed[0] == known[0] == TOPICS[0]
    assert missed[0] in missed[1:3]  # back after one other question
    assert known[0] not in known[1:5]  # a right answer pushes it four questions away


def test_spaced_repetition_steps() -> None:
    row = quizzes.schedule(None, "cross", correct=False, seq=7)
    assert (row.box, row.due_seq) == (0, 8)
    row = quizzes.schedule(row, "cross", correct=True, seq=9)
    assert (row.box, row.due_seq, row.answered, row.correct) == (1, 13, 2, 1)
    assert quizzes.pick_topic({"cross": row}, 13) == "cross"
    assert quizzes.pick_topic({"cross": row}, 12) == TOPICS[0]


async def test_a_topic_can_be_chosen_and_an_unknown_topic_is_refused(core: Core) -> None:
    asked = await quizzes.next_question(core, ALICE, "brackets")
    assert asked.topic == "brackets"
    with pytest.raises(Refused) as bad:
        await quizzes.next_question(core, ALICE, "astrology")
    assert bad.value.code == "unknown_topic"


async def test_open_ask_finds_the_latest_unanswered_question(core: Core) -> None:
    with pytest.raises(Refused) as none:
        await quizzes.open_ask(core, ALICE)
    assert none.value.code == "no_open_question"
    asked = await quizzes.next_question(core, ALICE)
    assert await quizzes.open_ask(core, ALICE) == asked.ask_id


GROUP_ADMIN = Actor("console", "teacher", "teacher", chat_id="group:class", chat_kind="group", chat_admin=True)
PUPIL_A = Actor("console", "ann", "ann", chat_id="group:class", chat_kind="group")
PUPIL_B = Actor("console", "ben", "ben", chat_id="group:class", chat_kind="group")


async def test_group_rounds_need_a_group_and_an_admin(core: Core) -> None:
    with pytest.raises(Refused) as private:
        await quizzes.start_round(core, ALICE, is_group_admin=True)
    assert private.value.code == "not_in_group"
    with pytest.raises(Refused) as pupil:
        await quizzes.start_round(core, PUPIL_A, is_group_admin=False)
    assert pupil.value.code == "not_group_admin"
    async with core.db.transaction() as tx:
        await chats.set_setting(tx, "console", "group:class", "quiz_rounds", "off")
    with pytest.raises(Refused) as off:
        await quizzes.start_round(core, GROUP_ADMIN, is_group_admin=True)
    assert off.value.code == "quiz_rounds_off"


async def test_everyone_in_the_group_answers_a_round_once_and_the_board_ranks_them(core: Core) -> None:
    asked = await quizzes.start_round(core, GROUP_ADMIN, is_group_admin=True)
    assert asked.is_round
    ann = await quizzes.answer(core, PUPIL_A, asked.ask_id, asked.correct)
    ben = await quizzes.answer(core, PUPIL_B, asked.ask_id, (asked.correct + 1) % 4)
    assert ann.correct and not ben.correct
    with pytest.raises(Refused) as twice:
        await quizzes.answer(core, PUPIL_A, asked.ask_id, asked.correct)
    assert twice.value.code == "already_answered"
    board = await quizzes.board(core, PUPIL_A)
    assert board.scope == "group"
    assert [(r.name, r.correct, r.answered) for r in board.rows] == [("ann", 1, 1), ("ben", 0, 1)]
    assert board.rows[0].points > board.rows[1].points == 0
    everyone = await quizzes.board(core, ALICE)
    assert everyone.scope == "platform" and everyone.rows[0].name == "ann"


async def test_answer_n_in_a_group_answers_the_open_round_question(core: Core) -> None:
    asked = await quizzes.start_round(core, GROUP_ADMIN, is_group_admin=True)
    assert await quizzes.open_ask(core, PUPIL_B) == asked.ask_id
    await quizzes.answer(core, PUPIL_B, asked.ask_id, 0)
    with pytest.raises(Refused):
        await quizzes.open_ask(core, PUPIL_B)


async def test_stats_show_progress_per_topic(core: Core) -> None:
    asked = await quizzes.next_question(core, ALICE, "cross")
    await quizzes.answer(core, ALICE, asked.ask_id, asked.correct)
    stats = await quizzes.stats(core, ALICE)
    cross = next(t for t in stats.topics if t.topic == "cross")
    assert (cross.answered, cross.correct, cross.box) == (1, 1, 1)
    assert stats.accuracy == 100
    assert [t.topic for t in stats.topics] == list(TOPICS)


async def test_numeric_questions_join_the_rotation_after_the_first_meeting(core: Core) -> None:
    ids = []
    for _ in range(9):
        asked = await quizzes.next_question(core, ALICE, "isolated")
        ids.append(asked.question_id)
        result = await quizzes.answer(core, ALICE, asked.ask_id, asked.correct)
        assert result.correct
    assert not ids[0].startswith("num-")  # a first meeting opens with an easy conceptual question
    assert {"num-liq-iso", "num-add-margin"} <= set(ids)
    assert len(set(ids)) == len(ids) - 1  # least asked first: only the ninth repeats
