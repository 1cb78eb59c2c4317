"""Latency of trading commands through the real services on an on-disk SQLite database.

Creates the users first (not timed), then runs a mix of market opens, closes and isolated margin additions
through `core.services.trading`, the code path every chat platform uses, one command at a time, each in its own
transaction, timing each one.

    python -m bench.commands [--users 1000] [--commands 5000] [--seed 7]

Prints one JSON line: users, commands, commands_per_s, p50_ms, p99_ms, refused, db_trips_per_command (waits for
aiosqlite's thread), db_roundtrip_us (one trivial trip: the floor under each), python, cpu.
Targets (2 cores): at least 500 commands/s and p99 at most 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from core.clock import VirtualClock
from core.domain.instruments import load_catalog
from core.errors import Refused
from core.market.feed import ManualFeed
from core.results import Actor, PositionChanged
from core.services import accounts, trading
from core.services.core import Core, Settings
from core.storage.db import Database

MARKS = {"BTC": Decimal(60000), "ETH": Decimal(3000), "SOL": Decimal(150), "DOGE": Decimal("0.2")}
SYMBOLS = tuple(MARKS)
OPEN_MARGINS = (Decimal(50), Decimal(100), Decimal(250), Decimal(500))  # USDT of margin per open
MIX = {"open": 5, "close": 3, "margin": 2}  # weights of the command kinds


def cpu_name() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model} ({count} cores)"


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def next_command(core: Core, rng: random.Random, user: Actor, held: dict[str, str]) -> Awaitable[object]:
    """A command that makes sense for what the user holds (symbol → margin mode): add margin to an isolated
    position, close a position, or open one."""
    kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    isolated = sorted(symbol for symbol, mode in held.items() if mode == "isolated")
    if kind == "margin" and isolated:
        return trading.change_margin(core, user, rng.choice(isolated), Decimal(rng.choice([5, 10, 25])), adding=True)
    if kind != "open" and held:
        symbol = rng.choice(sorted(held))
        return trading.close_position(core, user, symbol, pct=rng.choice([Decimal(50), Decimal(100)]))
    symbol = rng.choice(SYMBOLS)
    amount = trading.Amount(rng.choice(OPEN_MARGINS), is_qty=False)
    if symbol in held:  # add to (or reduce, or flip) the position at its own leverage and mode
        return trading.open_position(core, user, symbol, rng.choice([1, -1]), amount)
    leverage, mode = rng.choice([5, 10, 20]), rng.choice(["isolated", "cross"])
    return trading.open_position(core, user, symbol, rng.choice([1, -1]), amount, leverage, mode)


async def db_roundtrip(db: Database, count: int = 2000) -> float:
    """Seconds of one trivial statement through aiosqlite's worker thread: the floor under every query."""
    started = time.perf_counter()
    for _ in range(count):
        await db.conn.execute_fetchall("SELECT 1")
    return (time.perf_counter() - started) / count


async def bench(users: int, commands: int, seed: int, directory: Path) -> dict[str, object]:
    db = Database(directory / "bench.sqlite3")
    await db.open()
    try:
        clock = VirtualClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
        core = Core(db=db, catalog=load_catalog(), feed=ManualFeed(MARKS), clock=clock, settings=Settings())
        actors = [Actor("bench", str(i), f"user{i}", chat_id=str(i)) for i in range(users)]
        for user in actors:
            await accounts.start(core, user)
        holdings: dict[str, dict[str, str]] = {user.key: {} for user in actors}
        rng = random.Random(seed)
        latencies: list[float] = []
        refused = 0
        trips = db.conn.trips
        started = time.perf_counter()
        for _ in range(commands):
            user = rng.choice(actors)
            held = holdings[user.key]
            before = time.perf_counter()
            try:
                result = await next_command(core, rng, user, held)
            except Refused:
                refused += 1
                result = None
            latencies.append(time.perf_counter() - before)
            if isinstance(result, PositionChanged):
                if result.position_side:
                    held[result.symbol] = result.mode
                else:
                    held.pop(result.symbol, None)
        elapsed = time.perf_counter() - started
        trips = db.conn.trips - trips
        roundtrip = await db_roundtrip(db)
    finally:
        await db.close()
    latencies.sort()
    return {
        "users": users,
        "commands": commands,
        "commands_per_s": round(commands / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "refused": refused,
        "db_trips_per_command": round(trips / commands, 2),
        "db_roundtrip_us": round(roundtrip * 1e6, 1),
        "python": platform.python_version(),
        "cpu": cpu_name(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.commands", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--commands", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as directory:
        result = asyncio.run(bench(args.users, args.commands, args.seed, Path(directory)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
