"""Alert settings per user, margin-alert levels per user and subject, price alerts, funding and digest reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import aiosqlite

from core.domain.alerts import AlertSettings, LevelState
from core.storage.db import Tx
from core.storage.rows import dec, fetch_all, fetch_one, stamp, text


@dataclass(frozen=True)
class PriceAlertRow:
    id: int
    user_id: int
    symbol: str
    direction: str  # above | below
    price: Decimal
    created_at: str


@dataclass(frozen=True)
class FundingRow:
    account_id: int
    symbol: str
    amount: Decimal
    rate: Decimal | None


# ----------------------------------------------------------------------------------------- settings


async def settings_of(tx: Tx, user_ids: Iterable[int]) -> dict[int, AlertSettings]:
    """Each user's settings (defaults for users who never changed any)."""
    ids = sorted(set(user_ids))
    result = {user_id: AlertSettings() for user_id in ids}
    if not ids:
        return result
    marks = ",".join("?" * len(ids))
    kinds: dict[int, dict[str, bool]] = {}
    for row in await fetch_all(tx, f"SELECT user_id, kind, enabled FROM push_kinds WHERE user_id IN ({marks})", ids):
        kinds.setdefault(int(row[0]), {})[row[1]] = bool(row[2])
    saved_rows = await fetch_all(tx, f"SELECT * FROM alert_settings WHERE user_id IN ({marks})", ids)
    rows = {int(row["user_id"]): row for row in saved_rows}
    for user_id in ids:
        own = kinds.get(user_id, {})
        saved = rows.get(user_id)
        if saved is None:
            result[user_id] = AlertSettings(kinds=own)
            continue
        quiet = (int(saved["quiet_start"]), int(saved["quiet_end"])) if saved["quiet_start"] is not None else None
        result[user_id] = AlertSettings(dec(saved["warning"]), dec(saved["danger"]), quiet, own)
    return result


async def settings_for(tx: Tx, user_id: int) -> AlertSettings:
    return (await settings_of(tx, [user_id]))[user_id]


async def save_settings(tx: Tx, user_id: int, settings: AlertSettings) -> None:
    start, end = settings.quiet if settings.quiet is not None else (None, None)
    await tx.execute(
        "INSERT INTO alert_settings (user_id, warning, danger, quiet_start, quiet_end) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET warning = excluded.warning, danger = excluded.danger, "
        "quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end",
        (user_id, text(settings.warning), text(settings.danger), start, end),
    )
    await tx.execute("DELETE FROM push_kinds WHERE user_id = ?", (user_id,))
    await tx.executemany(
        "INSERT INTO push_kinds (user_id, kind, enabled) VALUES (?, ?, ?)",
        [(user_id, kind, int(on)) for kind, on in sorted(settings.kinds.items())],
    )


async def users_with_kind(tx: Tx, kind: str) -> list[int]:
    """Users who switched a default-off kind (funding, digest) on."""
    return [
        int(row[0])
        for row in await fetch_all(
            tx,
            "SELECT k.user_id FROM push_kinds k JOIN users u ON u.id = k.user_id "
            "WHERE k.kind = ? AND k.enabled = 1 AND u.pushes_enabled = 1 ORDER BY k.user_id",
            (kind,),
        )
    ]


# ------------------------------------------------------------------------------------- margin levels


@dataclass(frozen=True)
class SavedLevel:
    episode: str
    state: LevelState
    fired: int  # pushes ever sent for this subject


async def levels_of(tx: Tx, user_id: int) -> dict[str, SavedLevel]:
    """subject → what fired for it."""
    rows = await fetch_all(
        tx, "SELECT subject, episode, warned, endangered, fired FROM margin_alert_state WHERE user_id = ?", (user_id,)
    )
    return {row[0]: SavedLevel(row[1], LevelState(bool(row[2]), bool(row[3])), int(row[4])) for row in rows}


async def save_level(tx: Tx, user_id: int, subject: str, level: SavedLevel, now: datetime) -> None:
    await tx.execute(
        "INSERT INTO margin_alert_state (user_id, subject, episode, warned, endangered, fired, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, subject) DO UPDATE SET episode = excluded.episode, "
        "warned = excluded.warned, endangered = excluded.endangered, fired = excluded.fired, "
        "updated_at = excluded.updated_at",
        (
            user_id,
            subject,
            level.episode,
            int(level.state.warned),
            int(level.state.endangered),
            level.fired,
            stamp(now),
        ),
    )


async def rearm_closed(tx: Tx) -> None:
    """Re-arm the levels of subjects that no longer exist (liquidated or closed since they fired)."""
    await tx.execute(
        "UPDATE margin_alert_state SET warned = 0, endangered = 0 WHERE (warned = 1 OR endangered = 1) "
        "AND NOT EXISTS (SELECT 1 FROM positions p JOIN accounts a ON a.id = p.account_id "
        "WHERE a.user_id = margin_alert_state.user_id AND ("
        "(margin_alert_state.subject = 'cross' AND p.margin_mode = 'cross') OR "
        "(p.symbol = margin_alert_state.subject AND p.margin_mode = 'isolated')))"
    )


async def position_episodes(tx: Tx, account_id: int) -> dict[str, tuple[int, str]]:
    """symbol → (row id, 'id@opened_at') of each open position: its identity while it stays open."""
    return {
        row[0]: (int(row[1]), f"{row[1]}@{row[2]}")
        for row in await fetch_all(
            tx, "SELECT symbol, id, opened_at FROM positions WHERE account_id = ?", (account_id,)
        )
    }


# ------------------------------------------------------------------------------------- price alerts


def _price_alert(row: aiosqlite.Row) -> PriceAlertRow:
    return PriceAlertRow(
        row["id"], row["user_id"], row["symbol"], row["direction"], dec(row["price"]), row["created_at"]
    )


async def add_price_alert(
    tx: Tx, user_id: int, symbol: str, direction: str, price: Decimal, now: datetime
) -> int:
    cursor = await tx.execute(
        "INSERT INTO price_alerts (user_id, symbol, direction, price, created_at) VALUES (?, ?, ?, ?, ?)",
        (user_id, symbol, direction, text(price), stamp(now)),
    )
    assert cursor.lastrowid is not None
    return int(cursor.lastrowid)


async def price_alerts_of(tx: Tx, user_id: int) -> list[PriceAlertRow]:
    return [
        _price_alert(row)
        for row in await fetch_all(tx, "SELECT * FROM price_alerts WHERE user_id = ? ORDER BY id", (user_id,))
    ]


async def price_alerts_for(tx: Tx, symbols: list[str]) -> list[PriceAlertRow]:
    marks = ",".join("?" * len(symbols))
    return [
        _price_alert(row)
        for row in await fetch_all(tx, f"SELECT * FROM price_alerts WHERE symbol IN ({marks}) ORDER BY id", symbols)
    ]


async def remove_price_alert(tx: Tx, alert_id: int, user_id: int | None = None) -> bool:
    """Delete an alert (only the owner's when `user_id` is given); True when one was deleted."""
    if user_id is None:
        cursor = await tx.execute("DELETE FROM price_alerts WHERE id = ?", (alert_id,))
    else:
        cursor = await tx.execute("DELETE FROM price_alerts WHERE id = ? AND user_id = ?", (alert_id, user_id))
    return (cursor.rowcount or 0) > 0


# ------------------------------------------------------------------------------------- funding, digest


async def funding_paid_at(tx: Tx, at: datetime) -> list[FundingRow]:
    """Funding ledger rows booked at funding time `at`, with the rate applied."""
    rows = await fetch_all(
        tx,
        "SELECT l.account_id, l.symbol, l.amount, f.rate FROM ledger l "
        "LEFT JOIN funding_events f ON f.symbol = l.symbol AND f.funding_time = l.created_at "
        "WHERE l.kind = 'funding' AND l.created_at = ? ORDER BY l.account_id, l.id",
        (stamp(at),),
    )
    return [FundingRow(int(r[0]), r[1], dec(r[2]), dec(r[3]) if r[3] is not None else None) for r in rows]


async def ledger_change_since(tx: Tx, account_id: int, since: datetime, until: datetime) -> Decimal:
    """Wallet change in (since, until], leaving out resets: a day before a digest, a funding exactly at `since`
    belongs to the day before, and what happened after `until` (a late digest) to the next one."""
    rows = await fetch_all(
        tx,
        "SELECT amount FROM ledger WHERE account_id = ? AND created_at > ? AND created_at <= ? AND kind != 'reset'",
        (account_id, stamp(since), stamp(until)),
    )
    return sum((dec(row[0]) for row in rows), Decimal(0))


async def lowest_warning(tx: Tx, default: Decimal) -> Decimal:
    """The lowest warning level any user chose (the risk index screens at it), or the default."""
    # one aggregate row per tick, not every user's settings: REAL is exact enough for a screening threshold
    row = await fetch_one(tx, "SELECT MIN(CAST(warning AS REAL)) FROM alert_settings")
    return min(default, dec(row[0])) if row is not None and row[0] is not None else default


async def accounts_with_raised_levels(tx: Tx) -> set[int]:
    """Accounts with a warning or danger level fired and not yet re-armed (they must be re-checked)."""
    rows = await fetch_all(
        tx,
        "SELECT DISTINCT a.id FROM margin_alert_state s JOIN accounts a ON a.user_id = s.user_id "
        "WHERE s.warned = 1 OR s.endangered = 1",
    )
    return {int(row[0]) for row in rows}


async def raised_subjects(tx: Tx, user_ids: Iterable[int]) -> set[tuple[int, str]]:
    """(user, subject) pairs whose warning or danger level is raised right now."""
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    rows = await fetch_all(
        tx,
        f"SELECT user_id, subject FROM margin_alert_state WHERE user_id IN ({marks}) "
        "AND (warned = 1 OR endangered = 1)",
        ids,
    )
    return {(int(row[0]), str(row[1])) for row in rows}
