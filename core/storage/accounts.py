"""Users, accounts, per-symbol settings, the ledger and the insurance fund."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import aiosqlite

from core.domain.positions import Mode
from core.storage.db import Tx
from core.storage.positions import STATE_COLUMNS, AccountState, state_from
from core.storage.rows import dec, fetch_all, fetch_one, stamp, text


@dataclass(frozen=True)
class UserRow:
    id: int
    platform: str
    platform_user_id: str
    display_name: str
    push_chat_id: str
    pushes_enabled: bool


@dataclass(frozen=True)
class AccountRow:
    id: int
    user_id: int
    wallet_balance: Decimal
    starting_balance: Decimal


def _user(row: aiosqlite.Row) -> UserRow:
    return UserRow(
        id=row["id"],
        platform=row["platform"],
        platform_user_id=row["platform_user_id"],
        display_name=row["display_name"],
        push_chat_id=row["push_chat_id"],
        pushes_enabled=bool(row["pushes_enabled"]),
    )


async def find_user(tx: Tx, platform: str, platform_user_id: str) -> UserRow | None:
    row = await fetch_one(
        tx, "SELECT * FROM users WHERE platform = ? AND platform_user_id = ?", (platform, platform_user_id)
    )
    return _user(row) if row else None


async def user_by_id(tx: Tx, user_id: int) -> UserRow:
    row = await fetch_one(tx, "SELECT * FROM users WHERE id = ?", (user_id,))
    if row is None:
        raise LookupError(f"no user {user_id}")
    return _user(row)


async def create_user(
    tx: Tx, platform: str, platform_user_id: str, name: str, push_chat_id: str, now: datetime
) -> UserRow:
    await tx.execute(
        "INSERT INTO users (platform, platform_user_id, display_name, push_chat_id, created_at) VALUES (?, ?, ?, ?, ?)",
        (platform, platform_user_id, name, push_chat_id, stamp(now)),
    )
    user = await find_user(tx, platform, platform_user_id)
    assert user is not None
    return user


async def touch_user(tx: Tx, user_id: int, name: str) -> None:
    """The user wrote to us: remember the name and re-enable pushes (they may have unblocked the bot)."""
    await tx.execute(
        "UPDATE users SET display_name = ?, pushes_enabled = 1 WHERE id = ? "
        "AND (display_name != ? OR pushes_enabled = 0)",
        (name, user_id, name),
    )


async def set_pushes(tx: Tx, user_id: int, enabled: bool) -> None:
    await tx.execute("UPDATE users SET pushes_enabled = ? WHERE id = ?", (int(enabled), user_id))


async def find_user_account(
    tx: Tx, platform: str, platform_user_id: str
) -> tuple[UserRow, AccountRow | None] | None:
    """A user and their account (if opened) in one query."""
    row = await fetch_one(
        tx,
        "SELECT u.*, a.id AS account_id, a.wallet_balance, a.starting_balance FROM users u "
        "LEFT JOIN accounts a ON a.user_id = u.id WHERE u.platform = ? AND u.platform_user_id = ?",
        (platform, platform_user_id),
    )
    if row is None:
        return None
    account = None
    if row["account_id"] is not None:
        account = AccountRow(row["account_id"], row["id"], dec(row["wallet_balance"]), dec(row["starting_balance"]))
    return _user(row), account


async def user_state(
    tx: Tx, platform: str, platform_user_id: str
) -> tuple[UserRow, AccountRow, AccountState] | None:
    """A known user, their account and its trading state in one query (None: no user or no account yet)."""
    rows = await fetch_all(
        tx,
        "SELECT u.id AS user_id_, u.platform AS platform_, u.platform_user_id AS platform_user_id_, "
        "u.display_name, u.push_chat_id, u.pushes_enabled, a.id AS account_id_, a.wallet_balance, "
        f"a.starting_balance, {STATE_COLUMNS}, p.* FROM users u JOIN accounts a ON a.user_id = u.id "
        "LEFT JOIN positions p ON p.account_id = a.id "
        "WHERE u.platform = ? AND u.platform_user_id = ? ORDER BY p.id",
        (platform, platform_user_id),
    )
    if not rows:
        return None
    row = rows[0]
    user = UserRow(row["user_id_"], row["platform_"], row["platform_user_id_"], row["display_name"],
                   row["push_chat_id"], bool(row["pushes_enabled"]))
    account = AccountRow(row["account_id_"], row["user_id_"], dec(row["wallet_balance"]), dec(row["starting_balance"]))
    return user, account, state_from(rows)


async def find_account(tx: Tx, user_id: int) -> AccountRow | None:
    row = await fetch_one(tx, "SELECT * FROM accounts WHERE user_id = ?", (user_id,))
    if row is None:
        return None
    return AccountRow(row["id"], row["user_id"], dec(row["wallet_balance"]), dec(row["starting_balance"]))


async def account_by_id(tx: Tx, account_id: int) -> AccountRow:
    row = await fetch_one(tx, "SELECT * FROM accounts WHERE id = ?", (account_id,))
    if row is None:
        raise LookupError(f"no account {account_id}")
    return AccountRow(row["id"], row["user_id"], dec(row["wallet_balance"]), dec(row["starting_balance"]))


async def create_account(tx: Tx, user_id: int, now: datetime) -> AccountRow:
    await tx.execute(
        "INSERT INTO accounts (user_id, wallet_balance, starting_balance, created_at) VALUES (?, '0', '0', ?)",
        (user_id, stamp(now)),
    )
    account = await find_account(tx, user_id)
    assert account is not None
    return account


async def book(
    tx: Tx,
    account_id: int,
    kind: str,
    amount: Decimal,
    now: datetime,
    symbol: str | None = None,
) -> Decimal:
    """Change a wallet by `amount` and write its ledger row, in the caller's transaction."""
    return await book_many(tx, account_id, [(kind, amount, symbol)], now)


async def book_many(
    tx: Tx,
    account_id: int,
    entries: list[tuple[str, Decimal, str | None]],
    now: datetime,
) -> Decimal:
    """Ledger rows (kind, amount, symbol) in order, reading the wallet first. Returns the balance after."""
    row = await fetch_one(tx, "SELECT wallet_balance FROM accounts WHERE id = ?", (account_id,))
    assert row is not None
    return queue_ledger(tx, account_id, entries, now, dec(row[0]))


def queue_ledger(
    tx: Tx,
    account_id: int,
    entries: list[tuple[str, Decimal, str | None]],
    now: datetime,
    before: Decimal,
) -> Decimal:
    """Ledger rows (kind, amount, symbol) in order, from `before`, the wallet as this transaction read it; the
    wallet follows each row (trigger 0012). Returns the balance after the last one."""
    balance = before
    rows = []
    for kind, amount, symbol in entries:
        balance += amount
        rows.append((account_id, kind, text(amount), text(balance), symbol, stamp(now)))
    tx.queue_many(
        "INSERT INTO ledger (account_id, kind, amount, balance_after, symbol, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return balance


def set_starting_balance(tx: Tx, account_id: int, balance: Decimal) -> None:
    tx.queue("UPDATE accounts SET starting_balance = ? WHERE id = ?", (text(balance), account_id))


async def ledger_sum(tx: Tx, account_id: int) -> Decimal:
    rows = await fetch_all(tx, "SELECT amount FROM ledger WHERE account_id = ?", (account_id,))
    return sum((dec(row[0]) for row in rows), Decimal(0))


def insure(tx: Tx, account_id: int, amount: Decimal, reason: str, now: datetime) -> None:
    tx.queue(
        "INSERT INTO insurance_fund (account_id, amount, reason, created_at) VALUES (?, ?, ?, ?)",
        (account_id, text(amount), reason, stamp(now)),
    )


def save_symbol_setting(
    tx: Tx, account_id: int, symbol: str, mode: Mode, leverage: int
) -> None:
    tx.queue(
        "INSERT INTO symbol_settings (account_id, symbol, margin_mode, leverage) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (account_id, symbol) DO UPDATE SET margin_mode = excluded.margin_mode, "
        "leverage = excluded.leverage",
        (account_id, symbol, mode, leverage),
    )


def clear_symbol_settings(tx: Tx, account_id: int) -> None:
    tx.queue("DELETE FROM symbol_settings WHERE account_id = ?", (account_id,))


async def leaderboard(tx: Tx, platform: str) -> list[tuple[int, str, Decimal, Decimal]]:
    """(account id, name, wallet, starting balance) of a platform's accounts."""
    rows = await fetch_all(
        tx,
        "SELECT a.id, u.display_name, a.wallet_balance, a.starting_balance FROM accounts a "
        "JOIN users u ON u.id = a.user_id WHERE u.platform = ?",
        (platform,),
    )
    return [(int(row[0]), row[1], dec(row[2]), dec(row[3])) for row in rows]


async def ledger_history(
    tx: Tx, account_id: int, limit: int = 500
) -> list[tuple[str, str, Decimal, Decimal]]:
    """(created_at, kind, amount, balance_after) of an account's latest ledger rows, oldest first."""
    rows = await fetch_all(
        tx,
        "SELECT created_at, kind, amount, balance_after FROM (SELECT * FROM ledger WHERE account_id = ? "
        "ORDER BY id DESC LIMIT ?) ORDER BY id",
        (account_id, limit),
    )
    return [(row[0], row[1], dec(row[2]), dec(row[3])) for row in rows]


async def wallets_of(tx: Tx, account_ids: list[int]) -> dict[int, Decimal]:
    """Wallet balances of many accounts in one query."""
    if not account_ids:
        return {}
    marks = ",".join("?" * len(account_ids))
    rows = await fetch_all(tx, f"SELECT id, wallet_balance FROM accounts WHERE id IN ({marks})", account_ids)
    return {int(row[0]): dec(row[1]) for row in rows}
