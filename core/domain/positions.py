"""Positions and accounts as the engine sees them: valuation, liquidation checks and outcomes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from core.domain import margin as m
from core.domain.instruments import Catalog, Instrument
from core.domain.money import ZERO, money

Mode = Literal["isolated", "cross"]
MODES: tuple[Mode, ...] = ("isolated", "cross")


@dataclass(frozen=True)
class Position:
    """An open one-way position. `margin` is the isolated position margin PM (unused for cross)."""

    symbol: str
    side: int  # +1 long, −1 short
    qty: Decimal
    entry_price: Decimal
    leverage: int
    mode: Mode
    margin: Decimal = ZERO

    @property
    def side_name(self) -> str:
        return "long" if self.side > 0 else "short"

    def initial_margin(self) -> Decimal:
        return m.initial_margin(self.qty, self.entry_price, self.leverage)


@dataclass(frozen=True)
class PositionView:
    position: Position
    mark: Decimal
    notional: Decimal
    maintenance_margin: Decimal
    unrealized_pnl: Decimal
    margin: Decimal  # PM for isolated, IM for cross
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None

    @property
    def health(self) -> Decimal | None:
        """Isolated: MM / (PM + uPnL), the position's own margin ratio; None when equity ≤ 0."""
        return m.margin_ratio(self.maintenance_margin, self.margin + self.unrealized_pnl)


@dataclass(frozen=True)
class AccountView:
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    margin_balance: Decimal
    maintenance_margin: Decimal
    margin_ratio: Decimal | None  # None: infinite
    available_balance: Decimal
    effective_leverage: Decimal | None
    positions: tuple[PositionView, ...]
    transferable: Decimal = ZERO  # what may move into isolated margin: never unrealized profit

    def allowance(self, mode: Mode) -> Decimal:
        """What an order or a margin transfer of this mode may use."""
        return self.transferable if mode == "isolated" else self.available_balance

    def position(self, symbol: str) -> PositionView | None:
        return next((view for view in self.positions if view.position.symbol == symbol), None)

    @property
    def cross_positions(self) -> tuple[PositionView, ...]:
        return tuple(view for view in self.positions if view.position.mode == "cross")

    @property
    def cross_liquidation_due(self) -> bool:
        """Binance: a cross account is liquidated when its margin ratio reaches 100 %."""
        if not self.cross_positions:
            return False
        return self.margin_balance <= self.maintenance_margin


def isolated_liquidation_due(view: PositionView) -> bool:
    """An isolated position is liquidated when PM + uPnL ≤ MM."""
    return view.position.mode == "isolated" and view.margin + view.unrealized_pnl <= view.maintenance_margin


def evaluate(
    wallet: Decimal,
    positions: Sequence[Position],
    marks: Mapping[str, Decimal],
    catalog: Catalog,
    reserved: Decimal = ZERO,
) -> AccountView:
    """Value an account at the given marks (DESIGN §2). `reserved`: initial margin held by open orders."""
    isolated = [p for p in positions if p.mode == "isolated"]
    cross = [p for p in positions if p.mode == "cross"]
    cwb = wallet - sum((p.margin for p in isolated), ZERO)
    cross_parts = [_parts(p, marks[p.symbol], catalog) for p in cross]
    cross_upnl = sum((upnl for _, upnl in cross_parts), ZERO)
    cross_mm = sum((mm for mm, _ in cross_parts), ZERO)
    margin_balance = cwb + cross_upnl
    cross_im = sum((p.initial_margin() for p in cross), ZERO)
    views = [_isolated_view(p, marks[p.symbol], catalog) for p in isolated]
    for p, (mm, upnl) in zip(cross, cross_parts, strict=True):
        # the others held at their marks: LP base CWB − TMM₁ + UPNL₁, bankruptcy base CWB + UPNL₁
        equity = cwb + (cross_upnl - upnl)
        others_mm = cross_mm - mm
        views.append(_view(p, marks[p.symbol], catalog, (mm, upnl), p.initial_margin(), (equity - others_mm, equity)))
    order = {p.symbol: index for index, p in enumerate(positions)}
    views.sort(key=lambda view: order[view.position.symbol])
    cross_notional = sum((p.qty * marks[p.symbol] for p in cross), ZERO)
    available = max(ZERO, margin_balance - cross_im - reserved)
    return AccountView(
        wallet_balance=wallet,
        cross_wallet_balance=cwb,
        margin_balance=margin_balance,
        maintenance_margin=cross_mm,
        margin_ratio=m.margin_ratio(cross_mm, margin_balance),
        available_balance=available,
        effective_leverage=cross_notional / margin_balance if margin_balance > 0 else None,
        positions=tuple(views),
        # Binance's max addable isolated margin: min(CWB − order IM − cross MM, available)
        transferable=max(ZERO, min(available, cwb - reserved - cross_mm)),
    )


def _parts(p: Position, mark: Decimal, catalog: Catalog) -> tuple[Decimal, Decimal]:
    instrument = _instrument(catalog, p.symbol)
    return (
        m.maintenance_margin(instrument, p.qty, mark),
        m.unrealized_pnl(p.side, p.qty, p.entry_price, mark),
    )


def _isolated_view(p: Position, mark: Decimal, catalog: Catalog) -> PositionView:
    mm, upnl = _parts(p, mark, catalog)
    return _view(p, mark, catalog, (mm, upnl), p.margin, (p.margin, p.margin))


def _view(
    p: Position,
    mark: Decimal,
    catalog: Catalog,
    parts: tuple[Decimal, Decimal],
    shown: Decimal,
    bases: tuple[Decimal, Decimal],
) -> PositionView:
    """`parts`: (MM, uPnL); `bases`: what backs the position for its liquidation and bankruptcy prices."""
    instrument = _instrument(catalog, p.symbol)
    mm, upnl = parts
    liquidation_base, bankruptcy_base = bases
    return PositionView(
        position=p,
        mark=mark,
        notional=m.notional(p.qty, mark),
        maintenance_margin=mm,
        unrealized_pnl=upnl,
        margin=shown,
        liquidation_price=m.liquidation_price(instrument, p.side, p.qty, p.entry_price, liquidation_base),
        bankruptcy_price=m.bankruptcy_price(p.side, p.qty, p.entry_price, bankruptcy_base),
    )


def _instrument(catalog: Catalog, symbol: str) -> Instrument:
    instrument = catalog.get(symbol)
    if instrument is None:
        raise KeyError(f"unknown symbol {symbol}")
    return instrument


@dataclass(frozen=True)
class LedgerEntry:
    kind: str  # reset, fee, realized_pnl, funding, liquidation, insurance
    amount: Decimal
    symbol: str | None = None


@dataclass(frozen=True)
class LiquidationOutcome:
    """What a liquidation does to the wallet and the insurance fund."""

    mode: Mode
    closed: tuple[PositionView, ...]
    entries: tuple[LedgerEntry, ...]
    insurance_fund: Decimal  # what the fund gains (negative: what it paid to keep the wallet at zero)
    lost: Decimal  # how much the wallet lost in all
    # per closed position: what the wallet booked for it (PnL) and its share of the clearance fee
    legs: tuple[tuple[Decimal, Decimal], ...] = ()
    price_move: Decimal = ZERO  # Σ q × (mark − entry) × side at the marks, what the moves alone cost or made
    clearance_fee: Decimal = ZERO  # cross: the fee charged (zero when nothing was left to charge)
    covered: Decimal = ZERO  # what the insurance fund paid past bankruptcy, beyond the margin or wallet
    isolated_margin: Decimal = ZERO  # cross: the isolated margin the liquidation leaves alone

    @property
    def wallet_change(self) -> Decimal:
        return sum((entry.amount for entry in self.entries), ZERO)


def liquidate_isolated(view: PositionView) -> LiquidationOutcome:
    """Isolated: the position closes and exactly its margin PM is lost; what is left past the mark
    (PM + uPnL, the gap between liquidation and bankruptcy price) goes to the insurance fund."""
    pm = money(view.margin)
    fund = money(view.margin + view.unrealized_pnl)
    entry = LedgerEntry("liquidation", -pm, view.position.symbol)
    return LiquidationOutcome(
        "isolated", (view,), (entry,), fund, pm, ((-pm, ZERO),), price_move=fund - pm, covered=max(ZERO, -fund)
    )


def liquidate_cross(account: AccountView, clearance_rate: Decimal) -> LiquidationOutcome:
    """Cross: every cross position closes at its mark, a clearance fee goes to the insurance fund,
    and the cross wallet never goes below zero (the fund absorbs any gap). Isolated positions stay."""
    closed = account.cross_positions
    realized = money(sum((view.unrealized_pnl for view in closed), ZERO))
    # past bankruptcy the wallet stops at zero: the loss it cannot pay is the insurance fund's
    booked = max(realized, -max(ZERO, account.cross_wallet_balance))
    shortfall = booked - realized
    liquidated = sum((view.notional for view in closed), ZERO)
    fee = money(min(liquidated * clearance_rate, account.cross_wallet_balance + booked))
    entries = [LedgerEntry("realized_pnl", booked), LedgerEntry("liquidation", -fee)]
    legs = shares([v.unrealized_pnl for v in closed], booked), shares([v.notional for v in closed], fee)
    return LiquidationOutcome(
        "cross", closed, tuple(entries), fee - shortfall, fee - booked, tuple(zip(*legs, strict=True)),
        price_move=realized, clearance_fee=fee, covered=shortfall,
        isolated_margin=account.wallet_balance - account.cross_wallet_balance,
    )


def shares(weights: list[Decimal], total: Decimal) -> list[Decimal]:
    """`total` split in proportion to `weights`, rounded to money, the rounding left on the last share."""
    whole = sum(weights, ZERO)
    parts = [money(total * w / whole) if whole else ZERO for w in weights]
    if parts:
        parts[-1] += total - sum(parts, ZERO)
    return parts
