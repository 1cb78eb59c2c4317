"""Rate limiting of pushes, on a virtual clock (plain floats; nothing sleeps)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain.ratelimit import (
    DEFAULT_LIMITS,
    DISCORD_LIMITS,
    TELEGRAM_LIMITS,
    ChatKey,
    Delivery,
    DeliveryScheduler,
    PlatformLimits,
    Priority,
    Rate,
    SlidingWindow,
    TokenBucket,
    backoff,
    chat_key,
    normalize_chat_kind,
    priority_for,
)

Item = Delivery[str]
Sent = list[tuple[float, Item]]


def msg(
    chat: str,
    priority: int = Priority.FILL,
    payload: str = "",
    *,
    kind: str = "private",
    platform: str = "telegram",
) -> Item:
    return Delivery(platform, chat, kind, int(priority), payload or f"{chat}:{priority}")


def scheduler(*limits: PlatformLimits) -> DeliveryScheduler[Item]:
    return DeliveryScheduler(limits or DEFAULT_LIMITS)


def drain(sched: DeliveryScheduler[Item], start: float = 0.0, until: float = float("inf")) -> Sent:
    """Run the scheduler on a virtual clock from `start`, jumping to each `next_wake`."""
    sent: Sent = []
    wake: float | None = start
    while wake is not None and wake <= until:
        now = wake
        sent.extend((now, item) for item in sched.due(now))
        wake = sched.next_wake(now)
        assert wake is None or wake > now, "next_wake must move forward after due()"
    return sent


def max_in_window(times: Sequence[float], per: float) -> int:
    """Most sends inside any half-open window [t, t + per)."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, at in enumerate(ordered):
        while ordered[lo] + per <= at:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def times_by_chat(sent: Sent) -> dict[ChatKey, list[float]]:
    grouped: dict[ChatKey, list[float]] = defaultdict(list)
    for at, item in sent:
        grouped[chat_key(item)].append(at)
    return grouped


# ------------------------------------------------------------------------------------------- limiters


def test_token_bucket_refill_maths() -> None:
    bucket = TokenBucket(rate=2.0, capacity=4.0)
    assert bucket.available(0.0) == 4.0
    assert all(bucket.try_take(0.0) for _ in range(4))
    assert not bucket.try_take(0.0)
    assert bucket.available(0.0) == 0.0
    assert bucket.available(0.25) == pytest.approx(0.5)
    assert bucket.next_free(0.25) == pytest.approx(0.5)
    assert not bucket.try_take(0.4)
    assert bucket.try_take(bucket.next_free(0.4))  # exactly at next_free, no epsilon needed
    assert bucket.available(0.5) == pytest.approx(0.0)
    assert bucket.available(1.25) == pytest.approx(1.5)
    assert bucket.available(100.0) == 4.0  # capped at capacity
    assert bucket.next_free(100.0) == 100.0
    assert bucket.idle_at(0.5) == pytest.approx(2.5)  # 4 tokens missing at 2/s


def test_token_bucket_long_run_rate_and_burst() -> None:
    bucket = TokenBucket(rate=30.0, capacity=30.0)
    now, sent = 0.0, list[float]()
    while len(sent) < 330:
        if bucket.try_take(now):
            sent.append(now)
        else:
            now = bucket.next_free(now)
    assert sent[:30] == [0.0] * 30  # the initial burst
    assert sent[-1] == pytest.approx(10.0)  # then exactly 30/s: 300 more in 10 s
    # the reason the scheduler defaults to windows: a refilling bucket packs up to 2N-1 into one window
    assert max_in_window(sent, 1.0) == 59


@pytest.mark.parametrize(("rate", "capacity"), [(0.0, 1.0), (-1.0, 5.0), (1.0, 0.5)])
def test_token_bucket_rejects_nonsense(rate: float, capacity: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, capacity)


def test_sliding_window_counts_exactly() -> None:
    window = SlidingWindow(3, 10.0)
    assert [window.try_take(t) for t in (0.0, 1.0, 2.0, 3.0)] == [True, True, True, False]
    assert window.available(5.0) == 0.0
    assert window.next_free(5.0) == 10.0
    assert not window.try_take(9.999)
    assert window.try_take(10.0)  # the send at 0 has left [0.0, 10.0)
    assert window.available(11.5) == 1.0  # the send at 1 has left too
    assert window.next_free(11.5) == 11.5
    assert window.try_take(11.5)
    assert window.next_free(11.5) == 12.0  # when the send at 2 leaves
    assert window.idle_at(11.5) == 21.5  # when the last send leaves


def test_rate_helpers() -> None:
    assert Rate(20, 60.0).per_second == pytest.approx(1 / 3)
    assert isinstance(Rate(1).window(), SlidingWindow)
    assert isinstance(Rate(1).bucket(), TokenBucket)
    with pytest.raises(ValueError):
        Rate(0)


def test_default_limits() -> None:
    assert TELEGRAM_LIMITS.overall == Rate(30, 1.0)
    assert TELEGRAM_LIMITS.chat_rate("private") == Rate(1, 1.0)
    assert TELEGRAM_LIMITS.chat_rate("group") == Rate(20, 60.0)
    assert TELEGRAM_LIMITS.chat_rate("supergroup") == Rate(20, 60.0)
    assert DISCORD_LIMITS.overall == Rate(50, 1.0)
    assert normalize_chat_kind(" Private ") == "private"
    with pytest.raises(ValueError):
        normalize_chat_kind("dm")


# ----------------------------------------------------------------------------------------- priorities


def test_priority_constants_and_kinds() -> None:
    assert [p.value for p in Priority] == list(range(7))
    assert Priority.LIQUIDATION < Priority.DANGER < Priority.WARNING < Priority.FILL
    assert Priority.FILL < Priority.PRICE_ALERT < Priority.FUNDING < Priority.DIGEST
    assert priority_for("liquidation") is Priority.LIQUIDATION
    assert priority_for("margin_danger") is Priority.DANGER
    assert priority_for("margin_warning") is Priority.WARNING
    assert priority_for("order_filled") is Priority.FILL
    assert priority_for("price_alert") is Priority.PRICE_ALERT
    assert priority_for("funding") is Priority.FUNDING
    assert priority_for("digest") is Priority.DIGEST
    unknown = priority_for("position_closed")
    assert Priority.WARNING < unknown < Priority.PRICE_ALERT  # ranks with fills


def test_backoff_doubles_and_caps() -> None:
    assert [backoff(n) for n in range(1, 12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert backoff(0) == 1.0
    assert backoff(10_000) == 300.0  # no overflow
    assert backoff(3, base=0.5, cap=10.0) == 2.0


# ------------------------------------------------------------------------------------ scheduler limits


def test_overall_30_per_second_never_exceeded() -> None:
    sched = scheduler()
    for i in range(1000):
        sched.push(msg(f"u{i}", Priority.FILL + i % 4))
    sent = drain(sched)
    times = [at for at, _ in sent]
    assert len(sent) == 1000 and len(sched) == 0
    assert max_in_window(times, 1.0) == 30
    assert times.count(0.0) == 30  # full burst at once
    assert times[-1] == pytest.approx(33.0)  # 1000 = 33 windows of 30, then 10


def test_each_private_chat_gets_one_per_second() -> None:
    sched = scheduler()
    for n in range(5):
        sched.push(msg("alice", payload=f"a{n}"))
    for i in range(40):
        sched.push(msg(f"u{i}"))
    sent = drain(sched)
    alice = times_by_chat(sent)[ChatKey("telegram", "private", "alice")]
    assert alice == [0.0, 1.0, 2.0, 3.0, 4.0]
    sched.push(msg("alice", payload="again"))
    assert sched.due(4.999) == []
    assert [item.payload for item in sched.due(5.0)] == ["again"]
    assert max_in_window([at for at, _ in sent], 1.0) <= 30


def test_group_chat_20_per_any_minute() -> None:
    sched = scheduler()
    for n in range(50):
        sched.push(msg("-100group", payload=f"g{n}", kind="group"))
    for n in range(5):
        sched.push(msg("-200other", payload=f"o{n}", kind="supergroup"))
    sent = drain(sched)
    group = times_by_chat(sent)[ChatKey("telegram", "group", "-100group")]
    assert group == [0.0] * 20 + [60.0] * 20 + [120.0] * 10
    assert max_in_window(group, 60.0) == 20
    assert times_by_chat(sent)[ChatKey("telegram", "group", "-200other")] == [0.0] * 5


def test_group_window_slides_with_spread_out_sends() -> None:
    sched = scheduler()
    sent: Sent = []
    for minute in range(4):  # 15 new messages every 20 s, each batch competing for the same minute
        start = minute * 20.0
        for n in range(15):
            sched.push(msg("-1", payload=f"{minute}-{n}", kind="group"))
        sent += drain(sched, start, until=start + 19.0)
    sent += drain(sched, 80.0)
    times = [at for at, _ in sent]
    assert len(times) == 60
    assert max_in_window(times, 60.0) == 20


def test_discord_overall_only() -> None:
    sched = scheduler()
    for n in range(120):
        sched.push(msg("chan", payload=str(n), kind="group", platform="discord"))
    times = [at for at, _ in drain(sched)]
    assert times == [0.0] * 50 + [1.0] * 50 + [2.0] * 20


def test_platforms_do_not_share_budgets() -> None:
    sched = scheduler()
    for i in range(60):
        sched.push(msg(f"t{i}"))
        sched.push(msg(f"d{i}", kind="group", platform="discord"))
    first = sched.due(0.0)
    assert sum(item.platform == "telegram" for item in first) == 30
    assert sum(item.platform == "discord" for item in first) == 50


# --------------------------------------------------------------------------------------- scheduler order


def test_liquidation_queued_after_100_digests_goes_first() -> None:
    sched = scheduler()
    for i in range(100):
        sched.push(msg(f"u{i}", Priority.DIGEST))
    sched.push(msg("late", Priority.LIQUIDATION, "liq"))
    assert sched.due(0.0)[0].payload == "liq"


def test_liquidation_jumps_the_queue_of_its_own_chat() -> None:
    sched = scheduler()
    for n in range(100):
        sched.push(msg("bob", Priority.DIGEST, f"d{n}"))
    assert [item.payload for item in sched.due(0.0)] == ["d0"]
    sched.push(msg("bob", Priority.LIQUIDATION, "liq"))
    assert sched.due(0.5) == []
    assert [item.payload for item in sched.due(1.0)] == ["liq"]
    assert [item.payload for item in sched.due(2.0)] == ["d1"]


def test_fifo_within_a_priority() -> None:
    sched = scheduler()
    for i in range(100):
        sched.push(msg(f"u{i % 50}", Priority.FILL, f"m{i:03}"))
    sent = drain(sched)
    assert [item.payload for _, item in sent] == [f"m{i:03}" for i in range(100)]
    assert [at for at, _ in sent] == [0.0] * 30 + [1.0] * 20 + [1.0] * 10 + [2.0] * 30 + [3.0] * 10


def test_due_returns_most_urgent_first() -> None:
    sched = scheduler()
    priorities = [6, 3, 0, 5, 1, 4, 2, 3, 0]
    for i, priority in enumerate(priorities):
        sched.push(msg(f"u{i}", priority, f"p{priority}-{i}"))
    assert [item.priority for item in sched.due(0.0)] == sorted(priorities)


def test_due_merges_platforms_by_priority() -> None:
    sched = scheduler()
    sched.push(msg("t1", Priority.DIGEST, "tg-digest"))
    sched.push(msg("d1", Priority.LIQUIDATION, "dc-liq", kind="group", platform="discord"))
    sched.push(msg("t2", Priority.WARNING, "tg-warn"))
    assert [item.payload for item in sched.due(0.0)] == ["dc-liq", "tg-warn", "tg-digest"]


def test_no_head_of_line_blocking() -> None:
    sched = scheduler()
    for n in range(5):
        sched.push(msg("hot", Priority.LIQUIDATION, f"liq{n}"))
    for i in range(20):
        sched.push(msg(f"u{i}", Priority.DIGEST))
    first = sched.due(0.0)
    assert first[0].payload == "liq0"
    assert len(first) == 21  # the exhausted chat does not hold back the digests
    assert sched.due(0.5) == []
    assert sched.next_wake(0.5) == 1.0
    assert [item.payload for item in sched.due(1.0)] == ["liq1"]


def test_no_head_of_line_blocking_behind_a_chat_that_just_sent() -> None:
    sched = scheduler()
    sched.push(msg("hot", Priority.FILL, "fill"))
    assert len(sched.due(0.0)) == 1  # "hot" is idle again, but its 1 s window is still full
    sched.push(msg("hot", Priority.LIQUIDATION, "liq"))
    for i in range(10):
        sched.push(msg(f"u{i}", Priority.DIGEST, f"d{i}"))
    assert [item.payload for item in sched.due(0.5)] == [f"d{i}" for i in range(10)]
    assert sched.next_wake(0.5) == 1.0
    assert [item.payload for item in sched.due(1.0)] == ["liq"]


def test_exhausted_chat_does_not_spend_the_overall_budget() -> None:
    sched = scheduler()
    for n in range(40):
        sched.push(msg("-5", Priority.LIQUIDATION, f"g{n}", kind="group"))
    for i in range(40):
        sched.push(msg(f"u{i}", Priority.DIGEST))
    first = sched.due(0.0)
    assert [item.payload for item in first[:20]] == [f"g{n}" for n in range(20)]
    assert len(first) == 30  # 20 to the group, then 10 digests, not 30 group messages refused
    second = sched.due(1.0)
    assert len(second) == 30 and all(item.chat_kind == "private" for item in second)


# ------------------------------------------------------------------------------------- retries, pauses


def test_retry_later_waits_for_its_time_and_keeps_priority() -> None:
    sched = scheduler()
    liq = msg("carol", Priority.LIQUIDATION, "liq")
    sched.push(liq)
    [out] = sched.due(0.0)
    retry = replace(out, attempt=2)  # failed for the second time
    sched.retry_later(retry, 0.0 + backoff(retry.attempt))  # 2 s
    for i in range(40):
        sched.push(msg(f"u{i}", Priority.DIGEST))
    assert len(sched) == 41
    assert all(item.payload != "liq" for item in sched.due(1.0))
    assert sched.next_wake(1.0) == 2.0
    at_two = sched.due(2.0)
    assert at_two[0].payload == "liq" and at_two[0].attempt == 2
    assert len(sched) == 0


def test_retry_respects_the_chat_limit() -> None:
    sched = scheduler()
    sched.push(msg("dave", payload="first"))
    [first] = sched.due(10.0)
    sched.retry_later(first, 10.25)  # sooner than the chat's 1 s window allows
    assert sched.due(10.25) == []
    assert sched.next_wake(10.25) == 11.0
    assert [item.payload for item in sched.due(11.0)] == ["first"]


def test_pause_chat_holds_only_that_chat() -> None:
    sched = scheduler()
    for n in range(3):
        sched.push(msg("erin", Priority.LIQUIDATION, f"e{n}"))
    sched.push(msg("frank", Priority.DIGEST, "f0"))
    sched.pause_chat(ChatKey("telegram", "private", "erin"), until=5.0)
    assert [item.payload for item in sched.due(0.0)] == ["f0"]
    assert sched.next_wake(0.0) == 5.0
    sched.pause_chat(ChatKey("telegram", "private", "erin"), until=3.0)  # never shortens
    assert sched.due(3.0) == []
    sent = drain(sched, 3.0)
    assert [(at, item.payload) for at, item in sent] == [(5.0, "e0"), (6.0, "e1"), (7.0, "e2")]


def test_pause_chat_after_a_send_of_retry_after() -> None:
    sched = scheduler()
    sched.push(msg("gina", payload="x"))
    [item] = sched.due(0.0)
    retry_after = 7.5  # DeliveryError(..., retry_after=7.5)
    sched.pause_chat(chat_key(item), 0.0 + retry_after)
    sched.retry_later(item, 0.0 + retry_after)
    sched.push(msg("gina", payload="y"))
    sent = drain(sched, 0.0)
    assert [(at, i.payload) for at, i in sent] == [(7.5, "x"), (8.5, "y")]


def test_pause_an_idle_chat_then_queue() -> None:
    sched = scheduler()
    sched.pause_chat(ChatKey("telegram", "private", "hal"), 4.0)
    assert sched.next_wake(0.0) is None  # nothing pending
    sched.push(msg("hal", payload="late"))
    assert sched.due(1.0) == []
    assert sched.next_wake(1.0) == 4.0
    assert [item.payload for item in sched.due(4.0)] == ["late"]


def test_pause_platform() -> None:
    sched = scheduler()
    for i in range(3):
        sched.push(msg(f"u{i}"))
    sched.push(msg("d", kind="group", platform="discord"))
    sched.pause_platform("telegram", 9.0)
    assert [item.platform for item in sched.due(0.0)] == ["discord"]
    assert sched.next_wake(0.0) == 9.0
    assert len(sched.due(9.0)) == 3


# ---------------------------------------------------------------------------------------- bookkeeping


def test_next_wake() -> None:
    sched = scheduler()
    assert sched.next_wake(3.0) is None
    sched.push(msg("ivy"))
    assert sched.next_wake(3.0) == 3.0
    sched.due(3.0)
    assert sched.next_wake(3.0) is None


def test_unknown_platform_or_chat_kind_is_refused() -> None:
    sched = scheduler()
    with pytest.raises(ValueError):
        sched.push(msg("x", platform="slack"))
    with pytest.raises(ValueError):
        sched.push(msg("x", kind="dm"))
    with pytest.raises(ValueError):
        sched.retry_later(msg("x", platform="slack"), 1.0)
    with pytest.raises(ValueError):
        DeliveryScheduler([TELEGRAM_LIMITS, TELEGRAM_LIMITS])
    assert len(sched) == 0


def test_unlimited_platform_and_token_bucket_limiter() -> None:
    console: DeliveryScheduler[Item] = DeliveryScheduler([PlatformLimits("console")])
    for n in range(500):
        console.push(msg("me", platform="console", payload=str(n)))
    assert len(console.due(0.0)) == 500
    smooth: DeliveryScheduler[Item] = DeliveryScheduler(DEFAULT_LIMITS, limiter=Rate.bucket)
    for i in range(90):
        smooth.push(msg(f"u{i}"))
    times = [at for at, _ in drain(smooth)]
    assert times[:30] == [0.0] * 30
    assert times[-1] == pytest.approx(2.0)  # 30 at once, then 30/s


def test_idle_chats_are_forgotten() -> None:
    sched = scheduler()
    for i in range(100):
        sched.push(msg(f"u{i}"))
    drain(sched)
    assert sched.tracked_chats() > 0  # the last ones still have a send inside their 1 s window
    sched.due(100.0)
    assert sched.tracked_chats() == 0


def test_drain_of_10000_private_chats_is_cheap() -> None:
    sched = scheduler()
    items = [msg(f"{1_000_000 + i}", i % 7, str(i)) for i in range(10_000)]
    start = time.process_time()
    for item in items:
        sched.push(item)
    sent = drain(sched)
    cpu = time.process_time() - start
    assert len(sent) == 10_000
    assert sent[-1][0] == pytest.approx(333.0)
    assert cpu < 1.0, f"{cpu:.3f} s of CPU"


# ------------------------------------------------------------------------------------------ properties

events = st.lists(
    st.tuples(
        st.floats(0.0, 3.0),  # time step
        st.sampled_from(["push", "push", "push", "retry", "pause"]),
        st.sampled_from(["p1", "p2", "p3", "-g1", "-g2", "d1"]),
        st.integers(0, 6),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(events)
def test_random_traffic_never_breaks_a_limit(script: list[tuple[float, str, str, int]]) -> None:
    sched = scheduler()
    now, pushed = 0.0, 0
    sent: Sent = []
    pauses: dict[ChatKey, list[tuple[int, float]]] = defaultdict(list)  # (sends before the pause, until)
    last_sent: Item | None = None
    for step, action, chat, priority in script:
        now += step
        platform = "discord" if chat.startswith("d") else "telegram"
        kind = "group" if chat.startswith(("-", "d")) else "private"
        if action == "push":
            sched.push(msg(chat, priority, f"{pushed}", kind=kind, platform=platform))
            pushed += 1
        elif action == "retry" and last_sent is not None:
            sched.retry_later(last_sent, now + backoff(priority))
            pushed += 1
        elif action == "pause":
            key = ChatKey(platform, kind, chat)
            sched.pause_chat(key, now + priority)
            pauses[key].append((len(sent), now + priority))
        due = sched.due(now)
        sent += [(now, item) for item in due]
        last_sent = due[-1] if due else last_sent
    sent += drain(sched, now)
    assert len(sent) == pushed and len(sched) == 0
    for platform in ("telegram", "discord"):
        overall = [at for at, item in sent if item.platform == platform]
        assert max_in_window(overall, 1.0) <= (30 if platform == "telegram" else 50)
    for key, times in times_by_chat(sent).items():
        rate = (TELEGRAM_LIMITS if key.platform == "telegram" else DISCORD_LIMITS).chat_rate(key.kind)
        if rate is not None:
            assert max_in_window(times, rate.per) <= rate.count
        for before, until in pauses[key]:
            assert all(at >= until for at, item in sent[before:] if chat_key(item) == key)
