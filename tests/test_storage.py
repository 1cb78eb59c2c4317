"""Storage: numbered forward-only migrations, exact decimals in TEXT columns, transactions, idempotent rows."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from core.domain.positions import Position
from core.errors import Refused
from core.market.feed import ManualFeed
from core.results import Actor
from core.services import accounts, buttons, market, trading
from core.services.core import Core
from core.storage import accounts as acc
from core.storage import funding as funding_store
from core.storage import marks as marks_store
from core.storage import outbox
from core.storage import positions as pos
from core.storage.db import MIGRATIONS_DIR, Database, migration_scripts
from tests.conftest import T0, make_actor

D = Decimal
SPINE_TABLES = {"users", "accounts", "symbol_settings", "positions", "trades", "ledger", "insurance_fund", "marks",
                "outbox", "funding_events"}


def schema(path: Path) -> set[tuple[str, str]]:
    with closing(sqlite3.connect(path)) as conn:
        return {(row[0], row[1]) for row in conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")}


def user_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


async def open_db(path: Path, migrations: Path = MIGRATIONS_DIR) -> Database:
    db = Database(path)
    await db.open(migrations)
    return db


def test_migrations_are_numbered_sql_files_without_duplicates() -> None:
    numbers = [number for number, _ in migration_scripts()]
    assert numbers == sorted(set(numbers))
    assert numbers[0] == 1


async def test_migrations_apply_to_an_empty_database_up_to_the_highest_number(tmp_path: Path) -> None:
    path = tmp_path / "fresh.sqlite3"
    db = await open_db(path)
    await db.close()
    assert user_version(path) == migration_scripts()[-1][0]
    assert {name for name, _ in schema(path)} >= SPINE_TABLES


async def test_a_database_of_the_previous_version_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    """Apply every migration but the newest by hand, store a user with money, then open it as the bot does."""
    *older, (newest, _) = migration_scripts()
    path = tmp_path / "previous.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        for _, script in older:
            conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {older[-1][0]}")
        conn.execute("INSERT INTO users (id, platform, platform_user_id, display_name, push_chat_id, created_at) "
                     "VALUES (1, 'console', 'alice', 'alice', 'private:alice', ?)", (T0.isoformat(),))
        conn.execute("INSERT INTO accounts (id, user_id, wallet_balance, starting_balance, created_at) "
                     "VALUES (1, 1, '12345.67890123', '10000', ?)", (T0.isoformat(),))
        conn.execute("INSERT INTO ledger (account_id, kind, amount, balance_after, created_at) "
                     "VALUES (1, 'reset', '12345.67890123', '12345.67890123', ?)", (T0.isoformat(),))
        conn.commit()
    db = await open_db(path)
    try:
        async with db.transaction() as tx:
            user = await acc.find_user(tx, "console", "alice")
            assert user is not None
            account = await acc.find_account(tx, user.id)
            assert account is not None
            assert account.wallet_balance == D("12345.67890123")
            assert await acc.ledger_sum(tx, account.id) == D("12345.67890123")
    finally:
        await db.close()
    assert user_version(path) == newest
    fresh = tmp_path / "fresh.sqlite3"
    await (await open_db(fresh)).close()
    assert schema(path) == schema(fresh)


async def test_opening_an_up_to_date_database_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "dojo.sqlite3"
    db = await open_db(path)
    async with db.transaction() as tx:
        user = await acc.create_user(tx, "console", "bob", "bob", "private:bob", T0)
    await db.close()
    before = schema(path)
    db = await open_db(path)
    try:
        async with db.transaction() as tx:
            assert await acc.find_user(tx, "console", "bob") == user
    finally:
        await db.close()
    assert schema(path) == before


async def test_a_failing_migration_is_rolled_back_and_leaves_the_previous_version(tmp_path: Path) -> None:
    """Each migration runs in its own transaction: a broken file changes nothing and stops the start-up."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_one.sql").write_text("CREATE TABLE one (id INTEGER PRIMARY KEY);\n")
    (migrations / "0002_two.sql").write_text("CREATE TABLE two (id INTEGER PRIMARY KEY);\nTHIS IS NOT SQL;\n")
    path = tmp_path / "dojo.sqlite3"
    db = Database(path)
    with pytest.raises(sqlite3.Error):
        await db.open(migrations)
    await db.close()
    assert user_version(path) == 1
    assert {name for name, _ in schema(path)} == {"one"}


async def test_a_database_that_cannot_be_migrated_is_left_closed(tmp_path: Path) -> None:
    """A start-up that fails must release the connection (its thread keeps the process alive otherwise)."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_one.sql").write_text("THIS IS NOT SQL;\n")
    db = Database(tmp_path / "dojo.sqlite3")
    with pytest.raises(sqlite3.Error):
        await db.open(migrations)
    try:
        with pytest.raises(RuntimeError, match="not open"):
            db.conn  # noqa: B018 - the property raises when the database is closed
    finally:
        await db.close()  # release what was leaked, so that this test run can end


async def test_money_is_stored_as_exact_decimal_text(core: Core) -> None:
    """CONVENTIONS: Decimal end to end, stored as TEXT: 0.1 + 0.2 is 0.3, and a 40-digit entry price survives."""
    entry = D("62666.66666666666666666666666666666666667")
    async with core.db.transaction() as tx:
        user = await acc.create_user(tx, "console", "carol", "carol", "private:carol", T0)
        account = await acc.create_account(tx, user.id, T0)
        await acc.book(tx, account.id, "reset", D("0.1"), T0)
        after = await acc.book(tx, account.id, "reset", D("0.2"), T0)
        pos.save_position(tx, account.id, Position("BTC", 1, D("0.003"), entry, 20, "isolated", D("9.4")), T0)
    assert after == D("0.3")
    async with core.db.transaction() as tx:
        assert (await acc.account_by_id(tx, account.id)).wallet_balance == D("0.3")
        [saved] = await pos.positions_of(tx, account.id)
    assert saved == Position("BTC", 1, D("0.003"), entry, 20, "isolated", D("9.4"))


async def test_a_failed_use_case_rolls_its_transaction_back(core: Core) -> None:
    """CONVENTIONS: every money change is one transaction."""
    alice = make_actor("alice")
    await accounts.start(core, alice)
    with pytest.raises(RuntimeError):
        async with core.db.transaction() as tx:
            user = await acc.find_user(tx, "console", "alice")
            assert user is not None
            account = await acc.find_account(tx, user.id)
            assert account is not None
            await acc.book(tx, account.id, "fee", D(-500), T0)
            raise RuntimeError("crash in the middle of a use case")
    assert (await accounts.balance(core, alice)).wallet_balance == D(10000)


async def test_an_outbox_event_and_a_funding_time_are_recorded_once(core: Core) -> None:
    """Idempotency keys: a push per event and user, a funding settlement per symbol and time, even if replayed."""
    await accounts.start(core, make_actor("alice"))
    async with core.db.transaction() as tx:
        user = await acc.find_user(tx, "console", "alice")
        assert user is not None
        first = await outbox.enqueue(tx, user.id, "liquidation", 0, "text", {"lost": "1"}, "k1", T0)
        again = await outbox.enqueue(tx, user.id, "liquidation", 0, "text", {"lost": "1"}, "k1", T0)
        claimed = await funding_store.claim(tx, "BTC", T0, D("0.0001"), T0)
        reclaimed = await funding_store.claim(tx, "BTC", T0, D("0.0001"), T0)
    assert (first, again, claimed, reclaimed) == (True, False, True, False)


async def test_manual_marks_survive_a_restart(tmp_path: Path, core: Core) -> None:
    """DESIGN §3 manual feed: marks change only by an admin; the last ones are kept in the database."""
    await market.set_prices(core, None, {"BTC": D("61234.5"), "ETH": D("3210.01")})
    await core.db.close()
    db = await open_db(tmp_path / "dojo.sqlite3")
    try:
        async with db.transaction() as tx:
            saved = await marks_store.load_marks(tx)
    finally:
        await db.close()
    assert saved["BTC"] == D("61234.5") and saved["ETH"] == D("3210.01")
    assert ManualFeed(saved).mark("BTC") == D("61234.5")
    await core.db.open()  # the fixture closes it again


async def test_housekeeping_forgets_old_buttons_and_update_ids_but_keeps_recent_ones(core, clock) -> None:
    alice = Actor("console", "alice", "alice")
    old = (await buttons.issue(core, alice, ["/positions"]))[0]
    assert await buttons.first_time(core, "telegram", "1")
    clock.advance(timedelta(days=31))
    fresh = (await buttons.issue(core, alice, ["/balance"]))[0]
    assert await buttons.first_time(core, "telegram", "2")
    assert await buttons.prune(core) == (1, 1)
    assert await buttons.press(core, alice, fresh) == "/balance"
    with pytest.raises(Refused):
        await buttons.press(core, alice, old)
    assert not await buttons.first_time(core, "telegram", "2")  # still remembered


async def test_a_use_case_cancelled_mid_transaction_leaves_nothing_behind(core: Core) -> None:
    """Shutdown can cancel a use case between its writes: they roll back and the connection stays usable."""
    started = asyncio.Event()

    async def half_done() -> None:
        async with core.db.transaction() as tx:
            await tx.execute("INSERT INTO marks (symbol, price, updated_at) VALUES ('ZZZ', '1', 'now')")
            started.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(half_done())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not core.db.conn.in_transaction
    async with core.db.transaction() as tx:
        assert "ZZZ" not in await marks_store.load_marks(tx)
        await marks_store.save_marks(tx, {"YYY": Decimal(2)}, T0)
    async with core.db.transaction() as tx:
        assert (await marks_store.load_marks(tx))["YYY"] == Decimal(2)


MARK_ROW = "INSERT INTO marks (symbol, price, updated_at) VALUES (?, ?, 'now')"


async def test_queued_writes_are_seen_by_the_next_read_of_the_same_use_case(core: Core) -> None:
    async with core.db.transaction() as tx:
        tx.queue(MARK_ROW, ("QQQ", "1.5"))
        tx.queue_many(MARK_ROW, [("RRR", "2"), ("SSS", "3")])
        assert await marks_store.load_marks(tx) == {"QQQ": Decimal("1.5"), "RRR": Decimal(2), "SSS": Decimal(3)}
    async with core.db.transaction() as tx:
        assert set(await marks_store.load_marks(tx)) == {"QQQ", "RRR", "SSS"}


async def test_a_failing_queued_write_lands_nothing_of_its_use_case(core: Core) -> None:
    """The queued writes and the COMMIT travel together: one bad statement and none of them commits."""
    with pytest.raises(sqlite3.IntegrityError):
        async with core.db.transaction() as tx:
            tx.queue(MARK_ROW, ("AAA", "1"))
            tx.queue(MARK_ROW, ("AAA", "2"))  # the same primary key twice
            tx.queue(MARK_ROW, ("BBB", "3"))
    assert not core.db.conn.in_transaction
    async with core.db.transaction() as tx:
        assert await marks_store.load_marks(tx) == {}
        tx.queue(MARK_ROW, ("CCC", "4"))  # the connection is still usable
    async with core.db.transaction() as tx:
        assert await marks_store.load_marks(tx) == {"CCC": Decimal(4)}


async def test_a_failing_queued_write_surfaces_at_the_next_statement_and_rolls_back(core: Core) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        async with core.db.transaction() as tx:
            await tx.execute(MARK_ROW, ("AAA", "1"))
            tx.queue(MARK_ROW, ("AAA", "2"))
            await marks_store.load_marks(tx)
            pytest.fail("the read ran although the write queued before it failed")
    async with core.db.transaction() as tx:
        assert await marks_store.load_marks(tx) == {}


async def test_a_refused_use_case_drops_what_it_queued(core: Core) -> None:
    with pytest.raises(Refused):
        async with core.db.transaction() as tx:
            tx.queue(MARK_ROW, ("AAA", "1"))
            raise Refused("nope", "No.", "/help")
    async with core.db.transaction() as tx:
        assert await marks_store.load_marks(tx) == {}


async def test_a_market_command_waits_for_the_database_twice(core: Core) -> None:
    """One trip reads the account, one carries every write and the COMMIT (the figure behind bench/commands)."""
    alice = make_actor("alice")
    await trading.open_position(core, alice, "BTC", 1, trading.Amount(Decimal(100), is_qty=False), 10, "isolated")
    before = core.db.conn.trips
    opened = await trading.open_position(core, alice, "BTC", 1, trading.Amount(Decimal(100), is_qty=False))
    closed = await trading.close_position(core, alice, "BTC", pct=Decimal(50))
    moved = await trading.change_margin(core, alice, "BTC", Decimal(5), adding=True)
    assert core.db.conn.trips - before == 6
    # and all of it landed: the next reader sees the position, the trades and the ledger the replies told of
    async with core.db.transaction() as tx:
        user = await acc.find_user(tx, "console", "alice")
        assert user is not None
        account = await acc.find_account(tx, user.id)
        assert account is not None
        [held] = await pos.positions_of(tx, account.id)
        assert await acc.ledger_sum(tx, account.id) == account.wallet_balance == closed.wallet_balance
        assert len(await pos.trades_of(tx, account.id)) == 3
    assert held.qty == opened.position_qty - closed.qty and held.margin == moved.margin


async def test_a_use_case_cancelled_during_its_commit_lands_whole_before_the_next_one_starts(core: Core) -> None:
    """Shutdown may cancel a use case whose COMMIT is already on its way: the use case ends only once the commit
    has (cancelled twice or not), so the lock is never let go halfway and nothing is left in flight."""
    with closing(sqlite3.connect(core.db.path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the database: the commit has to wait for it
        committing = asyncio.Event()

        async def use_case() -> None:
            async with core.db.transaction() as tx:
                tx.queue(MARK_ROW, ("AAA", "1"))
                tx.queue(MARK_ROW, ("BBB", "2"))
                committing.set()

        task = asyncio.create_task(use_case())
        await committing.wait()
        await asyncio.sleep(0)  # the task is now inside its commit
        task.cancel()
        await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=0.3)
        assert not done, "the use case ended while its commit was still waiting"
        other.execute("ROLLBACK")
        with pytest.raises(asyncio.CancelledError):
            await task
        assert other.execute("SELECT symbol FROM marks ORDER BY symbol").fetchall() == [("AAA",), ("BBB",)]
    assert not core.db.conn.in_transaction


async def test_a_database_that_cannot_be_opened_says_it_is_not_open(tmp_path: Path) -> None:
    db = Database(tmp_path)  # a directory, not a file
    with pytest.raises(sqlite3.Error):
        await db.open()
    with pytest.raises(RuntimeError, match="not open"):
        db.conn  # noqa: B018 - the property raises when the database is closed
