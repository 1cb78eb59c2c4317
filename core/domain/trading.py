"""Trading decisions: fills (open, average, reduce, flip), margin transfers, leverage, modes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from core.domain import margin as m
from core.domain.instruments import Instrument
from core.domain.money import ZERO, floor_to_step, is_multiple, money
from core.domain.positions import AccountView, Mode, Position, PositionView
from core.errors import Refused


@dataclass(frozen=True)
class FillOutcome:
    """A fill applied to the symbol's position: what remains and what the wallet books."""

    position: Position | None
    closed_qty: Decimal
    opened_qty: Decimal
    realized_pnl: Decimal
    fee: Decimal
    price: Decimal

    @property
    def wallet_change(self) -> Decimal:
        return self.realized_pnl - self.fee


def qty_from_margin(instrument: Instrument, amount: Decimal, leverage: int, price: Decimal) -> Decimal:
    """`/long BTC 1000 10x`: 1,000 USDT of margin at 10x buys floor(10,000 / price) to the lot size."""
    return floor_to_step(amount * leverage / price, instrument.lot_size)


def check_qty(instrument: Instrument, qty: Decimal, example: str) -> None:
    if qty <= 0 or qty < instrument.lot_size:
        raise Refused(
            "qty_below_lot",
            f"That is less than the smallest {instrument.symbol} order ({instrument.lot_size} "
            f"{instrument.symbol}).",
            example,
        )
    if not is_multiple(qty, instrument.lot_size):
        raise Refused(
            "qty_not_lot_multiple",
            f"{instrument.symbol} quantities go in steps of {instrument.lot_size}.",
            example,
        )


def check_leverage(instrument: Instrument, leverage: int, notional: Decimal) -> None:
    cap = instrument.max_leverage_for(notional)
    if leverage < 1 or leverage > cap:
        raise Refused(
            "leverage_too_high" if leverage > cap else "bad_leverage",
            f"Leverage {leverage}x is not allowed for a {instrument.symbol} position of "
            f"{money(notional):,.2f} USDT: the bracket allows 1x to {cap}x.",
            f"/long {instrument.symbol} 100 {min(cap, 10)}x",
        )


def plan_fill(
    existing: Position | None,
    order: Position,
    price: Decimal,
    fee_rate: Decimal,
    cross_wallet: Decimal,
) -> FillOutcome:
    """Apply an order (side, qty, leverage, mode given as a Position) to the symbol's position.

    Same side averages the entry; the opposite side reduces, and past zero flips (one-way mode).
    """
    fee = money(order.qty * price * fee_rate)
    if existing is None or existing.side == order.side:
        return FillOutcome(_increase(existing, order, price), ZERO, order.qty, ZERO, fee, price)
    closed = min(order.qty, existing.qty)
    realized = money(existing.side * closed * (price - existing.entry_price))
    left = existing.qty - closed
    remaining: Position | None = None
    released = existing.margin
    if left > 0:
        kept = existing.margin * left / existing.qty if existing.mode == "isolated" else ZERO
        remaining = replace(existing, qty=left, margin=money(kept))
        released = existing.margin - remaining.margin
    flipped = order.qty - closed
    if flipped > 0:
        remaining = _increase(None, replace(order, qty=flipped), price)
    # a close never pushes the cross wallet below zero: the fee stops at what is there
    payable = max(ZERO, cross_wallet + realized + (released if existing.mode == "isolated" else ZERO))
    return FillOutcome(remaining, closed, flipped, realized, min(fee, payable), price)


def _increase(existing: Position | None, order: Position, price: Decimal) -> Position:
    added_margin = money(m.initial_margin(order.qty, price, order.leverage)) if order.mode == "isolated" else ZERO
    if existing is None:
        return replace(order, entry_price=price, margin=added_margin)
    qty = existing.qty + order.qty
    entry = (existing.qty * existing.entry_price + order.qty * price) / qty
    return replace(existing, qty=qty, entry_price=entry, margin=existing.margin + added_margin)


def check_affordable(account: AccountView, order: Position, opened: Decimal, price: Decimal, fee: Decimal) -> None:
    """Opening rule: available balance ≥ initial margin of what is opened + the fee. Isolated margin
    comes out of the cross wallet itself, never out of unrealized profit."""
    needed = m.initial_margin(opened, price, order.leverage) + fee
    have = account.allowance(order.mode)
    if opened > 0 and have < needed:
        raise Refused(
            "insufficient_balance",
            f"Not enough available balance: this needs {money(needed):,.2f} USDT "
            f"(margin + fee), you have {money(have):,.2f} USDT available.",
            f"/{'long' if order.side > 0 else 'short'} {order.symbol} "
            f"{max(Decimal(1), money(have / 2)):.0f} {order.leverage}x",
        )


def max_removable(view: PositionView) -> Decimal:
    p = view.position
    return m.max_removable_isolated(
        p.margin, p.side, p.qty, p.entry_price, view.mark, p.leverage, view.maintenance_margin
    )


def check_margin_change(account: AccountView, view: PositionView, amount: Decimal, adding: bool) -> None:
    p = view.position
    example = f"/margin {p.symbol} {'add' if adding else 'remove'} 50"
    if p.mode != "isolated":
        raise Refused(
            "not_isolated",
            f"{p.symbol} is in cross margin: the whole cross balance already backs it, so there is no "
            "position margin to add or remove.",
            f"/mode {p.symbol} isolated (after closing the position)",
        )
    if amount <= 0:
        raise Refused("bad_amount", "The amount must be more than zero.", example)
    limit = account.transferable if adding else max_removable(view)
    if amount > limit:
        what = "add" if adding else "remove"
        raise Refused(
            "margin_limit",
            f"You can {what} at most {money(limit):,.2f} USDT of margin on {p.symbol} right now.",
            f"/margin {p.symbol} {what} {money(limit / 2):.2f}" if limit > 0 else example,
        )


def check_new_leverage(account: AccountView, view: PositionView | None, instrument: Instrument, leverage: int) -> None:
    example = f"/leverage {instrument.symbol} 10"
    if view is None:
        check_leverage(instrument, leverage, ZERO)
        return
    p = view.position
    check_leverage(instrument, leverage, view.notional)
    if leverage >= p.leverage:
        return
    new_im = m.initial_margin(p.qty, p.entry_price, leverage)
    if p.mode == "isolated" and new_im > p.margin:
        raise Refused(
            "leverage_lower_refused",
            f"Lowering {p.symbol} to {leverage}x needs {money(new_im):,.2f} USDT of position margin; "
            f"it has {money(p.margin):,.2f}. Add margin first.",
            f"/margin {p.symbol} add {money(new_im - p.margin):.2f}",
        )
    if p.mode == "cross" and new_im - p.initial_margin() > account.available_balance:
        raise Refused(
            "leverage_lower_refused",
            f"Lowering {p.symbol} to {leverage}x would lock {money(new_im - p.initial_margin()):,.2f} USDT "
            "more than your available balance.",
            example,
        )


def check_mode_switch(symbol: str, current: Mode, wanted: Mode, has_position: bool, has_orders: bool) -> None:
    # Binance −4048 / −4047: margin type cannot be changed while a position or an open order exists
    # (−4046 "no need to change margin type" when it already is that mode: not an error here)
    if current != wanted and has_position:
        raise Refused(
            "mode_locked",
            f"{symbol} has an open position, so its margin mode stays {current}. Close it "
            f"{'(and cancel its orders) ' if has_orders else ''}first, then switch.",
            f"/close {symbol}",
        )
    if current != wanted and has_orders:
        raise Refused(
            "mode_locked",
            f"{symbol} has open orders, so its margin mode stays {current}. Cancel them first (/orders lists "
            "their ids), then switch.",
            "/orders",
        )
