"""Binance USDⓈ-M margin formulas (DESIGN §2): every one lives here once, Decimal in, Decimal out."""

from __future__ import annotations

from decimal import Decimal

from core.domain.instruments import Bracket, Instrument
from core.domain.money import ZERO


def notional(qty: Decimal, mark: Decimal) -> Decimal:
    return qty * mark


def unrealized_pnl(side: int, qty: Decimal, entry: Decimal, mark: Decimal) -> Decimal:
    return side * qty * (mark - entry)


def maintenance_margin(instrument: Instrument, qty: Decimal, mark: Decimal) -> Decimal:
    """MM = N × mmr − cum, with the bracket chosen by the notional at the mark."""
    value = notional(qty, mark)
    return instrument.bracket_for(value).maintenance(value)


def initial_margin(qty: Decimal, price: Decimal, leverage: int) -> Decimal:
    return qty * price / leverage


def liquidation_price(
    instrument: Instrument, side: int, qty: Decimal, entry: Decimal, balance: Decimal
) -> Decimal | None:
    """Solve balance + s·q·(LP − EP) = q·LP·mmr − cum for LP, with the bracket the LP itself falls in.

    `balance` is the isolated margin, or for cross: CWB − TMM₁ + UPNL₁ (the other positions held at
    their marks). Binance: when the notional at the LP falls in another bracket, recompute with that
    bracket. Equity minus maintenance is monotone in the mark, so exactly one bracket is consistent.
    None when the price would be ≤ 0 (no liquidation price).
    """
    if qty <= 0:
        return None
    last = instrument.brackets[-1]
    for bracket in instrument.brackets:
        price = _solve(bracket, side, qty, entry, balance)
        if price is None:
            continue
        value = qty * price
        if bracket.floor <= value and (value < bracket.cap or bracket is last):
            return price
    return None


def _solve(bracket: Bracket, side: int, qty: Decimal, entry: Decimal, balance: Decimal) -> Decimal | None:
    denominator = qty * bracket.mmr - side * qty
    price = (balance + bracket.cum - side * qty * entry) / denominator
    return price if price > 0 else None


def bankruptcy_price(side: int, qty: Decimal, entry: Decimal, balance: Decimal) -> Decimal | None:
    """Where equity reaches exactly zero: BP = EP − s·balance/q; None when ≤ 0."""
    if qty <= 0:
        return None
    price = entry - side * balance / qty
    return price if price > 0 else None


def margin_ratio(maintenance: Decimal, margin_balance: Decimal) -> Decimal | None:
    """AMM / MB; None stands for infinite (MB ≤ 0 with something to maintain)."""
    if maintenance == 0:
        return ZERO
    if margin_balance <= 0:
        return None
    return maintenance / margin_balance


def max_removable_isolated(
    margin: Decimal, side: int, qty: Decimal, entry: Decimal, mark: Decimal, leverage: int, mm: Decimal
) -> Decimal:
    """Binance: min(PM − MM, PM + size·(M − EP) − M·q/L), never below zero."""
    keep_initial = margin + unrealized_pnl(side, qty, entry, mark) - mark * qty / leverage
    return max(ZERO, min(margin - mm, keep_initial))
