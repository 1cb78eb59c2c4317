"""Resting orders: limit, stop-loss, take-profit, trailing stop; reservations, cancels, pushes and the ledger."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import TRADING_COMMANDS, parse
from bot.dispatch import error_reply
from bot.features import orders as order_feature
from bot.features import trading as trading_feature
from bot.render import describe as describe_shared
from bot.replies import Reply
from core.clock import VirtualClock
from core.domain.instruments import load_catalog
from core.domain.money import money
from core.domain.orders import Order, OrderType, decide
from core.errors import Refused
from core.market.feed import ManualFeed
from core.results import Actor
from core.services import order_fills
from core.services import orders as orders_service
from core.services.core import Core, Settings
from core.services.risk import sweep
from core.storage import accounts as acc
from core.storage.db import Database

alice = Actor("console", "alice", "alice", chat_id="private:alice")
bob = Actor("console", "bob", "bob", chat_id="private:bob")

D = Decimal
TAKER = D("0.0005")
MAKER = D("0.0002")

COMMANDS = {**TRADING_COMMANDS, **order_feature.COMMANDS}
HANDLERS = {**trading_feature.HANDLERS, **order_feature.HANDLERS,
            "long": order_feature.open_with_orders, "short": order_feature.open_with_orders}


@pytest.fixture
async def core(tmp_path: Any) -> AsyncIterator[Core]:
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    feed = ManualFeed({"BTC": D("60000"), "ETH": D("3000")})
    c = Core(db=db, catalog=load_catalog(), feed=feed, clock=VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)),
             settings=Settings(admins=frozenset({"console:admin"})))
    yield c
    await db.close()


async def say(core: Core, actor: Actor, text: str) -> Reply:
    """The dispatcher's path with this feature registered as the lead will register it."""
    try:
        parsed = parse(text, commands=COMMANDS)
        result = await HANDLERS[parsed.name](core, actor, parsed)
    except Refused as exc:
        return error_reply(exc)
    renderer = order_feature.RENDERERS.get(type(result))
    if renderer is not None:
        reply: Reply = renderer(result)
        return reply
    kind, text_out, data = describe_shared(result)
    return Reply(kind, text_out, data)


async def ok(core: Core, actor: Actor, text: str) -> Reply:
    reply = await say(core, actor, text)
    assert reply.type != "error", reply.text
    return reply


async def refused(core: Core, actor: Actor, text: str, code: str) -> Reply:
    before = await snapshot(core)
    reply = await say(core, actor, text)
    assert reply.type == "error", reply.text
    assert reply.data["code"] == code, reply.data
    assert reply.data["example"], "every refusal carries an example"
    assert await snapshot(core) == before, "a refusal changes nothing"
    return reply


async def move(core: Core, marks: Mapping[str, str]) -> int:
    """One tick as the pipeline runs it: orders first, then the liquidation sweep."""
    assert isinstance(core.feed, ManualFeed)
    tick = core.feed.set_marks({s: D(p) for s, p in marks.items()}, core.clock.now())
    filled = await order_fills.on_tick(core, tick)
    await sweep(core, tick)
    return filled


async def rows(core: Core, sql: str, *args: object) -> list[dict[str, Any]]:
    async with core.db.transaction() as tx, tx.execute(sql, args) as cursor:
        return [dict(row) for row in await cursor.fetchall()]


async def snapshot(core: Core) -> tuple[list[dict[str, Any]], ...]:
    tables = ("orders", "positions", "ledger", "trades", "outbox", "symbol_settings")
    return tuple([await rows(core, f"SELECT * FROM {t} ORDER BY 1") for t in tables])


async def wallet(core: Core, actor: Actor) -> Decimal:
    found = await rows(core, "SELECT a.id, a.wallet_balance FROM accounts a JOIN users u ON u.id = a.user_id "
                             "WHERE u.platform_user_id = ?", actor.user_id)
    async with core.db.transaction() as tx:
        ledger = await acc.ledger_sum(tx, found[0]["id"])
    balance = D(found[0]["wallet_balance"])
    assert ledger == balance, "the ledger adds up to the wallet"
    return balance


async def available(core: Core, actor: Actor) -> Decimal:
    reply = await ok(core, actor, "/positions")
    return D(reply.data["account"]["available_balance"])


async def open_orders(core: Core) -> list[dict[str, Any]]:
    return await rows(core, "SELECT * FROM orders WHERE status = 'open' ORDER BY id")


async def ledger_rows(core: Core, kind: str) -> list[Decimal]:
    return [D(r["amount"]) for r in await rows(core, "SELECT amount FROM ledger WHERE kind = ? ORDER BY id", kind)]


async def test_buy_limit_reserves_margin_and_fills_at_its_price_with_the_maker_fee(core: Core) -> None:
    reply = await ok(core, alice, "/long BTC 1000 10x @58000")
    assert reply.type == "order"
    qty = D("0.172")  # floor(1000 × 10 / 58000) to the 0.001 lot
    fee = money(qty * D(58000) * MAKER)
    reserve = money(qty * D(58000) / 10) + fee
    assert D(reply.data["order"]["reserved_margin"]) == reserve
    assert await available(core, alice) == D(10000) - reserve
    assert await move(core, {"BTC": "58000.1"}) == 0
    assert await move(core, {"BTC": "57500"}) == 1  # crossed: fills at the limit, not at the mark
    positions = await rows(core, "SELECT * FROM positions")
    assert [(p["side"], D(p["qty"]), D(p["entry_price"]), D(p["margin"])) for p in positions] == [
        (1, qty, D(58000), D("997.6"))
    ]
    trade = (await rows(core, "SELECT * FROM trades"))[-1]
    assert (D(trade["price"]), D(trade["fee"])) == (D(58000), fee)
    assert await ledger_rows(core, "fee") == [-fee]
    assert await wallet(core, alice) == D(10000) - fee
    assert await available(core, alice) == D(10000) - fee - D("997.6")  # reserve released, PM held instead
    pushes = await rows(core, "SELECT * FROM outbox WHERE kind = 'order_filled'")
    assert len(pushes) == 1
    order_id = reply.data["order"]["id"]
    assert pushes[0]["idempotency_key"].endswith(f"order:{order_id}")
    data = json.loads(pushes[0]["data"])
    assert (data["status"], data["price"], D(data["fee"])) == ("filled", "58000", fee)
    assert "maker fee" in pushes[0]["text"]


async def test_sell_limit_fills_when_the_mark_reaches_it(core: Core) -> None:
    await ok(core, alice, "/short BTC 0.1btc 10x cross @62000")
    assert await move(core, {"BTC": "61999.9"}) == 0
    assert await move(core, {"BTC": "62000"}) == 1
    position = (await rows(core, "SELECT * FROM positions"))[0]
    assert (position["side"], position["qty"], position["margin_mode"]) == (-1, "0.1", "cross")
    assert await ledger_rows(core, "fee") == [-money(D("0.1") * D(62000) * MAKER)]
    await wallet(core, alice)


async def test_limit_on_the_wrong_side_is_refused_and_changes_nothing(core: Core) -> None:
    await ok(core, alice, "/start")
    reply = await refused(core, alice, "/long BTC 1000 10x @61000", "limit_wrong_side")
    assert reply.data["example"] == "/long BTC 100 10x @57000"
    reply = await refused(core, alice, "/short BTC 1000 10x @59000 sl=61000", "limit_wrong_side")
    assert reply.data["example"] == "/short BTC 100 10x @63000 sl=66150"
    await refused(core, alice, "/long BTC 1000 10x @60000", "limit_wrong_side")  # at the mark: fills at once
    await refused(core, alice, "/short BTC 1000 10x @59000", "limit_wrong_side")
    await refused(core, alice, "/long BTC 1000 10x @58000.05", "price_not_tick")
    await refused(core, alice, "/long BTC 1000 10x @58000 sl=59000", "stop_wrong_side")  # sl above the entry
    await refused(core, alice, "/long BTC 100000 10x @58000", "insufficient_balance")


async def test_limit_margin_counts_against_the_next_order(core: Core) -> None:
    await ok(core, alice, "/long BTC 9000 10x @50000")
    await refused(core, alice, "/long ETH 2000 10x", "insufficient_balance")


async def test_stop_loss_closes_a_long_at_the_mark_with_the_taker_fee(core: Core) -> None:
    await ok(core, alice, "/long BTC 1000 10x")
    qty = D("0.166")
    open_fee = money(qty * D(60000) * TAKER)
    reply = await ok(core, alice, "/sl BTC 57000")
    assert reply.data["order"]["type"] == "stop_loss" and reply.data["order"]["reduce_only"]
    assert await available(core, alice) == D(10000) - open_fee - D("996")  # a stop holds no margin
    assert await move(core, {"BTC": "57000.1"}) == 0
    assert await move(core, {"BTC": "56900"}) == 1
    assert await rows(core, "SELECT * FROM positions") == []
    close_fee = money(qty * D(56900) * TAKER)
    assert await ledger_rows(core, "fee") == [-open_fee, -close_fee]
    assert await ledger_rows(core, "realized_pnl") == [qty * (D(56900) - D(60000))]
    assert await wallet(core, alice) == D(10000) - open_fee - close_fee + qty * (D(56900) - D(60000))
    push = (await rows(core, "SELECT * FROM outbox WHERE kind = 'order_filled'"))[0]
    assert "taker fee" in push["text"] and json.loads(push["data"])["position_side"] is None


async def test_take_profit_of_a_short_attached_on_opening(core: Core) -> None:
    reply = await ok(core, alice, "/short ETH 1eth 10x tp=2800 sl=3300")
    assert reply.type == "trade" and len(reply.data["orders"]) == 2
    assert await move(core, {"ETH": "2800.01"}) == 0
    assert await move(core, {"ETH": "2790"}) == 1
    assert await ledger_rows(core, "realized_pnl") == [D(3000) - D(2790)]
    assert await ledger_rows(core, "fee") == [-money(D(3000) * TAKER), -money(D(2790) * TAKER)]
    assert await open_orders(core) == []  # the position closed: its stop-loss went with it
    cancelled = await rows(core, "SELECT type, end_reason FROM orders WHERE status = 'cancelled'")
    assert cancelled == [{"type": "stop_loss", "end_reason": "position_closed"}]
    await wallet(core, alice)


async def test_stops_on_the_wrong_side_or_without_a_position_are_refused(core: Core) -> None:
    await refused(core, alice, "/sl BTC 55000", "no_position")
    await refused(core, alice, "/trail BTC 2%", "no_position")
    await ok(core, alice, "/long BTC 1000 10x")
    reply = await refused(core, alice, "/sl BTC 61000", "stop_wrong_side")
    assert reply.data["example"] == "/sl BTC 57000"
    await refused(core, alice, "/sl BTC 60000", "stop_wrong_side")
    await refused(core, alice, "/tp BTC 59000", "stop_wrong_side")
    await refused(core, alice, "/long BTC 100 sl=61000", "stop_wrong_side")
    await refused(core, alice, "/short BTC 100 10x tp=61000", "stop_wrong_side")
    await refused(core, alice, "/sl BTC 55000.05", "price_not_tick")


async def test_trailing_stop_follows_the_best_mark_and_triggers_on_the_callback(core: Core) -> None:
    await ok(core, alice, "/long BTC 0.1btc 10x")
    reply = await ok(core, alice, "/trail BTC 2%")
    assert reply.data["order"]["trigger_price"] == "58800"  # 60000 × 0.98
    assert await move(core, {"BTC": "62000"}) == 0
    assert await move(core, {"BTC": "61000"}) == 0  # best stays 62000: fires at ≤ 60760
    listed = await ok(core, alice, "/orders")
    assert listed.data["orders"][0]["best_mark"] == "62000"
    assert listed.data["orders"][0]["trigger_price"] == "60760"
    assert await move(core, {"BTC": "60760"}) == 1
    assert await ledger_rows(core, "realized_pnl") == [D("0.1") * D(760)]
    assert await ledger_rows(core, "fee") == [-money(D(6000) * TAKER), -money(D(6076) * TAKER)]
    await wallet(core, alice)


async def test_trailing_stop_of_a_short_tracks_the_lowest_mark(core: Core) -> None:
    await ok(core, alice, "/short ETH 1eth 5x")
    await ok(core, alice, "/trail ETH 5%")
    assert await move(core, {"ETH": "2500"}) == 0
    assert await move(core, {"ETH": "2624.99"}) == 0
    assert await move(core, {"ETH": "2625"}) == 1  # 2500 × 1.05
    assert await rows(core, "SELECT * FROM positions") == []


@pytest.mark.parametrize("callback", ["0%", "0", "-1%", "100%", "150%"])
async def test_trailing_callback_out_of_range_is_refused(core: Core, callback: str) -> None:
    await ok(core, alice, "/long BTC 100 10x")
    await refused(core, alice, f"/trail BTC {callback}", "bad_callback")


async def test_cancel_of_someone_elses_order_is_refused_and_changes_nothing(core: Core) -> None:
    placed = await ok(core, alice, "/long BTC 1000 10x @58000")
    order_id = placed.data["order"]["id"]
    await ok(core, bob, "/start")
    await refused(core, bob, f"/cancel {order_id}", "no_order")
    await refused(core, bob, "/cancel 999", "no_order")
    assert [o["id"] for o in await open_orders(core)] == [order_id]
    assert (await ok(core, bob, "/orders")).data["orders"] == []


async def test_cancel_releases_the_reserved_margin(core: Core) -> None:
    placed = await ok(core, alice, "/long BTC 1000 10x @58000")
    assert await available(core, alice) < D(10000)
    reply = await ok(core, alice, f"/cancel #{placed.data['order']['id']}")
    assert reply.type == "cancelled"
    assert D(reply.data["available_balance"]) == D(10000) == await available(core, alice)
    await refused(core, alice, f"/cancel {placed.data['order']['id']}", "no_order")  # already cancelled
    assert await move(core, {"BTC": "50000"}) == 0


async def test_mode_switch_is_refused_while_an_order_is_open(core: Core) -> None:
    placed = await ok(core, alice, "/long BTC 1000 10x @58000")
    reply = await refused(core, alice, "/mode BTC cross", "mode_locked")
    assert "Cancel them first" in reply.text and "/close" not in reply.text  # there is no position to close
    await refused(core, alice, "/long BTC 100 10x cross @57000", "mode_locked")
    await ok(core, alice, f"/cancel {placed.data['order']['id']}")
    assert (await ok(core, alice, "/mode BTC cross")).data["symbols"] == ["BTC"]


async def test_closing_a_position_cancels_its_stops(core: Core) -> None:
    await ok(core, alice, "/long BTC 1000 10x sl=55000 tp=70000")
    assert len(await open_orders(core)) == 2
    await ok(core, alice, "/close BTC")  # the fill itself cancels the orphaned stops
    assert await open_orders(core) == []
    assert await move(core, {"BTC": "50000"}) == 0
    assert (await ok(core, alice, "/mode BTC cross")).data["symbols"] == ["BTC"]


async def test_stops_of_a_closed_position_never_fire_and_never_lock_the_mode(core: Core) -> None:
    await ok(core, alice, "/long BTC 1000 10x sl=55000 tp=70000")
    await ok(core, alice, "/close BTC")
    assert (await ok(core, alice, "/mode BTC cross")).data["symbols"] == ["BTC"]
    assert await move(core, {"BTC": "50000"}) == 0  # the stop-loss is cancelled, not filled
    assert (await ok(core, alice, "/orders")).data["orders"] == []  # the listing drops the take-profit
    assert await rows(core, "SELECT * FROM positions") == []


async def test_a_new_sl_replaces_the_old_one(core: Core) -> None:
    await ok(core, alice, "/long BTC 1000 10x")
    first = await ok(core, alice, "/sl BTC 55000")
    second = await ok(core, alice, "/sl BTC 56000")
    assert second.data["replaced"] == [first.data["order"]["id"]]
    assert [(o["type"], o["price"]) for o in await open_orders(core)] == [("stop_loss", "56000")]


async def test_limit_with_stops_places_them_when_it_fills_and_a_gap_triggers_the_stop(core: Core) -> None:
    await ok(core, alice, "/long BTC 1000 10x @58000 sl=55000 tp=65000")
    assert await move(core, {"BTC": "57000"}) == 1
    assert [o["type"] for o in await open_orders(core)] == ["stop_loss", "take_profit"]
    await ok(core, alice, "/close BTC")
    await move(core, {"BTC": "60000"})
    await ok(core, alice, "/long BTC 1000 10x @58000 sl=55000")
    assert await move(core, {"BTC": "54000"}) == 2  # fills at 58000, then the stop-loss at the same mark
    assert await rows(core, "SELECT * FROM positions") == []
    fills = await rows(core, "SELECT price, fee FROM trades ORDER BY id")
    assert [D(f["price"]) for f in fills[-2:]] == [D(58000), D(54000)]
    await wallet(core, alice)


async def test_a_limit_that_can_no_longer_be_afforded_is_cancelled_and_told(core: Core) -> None:
    await ok(core, alice, "/long BTC 0.5btc 10x cross")  # IM 3,000
    await ok(core, alice, "/long ETH 2eth 10x cross @2900")  # holds 580 + 1.16
    assert await move(core, {"BTC": "47000", "ETH": "2850"}) == 0  # −6,500 uPnL left less than it needs
    assert await open_orders(core) == []
    push = (await rows(core, "SELECT * FROM outbox WHERE kind = 'order_filled'"))[0]
    data = json.loads(push["data"])
    assert (data["status"], data["code"]) == ("cancelled", "insufficient_balance")
    assert [p["symbol"] for p in await rows(core, "SELECT symbol FROM positions")] == ["BTC"]
    await wallet(core, alice)


async def test_liquidation_hook_cancels_every_open_order_of_the_account(core: Core) -> None:
    await ok(core, alice, "/long BTC 1000 10x sl=50000")
    await ok(core, alice, "/long ETH 1000 10x @2500")
    await ok(core, bob, "/long ETH 1000 10x @2500")
    async with core.db.transaction() as tx:
        assert await orders_service.cancel_account_orders(core, tx, 1, "liquidation") == 2
    assert [o["account_id"] for o in await open_orders(core)] == [2]
    reasons = await rows(core, "SELECT DISTINCT end_reason FROM orders WHERE status = 'cancelled'")
    assert reasons == [{"end_reason": "liquidation"}]


async def test_orders_lists_ids_and_fill_pushes_once(core: Core) -> None:
    await ok(core, alice, "/long BTC 1000 10x @58000")
    await ok(core, alice, "/long ETH 0.5eth 10x")
    await ok(core, alice, "/tp ETH 3500")
    listed = await ok(core, alice, "/orders")
    assert [o["type"] for o in listed.data["orders"]] == ["limit", "take_profit"]
    assert "#1 BTC limit buy 0.172 @ 58,000.00" in listed.text
    assert any(b.command == "/cancel 1" for b in listed.buttons)
    await move(core, {"BTC": "57000"})
    await move(core, {"BTC": "56000"})
    assert len(await rows(core, "SELECT * FROM outbox WHERE kind = 'order_filled'")) == 1


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("/cancel", "missing_argument"),
        ("/cancel abc", "bad_order_id"),
        ("/cancel 99999999999999999999", "bad_order_id"),
        ("/sl BTC", "missing_argument"),
        ("/sl BTC abc", "bad_number"),
        ("/tp BTC -5", "not_positive"),
        ("/trail BTC x%", "bad_number"),
        ("/orders now", "unexpected_argument"),
    ],
)
async def test_malformed_order_commands_get_one_clear_reply(core: Core, text: str, code: str) -> None:
    await refused(core, alice, text, code)


@settings(max_examples=200, deadline=None)
@given(
    marks=st.lists(st.integers(min_value=1, max_value=200_000), min_size=1, max_size=30),
    callback=st.integers(min_value=1, max_value=9_999),
    side=st.sampled_from([-1, 1]),
)
def test_trailing_stop_fires_exactly_when_the_mark_retraces_the_callback_from_its_best(
    marks: list[int], callback: int, side: int
) -> None:
    rate = D(callback) / 10_000
    order = Order(1, 1, "BTC", side, "trailing_stop", None, None, 10, "isolated", callback_rate=rate,
                  best_mark=D(100_000))
    seen = [D(100_000)]
    for mark in map(D, marks):
        seen.append(mark)
        decision = decide(order, mark)
        best = max(seen) if side < 0 else min(seen)
        assert decision.best_mark == best
        assert decision.fire == (mark <= best * (1 - rate) if side < 0 else mark >= best * (1 + rate))
        if decision.fire:
            break
        order = replace(order, best_mark=decision.best_mark)


@pytest.mark.parametrize(
    ("order_type", "side", "below", "at", "above"),
    [
        ("limit", 1, True, True, False),  # buy limit: mark ≤ limit
        ("limit", -1, False, True, True),  # sell limit: mark ≥ limit
        ("stop_loss", -1, True, True, False),  # a long's stop-loss: mark ≤ P
        ("take_profit", -1, False, True, True),  # a long's take-profit: mark ≥ P
        ("stop_loss", 1, False, True, True),  # a short's stop-loss: mark ≥ P
        ("take_profit", 1, True, True, False),  # a short's take-profit: mark ≤ P
    ],
)
def test_each_order_type_fires_on_its_side_of_the_price(
    order_type: OrderType, side: int, below: bool, at: bool, above: bool
) -> None:
    order = Order(1, 1, "BTC", side, order_type, None, D(100), 10, "isolated")
    assert [decide(order, D(m)).fire for m in ("99.9", "100", "100.1")] == [below, at, above]


async def test_an_isolated_liquidation_cancels_only_its_own_orders(core: Core) -> None:
    """Other positions are never touched by an isolated liquidation: their stops and limits stay."""
    await ok(core, alice, "/long BTC 1000 10x sl=50000")
    await ok(core, alice, "/long ETH 1000 10x")
    await ok(core, alice, "/sl ETH 2800")
    await move(core, {"BTC": "54000"})  # BTC's isolated liquidation price is 54,216.87
    assert [o["symbol"] for o in await open_orders(core)] == ["ETH"]
    assert await move(core, {"ETH": "2790"}) == 1  # the ETH stop-loss still protects
    assert await rows(core, "SELECT * FROM positions") == []


async def test_history_shows_a_liquidation_as_the_closing_side_with_what_the_wallet_lost(core: Core) -> None:
    await ok(core, alice, "/long BTC 1000 10x")
    await move(core, {"BTC": "50000"})
    trade = (await rows(core, "SELECT side, realized_pnl FROM trades WHERE kind = 'liquidation'"))[0]
    assert trade["side"] == -1  # the liquidation sold the long
    assert D(trade["realized_pnl"]) == D(-996)  # exactly the position margin, not the PnL at the mark
    history = await ok(core, alice, "/history")
    assert "sell 0.166 BTC" in history.text and "lost 996.00" in history.text
