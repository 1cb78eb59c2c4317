"""Connection, migrations and transactions. The database is the source of truth."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

Params = Iterable[object] | Mapping[str, object]
Queued = tuple[str, Any, bool]  # (sql, parameters, executemany?)


class Tx(aiosqlite.Connection):
    """aiosqlite's connection, plus writes that need no answer: `queue()` holds them until the next statement
    on this connection or the commit, and both carry them to aiosqlite's thread in the same trip. A use case
    then waits twice: once for what it reads, once for everything it writes and the COMMIT.

    Their errors surface at that next statement or at the commit, still inside the use case's transaction,
    which then rolls back. So a use case never catches a database error and goes on: the statements queued
    before the failing one have already run, and only the rollback undoes them.

    aiosqlite has no public way to run several statements in one trip: this builds on `Connection._execute`,
    the method every one of its own calls goes through; the version is pinned.
    """

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._queued: list[Queued] = []
        self.trips = 0  # calls carried to aiosqlite's thread: what a use case waits for (bench/commands prints it)

    def queue(self, sql: str, parameters: Params = ()) -> None:
        self._queued.append((sql, bind(parameters), False))

    def queue_many(self, sql: str, rows: Iterable[Params]) -> None:
        self._queued.append((sql, [bind(row) for row in rows], True))

    @property
    def has_writes(self) -> bool:
        """Something to commit: a statement ran in the open transaction, or writes wait in the queue."""
        return bool(self._queued) or self.in_transaction

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._queued:
            return await self._send(partial(fn, *args, **kwargs))
        queued, self._queued = self._queued, []
        return await self._send(partial(_after, self._conn, queued, partial(fn, *args, **kwargs)))

    async def commit_all(self) -> None:
        """The queued writes and the COMMIT in one trip; nothing of it lands if any statement fails."""
        queued, self._queued = self._queued, []
        await self._send(partial(_commit, self._conn, queued))

    async def _send(self, call: Callable[[], Any]) -> Any:
        self.trips += 1
        return await super()._execute(call)  # type: ignore[no-untyped-call]

    async def stopped(self) -> None:
        """After a failed connect: wait until aiosqlite's thread has ended (it reports to this event loop)."""
        await asyncio.to_thread(self._thread.join, 10)

    def drop_queued(self) -> None:
        self._queued = []


def bind(params: Params) -> tuple[object, ...] | dict[str, object]:
    return dict(params) if isinstance(params, Mapping) else tuple(params)


def _run(conn: sqlite3.Connection, queued: list[Queued]) -> None:  # in aiosqlite's thread
    for sql, parameters, many in queued:
        if many:
            conn.executemany(sql, parameters)
        else:
            conn.execute(sql, parameters)


def _after(conn: sqlite3.Connection, queued: list[Queued], call: Callable[[], Any]) -> Any:  # in aiosqlite's thread
    _run(conn, queued)
    return call()


def _commit(conn: sqlite3.Connection, queued: list[Queued]) -> None:  # in aiosqlite's thread
    try:
        _run(conn, queued)
        if conn.in_transaction:
            conn.commit()
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise


class Database:
    """One aiosqlite connection in WAL mode; every use case runs in one serialised transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: Tx | None = None
        self._lock = asyncio.Lock()

    async def open(self, migrations: Path = MIGRATIONS_DIR) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # sqlite3 opens the transaction itself (BEGIN IMMEDIATE) right before a use case's first write, in
        # the same trip to aiosqlite's thread: no round trip of its own. The asyncio lock below keeps use
        # cases one at a time, so reads before that first write see nothing half-done.
        path = self.path
        conn = Tx(lambda: sqlite3.connect(path, isolation_level="IMMEDIATE", timeout=10.0))
        try:
            await conn
        except BaseException:  # aiosqlite stops its thread; `conn` stays unset: "database is not open"
            await conn.stopped()
            raise
        self._conn = conn
        conn.row_factory = aiosqlite.Row
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            await migrate(conn, migrations)
        except BaseException:
            await self.close()  # never leave a half-open connection (its thread would keep the process alive)
            raise

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> Tx:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """One use case at a time on this connection: its writes commit together, or roll back on any error."""
        async with self._lock:
            conn = self.conn
            try:
                yield conn
                if conn.has_writes:  # a read-only use case has nothing to commit
                    await _to_the_end(conn.commit_all())
            except BaseException:
                await _to_the_end(_roll_back(conn))
                raise

    async def backup(self, target: str | Path) -> None:
        """SQLite's online backup into another file, while the bot runs."""
        async with self._lock:
            dest = await aiosqlite.connect(str(target))
            try:
                await self.conn.backup(dest)
            finally:
                await dest.close()


async def _to_the_end(step: Awaitable[None]) -> None:
    """Finish a commit or a rollback even when the use case is cancelled meanwhile (shutdown), and only then
    let the cancellation go on: the lock is never released halfway through. Once the commit has started, it
    lands (or fails and rolls back) whatever happens to the caller."""
    task = asyncio.ensure_future(step)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = cancelled or not task.done()
        except BaseException:
            break  # the step's own error: raised below
    if cancelled:
        if not task.cancelled():
            task.exception()  # retrieved: a failed commit has rolled back, and the cancellation wins
        raise asyncio.CancelledError
    task.result()


async def _roll_back(conn: Tx) -> None:
    """Undo what the failed or cancelled use case wrote: its queued writes are dropped; statements already on
    their way to aiosqlite's thread are waited for (a trivial query runs behind them), then the transaction
    (if one was opened) is rolled back."""
    conn.drop_queued()
    await conn.execute_fetchall("SELECT 1")
    if conn.in_transaction:
        await conn.execute("ROLLBACK")


async def migrate(conn: aiosqlite.Connection, directory: Path = MIGRATIONS_DIR) -> int:
    """Apply `NNNN_name.sql` files above `PRAGMA user_version`, each in its own transaction."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    for number, script in migration_scripts(directory):
        if number <= current:
            continue
        try:
            await conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        except sqlite3.Error:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
        current = number
    return current


def migration_scripts(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, str]]:
    """(number, SQL) of every `NNNN_name.sql`, in order."""
    return [
        (int(path.name[:4]), path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    ]
