"""The spine's shared fixtures: a real SQLite core on a virtual clock and a manual market, actors, and the
instrument tables of Binance's published examples (copied here: no test reads ../shared at run time)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.clock import VirtualClock
from core.domain.instruments import Catalog, load_catalog
from core.market.feed import ManualFeed
from core.results import Actor
from core.services.core import Core, Settings
from core.storage.db import Database

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday morning, between two funding times
ADMIN_KEY = "console:admin"
STARTING_MARKS = {"BTC": Decimal(60000), "ETH": Decimal(3000), "SOL": Decimal(150), "DOGE": Decimal("0.2")}

# Binance USD-M brackets of 2021 for BTC and ETH, as used in Binance's published liquidation example
# (../shared/examples/binance-cross.instruments.toml), with zero trading fees as the example has none.
BINANCE_2021_TOML = """\
# Binance USD-M brackets of 2021 for BTC and ETH, as used in Binance's published liquidation example.
[fees]
taker = "0"
maker = "0"

[symbols.BTC]
tick_size = "0.01"
lot_size = "0.001"
brackets = [["0", "50000", "0.004", 125, "0"], ["50000", "250000", "0.005", 100, "50"],
            ["250000", "1000000", "0.01", 50, "1300"], ["1000000", "5000000", "0.025", 20, "16300"],
            ["5000000", "20000000", "0.05", 10, "141300"], ["20000000", "1000000000000", "0.1", 5, "1141300"]]

[symbols.ETH]
tick_size = "0.01"
lot_size = "0.001"
brackets = [["0", "10000", "0.005", 100, "0"], ["10000", "100000", "0.0065", 75, "15"],
            ["100000", "500000", "0.01", 50, "365"], ["500000", "1000000", "0.02", 25, "5365"],
            ["1000000", "2000000", "0.05", 10, "35365"], ["2000000", "5000000", "0.1", 5, "135365"],
            ["5000000", "1000000000000", "0.125", 4, "260365"]]
"""

# The 2019–20 Binance FAQ example (B3/B4: bradkyle/Qenv/logic/binance.md): BTCUSDT first tier 0.4 %, ETHUSDT
# first tier 0.65 %, no maintenance amount in the first tier. Higher tiers only keep MM continuous.
FAQ_2019_TOML = """\
[fees]
taker = "0"
maker = "0"

[symbols.BTC]
tick_size = "0.01"
lot_size = "0.001"
brackets = [["0", "50000", "0.004", 125, "0"], ["50000", "250000", "0.005", 100, "50"],
            ["250000", "1000000", "0.01", 50, "1300"], ["1000000", "5000000", "0.025", 20, "16300"],
            ["5000000", "20000000", "0.05", 10, "141300"], ["20000000", "1000000000000", "0.1", 5, "1141300"]]

[symbols.ETH]
tick_size = "0.01"
lot_size = "0.001"
brackets = [["0", "10000", "0.0065", 75, "0"], ["10000", "1000000000000", "0.01", 50, "35"]]
"""


def write_catalog(directory: Path, text: str, name: str = "instruments.toml") -> Catalog:
    """Write an instruments file and load it through the real loader (its checks run too)."""
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return load_catalog(path)


@pytest.fixture
def binance_2021(tmp_path: Path) -> Catalog:
    return write_catalog(tmp_path, BINANCE_2021_TOML, "binance-2021.toml")


@pytest.fixture
def faq_2019(tmp_path: Path) -> Catalog:
    return write_catalog(tmp_path, FAQ_2019_TOML, "faq-2019.toml")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def feed() -> ManualFeed:
    return ManualFeed(STARTING_MARKS)


@pytest.fixture
def settings() -> Settings:
    return Settings(starting_balance=Decimal(10_000), admins=frozenset({ADMIN_KEY}))


@pytest.fixture
async def core(tmp_path: Path, clock: VirtualClock, feed: ManualFeed, settings: Settings) -> AsyncIterator[Core]:
    """Built like bot.main.open_core, with a manual feed, a virtual clock and a database file in tmp_path."""
    db = Database(tmp_path / "dojo.sqlite3")
    await db.open()
    try:
        yield Core(db=db, catalog=load_catalog(), feed=feed, clock=clock, settings=settings)
    finally:
        await db.close()


def make_actor(name: str = "alice", platform: str = "console") -> Actor:
    return Actor(platform, name, name, chat_id=f"private:{name}")


@pytest.fixture
def actor() -> Callable[..., Actor]:
    """`actor("bob")`: a user writing in a private chat (console platform: no command rate limit)."""
    return make_actor


@pytest.fixture
def admin() -> Actor:
    return make_actor("admin")


async def table_snapshot(core: Core) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refused command changed nothing."""
    async with core.db.transaction() as tx:
        async with tx.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") as cursor:
            tables = [row[0] for row in await cursor.fetchall()]
        snapshot: dict[str, list[tuple[Any, ...]]] = {}
        for table in tables:
            async with tx.execute(f'SELECT * FROM "{table}"') as cursor:
                snapshot[table] = sorted((tuple(row) for row in await cursor.fetchall()), key=repr)
    return snapshot


async def ledger_sums(core: Core) -> dict[int, tuple[Decimal, Decimal]]:
    """(sum of the ledger rows, wallet balance) of every account."""
    async with core.db.transaction() as tx:
        async with tx.execute("SELECT id, wallet_balance FROM accounts") as cursor:
            wallets = {int(row[0]): Decimal(row[1]) for row in await cursor.fetchall()}
        sums = dict.fromkeys(wallets, Decimal(0))
        async with tx.execute("SELECT account_id, amount FROM ledger") as cursor:
            for account_id, amount in await cursor.fetchall():
                sums[int(account_id)] += Decimal(amount)
    return {account_id: (sums[account_id], wallet) for account_id, wallet in wallets.items()}
