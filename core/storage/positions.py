"""Open positions and the trade history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import cast

import aiosqlite

from core.domain.positions import Mode, Position
from core.storage.db import Tx
from core.storage.rows import dec, fetch_all, position_from, stamp, text


@dataclass(frozen=True)
class TradeRow:
    symbol: str
    side: int
    qty: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal
    kind: str
    margin_mode: str
    created_at: str


async def positions_of(tx: Tx, account_id: int) -> list[Position]:
    return [
        position_from(row)
        for row in await fetch_all(tx, "SELECT * FROM positions WHERE account_id = ? ORDER BY id", (account_id,))
    ]


async def accounts_holding(tx: Tx, symbols: list[str]) -> list[int]:
    marks = ",".join("?" * len(symbols))
    return [
        int(row[0])
        for row in await fetch_all(
            tx, f"SELECT DISTINCT account_id FROM positions WHERE symbol IN ({marks}) ORDER BY account_id", symbols
        )
    ]


def save_position(tx: Tx, account_id: int, position: Position, now: datetime) -> None:
    tx.queue(
        "INSERT INTO positions (account_id, symbol, side, qty, entry_price, leverage, margin_mode, margin, "
        "opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, symbol) DO UPDATE SET "
        "side = excluded.side, qty = excluded.qty, entry_price = excluded.entry_price, "
        "leverage = excluded.leverage, margin_mode = excluded.margin_mode, margin = excluded.margin",
        (
            account_id,
            position.symbol,
            position.side,
            text(position.qty),
            text(position.entry_price),
            position.leverage,
            position.mode,
            text(position.margin),
            stamp(now),
        ),
    )


def delete_position(tx: Tx, account_id: int, symbol: str) -> None:
    tx.queue("DELETE FROM positions WHERE account_id = ? AND symbol = ?", (account_id, symbol))


def delete_positions(tx: Tx, account_id: int) -> None:
    tx.queue("DELETE FROM positions WHERE account_id = ?", (account_id,))


def record_trade(
    tx: Tx,
    account_id: int,
    position: Position,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    realized: Decimal,
    kind: str,
    now: datetime,
) -> None:
    tx.queue(
        "INSERT INTO trades (account_id, symbol, side, qty, price, fee, realized_pnl, kind, margin_mode, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            account_id,
            position.symbol,
            position.side,
            text(qty),
            text(price),
            text(fee),
            text(realized),
            kind,
            position.mode,
            stamp(now),
        ),
    )


async def trades_of(tx: Tx, account_id: int, limit: int = 10) -> list[TradeRow]:
    rows = await fetch_all(
        tx, "SELECT * FROM trades WHERE account_id = ? ORDER BY id DESC LIMIT ?", (account_id, limit)
    )
    return [
        TradeRow(
            row["symbol"],
            int(row["side"]),
            dec(row["qty"]),
            dec(row["price"]),
            dec(row["fee"]),
            dec(row["realized_pnl"]),
            row["kind"],
            row["margin_mode"],
            row["created_at"],
        )
        for row in rows
    ]


async def positions_of_accounts(tx: Tx, account_ids: list[int]) -> dict[int, list[Position]]:
    """Open positions of many accounts in one query (every id present, possibly with no position)."""
    held: dict[int, list[Position]] = {account_id: [] for account_id in account_ids}
    if not account_ids:
        return held
    marks = ",".join("?" * len(account_ids))
    rows = await fetch_all(tx, f"SELECT * FROM positions WHERE account_id IN ({marks}) ORDER BY id", account_ids)
    for row in rows:
        held[int(row["account_id"])].append(position_from(row))
    return held


async def take_dirty(tx: Tx) -> list[int]:
    """Accounts changed since the last call (filled by triggers), and forget them."""
    rows = await fetch_all(tx, "SELECT account_id FROM risk_dirty")
    if rows:
        await tx.execute("DELETE FROM risk_dirty")
    return [int(row[0]) for row in rows]


@dataclass(frozen=True)
class AccountState:
    """Everything a use case reads about an account's trading, fetched in one query."""

    positions: list[Position]
    reserved_margin: Decimal  # initial margin held by open orders
    settings: dict[str, tuple[Mode, int]]  # symbol → (margin mode, leverage) chosen before
    ordered: frozenset[str] = frozenset()  # symbols with an open opening order, which locks their margin mode


# the open orders (symbol, reduce-only, reserved margin) and the per-symbol settings of account `a.id`, as two
# columns
STATE_COLUMNS = (
    "(SELECT group_concat(symbol || ' ' || reduce_only || ' ' || reserved_margin, ',') FROM orders "
    "WHERE account_id = a.id AND status = 'open') AS orders_all, "
    "(SELECT group_concat(symbol || ' ' || margin_mode || ' ' || leverage, ',') "
    "FROM symbol_settings WHERE account_id = a.id) AS settings_all"
)


async def account_state(tx: Tx, account_id: int) -> AccountState:
    rows = await fetch_all(
        tx,
        f"SELECT {STATE_COLUMNS}, p.* FROM accounts a LEFT JOIN positions p ON p.account_id = a.id "
        "WHERE a.id = ? ORDER BY p.id",
        (account_id,),
    )
    return state_from(rows)


def state_from(rows: list[aiosqlite.Row]) -> AccountState:
    """An AccountState from rows carrying STATE_COLUMNS and (LEFT JOINed) position columns."""
    first = rows[0]
    reserved = Decimal(0)
    ordered = set()
    for item in (first["orders_all"] or "").split(","):
        if item:
            symbol, reduce_only, margin = item.split(" ")
            reserved += dec(margin)
            if reduce_only == "0":  # a stop left without its position never locks the mode
                ordered.add(symbol)
    settings: dict[str, tuple[Mode, int]] = {}
    for item in (first["settings_all"] or "").split(","):
        if item:
            symbol, mode, leverage = item.split(" ")
            settings[symbol] = (cast(Mode, mode), int(leverage))
    positions = [position_from(row) for row in rows if row["symbol"] is not None]
    return AccountState(positions, reserved, settings, frozenset(ordered))
