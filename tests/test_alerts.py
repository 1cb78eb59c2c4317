"""Margin-health alerts (thresholds, hysteresis), price alerts, settings, quiet hours and /health."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.commands import parse
from bot.features.alerts import COMMANDS, HANDLERS, RENDERERS
from bot.replies import Reply
from core.clock import VirtualClock
from core.domain import alerts as rules
from core.domain.alerts import AlertSettings, LevelState, decide_level, pct, ratio_pct
from core.domain.instruments import load_catalog
from core.errors import Refused
from core.market.feed import ManualFeed
from core.ports import Outgoing, Tick
from core.results import Actor
from core.services import alerts, market, trading
from core.services.core import Core, Settings
from core.services.delivery import DeliveryWorker
from core.storage.db import Database

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
alice = Actor("console", "alice", "alice", chat_id="private:alice")
bob = Actor("console", "bob", "bob", chat_id="private:bob")
W, D = Decimal("0.70"), Decimal("0.90")

# Alice's isolated long 0.1 BTC @ 60,000 at 10x (PM 600): the mark that gives each position margin ratio
HEALTH = {  # mark → MM / (PM + uPnL)
    "54500": Decimal("0.436"),  # calm
    "54400": Decimal("0.544"),  # below 60 %: the warning re-arms
    "54350": Decimal("0.621"),  # still above 60 %
    "54300": Decimal("0.724"),  # warning
    "54250": Decimal("0.868"),  # between warning and danger
    "54240": Decimal("0.904"),  # danger
}


class FakeNotifier:
    platform = "console"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> None:
        self.sent.append(message)


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    feed = ManualFeed({"BTC": Decimal("60000"), "ETH": Decimal("3000")})
    yield Core(db=db, catalog=load_catalog(), feed=feed, clock=VirtualClock(T0),
               settings=Settings(admins=frozenset({"console:admin"})))
    await db.close()


@pytest.fixture
def notifier() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture
def worker(core: Core, notifier: FakeNotifier) -> DeliveryWorker:
    return DeliveryWorker(core, {"console": notifier})


def manual(core: Core) -> ManualFeed:
    assert isinstance(core.feed, ManualFeed)
    return core.feed


async def move(core: Core, **marks: str) -> None:
    """A tick as the lead wires it: liquidation sweep, then the alerts."""
    values = {symbol: Decimal(value) for symbol, value in marks.items()}
    await market.set_prices(core, None, values)
    await alerts.on_tick(core, Tick(core.clock.now(), values))


async def say(core: Core, actor: Actor, text: str) -> Reply:
    try:
        parsed = parse(text, commands=COMMANDS)
        result = await HANDLERS[parsed.name](core, actor, parsed)
    except Refused as exc:
        return Reply("error", str(exc), {"code": exc.code})
    return RENDERERS[type(result)](result)


async def long_btc(core: Core, actor: Actor = alice, qty: str = "0.1", mode: str = "isolated") -> None:
    await trading.open_position(core, actor, "BTC", 1, trading.Amount(Decimal(qty), True), 10,
                                "isolated" if mode == "isolated" else "cross")


async def kinds(core: Core) -> list[str]:
    async with core.db.transaction() as tx, tx.execute("SELECT kind FROM outbox ORDER BY id") as cursor:
        return [row[0] for row in await cursor.fetchall()]


# ------------------------------------------------------------------------------------- pure decisions


def test_warning_fires_once_and_rearms_only_ten_points_below() -> None:
    state, kind = decide_level(Decimal("0.71"), LevelState(), W, D)
    assert kind == "margin_warning"
    for ratio in ("0.75", "0.69", "0.62", "0.601", "0.74"):
        state, kind = decide_level(Decimal(ratio), state, W, D)
        assert kind is None, ratio
    state, kind = decide_level(Decimal("0.5999"), state, W, D)
    assert kind is None and state == LevelState()
    assert decide_level(Decimal("0.70"), state, W, D)[1] == "margin_warning"


def test_danger_after_warning_and_a_jump_straight_to_danger_sends_only_danger() -> None:
    state, kind = decide_level(Decimal("0.72"), LevelState(), W, D)
    state, kind = decide_level(Decimal("0.91"), state, W, D)
    assert kind == "margin_danger" and state == LevelState(True, True)
    assert decide_level(Decimal("0.95"), LevelState(), W, D) == (LevelState(True, True), "margin_danger")
    # danger re-arms below 80 % while the warning stays fired above 60 %
    state, kind = decide_level(Decimal("0.79"), state, W, D)
    assert kind is None and state == LevelState(True, False)
    assert decide_level(Decimal("0.90"), state, W, D)[1] == "margin_danger"


def test_margin_ratios_always_show_two_decimals_levels_only_what_they_need() -> None:
    assert [ratio_pct(Decimal(x)) for x in ("0.04", "0.0621", "0.7")] == ["4.00 %", "6.21 %", "70.00 %"]
    assert [pct(Decimal(x)) for x in ("0.7", "0.125")] == ["70 %", "12.50 %"]
    assert ratio_pct(None) == "∞"


def test_infinite_ratio_counts_as_danger() -> None:
    assert decide_level(None, LevelState(), W, D)[1] == "margin_danger"


@pytest.mark.parametrize(
    ("hour", "quiet", "expected"),
    [(23, (23, 7), True), (3, (23, 7), True), (7, (23, 7), False), (22, (23, 7), False),
     (12, (9, 17), True), (17, (9, 17), False), (8, None, False)],
)
def test_quiet_hours_wrap_past_midnight(hour: int, quiet: tuple[int, int] | None, expected: bool) -> None:
    assert rules.is_quiet(T0.replace(hour=hour), quiet) is expected


def test_quiet_hours_hold_everything_but_liquidations_until_they_end() -> None:
    settings = AlertSettings(quiet=(23, 7))
    night = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    assert rules.held_until("margin_warning", night, settings) == datetime(2026, 1, 2, 7, tzinfo=UTC)
    assert rules.held_until("liquidation", night, settings) is None
    assert rules.held_until("margin_warning", night.replace(hour=12), settings) is None


def test_funding_and_digest_are_off_by_default_liquidations_always_on() -> None:
    settings = AlertSettings(kinds={"liquidation": False})
    assert not settings.enabled("funding") and not settings.enabled("digest")
    assert settings.enabled("margin_warning") and settings.enabled("liquidation")


# ------------------------------------------------------------------------------------- margin alerts


async def test_isolated_warning_once_no_repeat_then_rearmed_after_falling_ten_points(core: Core) -> None:
    await long_btc(core)
    await move(core, BTC="54300")
    assert await kinds(core) == ["margin_warning"]
    await move(core, BTC="54250")
    await move(core, BTC="54350")  # 62 %: above 60 %, not re-armed
    await move(core, BTC="54300")
    assert await kinds(core) == ["margin_warning"]
    await move(core, BTC="54400")  # 54 %: re-armed
    await move(core, BTC="54300")
    assert await kinds(core) == ["margin_warning", "margin_warning"]


async def test_danger_follows_warning_with_distance_liquidation_price_and_way_out(
    core: Core, notifier: FakeNotifier, worker: DeliveryWorker
) -> None:
    await long_btc(core)
    await move(core, BTC="54300")
    await worker.drain_once()
    assert isinstance(core.clock, VirtualClock)
    core.clock.advance(timedelta(minutes=1))
    await move(core, BTC="54240")
    await worker.drain_once()
    assert [m.kind for m in notifier.sent] == ["margin_warning", "margin_danger"]
    danger = notifier.sent[1]
    data = danger.data
    assert data["scope"] == "isolated" and data["symbol"] == "BTC"
    assert Decimal(str(data["margin_ratio"])) == Decimal("21.696") / Decimal("24")
    lp = Decimal(str(data["liquidation_price"]))
    assert lp.quantize(Decimal("0.01")) == Decimal("54216.87")
    assert Decimal(str(data["distance_pct"])) == (Decimal("54240") - lp) / Decimal("54240") * 100
    assert "54,216.87" in danger.text and "0.04 % below the mark 54,240.00" in danger.text
    # one concrete way out: the exact margin that brings the ratio to 50 % (the wallet has it)
    assert data["command"] == "/margin BTC add 20"
    assert "/margin BTC add 20" in danger.text


async def test_way_out_is_close_when_the_wallet_cannot_cover_the_margin(core: Core) -> None:
    await trading.open_position(core, alice, "BTC", 1, trading.Amount(Decimal("9900"), False), 10, "isolated")
    await move(core, BTC="54300")
    async with core.db.transaction() as tx, tx.execute("SELECT data FROM outbox") as cursor:
        row = await cursor.fetchone()
    assert row is not None and '"command": "/close BTC"' in row[0]


async def test_cross_account_alert_uses_the_margin_ratio_and_suggests_a_reduction(
    core: Core, notifier: FakeNotifier, worker: DeliveryWorker
) -> None:
    await trading.set_mode(core, alice, "BTC", "cross")
    # 1.6 BTC @ 60,000 cross: MB = 9,952 + 1.6·(M − 60,000), AMM = 0.4 % of 1.6·M
    await trading.open_position(core, alice, "BTC", 1, trading.Amount(Decimal("1.6"), True), 20, "cross")
    await move(core, BTC="54070")
    await worker.drain_once()
    [warning] = notifier.sent
    data = warning.data
    mm, mb = Decimal("0.0064") * 54070, Decimal("1.6") * 54070 - Decimal("86048")
    assert warning.kind == "margin_warning" and data["scope"] == "cross"
    assert Decimal(str(data["margin_ratio"])) == mm / mb
    # reduce the position by the share that brings AMM / MB to 50 %: ⌈(AMM − 0.5·MB) / AMM⌉
    assert data["command"] == "/close BTC 33%"
    assert "Nearest liquidation: BTC long at" in warning.text and "cross account" in warning.text


async def test_own_thresholds_are_used(core: Core) -> None:
    await long_btc(core)
    assert (await say(core, alice, "/settings warning 50")).data["warning"] == "0.5"
    await move(core, BTC="54400")  # 54 %
    assert await kinds(core) == ["margin_warning"]
    assert (await say(core, alice, "/settings danger 60%")).data["danger"] == "0.6"
    await move(core, BTC="54350")  # 62 %
    assert await kinds(core) == ["margin_warning", "margin_danger"]


async def test_only_accounts_holding_the_ticks_symbols_are_evaluated(core: Core) -> None:
    await long_btc(core)
    manual(core).set_marks({"BTC": Decimal("54300")}, core.clock.now())
    await alerts.on_tick(core, Tick(core.clock.now(), {"ETH": Decimal("3000")}))
    assert await kinds(core) == []
    await alerts.on_tick(core, Tick(core.clock.now(), {"BTC": Decimal("54300")}))
    assert await kinds(core) == ["margin_warning"]


async def test_a_new_position_starts_with_fresh_levels(core: Core) -> None:
    await long_btc(core)
    await move(core, BTC="54300")
    await move(core, BTC="54200")  # liquidated by the sweep
    assert await kinds(core) == ["margin_warning", "liquidation"]
    await move(core, BTC="60000")
    await long_btc(core)
    await move(core, BTC="54300")
    assert await kinds(core) == ["margin_warning", "liquidation", "margin_warning"]


async def test_switched_off_warnings_are_not_pushed(core: Core) -> None:
    await long_btc(core)
    reply = await say(core, alice, "/settings warning off")
    assert reply.data["kinds"]["margin_warning"] is False
    await move(core, BTC="54300")
    assert await kinds(core) == []


# ------------------------------------------------------------------------------------- price alerts


async def test_price_alert_triggers_once_and_is_removed(core: Core) -> None:
    set_reply = await say(core, alice, "/alert BTC < 55000")
    assert set_reply.type == "alert_set"
    assert (await say(core, alice, "/alert btc>70000")).type == "alert_set"
    listed = await say(core, alice, "/alerts")
    assert [a["direction"] for a in listed.data["alerts"]] == ["below", "above"]
    await move(core, BTC="56000")
    assert await kinds(core) == []
    await move(core, BTC="54900")
    await move(core, BTC="54000")
    assert await kinds(core) == ["price_alert"]
    assert [a["direction"] for a in (await say(core, alice, "/alerts")).data["alerts"]] == ["above"]


async def test_price_alert_already_crossed_is_refused(core: Core) -> None:
    reply = await say(core, alice, "/alert BTC < 65000")
    assert reply.type == "error" and reply.data["code"] == "already_there"
    assert (await say(core, alice, "/alert DOGGO < 1")).data["code"] == "unknown_symbol"
    assert (await say(core, alice, "/alert BTC 60000")).data["code"] == "missing_argument"
    assert (await say(core, alice, "/alert BTC < -5")).data["code"] in ("bad_number", "not_positive")


async def test_removing_someone_elses_alert_is_refused(core: Core) -> None:
    bobs = await say(core, bob, "/alert ETH > 4000")
    alert_id = bobs.data["id"]
    reply = await say(core, alice, f"/alerts off {alert_id}")
    assert reply.type == "error" and reply.data["code"] == "no_alert"
    assert len((await say(core, bob, "/alerts")).data["alerts"]) == 1
    assert (await say(core, bob, f"/alerts off {alert_id}")).type == "alert_removed"
    assert (await say(core, bob, "/alerts")).data["alerts"] == []
    assert (await say(core, bob, "/alerts off x")).data["code"] == "bad_alert_id"


async def test_muted_price_alerts_stay_until_switched_back_on(core: Core) -> None:
    await say(core, alice, "/alert BTC < 55000")
    await say(core, alice, "/settings price_alert off")
    await move(core, BTC="54000")
    assert await kinds(core) == []
    await say(core, alice, "/settings price_alert on")
    await move(core, BTC="53900")
    assert await kinds(core) == ["price_alert"]


# ------------------------------------------------------------------------------------- settings, health


async def test_settings_show_and_refuse_nonsense(core: Core) -> None:
    shown = await say(core, alice, "/settings")
    assert shown.data["warning"] == "0.7" and shown.data["danger"] == "0.9" and shown.data["quiet"] is None
    assert shown.data["kinds"]["funding"] is False and shown.data["kinds"]["digest"] is False
    assert (await say(core, alice, "/settings quiet 23-7")).data["quiet"] == [23, 7]
    assert (await say(core, alice, "/settings quiet off")).data["quiet"] is None
    assert (await say(core, alice, "/settings funding on")).data["kinds"]["funding"] is True
    for text, code in [("/settings warning 95", "bad_threshold"), ("/settings danger 100", "bad_threshold"),
                       ("/settings quiet 7-7", "bad_quiet_hours"), ("/settings quiet 25-3", "bad_quiet_hours"),
                       ("/settings liquidation off", "always_on"), ("/settings sushi on", "unknown_push_kind"),
                       ("/settings warning", "missing_argument"), ("/settings warning abc", "bad_number")]:
        reply = await say(core, alice, text)
        assert reply.type == "error" and reply.data["code"] == code, text
    assert (await say(core, alice, "/settings")).data["warning"] == "0.7"


async def test_health_lists_ratio_and_distance_for_everything_open(core: Core) -> None:
    assert "Nothing open" in (await say(core, alice, "/health")).text
    await long_btc(core)
    await trading.set_mode(core, alice, "ETH", "cross")
    await trading.open_position(core, alice, "ETH", 1, trading.Amount(Decimal("1"), True), 10, "cross")
    manual(core).set_marks({"BTC": Decimal("54300")}, core.clock.now())
    reply = await say(core, alice, "/health")
    lines = reply.data["lines"]
    assert [line["symbol"] for line in lines] == [None, "BTC", "ETH"]
    btc = lines[1]
    assert btc["mode"] == "isolated" and Decimal(btc["margin_ratio"]) == Decimal("21.72") / Decimal("30")
    assert Decimal(btc["distance_pct"]) > 0
    assert "BTC long isolated: ratio 72.40 %" in reply.text


async def test_funding_notices_and_digests_only_for_users_who_switched_them_on(core: Core) -> None:
    from core.services import funding

    await long_btc(core)
    await long_btc(core, bob)
    await say(core, alice, "/settings funding on")
    await say(core, bob, "/settings digest on")
    at = datetime(2026, 1, 1, 16, tzinfo=UTC)
    await funding.settle(core, at, {"BTC": Decimal("0.0001")})
    assert await alerts.funding_notices(core, at) == 1
    assert await alerts.funding_notices(core, at) == 1  # idempotent key: still one row
    assert await alerts.send_digests(core, at) == 1
    async with core.db.transaction() as tx, tx.execute("SELECT user_id, kind, text FROM outbox") as cursor:
        rows = [tuple(r) for r in await cursor.fetchall()]
    assert [(r[0], r[1]) for r in rows] == [(1, "funding"), (2, "digest")]
    assert "BTC: paid 0.60 USDT (rate 0.0100 %)" in rows[0][2]


async def test_the_digest_counts_one_day_of_fundings(core: Core) -> None:
    """Fundings at 00:00, 08:00 and 16:00: the digest for a day counts its three, not the one that opened it (that
    belongs to the day before) nor anything after its midnight."""
    from core.services import funding

    await long_btc(core, bob)
    await say(core, bob, "/settings digest on")
    midnight = datetime(2026, 3, 3, tzinfo=UTC)
    for hours in (0, 8, 16, 24, 32):  # the last one is after the digest's day: a late digest leaves it out
        await funding.settle(core, midnight + timedelta(hours=hours), {"BTC": Decimal("0.0001")})
    assert await alerts.send_digests(core, midnight + timedelta(hours=24)) == 1
    async with core.db.transaction() as tx, tx.execute("SELECT text, data FROM outbox") as cursor:
        [(text, data)] = [tuple(r) for r in await cursor.fetchall()]
    assert Decimal(json.loads(data)["change_24h"]) == Decimal("-1.80")  # 3 × 0.1 BTC × 60,000 × 0.01 %
    assert "-1.80 USDT in the last 24 h). 1 open position." in text


async def test_quiz_reminders_go_once_a_day_only_to_users_who_asked(core: Core) -> None:
    await alerts.show_settings(core, alice)  # alice exists, reminders off by default
    assert await alerts.send_quiz_reminders(core, core.clock.now()) == 0
    await alerts.set_kind(core, alice, "quiz_reminder", True)
    assert await alerts.send_quiz_reminders(core, core.clock.now()) == 1
    assert await alerts.send_quiz_reminders(core, core.clock.now()) == 1  # counted, but the same day's key
    async with core.db.transaction() as tx:
        rows = await tx.execute_fetchall("SELECT kind FROM outbox WHERE kind = 'quiz_reminder'")
    assert len(list(rows)) == 1  # one reminder a day, however often the job runs
