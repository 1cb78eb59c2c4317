"""The delivery worker: merging, priorities within the platform limits, quiet hours, failures, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest

from core.clock import VirtualClock
from core.domain.instruments import load_catalog
from core.market.feed import ManualFeed
from core.ports import DeliveryError, Outgoing, Tick
from core.results import Actor
from core.services import alerts, market, trading
from core.services.core import Core, Settings, ensure_user, load
from core.services.delivery import DeliveryWorker
from core.services.notify import push
from core.storage.db import Database

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
alice = Actor("console", "alice", "alice", chat_id="private:alice")
bob = Actor("console", "bob", "bob", chat_id="private:bob")


class FakeNotifier:
    """Records every send; `failures` are raised, in order, by the next sends."""

    def __init__(self, platform: str = "console") -> None:
        self.platform = platform
        self.sent: list[Outgoing] = []
        self.failures: list[BaseException] = []

    async def send(self, message: Outgoing) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)

    @property
    def kinds(self) -> list[str]:
        return [m.kind for m in self.sent]


def open_core(path: Path, clock: VirtualClock) -> Core:
    feed = ManualFeed({"BTC": Decimal("60000"), "ETH": Decimal("3000")})
    return Core(db=Database(path), catalog=load_catalog(), feed=feed, clock=clock,
                settings=Settings(admins=frozenset({"console:admin"})))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
async def core(tmp_path: Path, clock: VirtualClock) -> AsyncIterator[Core]:
    c = open_core(tmp_path / "t.sqlite3", clock)
    await c.db.open()
    yield c
    await c.db.close()


@pytest.fixture
def notifier() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture
def worker(core: Core, notifier: FakeNotifier) -> DeliveryWorker:
    return DeliveryWorker(core, {"console": notifier})


async def queue(core: Core, actor: Actor, kind: str, key: str) -> int:
    """Write one outbox row for `actor` as a service would; returns the user id."""
    async with core.db.transaction() as tx:
        user, _, _ = await ensure_user(core, tx, actor)
    await queue_for(core, user.id, kind, key)
    return user.id


async def queue_for(core: Core, user_id: int, kind: str, key: str) -> None:
    """Write one outbox row for a user who did not write anything (a tick, a job)."""
    async with core.db.transaction() as tx:
        await push(core, tx, user_id, kind, f"{kind} {key}", {"key": key}, key)


async def move(core: Core, **marks: str) -> None:
    values = {symbol: Decimal(value) for symbol, value in marks.items()}
    await market.set_prices(core, None, values)
    await alerts.on_tick(core, Tick(core.clock.now(), values))


async def open_long(core: Core, symbol: str, qty: str, actor: Actor = alice) -> None:
    await trading.open_position(core, actor, symbol, 1, trading.Amount(Decimal(qty), True), 10, "isolated")


async def pushes_enabled(core: Core, user_id: int) -> bool:
    async with core.db.transaction() as tx, tx.execute(
        "SELECT pushes_enabled FROM users WHERE id = ?", (user_id,)
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return bool(row[0])


async def undelivered(core: Core) -> int:
    async with core.db.transaction() as tx, tx.execute(
        "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL"
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


# ------------------------------------------------------------------------------------- merging


async def test_alerts_of_one_tick_reach_the_user_as_one_message_most_urgent_first(
    core: Core, notifier: FakeNotifier, worker: DeliveryWorker
) -> None:
    await open_long(core, "BTC", "0.1")
    await open_long(core, "ETH", "2")
    await alerts.add_price_alert(core, alice, "ETH", "below", Decimal("2800"))
    await move(core, ETH="2715", BTC="54240")  # ETH 72 % (warning), BTC 90 % (danger), ETH below 2,800
    assert await worker.drain_once() == 1
    [message] = notifier.sent
    assert message.kind == "margin_danger"
    assert [part["kind"] for part in message.data["merged"]] == ["margin_danger", "margin_warning", "price_alert"]
    danger, warning, price = message.text.split("\n\n")
    assert danger.startswith("🚨 Margin danger — BTC") and warning.startswith("⚠️ Margin warning — ETH")
    assert price.startswith("🔔 Price alert")
    assert message.data["symbol"] == "BTC"  # the most urgent alert's own data stays on top
    assert await worker.drain_once() == 0 and await undelivered(core) == 0


async def test_pushes_of_different_moments_are_not_merged(
    core: Core, clock: VirtualClock, notifier: FakeNotifier, worker: DeliveryWorker
) -> None:
    await queue(core, alice, "order_filled", "a")
    clock.advance(timedelta(seconds=5))
    await queue(core, alice, "order_filled", "b")
    await queue(core, bob, "order_filled", "c")
    assert await worker.drain_once() == 3
    assert sorted(m.text for m in notifier.sent) == ["order_filled a", "order_filled b", "order_filled c"]


# ------------------------------------------------------------------------------------- priority, limits


async def test_liquidation_goes_before_queued_digests(core: Core, clock: VirtualClock) -> None:
    telegram = FakeNotifier("telegram")
    worker = DeliveryWorker(core, {"telegram": telegram})
    carol = Actor("telegram", "100", "carol", chat_id="100")
    await alerts.set_kind(core, carol, "digest", True)
    for day in range(3):
        await queue(core, carol, "digest", f"digest:{day}")
        clock.advance(timedelta(seconds=10))
    assert await worker.drain_once() == 1  # Telegram: one message per second to a private chat
    await queue(core, carol, "liquidation", "liq")
    assert await worker.drain_once() == 0
    assert worker.next_wake_at == clock.now() + timedelta(seconds=1)
    clock.advance(timedelta(seconds=1))
    assert await worker.drain_once() == 1
    assert telegram.kinds == ["digest", "liquidation"]
    while worker.next_wake_at is not None:
        clock.set(worker.next_wake_at)
        await worker.drain_once()
    assert [m.data["key"] for m in telegram.sent] == ["digest:0", "liq", "digest:1", "digest:2"]


async def test_telegram_overall_limit_sends_the_liquidation_first(core: Core, clock: VirtualClock) -> None:
    telegram = FakeNotifier("telegram")
    worker = DeliveryWorker(core, {"telegram": telegram})
    for i in range(40):
        await queue(core, Actor("telegram", str(1000 + i), f"u{i}", chat_id=str(1000 + i)), "price_alert", f"p{i}")
    await queue(core, Actor("telegram", "7", "late", chat_id="7"), "liquidation", "liq")
    assert await worker.drain_once() == 30  # 30 messages per second overall
    assert telegram.sent[0].kind == "liquidation"
    clock.advance(timedelta(seconds=1))
    assert await worker.drain_once() == 11
    assert len({m.user_id for m in telegram.sent}) == 41


# ------------------------------------------------------------------------------------- quiet hours


async def test_quiet_hours_hold_a_warning_but_not_a_liquidation(
    core: Core, clock: VirtualClock, notifier: FakeNotifier, worker: DeliveryWorker
) -> None:
    await open_long(core, "BTC", "0.1")
    await alerts.set_quiet(core, alice, (11, 13))  # it is 12:00 UTC
    await move(core, BTC="54300")
    assert await worker.drain_once() == 0
    assert worker.next_wake_at == datetime(2026, 1, 1, 13, tzinfo=UTC)
    clock.advance(timedelta(minutes=5))
    await move(core, BTC="54200")  # liquidated
    assert await worker.drain_once() == 1
    assert notifier.kinds == ["liquidation"]
    clock.set(datetime(2026, 1, 1, 12, 59, tzinfo=UTC))
    assert await worker.drain_once() == 0
    clock.set(datetime(2026, 1, 1, 13, tzinfo=UTC))
    # the held warning is about a position that no longer exists: it is dropped, not sent late
    assert await worker.drain_once() == 0
    assert notifier.kinds == ["liquidation"]


async def test_a_warning_held_by_quiet_hours_still_goes_when_the_danger_lasts(
    core: Core, clock: VirtualClock, notifier: FakeNotifier, worker: DeliveryWorker
) -> None:
    await open_long(core, "BTC", "0.1")
    await alerts.set_quiet(core, alice, (11, 13))  # it is 12:00 UTC
    await move(core, BTC="54300")
    assert await worker.drain_once() == 0
    clock.set(datetime(2026, 1, 1, 13, tzinfo=UTC))
    assert await worker.drain_once() == 1
    assert notifier.kinds == ["margin_warning"]


async def test_a_kind_switched_off_after_it_was_queued_is_settled_unsent(
    core: Core, notifier: FakeNotifier, worker: DeliveryWorker
) -> None:
    await queue(core, alice, "order_filled", "f1")
    await alerts.set_kind(core, alice, "order_filled", False)
    assert await worker.drain_once() == 0
    assert await undelivered(core) == 0 and notifier.sent == []
    async with core.db.transaction() as tx, tx.execute("SELECT skipped FROM outbox") as cursor:
        assert [r[0] for r in await cursor.fetchall()] == ["off"]


# ------------------------------------------------------------------------------------- failures


async def test_permanent_failure_pauses_pushes_until_the_user_writes_again(
    core: Core, clock: VirtualClock, notifier: FakeNotifier, worker: DeliveryWorker
) -> None:
    user_id = await queue(core, alice, "order_filled", "f1")
    notifier.failures.append(DeliveryError("bot was blocked by the user", permanent=True))
    assert await worker.drain_once() == 0
    assert not await pushes_enabled(core, user_id)
    clock.advance(timedelta(minutes=1))
    await queue_for(core, user_id, "price_alert", "p1")  # a tick's alert; alice is not reachable
    assert await worker.drain_once() == 0 and notifier.sent == []
    async with core.db.transaction() as tx:  # alice writes again: any command
        await load(core, tx, alice)
    assert await pushes_enabled(core, user_id)
    assert await worker.drain_once() == 2
    assert [m.data["key"] for m in notifier.sent] == ["f1", "p1"]


async def test_temporary_failure_is_retried_with_backoff(
    core: Core, clock: VirtualClock, notifier: FakeNotifier, worker: DeliveryWorker
) -> None:
    await queue(core, alice, "order_filled", "f1")
    notifier.failures += [DeliveryError("timeout", permanent=False), DeliveryError("timeout", permanent=False)]
    assert await worker.drain_once() == 0
    assert worker.next_wake_at == T0 + timedelta(seconds=1)  # first retry after 1 s
    assert await worker.drain_once() == 0 and notifier.failures  # not yet due: not even tried
    clock.advance(timedelta(seconds=1))
    assert await worker.drain_once() == 0
    assert worker.next_wake_at == T0 + timedelta(seconds=3)  # then 2 s
    clock.set(T0 + timedelta(seconds=3))
    assert await worker.drain_once() == 1
    assert len(notifier.sent) == 1 and await undelivered(core) == 0


async def test_retry_after_from_the_platform_is_respected(
    core: Core, clock: VirtualClock, notifier: FakeNotifier, worker: DeliveryWorker
) -> None:
    await queue(core, alice, "order_filled", "f1")
    notifier.failures.append(DeliveryError("flood wait", permanent=False, retry_after=30))
    assert await worker.drain_once() == 0
    clock.advance(timedelta(seconds=29))
    assert await worker.drain_once() == 0
    clock.advance(timedelta(seconds=1))
    assert await worker.drain_once() == 1


async def test_an_adapter_bug_is_retried_like_a_temporary_failure(
    core: Core, clock: VirtualClock, notifier: FakeNotifier, worker: DeliveryWorker
) -> None:
    await queue(core, alice, "order_filled", "f1")
    notifier.failures.append(RuntimeError("adapter bug"))
    assert await worker.drain_once() == 0
    clock.advance(timedelta(seconds=1))
    assert await worker.drain_once() == 1


# ------------------------------------------------------------------------------------- exactly once


async def test_rows_committed_but_never_sent_go_out_once_after_a_restart(tmp_path: Path, clock: VirtualClock) -> None:
    path = tmp_path / "crash.sqlite3"
    first = open_core(path, clock)
    await first.db.open()
    await open_long(first, "BTC", "0.1")
    await move(first, BTC="54300")  # the warning row is committed with the tick
    crashed = FakeNotifier()
    crashed.failures.append(asyncio.CancelledError())  # the process dies while sending
    doomed = DeliveryWorker(first, {"console": crashed})
    with pytest.raises(asyncio.CancelledError):
        await doomed.drain_once()
    clock.advance(timedelta(minutes=1))
    await move(first, BTC="54240")  # a danger row, written after the "crash" by the next tick
    del doomed
    await first.db.close()

    sent = FakeNotifier()
    for _ in range(2):  # two restarts on the same file: the first sends, the second finds nothing
        again = open_core(path, clock)
        await again.db.open()
        restarted = DeliveryWorker(again, {"console": sent})
        await restarted.drain_once()
        await restarted.drain_once()
        await again.db.close()
    assert sent.kinds == ["margin_danger", "margin_warning"] and crashed.sent == []


async def test_a_worker_never_sends_a_row_twice_even_beside_another_worker(
    core: Core, clock: VirtualClock, notifier: FakeNotifier, worker: DeliveryWorker
) -> None:
    telegram = FakeNotifier("telegram")
    limited = DeliveryWorker(core, {"telegram": telegram})
    dave = Actor("telegram", "200", "dave", chat_id="200")
    await queue(core, dave, "order_filled", "a")
    clock.advance(timedelta(seconds=2))
    await queue(core, dave, "order_filled", "b")
    assert await limited.drain_once() == 1  # "b" waits in the scheduler for the chat's next second
    other = DeliveryWorker(core, {"telegram": telegram})
    assert await other.drain_once() == 1  # someone else sends "b" meanwhile
    clock.advance(timedelta(seconds=1))
    assert await limited.drain_once() == 0  # checked again before sending: already delivered
    assert [m.data["key"] for m in telegram.sent] == ["a", "b"]


# ------------------------------------------------------------------------------------- the loop


async def test_run_waits_for_new_rows_and_for_the_next_due_time(core: Core, clock: VirtualClock) -> None:
    telegram = FakeNotifier("telegram")
    slept: list[float] = []
    sent_at: list[datetime] = []
    arrived = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:  # virtual time: jump, then let others run
        slept.append(seconds)
        clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    async def send(message: Outgoing) -> None:
        telegram.sent.append(message)
        sent_at.append(clock.now())
        arrived.set()

    telegram.send = send  # type: ignore[method-assign]

    async def sent(count: int) -> None:
        while len(telegram.sent) < count:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), timeout=5)  # a guard only: virtual time never waits

    worker = DeliveryWorker(core, {"telegram": telegram}, sleep=fake_sleep, merge_window=timedelta(0))
    erin = await queue(core, Actor("telegram", "300", "erin", chat_id="300"), "order_filled", "a")
    for key in ("b", "c"):
        clock.advance(timedelta(milliseconds=100))
        await queue_for(core, erin, "order_filled", key)
    task = asyncio.create_task(worker.run())
    await sent(3)
    await queue_for(core, erin, "order_filled", "d")
    await sent(4)
    worker.stop()
    await asyncio.wait_for(task, timeout=5)
    assert [m.data["key"] for m in telegram.sent] == ["a", "b", "c", "d"]
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(sent_at)]
    assert all(gap >= 1 for gap in gaps), gaps  # Telegram: one message per second to a private chat
    assert any(0 < seconds < 1.5 for seconds in slept)  # it slept until the scheduler's next wake
    assert len(slept) < 10  # and otherwise waited for the outbox to change, without spinning
    assert await undelivered(core) == 0
