"""Trading use cases: open, close, margin, leverage, margin mode. Each is one transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from core.domain import trading as rules
from core.domain.money import ZERO, floor_to_step, plain
from core.domain.positions import Mode, Position, evaluate, shares
from core.errors import Refused
from core.results import (
    Actor,
    ClosedAll,
    LeverageSet,
    MarginChanged,
    ModeSet,
    NeedsConfirmation,
    PositionChanged,
)
from core.services.core import Core, Loaded, load
from core.storage import accounts as acc
from core.storage import orders as orders_store
from core.storage import positions as pos
from core.storage.db import Tx

DEFAULT_LEVERAGE = 20  # Binance's default when a symbol's leverage was never chosen
DEFAULT_MODE: Mode = "isolated"  # DESIGN §2: beginners are advised isolated


@dataclass(frozen=True)
class Amount:
    """`1000`/`1000usdt` is margin in USDT; `0.5btc` is a quantity of the base asset."""

    value: Decimal
    is_qty: bool


async def open_position(
    core: Core,
    actor: Actor,
    symbol: str,
    side: int,
    amount: Amount,
    leverage: int | None = None,
    mode: Mode | None = None,
) -> PositionChanged:
    instrument = core.instrument(symbol)
    symbol = instrument.symbol
    mark = core.mark(symbol)
    check_amount(amount, side, symbol)
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        order = opening_order(core, loaded, symbol, side, amount, leverage, mode, mark)
        current = chosen_setting(loaded, symbol)
        change = await fill(core, tx, loaded, order, mark, opening=True)
        if symbol not in loaded.settings or (order.mode, order.leverage) != current:
            acc.save_symbol_setting(tx, loaded.account.id, symbol, order.mode, order.leverage)
        return change


async def close_position(
    core: Core, actor: Actor, symbol: str, pct: Decimal | None = None, qty: Decimal | None = None
) -> PositionChanged:
    instrument = core.instrument(symbol)
    symbol = instrument.symbol
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        existing = loaded.position(symbol)
        if existing is None:  # before the mark: with no position, a missing price is beside the point
            raise Refused("no_position", f"You have no open {symbol} position.", "/positions")
        mark = core.mark(symbol)
        amount = existing.qty
        if pct is not None:
            if not ZERO < pct <= 100:
                raise Refused("bad_percent", "The percentage must be above 0 and at most 100.", f"/close {symbol} 50%")
            amount = existing.qty if pct == 100 else floor_to_step(existing.qty * pct / 100, instrument.lot_size)
        elif qty is not None:
            if qty > existing.qty:
                raise Refused(
                    "qty_above_position",
                    f"Your {symbol} position is only {plain(existing.qty)} {symbol}.",
                    f"/close {symbol} {plain(existing.qty)}{symbol.lower()}",
                )
            amount = qty
        rules.check_qty(instrument, amount, f"/close {symbol} 100%")
        order = Position(symbol, -existing.side, amount, mark, existing.leverage, existing.mode)
        return await fill(core, tx, loaded, order, mark, opening=False)


async def close_all(core: Core, actor: Actor, confirmed: bool) -> ClosedAll | NeedsConfirmation:
    if not confirmed:
        async with core.db.transaction() as tx:
            if not (await load(core, tx, actor)).positions:
                raise Refused("no_position", "You have no open positions.", "/long BTC 100 10x")
        return NeedsConfirmation("/close all confirm", "Close every open position at the current marks?")
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        if not loaded.positions:
            raise Refused("no_position", "You have no open positions.", "/long BTC 100 10x")
        changes = []
        for existing in loaded.positions:
            mark = core.mark(existing.symbol)
            order = Position(existing.symbol, -existing.side, existing.qty, mark, existing.leverage, existing.mode)
            changes.append(await fill(core, tx, await load(core, tx, actor), order, mark, opening=False))
        return ClosedAll(tuple(changes))


def check_amount(amount: Amount, side: int, symbol: str) -> None:
    if amount.value <= 0:
        raise Refused("bad_amount", "The amount must be more than zero.", f"/{_verb(side)} {symbol} 100 10x")


def _verb(side: int) -> str:
    return "long" if side > 0 else "short"


def opening_order(
    core: Core,
    loaded: Loaded,
    symbol: str,
    side: int,
    amount: Amount,
    leverage: int | None,
    mode: Mode | None,
    price: Decimal,
) -> Position:
    """The order an opening command describes: the same mode, leverage and size rules as a market open."""
    instrument = core.instrument(symbol)
    existing = loaded.position(symbol)
    current_mode, current_leverage = chosen_setting(loaded, symbol)
    chosen = mode or current_mode
    if chosen != current_mode:
        rules.check_mode_switch(symbol, current_mode, chosen, *loaded.mode_locked(symbol))
    if existing is not None and leverage is not None and leverage != existing.leverage:
        raise Refused(
            "leverage_mismatch",
            f"Your {symbol} position runs at {existing.leverage}x. Leave the leverage out to add to it, "
            "or change it first.",
            f"/leverage {symbol} {leverage}",
        )
    lev = existing.leverage if existing is not None else leverage or current_leverage
    rules.check_leverage(instrument, lev, ZERO)
    qty = amount.value if amount.is_qty else rules.qty_from_margin(instrument, amount.value, lev, price)
    rules.check_qty(instrument, qty, f"/{_verb(side)} {symbol} 100 10x")
    return Position(symbol, side, qty, price, lev, chosen)


def chosen_setting(loaded: Loaded, symbol: str) -> tuple[Mode, int]:
    """The margin mode and leverage the user chose for a symbol (Binance's defaults when never chosen)."""
    return loaded.settings.get(symbol, (DEFAULT_MODE, DEFAULT_LEVERAGE))


async def fill(
    core: Core,
    tx: Tx,
    loaded: Loaded,
    order: Position,
    mark: Decimal,
    opening: bool,
    fee_rate: Decimal | None = None,
) -> PositionChanged:
    """Fill an order at `mark` (the taker fee unless told: limits pay the maker fee) and book everything it
    changes. Every check runs before the first write, so a Refused leaves the transaction untouched."""
    instrument = core.instrument(order.symbol)
    existing = loaded.position(order.symbol)
    view = loaded.view
    rate = core.catalog.fees.taker if fee_rate is None else fee_rate
    outcome = rules.plan_fill(existing, order, mark, rate, view.cross_wallet_balance)
    if outcome.opened_qty > 0:
        after = outcome.position
        assert after is not None
        rules.check_leverage(instrument, order.leverage, after.qty * mark)
        rules.check_affordable(view, order, outcome.opened_qty, mark, outcome.fee)
    now = core.clock.now()
    account_id = loaded.account.id
    kind = "open" if opening and outcome.closed_qty == 0 else "close"
    entries: list[tuple[str, Decimal, str | None]] = []
    if outcome.closed_qty > 0:
        entries.append(("realized_pnl", outcome.realized_pnl, order.symbol))
    if outcome.fee > 0:
        entries.append(("fee", -outcome.fee, order.symbol))
    before = loaded.account.wallet_balance  # read in this transaction: nothing else has written it since
    if outcome.position is None:
        pos.delete_position(tx, account_id, order.symbol)
    else:
        pos.save_position(tx, account_id, outcome.position, now)
    _record_trades(tx, account_id, order, outcome, kind, now)
    if outcome.closed_qty > 0:  # a closed or flipped position's stops protect nothing any more
        orders_store.cancel_orphaned(tx, account_id, now, order.symbol)
    wallet = acc.queue_ledger(tx, account_id, entries, now, before) if entries else before
    return _changed(core, loaded, order, outcome, wallet)


def _record_trades(
    tx: Tx, account_id: int, order: Position, outcome: rules.FillOutcome, kind: str, now: datetime
) -> None:
    """One trade row per fill; a flip is two, as it is two things: the close of the old position's quantity
    (with the realized PnL) and the open of the rest, the one fee split between them by quantity."""
    if outcome.closed_qty == 0 or outcome.opened_qty == 0:
        pos.record_trade(tx, account_id, order, order.qty, outcome.price, outcome.fee, outcome.realized_pnl, kind, now)
        return
    close_fee, open_fee = shares([outcome.closed_qty, outcome.opened_qty], outcome.fee)
    pos.record_trade(
        tx, account_id, order, outcome.closed_qty, outcome.price, close_fee, outcome.realized_pnl, "close", now
    )
    pos.record_trade(tx, account_id, order, outcome.opened_qty, outcome.price, open_fee, ZERO, "open", now)


def _changed(
    core: Core, loaded: Loaded, order: Position, outcome: rules.FillOutcome, wallet: Decimal
) -> PositionChanged:
    after = outcome.position
    others = [p for p in loaded.positions if p.symbol != order.symbol]
    positions = [*others, after] if after else others
    view = evaluate(wallet, positions, core.marks_for(positions), core.catalog).position(order.symbol)
    existing = loaded.position(order.symbol)
    if existing is None:
        action = "opened"
    elif after is None:
        action = "closed"
    elif after.side != existing.side:
        action = "flipped"
    else:
        action = "increased" if after.qty > existing.qty else "reduced"
    return PositionChanged(
        symbol=order.symbol,
        action=action,
        side="long" if order.side > 0 else "short",
        qty=order.qty,
        price=outcome.price,
        fee=outcome.fee,
        realized_pnl=outcome.realized_pnl,
        position_qty=after.qty if after else ZERO,
        position_side=after.side_name if after else None,
        mode=order.mode,
        leverage=order.leverage,
        margin=view.margin if view else None,
        liquidation_price=view.liquidation_price if view else None,
        wallet_balance=wallet,
    )


async def change_margin(core: Core, actor: Actor, symbol: str, amount: Decimal, adding: bool) -> MarginChanged:
    symbol = core.instrument(symbol).symbol
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        view = loaded.view.position(symbol)
        if view is None:
            raise Refused("no_position", f"You have no open {symbol} position.", f"/long {symbol} 100 10x")
        rules.check_margin_change(loaded.view, view, amount, adding)
        delta = amount if adding else -amount
        updated = replace(view.position, margin=view.position.margin + delta)
        pos.save_position(tx, loaded.account.id, updated, core.clock.now())
        positions = [updated if p.symbol == symbol else p for p in loaded.positions]
        after = evaluate(loaded.account.wallet_balance, positions, core.marks_for(positions), core.catalog)
        new_view = after.position(symbol)
        assert new_view is not None
        return MarginChanged(symbol, delta, updated.margin, new_view.liquidation_price)


async def set_leverage(core: Core, actor: Actor, symbol: str, leverage: int) -> LeverageSet:
    instrument = core.instrument(symbol)
    symbol = instrument.symbol
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        view = loaded.view.position(symbol)
        rules.check_new_leverage(loaded.view, view, instrument, leverage)
        mode, _ = chosen_setting(loaded, symbol)
        acc.save_symbol_setting(tx, loaded.account.id, symbol, mode, leverage)
        if view is not None:
            updated = replace(view.position, leverage=leverage)
            pos.save_position(tx, loaded.account.id, updated, core.clock.now())
        notional = view.notional if view else ZERO
        return LeverageSet(symbol, leverage, instrument.max_leverage_for(notional))


async def set_mode(core: Core, actor: Actor, symbol: str | None, mode: Mode) -> ModeSet:
    symbols = core.symbols_named([symbol] if symbol else [])
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        changed, locked = [], []
        for name in symbols:
            current, leverage = chosen_setting(loaded, name)
            try:
                rules.check_mode_switch(name, current, mode, *loaded.mode_locked(name))
            except Refused:
                if symbol:
                    raise
                locked.append(name)
                continue
            acc.save_symbol_setting(tx, loaded.account.id, name, mode, leverage)
            changed.append(name)
        return ModeSet(tuple(changed), mode, tuple(locked))

