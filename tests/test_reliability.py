"""Reliability and security: serialised accounts, no lost update, no 'database is locked', fuzzed command
lines that never escape as exceptions and never change state when refused, online backups, no secrets in logs."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.dispatch import handle
from bot.logs import protect
from core.clock import VirtualClock
from core.domain.instruments import load_catalog
from core.market.feed import ManualFeed
from core.results import Actor
from core.services.core import Core, Settings
from core.storage.db import Database

ALICE = Actor("console", "alice", "alice", chat_id="private:alice")
TABLES = ("users", "accounts", "positions", "trades", "ledger", "orders", "symbol_settings", "outbox")


async def open_core(path) -> Core:
    db = Database(path)
    await db.open()
    feed = ManualFeed({"BTC": Decimal(60000), "ETH": Decimal(3000), "SOL": Decimal(140)})
    return Core(db=db, catalog=load_catalog(), feed=feed, clock=VirtualClock(datetime(2026, 3, 1, tzinfo=UTC)),
                settings=Settings(admins=frozenset({"console:admin"})))


@pytest.fixture
async def core(tmp_path):
    core = await open_core(tmp_path / "r.sqlite3")
    yield core
    await core.db.close()


async def snapshot(core: Core) -> dict[str, list[tuple[object, ...]]]:
    async with core.db.transaction() as tx:
        result = {}
        for table in TABLES:
            async with tx.execute(f"SELECT * FROM {table} ORDER BY rowid") as cursor:
                result[table] = [tuple(row) for row in await cursor.fetchall()]
        return result


async def ledger_matches_wallets(core: Core) -> None:
    async with core.db.transaction() as tx:
        async with tx.execute("SELECT id, wallet_balance FROM accounts") as cursor:
            wallets = {row[0]: Decimal(row[1]) for row in await cursor.fetchall()}
        async with tx.execute("SELECT account_id, amount FROM ledger") as cursor:
            sums: dict[int, Decimal] = {}
            for account_id, amount in await cursor.fetchall():
                sums[account_id] = sums.get(account_id, Decimal(0)) + Decimal(amount)
    assert wallets == sums
    assert all(w >= 0 for w in wallets.values())


async def test_two_hundred_commands_at_once_on_one_account_lose_no_update(core: Core) -> None:
    replies = await asyncio.gather(*(handle(core, ALICE, "/long BTC 10 10x") for _ in range(200)))
    assert {r.type for r in replies} == {"trade"}
    async with core.db.transaction() as tx:
        async with tx.execute("SELECT qty, margin FROM positions") as cursor:
            qty, margin = await cursor.fetchone()
        async with tx.execute("SELECT COUNT(*) FROM trades") as cursor:
            (trades,) = await cursor.fetchone()
    assert trades == 200
    assert Decimal(qty) == Decimal("0.001") * 200  # 10 USDT × 10x at 60,000 = 0.001 BTC each
    assert Decimal(margin) == Decimal("6.00") * 200
    await ledger_matches_wallets(core)


async def test_many_users_proceed_side_by_side(core: Core) -> None:
    users = [Actor("console", f"u{i}", f"u{i}", chat_id=f"private:u{i}") for i in range(50)]
    lines = ["/long BTC 100 10x", "/short ETH 100 5x cross", "/close BTC 50%", "/positions"]
    replies = await asyncio.gather(*(handle(core, u, line) for u in users for line in lines))
    assert all(r.type != "error" for r in replies), [r.text for r in replies if r.type == "error"][:3]
    await ledger_matches_wallets(core)


async def test_another_writer_holding_the_database_never_reaches_the_user_as_locked(core: Core, tmp_path) -> None:
    other = sqlite3.connect(tmp_path / "r.sqlite3", timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def release_soon() -> None:
        await asyncio.sleep(0.3)
        other.execute("COMMIT")

    releaser = asyncio.create_task(release_soon())
    reply = await handle(core, ALICE, "/long BTC 100 10x")
    await releaser
    other.close()
    assert reply.type == "trade", reply.text


WORDS = st.sampled_from([
    "/long", "/short", "/close", "/margin", "/leverage", "/mode", "/reset", "/setprice", "/price", "/alert",
    "/sl", "/tp", "/trail", "/cancel", "/positions", "/help", "/orders", "/alerts", "/settings", "/frob",
    "BTC", "eth", "DOGEUSDT", "XYZ", "all", "add", "remove", "isolated", "cross", "iso", "confirm", "off",
    "10x", "x10", "0x", "999x", "x", "1000", "0", "-5", "NaN", "inf", "-Infinity", "1e999", "1E-30",
    "0.000000001", "9" * 40, "0.5btc", "0.5eth", "100usdt", "50%", "150%", "@58000", "@-1", "sl=1", "tp=nan",
    "<", ">", "<b>x</b>", "'; DROP TABLE users;--", "%s", "{}", "\u202e", "😀", "\x00",
])
LINES = st.one_of(
    st.lists(WORDS, min_size=1, max_size=7).map(" ".join),
    st.text(max_size=80),
    st.text(max_size=30).map(lambda t: "/" + t),
)


# CI runs a bounded fuzz; `make stress` sets FUZZ_EXAMPLES for a long one
@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=LINES)
async def test_fuzzed_lines_always_get_one_reply_and_refusals_change_nothing(core: Core, line: str) -> None:
    before = await snapshot(core)
    reply = await handle(core, ALICE, line)
    assert reply.type and (reply.text or reply.type == "silent")
    if reply.type == "error":
        assert reply.data["code"] != "internal", reply.text
        after = await snapshot(core)
        assert after == before, f"refused {line!r} changed state"


async def test_an_online_backup_while_commands_run_is_consistent(core: Core, tmp_path) -> None:
    traders = [handle(core, Actor("console", f"b{i}", f"b{i}"), "/long BTC 50 5x") for i in range(40)]
    backup = tmp_path / "backup.sqlite3"
    await asyncio.gather(*traders[:20], core.db.backup(backup), *traders[20:])
    restored = await open_core(backup)
    try:
        async with restored.db.transaction() as tx, tx.execute("PRAGMA integrity_check") as cursor:
            assert (await cursor.fetchone())[0] == "ok"
        await ledger_matches_wallets(restored)
    finally:
        await restored.db.close()


def test_secrets_never_reach_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    token = "123456:AAFakeTelegramTokenForTheTest"
    logger = logging.getLogger("dojo.test.secrets")
    protect([token, "discord-secret-token"])
    with caplog.at_level(logging.INFO, logger="dojo.test.secrets"):
        logger.info("POST https://api.telegram.org/bot%s/getUpdates", token)
        try:
            raise RuntimeError(f"failed calling bot{token}")
        except RuntimeError:
            logger.exception("send failed for %s", "discord-secret-token")
    text = caplog.text
    assert "getUpdates" in text and "***" in text
    assert token not in text and "discord-secret-token" not in text
