"""Time the indexed risk sweep: many open positions in a real SQLite file, ticks that move every symbol.

Loads the accounts and positions in one transaction (executemany, the same TEXT formats as core.storage),
rebuilds the RiskIndex from the database, then times `sweep_indexed` per tick: numpy pre-screen, Decimal
confirmation of every candidate by `risk.liquidate_if_due`, and the writes of each liquidation. Marks move
±0.5 % around their base; a small share of "hot" accounts (high leverage, no spare cash) sits close enough
to liquidation that some of them go, so the confirm-and-write path is measured too.

    python -m bench.sweep [--positions 100000] [--accounts 20000] [--ticks 200] [--hot 0.002] [--verify]

Prints one JSON line; exits 1 if the median tick is above 50 ms or the peak RSS above 300 MB, or (--verify)
if a liquidation the brute-force Decimal evaluation finds was missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice
from pathlib import Path

import aiosqlite

from core.clock import VirtualClock
from core.domain.instruments import Catalog, load_catalog
from core.domain.money import floor_to_step, money
from core.domain.positions import Position, evaluate, isolated_liquidation_due
from core.market.feed import ManualFeed
from core.services.core import Core
from core.services.risk_index import RiskIndex, State, StatesReader, sweep_indexed
from core.storage import accounts as acc
from core.storage import positions as pos
from core.storage.db import Database
from core.storage.rows import dec, position_from, stamp, text

BASE = {
    "BTC": Decimal(95000),
    "ETH": Decimal(3200),
    "SOL": Decimal(140),
    "BNB": Decimal(900),
    "XRP": Decimal("2.2"),
    "DOGE": Decimal("0.17"),
}
TARGET_MEDIAN_MS = 50.0
TARGET_RSS_MB = 300.0
MOVE = 0.005  # each tick: every mark within ±0.5 % of its base
CALM_LEVERAGES = (2, 3, 5, 10, 20)  # liquidation ≥ 4.5 % away: ±0.5 % never reaches it
HOT_LEVERAGE = 100  # capped by the symbol's first bracket (BNB, DOGE: 75x)
START = datetime(2026, 1, 1, tzinfo=UTC)
LOAD_CHUNK = 2000  # accounts generated and inserted at a time, so the loader's peak memory stays small

PositionRow = tuple[int, str, int, str, str, int, str, str, str]


class Book:
    """One account's positions as rows for executemany, and the wallet that keeps it alive."""

    def __init__(self, catalog: Catalog, rng: random.Random, hot: bool) -> None:
        self.catalog, self.rng, self.hot = catalog, rng, hot
        self.rows: list[PositionRow] = []
        self.wallet = Decimal(0) if hot else Decimal(2000 + rng.randrange(0, 8000))

    def fill(self, account_id: int, symbols: list[str]) -> tuple[int, Book]:
        """Half the positions isolated, half cross, alternating along the account ids and symbols."""
        for k, symbol in enumerate(symbols):
            self.add(account_id, symbol, ("isolated", "cross")[(account_id + k) % 2])
        return account_id, self

    def add(self, account_id: int, symbol: str, mode: str) -> None:
        instrument = self.catalog.instruments[symbol]
        rng = self.rng
        if self.hot:
            leverage = min(HOT_LEVERAGE, instrument.brackets[0].max_leverage)
            entry = BASE[symbol] * Decimal(1 + rng.uniform(-0.003, 0.003))
            margin = Decimal(rng.randrange(50, 300))
        else:
            leverage = rng.choice(CALM_LEVERAGES)
            entry = BASE[symbol] * Decimal(1 + rng.uniform(-0.01, 0.01))
            margin = Decimal(rng.randrange(50, 1000))
        entry = floor_to_step(entry, instrument.tick_size)
        qty = max(instrument.lot_size, floor_to_step(margin * leverage / entry, instrument.lot_size))
        initial = money(qty * entry / leverage)
        self.wallet += initial  # isolated: its PM; cross: its IM, so the wallet backs every position
        pm = initial if mode == "isolated" else Decimal(0)
        side = rng.choice((1, -1))
        self.rows.append((account_id, symbol, side, text(qty), text(entry), leverage, mode, text(pm), stamp(START)))


def accounts_plan(positions: int, accounts: int, symbols: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    """Account ids 1…accounts with distinct symbols each, `positions` in all (at most one per symbol)."""
    per, extra = divmod(positions, accounts)
    if per + (extra > 0) > len(symbols):
        raise SystemExit(f"{positions} positions do not fit in {accounts} accounts of {len(symbols)} symbols")
    for n in range(accounts):
        count = per + (n < extra)
        yield n + 1, [symbols[(n + k) % len(symbols)] for k in range(count)]


async def load(core: Core, positions: int, accounts: int, hot: float, seed: int) -> None:
    """Users, accounts, their reset ledger rows and positions, in one transaction (written in chunks)."""
    rng = random.Random(seed)
    hot_ids = set(rng.sample(range(1, accounts + 1), round(accounts * hot)))
    plan = accounts_plan(positions, accounts, list(BASE))
    async with core.db.transaction() as tx:
        while chunk := list(islice(plan, LOAD_CHUNK)):
            await insert(
                tx,
                [
                    Book(core.catalog, rng, account_id in hot_ids).fill(account_id, symbols)
                    for account_id, symbols in chunk
                ],
            )


async def insert(tx: aiosqlite.Connection, books: list[tuple[int, Book]]) -> None:
    now = stamp(START)
    users = [(i, "bench", str(i), f"trader{i}", f"private:{i}", now) for i, _ in books]
    wallets = [(i, i, text(book.wallet), text(book.wallet), now) for i, book in books]
    ledger = [(i, "reset", text(book.wallet), text(book.wallet), None, now) for i, book in books]
    await tx.executemany(
        "INSERT INTO users (id, platform, platform_user_id, display_name, push_chat_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        users,
    )
    await tx.executemany(
        "INSERT INTO accounts (id, user_id, wallet_balance, starting_balance, created_at) VALUES (?, ?, ?, ?, ?)",
        wallets,
    )
    await tx.executemany(
        "INSERT INTO ledger (account_id, kind, amount, balance_after, symbol, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        ledger,
    )
    await tx.executemany(
        "INSERT INTO positions (account_id, symbol, side, qty, entry_price, leverage, margin_mode, margin, "
        "opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [row for _, book in books for row in book.rows],
    )


async def read_batch(tx: aiosqlite.Connection, account_ids: Sequence[int]) -> dict[int, State]:
    """`rebuild`'s reader in two queries per batch: the storage functions proposed for core/storage."""
    marks = ",".join("?" * len(account_ids))
    held: dict[int, list[Position]] = {account_id: [] for account_id in account_ids}
    async with tx.execute(f"SELECT * FROM positions WHERE account_id IN ({marks}) ORDER BY id", account_ids) as cursor:
        for row in await cursor.fetchall():
            held[int(row["account_id"])].append(position_from(row))
    async with tx.execute(f"SELECT id, wallet_balance FROM accounts WHERE id IN ({marks})", account_ids) as cursor:
        wallets = {int(row[0]): dec(row[1]) for row in await cursor.fetchall()}
    return {account_id: (wallets[account_id], positions) for account_id, positions in held.items()}


async def timed_rebuild(core: Core, read: StatesReader | None) -> tuple[float, int]:
    """Seconds to rebuild an index, and a digest of what it holds (then dropped: one index alive at a time)."""
    started = time.perf_counter()
    index = RiskIndex(core.catalog)
    await index.rebuild(core, read)
    seconds = time.perf_counter() - started
    return seconds, hash(frozenset(index.snapshot().items()))


async def missed(core: Core) -> int:
    """Brute force in Decimal after the last tick: accounts still due that the sweep left alone."""
    marks = core.feed.marks()
    count = 0
    async with core.db.transaction() as tx:
        for account_id in await pos.accounts_holding(tx, list(marks)):
            wallet = (await acc.account_by_id(tx, account_id)).wallet_balance
            view = evaluate(wallet, await pos.positions_of(tx, account_id), marks, core.catalog)
            count += view.cross_liquidation_due or any(isolated_liquidation_due(v) for v in view.positions)
    return count


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{len(os.sched_getaffinity(0))}"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} x{os.cpu_count()}"


async def run(args: argparse.Namespace, path: Path) -> dict[str, object]:
    rng = random.Random(args.seed + 1)
    feed = ManualFeed(BASE)
    clock = VirtualClock(START)
    db = Database(path)
    await db.open()
    try:
        core = Core(db=db, catalog=load_catalog(), feed=feed, clock=clock)
        await load(core, args.positions, args.accounts, args.hot, args.seed)
        rebuild_s, digest = await timed_rebuild(core, None)
        rebuild_bulk_s, bulk_digest = await timed_rebuild(core, read_batch)
        if digest != bulk_digest:
            raise SystemExit("the batch reader's rebuild disagrees with rebuild()")
        index = RiskIndex(core.catalog)  # the one the ticks use: rebuilt the default way, untimed
        await index.rebuild(core)
        times, liquidations, candidates = [], 0, 0
        for _ in range(args.ticks):
            clock.advance(timedelta(seconds=1))
            marks = {
                s: floor_to_step(p * Decimal(1 + rng.uniform(-MOVE, MOVE)), core.catalog.instruments[s].tick_size)
                for s, p in BASE.items()
            }
            candidates += len(index.candidates({**feed.marks(), **marks}, marks))
            started = time.perf_counter()
            outcomes = await sweep_indexed(core, index, feed.set_marks(marks, clock.now()))
            times.append((time.perf_counter() - started) * 1000)
            liquidations += len(outcomes)
        result: dict[str, object] = {
            "positions": args.positions,
            "accounts": args.accounts,
            "median_ms": round(statistics.median(times), 3),
            "p99_ms": round(sorted(times)[min(len(times) - 1, int(len(times) * 0.99))], 3),
            "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rebuild_s": round(rebuild_s, 3),
            "rebuild_bulk_s": round(rebuild_bulk_s, 3),
            "liquidations": liquidations,
            "python": platform.python_version(),
            "cpu": cpu_name(),
            "ticks": args.ticks,
            "mean_candidates": round(candidates / max(args.ticks, 1), 1),
            "open_after": index.positions,
        }
        if args.verify:
            result["missed"] = await missed(core)
        return result
    finally:
        await db.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--hot", type=float, default=0.002, help="share of accounts kept near liquidation")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verify", action="store_true", help="brute-force Decimal check after the last tick")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as folder:
        result = asyncio.run(run(args, Path(folder) / "sweep.sqlite3"))
    print(json.dumps(result))
    problems = []
    if float(str(result["median_ms"])) > TARGET_MEDIAN_MS:
        problems.append(f"median {result['median_ms']} ms above {TARGET_MEDIAN_MS} ms")
    if float(str(result["rss_mb"])) > TARGET_RSS_MB:
        problems.append(f"peak RSS {result['rss_mb']} MB above {TARGET_RSS_MB} MB")
    if result.get("missed"):
        problems.append(f"{result['missed']} due accounts left unliquidated")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
