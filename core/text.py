"""Plain, platform-neutral wording of pushed messages (adapters may restyle, never reword)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.domain.money import money, plain
from core.domain.positions import LiquidationOutcome, PositionView

CENT = Decimal("0.01")


def usdt(value: Decimal) -> str:
    return f"{money(value):,.2f} USDT"


def signed(value: Decimal) -> str:
    """+1,234.56 / -0.50; a loss that rounds to nothing shows as +0.00, never -0.00."""
    return f"{cents(value) + 0:+,.2f}"  # + 0 turns -0.00 into 0.00


def price(value: Decimal | None) -> str:
    """A price as exchanges show it: 60,000.00 and 150.00; 2.2000 below 10; below 1, five significant digits
    (0.17123), up to eight decimals (0.00001234)."""
    if value is None:
        return "none"
    size = abs(value)
    if size >= 10:
        return f"{value:,.2f}"
    if size >= 1 or size == 0:
        return f"{value:,.4f}"
    return f"{value:,.{min(8, 4 - size.adjusted())}f}"


def cents(value: Decimal) -> Decimal:
    """An amount as a reader sees it: money rounded to the cent (the same rounding `usdt` shows)."""
    return money(value).quantize(CENT)


def describe_liquidation(outcome: LiquidationOutcome) -> tuple[str, dict[str, Any]]:
    legs = [
        f"{v.position.side_name} {plain(v.position.qty)} {v.position.symbol} @ {price(v.position.entry_price)} "
        f"closed at mark {price(v.mark)}"
        for v in outcome.closed
    ]
    if outcome.mode == "isolated":
        view = outcome.closed[0]
        why = (
            f"Its margin plus unrealized PnL fell to its maintenance margin ({usdt(view.maintenance_margin)}) "
            f"when the mark crossed the liquidation price {price(view.liquidation_price)}. "
            f"Isolated margin: you lost exactly the position margin, {usdt(outcome.lost)}"
            f"{_isolated_gap(outcome, view)}; the rest of your balance was not touched."
        )
    else:
        closed = {1: "it was", 2: "both were"}.get(len(legs), f"all {len(legs)} of them were")
        why = (
            "Your cross margin ratio reached 100 %: the cross balance could no longer cover the maintenance "
            f"margin of your cross positions, so {closed} closed. "
            f"Cross margin: {_cross_loss(outcome)}; isolated positions were not touched."
        )
    text = "⚠️ Liquidated (" + outcome.mode + "): " + "; ".join(legs) + ". " + why
    return text, _liquidation_data(outcome)


def _isolated_gap(outcome: LiquidationOutcome, view: PositionView) -> str:
    """Why the margin lost differs from the price move: the rest of the margin went to the insurance fund
    (the mark stopped between the liquidation and the bankruptcy price), or the fund paid past bankruptcy."""
    bankrupt = price(view.bankruptcy_price)
    lost, move = cents(outcome.lost), cents(-outcome.price_move)
    if outcome.covered > 0:
        return (f" (the price move cost {usdt(move)}, past the bankruptcy price {bankrupt}: the insurance fund "
                f"covered the other {usdt(move - lost)})")
    if outcome.insurance_fund <= 0:
        return ""
    if move < 0:
        return f" (it went to the insurance fund, with the {usdt(-move)} the price move had made)"
    return (f" (the price move cost {usdt(move)}; the other {usdt(lost - move)}, the gap to the bankruptcy price "
            f"{bankrupt}, went to the insurance fund)")


def _cross_loss(outcome: LiquidationOutcome) -> str:
    """What the wallet lost and to what: the price move, the clearance fee if one was charged, and what the
    insurance fund covered when the loss went past the cross balance."""
    lost, move = cents(outcome.lost), cents(-outcome.price_move)
    if outcome.covered > 0:
        stopped = "and stopped at zero" if outcome.isolated_margin == 0 else "(its cross balance stopped at zero)"
        return (f"the price move cost {usdt(move)}, more than the {usdt(lost)} behind your cross positions: the "
                f"wallet lost those {usdt(lost)} {stopped}, and the insurance fund covered the other "
                f"{usdt(move - lost)}")
    if outcome.clearance_fee <= 0:
        return f"the wallet lost {usdt(lost)} to the price move"
    if move < 0:
        return (f"the wallet lost {usdt(lost)}: a clearance fee of {usdt(lost - move)} paid to the insurance fund, "
                f"less the {usdt(-move)} the price move made")
    return (f"the wallet lost {usdt(lost)}: {usdt(move)} to the price move and a clearance fee of "
            f"{usdt(lost - move)} paid to the insurance fund")


def _liquidation_data(outcome: LiquidationOutcome) -> dict[str, Any]:
    return {
        "mode": outcome.mode,
        "lost": plain(outcome.lost),
        "insurance_fund": plain(outcome.insurance_fund),
        "price_move": plain(outcome.price_move),
        "clearance_fee": plain(outcome.clearance_fee),
        "insurance_covered": plain(outcome.covered),
        "positions": [
            {
                "symbol": v.position.symbol,
                "side": v.position.side_name,
                "qty": plain(v.position.qty),
                "entry_price": plain(v.position.entry_price),
                "mark_price": plain(v.mark),
                "margin": plain(v.margin),
                "unrealized_pnl": plain(v.unrealized_pnl),
                "liquidation_price": plain(v.liquidation_price),
                "bankruptcy_price": plain(v.bankruptcy_price),
                "booked_pnl": plain(booked),
                "clearance_fee": plain(fee),
            }
            for v, (booked, fee) in zip(outcome.closed, outcome.legs, strict=True)
        ],
    }
