"""Connection, migrations and transactions. The database is the source of truth."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

Tx = aiosqlite.Connection  # what a use case holds inside `Database.transaction()`; services name it, storage uses it

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class Database:
    """One aiosqlite connection in WAL mode; every use case runs in one serialised transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self, migrations: Path = MIGRATIONS_DIR) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # sqlite3 opens the transaction itself (BEGIN IMMEDIATE) right before a use case's first write, in
        # the same trip to aiosqlite's thread: no round trip of its own. The asyncio lock below keeps use
        # cases one at a time, so reads before that first write see nothing half-done.
        self._conn = await aiosqlite.connect(self.path, isolation_level="IMMEDIATE", timeout=10.0)
        self._conn.row_factory = aiosqlite.Row
        try:
            await self._conn.execute("PRAGMA journal_mode=WAL")
            await self._conn.execute("PRAGMA synchronous=NORMAL")
            await self._conn.execute("PRAGMA foreign_keys=ON")
            await self._conn.execute("PRAGMA busy_timeout=5000")
            await migrate(self._conn, migrations)
        except BaseException:
            await self.close()  # never leave a half-open connection (its thread would keep the process alive)
            raise

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One use case at a time on this connection: its writes commit together, or roll back on any error."""
        async with self._lock:
            conn = self.conn
            try:
                yield conn
                if conn.in_transaction:  # a read-only use case never opened one
                    await asyncio.shield(conn.execute("COMMIT"))
            except BaseException:
                await asyncio.shield(_roll_back(conn))
                raise

    async def backup(self, target: str | Path) -> None:
        """SQLite's online backup into another file, while the bot runs."""
        async with self._lock:
            dest = await aiosqlite.connect(str(target))
            try:
                await self.conn.backup(dest)
            finally:
                await dest.close()


async def _roll_back(conn: aiosqlite.Connection) -> None:
    """Undo what the failed or cancelled use case wrote, including statements still queued when it stopped:
    a trivial query first runs behind them, then the transaction (if one was opened) is rolled back."""
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
