"""The risk sweep: after every mark change, liquidate what is due and tell the owner why."""

from __future__ import annotations

from dataclasses import replace

from core.domain.money import plain
from core.domain.positions import (
    LiquidationOutcome,
    PositionView,
    isolated_liquidation_due,
    liquidate_cross,
    liquidate_isolated,
)
from core.domain.whatif import other_mode_outcome, other_mode_sentence
from core.ports import Tick
from core.services.core import Core, Loaded, load_account
from core.services.notify import push
from core.storage import accounts as acc
from core.storage import orders as orders_store
from core.storage import positions as pos
from core.storage.db import Tx
from core.text import describe_liquidation


async def sweep(core: Core, tick: Tick) -> list[LiquidationOutcome]:
    """Re-evaluate the accounts holding the tick's symbols; liquidate in Decimal where due."""
    symbols = sorted(tick.marks)
    if not symbols:
        return []
    if core.risk_index is not None:
        from core.services.risk_index import sweep_indexed  # deferred: risk_index builds on this module

        return await sweep_indexed(core, core.risk_index, tick)
    async with core.db.transaction() as tx:
        account_ids = await pos.accounts_holding(tx, symbols)
    outcomes: list[LiquidationOutcome] = []
    for account_id in account_ids:
        async with core.db.transaction() as tx:
            outcomes.extend(await liquidate_if_due(core, tx, account_id, set(symbols)))
    return outcomes


async def liquidate_if_due(
    core: Core, tx: Tx, account_id: int, symbols: set[str]
) -> list[LiquidationOutcome]:
    account = await acc.account_by_id(tx, account_id)
    user = await acc.user_by_id(tx, account.user_id)
    loaded = await load_account(core, tx, user, account)
    outcomes = []
    for view in loaded.view.positions:
        if view.position.symbol in symbols and isolated_liquidation_due(view):
            outcomes.append(liquidate_isolated(view))
    if loaded.view.cross_liquidation_due:
        outcomes.append(liquidate_cross(loaded.view, core.catalog.fees.liquidation_clearance))
    for outcome in outcomes:  # the liquidated positions' orders go first; other positions keep theirs
        symbols_closed = [v.position.symbol for v in outcome.closed]
        await orders_store.cancel_open_on(tx, account_id, symbols_closed, "liquidation", core.clock.now())
    for outcome in outcomes:
        await _execute(core, tx, loaded, outcome)
    return outcomes


async def _execute(core: Core, tx: Tx, loaded: Loaded, outcome: LiquidationOutcome) -> None:
    now = core.clock.now()
    account_id = loaded.account.id
    for view, (booked, fee) in zip(outcome.closed, outcome.legs, strict=True):
        p = view.position
        pos.delete_position(tx, account_id, p.symbol)
        closing = replace(p, side=-p.side)  # the liquidation order sells a long, buys a short
        pos.record_trade(tx, account_id, closing, p.qty, view.mark, fee, booked, "liquidation", now)
    entries = [(entry.kind, entry.amount, entry.symbol) for entry in outcome.entries if entry.amount != 0]
    if entries:
        await acc.book_many(tx, account_id, entries, now)
    acc.insure(tx, account_id, outcome.insurance_fund, f"{outcome.mode} liquidation", now)
    text, data = describe_liquidation(outcome)
    # the same positions at the same marks in the other margin mode: the lesson of the liquidation
    other = other_mode_outcome(
        loaded.account.wallet_balance, loaded.positions, {v.position.symbol: v.mark for v in loaded.view.positions},
        core.catalog, core.catalog.fees.liquidation_clearance, outcome.mode,
    )
    text += " " + other_mode_sentence(other)
    data["other_mode"] = {"mode": other.mode, "lost": plain(other.lost),
                          "liquidated": list(other.liquidated)}
    key = f"liquidation:{outcome.mode}:{_event_key(outcome.closed)}:{now.isoformat()}"
    await push(core, tx, loaded.user.id, "liquidation", text, data, key)


def _event_key(closed: tuple[PositionView, ...]) -> str:
    return ",".join(f"{v.position.symbol}@{v.mark}" for v in closed)
