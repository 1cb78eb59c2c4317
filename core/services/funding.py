"""Funding settlement: once per symbol and funding time, a ledger row per payment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from core.domain.funding import payment
from core.ports import Tick
from core.services import alerts, market
from core.services.core import Core
from core.storage import accounts as acc
from core.storage import funding as funding_store
from core.storage import positions as pos


async def last_settled(core: Core) -> datetime | None:
    """The latest funding time already applied, if any."""
    async with core.db.transaction() as tx:
        last = await funding_store.last_funding_time(tx)
    return datetime.fromisoformat(last) if last else None


async def settle(core: Core, at: datetime, rates: Mapping[str, Decimal]) -> int:
    """Apply the funding of `rates` at time `at` to every open position; returns payments made."""
    paid = 0
    async with core.db.transaction() as tx:
        symbols = [s for s, rate in rates.items() if await funding_store.claim(tx, s, at, rate, core.clock.now())]
        if not symbols:
            return 0
        for account_id in await pos.accounts_holding(tx, symbols):
            for position in await pos.positions_of(tx, account_id):
                if position.symbol not in symbols:
                    continue
                mark = core.feed.mark(position.symbol) or position.entry_price
                amount = payment(position.side, position.qty, mark, rates[position.symbol])
                if amount == 0:
                    continue
                if position.mode == "isolated":
                    moved = replace(position, margin=position.margin + amount)
                    pos.save_position(tx, account_id, moved, at)
                await acc.book(tx, account_id, "funding", amount, at, position.symbol)
                paid += 1
    # less isolated margin means a nearer liquidation price: run what follows any mark change, then notify
    await market.on_tick(core, Tick(at=at, marks={s: m for s in symbols if (m := core.feed.mark(s)) is not None}))
    await alerts.funding_notices(core, at)
    return paid
