"""What-if: the same positions in isolated and in cross, side by side, at today's marks and under shocks.

Pure computation on copies: every number comes from `positions.evaluate` and the engine's own liquidation
rules (`liquidate_isolated`, `liquidate_cross`), so what /whatif teaches is what the risk sweep would do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from core.domain.instruments import Catalog
from core.domain.money import ZERO, money
from core.domain.positions import (
    AccountView,
    LiquidationOutcome,
    Mode,
    Position,
    evaluate,
    isolated_liquidation_due,
    liquidate_cross,
    liquidate_isolated,
)

DEFAULT_SHOCKS: tuple[Decimal, ...] = (Decimal("-0.05"), Decimal("-0.10"), Decimal("-0.20"), Decimal("-0.30"))
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Shock:
    """A jump of the marks: every symbol (or only `symbol`) by `change` (a fraction), or `symbol` to `price`."""

    label: str
    change: Decimal | None = None
    symbol: str | None = None
    price: Decimal | None = None

    def apply(self, marks: Mapping[str, Decimal]) -> dict[str, Decimal]:
        moved = dict(marks)
        if self.change is not None:
            moved = {s: mark * (1 + self.change) if self.symbol in (None, s) else mark for s, mark in marks.items()}
        if self.symbol is not None and self.price is not None:
            moved[self.symbol] = self.price
        return moved


def pct_shock(change: Decimal, symbol: str | None = None) -> Shock:
    """Every mark (or only `symbol`'s) moves by `change` (−0.2 is −20 %)."""
    label = f"{(change * HUNDRED).normalize():+f} %"
    return Shock(f"{symbol} {label}" if symbol else label, change=change, symbol=symbol)


def price_shock(symbol: str, price: Decimal) -> Shock:
    return Shock(f"{symbol} at {price:,f}", symbol=symbol, price=price)


@dataclass(frozen=True)
class ModeOutcome:
    """What one margin mode does to the account after the marks moved (and the engine liquidated)."""

    mode: Mode
    liquidated: tuple[str, ...]  # symbols the engine closed by liquidation
    survivors: tuple[str, ...]
    wallet_before: Decimal
    wallet_after: Decimal  # after the liquidations' ledger entries
    unrealized_pnl: Decimal  # of the positions still open, at the new marks
    equity_after: Decimal  # wallet_after + unrealized_pnl
    lost: Decimal  # wallet_before − equity_after (negative: a gain)
    lost_pct: Decimal | None  # lost as a percentage of wallet_before
    margin_ratio: Decimal | None  # cross: the account's ratio after; isolated: the worst open position's own
    insurance_fund: Decimal  # what the liquidations left to the insurance fund


@dataclass(frozen=True)
class ShockOutcome:
    shock: Shock
    marks: dict[str, Decimal]
    isolated: ModeOutcome
    cross: ModeOutcome
    verdict: str


@dataclass(frozen=True)
class PositionPair:
    """One position valued as isolated (its own margin) and as cross (the shared balance)."""

    symbol: str
    side: int
    qty: Decimal
    entry_price: Decimal
    mark: Decimal
    leverage: int
    actual_mode: Mode
    isolated_margin: Decimal
    isolated_liquidation_price: Decimal | None
    isolated_margin_ratio: Decimal | None
    isolated_bankruptcy_price: Decimal | None
    cross_liquidation_price: Decimal | None
    cross_bankruptcy_price: Decimal | None
    maintenance_margin: Decimal
    unrealized_pnl: Decimal


@dataclass(frozen=True)
class Comparison:
    wallet: Decimal
    positions: tuple[PositionPair, ...]
    isolated: AccountView
    cross: AccountView
    shocks: tuple[ShockOutcome, ...]
    verdict: str


def as_mode(positions: Sequence[Position], mode: Mode) -> tuple[Position, ...]:
    """Copies of the positions in one mode. A cross position made isolated gets its initial margin as PM,
    as if it had been opened isolated (`trading._increase`); an isolated one made cross gives its PM back
    to the cross wallet."""
    if mode == "cross":
        return tuple(replace(p, mode="cross", margin=ZERO) for p in positions)
    return tuple(
        p if p.mode == "isolated" else replace(p, mode="isolated", margin=money(p.initial_margin()))
        for p in positions
    )


def liquidations(
    wallet: Decimal, positions: Sequence[Position], marks: Mapping[str, Decimal], catalog: Catalog,
    clearance_rate: Decimal,
) -> tuple[AccountView, list[LiquidationOutcome]]:
    """The sweep's decision at these marks (`risk.liquidate_if_due`): isolated positions whose own margin
    is spent, then the whole cross book when its margin ratio reaches 100 %."""
    view = evaluate(wallet, positions, marks, catalog)
    outcomes = [liquidate_isolated(v) for v in view.positions if isolated_liquidation_due(v)]
    if view.cross_liquidation_due:
        outcomes.append(liquidate_cross(view, clearance_rate))
    return view, outcomes


def settle(
    mode: Mode, wallet_before: Decimal, wallet_now: Decimal, open_positions: Sequence[Position],
    marks: Mapping[str, Decimal], catalog: Catalog, liquidated: Sequence[str], insurance: Decimal,
) -> ModeOutcome:
    """The account after a scenario: what was liquidated, what stays open at `marks`, and the damage."""
    view = evaluate(wallet_now, open_positions, marks, catalog)
    upnl = sum((v.unrealized_pnl for v in view.positions), ZERO)
    equity = wallet_now + upnl
    lost = wallet_before - equity
    if mode == "cross":
        ratio = view.margin_ratio
    else:
        ratios = [v.health for v in view.positions]
        ratio = None if any(r is None for r in ratios) else max((r for r in ratios if r is not None), default=ZERO)
    return ModeOutcome(
        mode=mode,
        liquidated=tuple(liquidated),
        survivors=tuple(p.symbol for p in open_positions),
        wallet_before=wallet_before,
        wallet_after=wallet_now,
        unrealized_pnl=upnl,
        equity_after=equity,
        lost=lost,
        lost_pct=lost / wallet_before * HUNDRED if wallet_before > 0 else None,
        margin_ratio=ratio,
        insurance_fund=insurance,
    )


def outcome_at(
    wallet: Decimal, positions: Sequence[Position], marks: Mapping[str, Decimal], catalog: Catalog,
    clearance_rate: Decimal, mode: Mode,
) -> ModeOutcome:
    """The positions (already in `mode`) when the marks jump to `marks` in one tick."""
    _, outcomes = liquidations(wallet, positions, marks, catalog, clearance_rate)
    closed = [v.position.symbol for o in outcomes for v in o.closed]
    wallet_after = wallet + sum((o.wallet_change for o in outcomes), ZERO)
    left = [p for p in positions if p.symbol not in closed]
    fund = sum((o.insurance_fund for o in outcomes), ZERO)
    return settle(mode, wallet, wallet_after, left, marks, catalog, closed, fund)


def shock_outcome(
    wallet: Decimal, positions: Sequence[Position], marks: Mapping[str, Decimal], catalog: Catalog,
    clearance_rate: Decimal, shock: Shock,
) -> ShockOutcome:
    moved = shock.apply(marks)
    iso = outcome_at(wallet, as_mode(positions, "isolated"), moved, catalog, clearance_rate, "isolated")
    cross = outcome_at(wallet, as_mode(positions, "cross"), moved, catalog, clearance_rate, "cross")
    return ShockOutcome(shock, moved, iso, cross, verdict(shock.label, iso, cross))


def compare(
    wallet: Decimal, positions: Sequence[Position], marks: Mapping[str, Decimal], catalog: Catalog,
    clearance_rate: Decimal, shocks: Sequence[Shock] = (),
) -> Comparison:
    """The positions in both modes at `marks`, then under each shock."""
    iso_view = evaluate(wallet, as_mode(positions, "isolated"), marks, catalog)
    cross_view = evaluate(wallet, as_mode(positions, "cross"), marks, catalog)
    pairs = tuple(
        PositionPair(
            symbol=p.symbol, side=p.side, qty=p.qty, entry_price=p.entry_price, mark=iv.mark, leverage=p.leverage,
            actual_mode=p.mode, isolated_margin=iv.margin, isolated_liquidation_price=iv.liquidation_price,
            isolated_margin_ratio=iv.health, isolated_bankruptcy_price=iv.bankruptcy_price,
            cross_liquidation_price=cv.liquidation_price, cross_bankruptcy_price=cv.bankruptcy_price,
            maintenance_margin=iv.maintenance_margin, unrealized_pnl=iv.unrealized_pnl,
        )
        for p, iv, cv in zip(positions, iso_view.positions, cross_view.positions, strict=True)
    )
    outcomes = tuple(shock_outcome(wallet, positions, marks, catalog, clearance_rate, s) for s in shocks)
    return Comparison(wallet, pairs, iso_view, cross_view, outcomes, overall_verdict(pairs, outcomes))


def other_mode_outcome(
    wallet: Decimal, positions: Sequence[Position], marks: Mapping[str, Decimal], catalog: Catalog,
    clearance_rate: Decimal, liquidated_mode: Mode,
) -> ModeOutcome:
    """For a liquidation notice: the same positions at the same marks in the other mode ("what cross
    would have done" after an isolated liquidation, and the reverse). Pass the account as it was just
    before the liquidation (wallet, every position, the marks of the tick)."""
    other: Mode = "cross" if liquidated_mode == "isolated" else "isolated"
    return outcome_at(wallet, as_mode(positions, other), marks, catalog, clearance_rate, other)


def other_mode_sentence(outcome: ModeOutcome) -> str:
    """One plain line for a liquidation notice, e.g. "In cross: nothing liquidated, open loss 1,020.00 USDT"."""
    return f"In {outcome.mode}: {_damage(outcome)}."


def verdict(label: str, iso: ModeOutcome, cross: ModeOutcome) -> str:
    """One line comparing both modes under one scenario."""
    if not iso.liquidated and not cross.liquidated:
        return f"{label}: nothing is liquidated in either mode; the wallet {_amount(cross)}."
    gap = iso.lost - cross.lost
    if abs(gap) < Decimal("0.01"):
        better = _same_loss(iso, cross)
    elif gap < 0:
        better = f"isolated saves {_usdt(-gap)}"
    else:
        better = f"cross saves {_usdt(gap)}"
    return f"{label}: isolated {_damage(iso)}; cross {_damage(cross)}. {better[0].upper()}{better[1:]}."


def _same_loss(iso: ModeOutcome, cross: ModeOutcome) -> str:
    """Equal losses can still leave different positions open: the one still held can recover, or lose more."""
    for holder, closer in ((cross, iso), (iso, cross)):
        kept = [s for s in closer.liquidated if s not in holder.liquidated]
        if kept:
            return (f"the same loss so far, but {holder.mode} still holds {', '.join(kept)}: it can win back from "
                    "here, or lose more")
    return "both modes end the same"


def overall_verdict(pairs: Sequence[PositionPair], outcomes: Sequence[ShockOutcome]) -> str:
    """The one-line lesson of a comparison: the scenario where the modes differ most, else the prices."""
    if not pairs:
        return "No positions to compare."
    differing = [o for o in outcomes if o.isolated.liquidated or o.cross.liquidated]
    if differing:
        widest = max(differing, key=lambda o: abs(o.isolated.lost - o.cross.lost))
        return widest.verdict
    if outcomes:
        return outcomes[-1].verdict
    return price_verdict(pairs)


def price_verdict(pairs: Sequence[PositionPair]) -> str:
    """Where the position whose liquidation moves most between the modes is liquidated in each."""
    if not pairs:
        return "No positions to compare."
    p = max(pairs, key=lambda x: _distance(x, x.cross_liquidation_price) - _distance(x, x.isolated_liquidation_price))
    iso, cross = _distance(p, p.isolated_liquidation_price), _distance(p, p.cross_liquidation_price)
    lead = f"{p.symbol}: isolated is liquidated {_where(p, p.isolated_liquidation_price)}, cross " \
           f"{_where(p, p.cross_liquidation_price)}."
    if cross > iso:
        return (f"{lead} Cross waits longer, but a cross liquidation closes every cross position at once; "
                f"isolated risks only this position's {_usdt(p.isolated_margin)}.")
    return f"{lead} Here isolated holds out as long or longer, and risks only {_usdt(p.isolated_margin)}."


def _distance(p: PositionPair, price: Decimal | None) -> Decimal:
    """How far the mark must move against the position to reach `price`, as a fraction (∞ as 10)."""
    if price is None:
        return Decimal(10)
    return (price - p.mark) / p.mark * -p.side


def _where(p: PositionPair, price: Decimal | None) -> str:
    if price is None:
        return "never (no liquidation price)"
    change = (price - p.mark) / p.mark * HUNDRED
    return f"at {price:,.2f} ({change:+.1f} %)"


def _amount(outcome: ModeOutcome) -> str:
    if outcome.lost >= 0:
        return f"loses {_usdt(outcome.lost)} ({outcome.lost_pct or ZERO:.1f} % of the wallet)"
    return f"gains {_usdt(-outcome.lost)}"


def _damage(outcome: ModeOutcome) -> str:
    amount = _amount(outcome)
    if not outcome.liquidated:
        return f"{amount}, nothing liquidated"
    # a cross liquidation closes the whole cross book in one go; isolated positions fall one by one
    everything = outcome.mode == "cross" and not outcome.survivors and len(outcome.liquidated) > 1
    closed = "everything liquidated at once" if everything else "liquidates " + ", ".join(outcome.liquidated)
    return f"{amount}, {closed}"


def _usdt(value: Decimal) -> str:
    return f"{money(value):,.2f} USDT"


@dataclass(frozen=True)
class CurvePoint:
    """The position's result if its symbol alone jumps to `price`, in each mode (relative to its entry)."""

    price: Decimal
    isolated: Decimal
    cross: Decimal


def pnl_curve(
    wallet: Decimal, positions: Sequence[Position], marks: Mapping[str, Decimal], catalog: Catalog,
    clearance_rate: Decimal, symbol: str, prices: Sequence[Decimal],
) -> tuple[CurvePoint, ...]:
    """PnL versus price of one position, the others held at their marks, in both modes: the engine decides
    liquidations at each price, so the isolated line stops at −PM and the cross line runs on until the cross
    book is liquidated. Values are equity changes relative to the same account with this symbol at its entry."""
    target = next(p for p in positions if p.symbol == symbol)
    curves: dict[Mode, list[Decimal]] = {}
    for mode in ("isolated", "cross"):
        copies = as_mode(positions, mode)
        at_entry = outcome_at(wallet, copies, {**marks, symbol: target.entry_price}, catalog, clearance_rate, mode)
        curves[mode] = [
            outcome_at(wallet, copies, {**marks, symbol: price}, catalog, clearance_rate, mode).equity_after
            - at_entry.equity_after
            for price in prices
        ]
    return tuple(
        CurvePoint(price, iso, cross)
        for price, iso, cross in zip(prices, curves["isolated"], curves["cross"], strict=True)
    )
