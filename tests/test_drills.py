"""Drills: replays equal a step-by-step walk with the engine's rules; the article's stories end as it says."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.clock import VirtualClock
from core.domain.drills import NAMES, SHAPES, STORIES, replay, run_shape, run_story, story_positions
from core.domain.instruments import load_catalog
from core.domain.money import ZERO
from core.domain.positions import Position, evaluate, isolated_liquidation_due, liquidate_cross, liquidate_isolated
from core.domain.whatif import as_mode
from core.errors import Refused
from core.market.feed import ManualFeed
from core.results import Actor
from core.services import teaching, trading
from core.services.core import Core, Settings
from core.storage.db import Database

D = Decimal
CATALOG = load_catalog()
RATE = CATALOG.fees.liquidation_clearance
ALICE = Actor("console", "alice", "alice", chat_id="private:alice")


def test_article_isolated_story_liquidates_only_btc_and_leaves_the_eth_margin_intact() -> None:
    """Article: 1,000 at 10x on BTC beside 200 at 5x on ETH, isolated; BTC crashes, only the 1,000 is lost."""
    report = run_story(STORIES["article-isolated"], CATALOG, RATE)
    run = report.isolated
    assert [e.symbols for e in run.events] == [("BTC",)]
    assert run.events[0].lost == D(1000)
    assert run.outcome.survivors == ("ETH",)
    assert run.outcome.wallet_after == report.wallet - D(1000)
    eth = next(p for p in report.positions if p.symbol == "ETH")
    assert eth.margin == D(200)
    assert run.outcome.equity_after == report.wallet - D(1000)  # ETH did not move: its 200 are intact


def test_article_cross_story_liquidates_everything_at_once() -> None:
    """Article: 10,000 USDT in cross, several leveraged longs, a market-wide crash takes everything at once."""
    report = run_story(STORIES["article-cross"], CATALOG, RATE)
    run = report.cross
    assert len(run.events) == 1
    assert set(run.events[0].symbols) == {"BTC", "ETH", "SOL", "DOGE"}
    assert run.outcome.survivors == ()
    assert run.outcome.wallet_after >= 0
    assert run.outcome.lost_pct is not None and run.outcome.lost_pct > 95
    # the same positions held isolated fall one by one and keep the free balance
    assert len(report.isolated.events) > 1
    assert report.isolated.outcome.lost < run.outcome.lost


def test_story_positions_are_opened_like_the_engine_opens_them() -> None:
    story = STORIES["article-isolated"]
    positions = story_positions(story, CATALOG)
    assert [(p.symbol, p.qty, p.margin, p.mode) for p in positions] == [
        ("BTC", D("0.2"), D(1000), "isolated"), ("ETH", D("0.4"), D(200), "isolated")]


def _walk(wallet: Decimal, positions: list[Position], start: dict[str, Decimal], name: str,
          mode: str) -> tuple[list[tuple[int, tuple[str, ...], Decimal]], Decimal]:
    """The drill loop written out independently: at each step the sweep's rules, on copies."""
    shape = SHAPES[name]
    book = list(as_mode(positions, mode))  # type: ignore[arg-type]
    events = []
    marks = dict(start)
    for minute, factor in shape.path:
        marks = {s: p * factor for s, p in start.items()}
        view = evaluate(wallet, book, marks, CATALOG)
        outcomes = [liquidate_isolated(v) for v in view.positions if isolated_liquidation_due(v)]
        if view.cross_liquidation_due:
            outcomes.append(liquidate_cross(view, RATE))
        for o in outcomes:
            events.append((minute, tuple(v.position.symbol for v in o.closed), o.lost))
            wallet += o.wallet_change
        gone = {v.position.symbol for o in outcomes for v in o.closed}
        book = [p for p in book if p.symbol not in gone]
    open_pnl = sum((v.unrealized_pnl for v in evaluate(wallet, book, marks, CATALOG).positions), ZERO)
    return events, wallet + open_pnl


BOOK = [
    Position("BTC", 1, D("0.1"), D(60000), 20, "isolated", D(300)),
    Position("ETH", -1, D(2), D(3000), 10, "cross"),
    Position("SOL", 1, D(30), D(150), 25, "cross"),
]
START = {"BTC": D(60000), "ETH": D(3000), "SOL": D(150)}


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("mode", ["isolated", "cross"])
def test_replay_equals_a_step_by_step_walk_with_the_engine(name: str, mode: str) -> None:
    run = replay(D(5000), BOOK, START, SHAPES[name], CATALOG, RATE, mode)  # type: ignore[arg-type]
    events, equity = _walk(D(5000), BOOK, START, name, mode)
    assert [(e.minute, e.symbols, e.lost) for e in run.events] == events
    assert run.outcome.equity_after == equity
    assert run.outcome.lost == D(5000) - equity


def test_every_isolated_liquidation_in_a_drill_costs_exactly_that_positions_margin() -> None:
    run = replay(D(5000), BOOK, START, SHAPES["crash50"], CATALOG, RATE, "isolated")
    margins = {p.symbol: p.margin for p in as_mode(BOOK, "isolated")}
    assert run.events
    for event in run.events:
        assert len(event.symbols) == 1
        assert event.lost == margins[event.symbols[0]]


def test_a_wick_liquidates_a_high_leverage_isolated_long_that_cross_carries_through() -> None:
    book = [Position("BTC", 1, D("0.1"), D(60000), 20, "isolated", D(300))]
    report = run_shape(SHAPES["wick30"], D(5000), book, {"BTC": D(60000)}, CATALOG, RATE)
    assert report.isolated.outcome.liquidated == ("BTC",)
    assert report.cross.outcome.liquidated == ()
    assert report.cross.outcome.lost < report.isolated.outcome.lost
    assert "Cross saves" in report.verdict


def test_drill_names_cover_the_shapes_and_both_stories() -> None:
    assert set(NAMES) == {"crash50", "wick30", "bleed", "squeeze", "article-isolated", "article-cross"}
    assert SHAPES["crash50"].low == D("0.5") and SHAPES["wick30"].low == D("0.7")
    assert SHAPES["squeeze"].high > 1


@pytest.fixture
async def core(tmp_path):  # type: ignore[no-untyped-def]
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    feed = ManualFeed({"BTC": D(60000), "ETH": D(3000)})
    c = Core(db=db, catalog=CATALOG, feed=feed, clock=VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)),
             settings=Settings(admins=frozenset({"console:admin"})))
    yield c
    await db.close()


async def test_a_drill_on_my_positions_replays_copies_and_changes_nothing(core: Core) -> None:
    await trading.open_position(core, ALICE, "BTC", 1, trading.Amount(D(1000), False), 10, "isolated")
    await trading.open_position(core, ALICE, "ETH", 1, trading.Amount(D(500), False), 5, "cross")
    before = await _snapshot(core)
    report = await teaching.drill(core, ALICE, "crash50")
    assert not isinstance(report, teaching.DrillList)
    assert {p.symbol for p in report.positions} == {"BTC", "ETH"}
    assert report.isolated.outcome.liquidated == ("BTC", "ETH")
    assert report.cross.outcome.liquidated == ()  # the 10,000 wallet carries a −50 % day in cross, at a price
    assert report.cross.outcome.lost > report.isolated.outcome.lost
    assert await _snapshot(core) == before


async def _snapshot(core: Core) -> tuple[object, ...]:
    from core.services.accounts import portfolio

    view = (await portfolio(core, ALICE)).account
    return view.wallet_balance, tuple((p.position, p.mark) for p in view.positions)


async def test_a_drill_without_positions_or_with_an_unknown_name_is_refused(core: Core) -> None:
    with pytest.raises(Refused) as no_position:
        await teaching.drill(core, ALICE, "wick30")
    assert no_position.value.code == "no_position"
    with pytest.raises(Refused) as unknown:
        await teaching.drill(core, ALICE, "meteor")
    assert unknown.value.code == "unknown_drill"
    stories = await teaching.drill(core, ALICE, "article-cross")
    assert not isinstance(stories, teaching.DrillList) and stories.story_mode == "cross"


def test_times_into_a_drill_read_as_minutes_hours_or_days() -> None:
    from core.domain.drills import elapsed

    assert [elapsed(m) for m in (45, 200, 8640 + 125)] == ["after 45 min", "after 3h 20m", "after 6d 2h"]
