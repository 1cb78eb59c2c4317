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
BUSY_RETRIES = 5


class Database:
    """One aiosqlite connection in WAL mode; every use case runs in one serialised transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self, migrations: Path = MIGRATIONS_DIR) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = await aiosqlite.connect(self.path, isolation_level=None, timeout=10.0)
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
        """BEGIN IMMEDIATE … COMMIT, one at a time on this connection; ROLLBACK on any error."""
        async with self._lock:
            conn = self.conn
            try:
                await asyncio.shield(_begin(conn))
                yield conn
                await asyncio.shield(conn.execute("COMMIT"))
            except BaseException:
                # a task cancelled mid-transaction must not leave the shared connection inside it
                if conn.in_transaction:
                    await asyncio.shield(conn.execute("ROLLBACK"))
                raise

    async def backup(self, target: str | Path) -> None:
        """SQLite's online backup into another file, while the bot runs."""
        async with self._lock:
            dest = await aiosqlite.connect(str(target))
            try:
                await self.conn.backup(dest)
            finally:
                await dest.close()


async def _begin(conn: aiosqlite.Connection) -> None:
    # another process (a backup, a second bot) may hold the write lock: retry briefly, never surface it
    for attempt in range(BUSY_RETRIES):
        try:
            await conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == BUSY_RETRIES - 1:
                raise
            await asyncio.sleep(0.05 * 2**attempt)


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
