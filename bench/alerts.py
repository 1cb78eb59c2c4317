"""Drain a burst of alerts to distinct Telegram private chats through the real DeliveryScheduler.

Virtual clock: the loop jumps straight to `next_wake`, so the measured drain time is the schedule's, and
the CPU time is the scheduler's own cost.  Every send time is recorded and every sliding window of every
limit (overall, each chat) is checked afterwards.

    python -m bench.alerts [--messages 10000] [--seed 7]

Prints one JSON line; exits 1 if a limit was exceeded, an item was lost or reordered, or ratio > 1.05.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Sequence

from core.domain.ratelimit import (
    DEFAULT_LIMITS,
    TELEGRAM_LIMITS,
    ChatKey,
    Delivery,
    DeliveryScheduler,
    Priority,
    Rate,
    chat_key,
)

TARGET_RATIO = 1.05
# Mixed alert traffic: mostly fills, price alerts and digests, a few liquidations and margin warnings.
MIX = {
    Priority.LIQUIDATION: 2,
    Priority.DANGER: 3,
    Priority.WARNING: 5,
    Priority.FILL: 30,
    Priority.PRICE_ALERT: 25,
    Priority.FUNDING: 15,
    Priority.DIGEST: 20,
}

Sent = list[tuple[float, Delivery[int]]]


def window_violations(times: Sequence[float], rate: Rate) -> int:
    """Windows [t, t + per) holding more than `count` sends (times sorted ascending)."""
    n = rate.count
    return sum(1 for i in range(len(times) - n) if times[i + n] < times[i] + rate.per)


def limit_violations(sent: Sent) -> int:
    overall = [at for at, _ in sent]
    per_chat: dict[ChatKey, list[float]] = defaultdict(list)
    for at, item in sent:
        per_chat[chat_key(item)].append(at)
    assert TELEGRAM_LIMITS.overall is not None
    bad = window_violations(overall, TELEGRAM_LIMITS.overall)
    for key, times in per_chat.items():
        rate = TELEGRAM_LIMITS.chat_rate(key.kind)
        if rate is not None:
            bad += window_violations(times, rate)
    return bad


def order_problems(sent: Sent, count: int) -> list[str]:
    """All items were queued at t=0 to distinct chats, so sends must be in (priority, queue order)."""
    problems = []
    payloads = [item.payload for _, item in sent]
    if sorted(payloads) != list(range(count)):
        problems.append(f"delivered {len(payloads)} items, {len(set(payloads))} distinct, expected {count}")
    keys = [(item.priority, item.payload) for _, item in sent]
    if keys != sorted(keys):
        problems.append("sends are not in priority order, FIFO within a priority")
    return problems


def run(count: int, seed: int) -> tuple[dict[str, object], list[str]]:
    rng = random.Random(seed)
    priorities = rng.choices(list(MIX), weights=list(MIX.values()), k=count)
    cpu_start = time.process_time()
    scheduler: DeliveryScheduler[Delivery[int]] = DeliveryScheduler(DEFAULT_LIMITS)
    for i, priority in enumerate(priorities):
        scheduler.push(Delivery("telegram", str(1_000_000 + i), "private", int(priority), payload=i))
    sent: Sent = []
    now = 0.0
    wake: float | None = now
    while wake is not None:
        now = wake
        sent.extend((now, item) for item in scheduler.due(now))
        wake = scheduler.next_wake(now)
        if wake is not None and wake <= now:  # after due(now), nothing more can be due at `now`
            raise AssertionError(f"next_wake({now}) did not move forward")
    cpu_s = time.process_time() - cpu_start

    drain_s = sent[-1][0] - sent[0][0] if sent else 0.0
    assert TELEGRAM_LIMITS.overall is not None
    theoretical = count / TELEGRAM_LIMITS.overall.per_second
    ratio = drain_s / theoretical if theoretical else 0.0
    violations = limit_violations(sent)
    problems = order_problems(sent, count)
    if len(scheduler):
        problems.append(f"{len(scheduler)} items still pending")
    if violations:
        problems.append(f"{violations} limit violations")
    if ratio > TARGET_RATIO:
        problems.append(f"ratio {ratio:.4f} above target {TARGET_RATIO}")
    result: dict[str, object] = {
        "messages": len(sent),
        "drain_s": round(drain_s, 6),
        "theoretical_min_s": round(theoretical, 6),
        "ratio": round(ratio, 6),
        "limit_violations": violations,
        "cpu_s": round(cpu_s, 6),
    }
    return result, problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    result, problems = run(args.messages, args.seed)
    print(json.dumps(result))
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
