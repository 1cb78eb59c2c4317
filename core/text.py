"""Plain, platform-neutral wording of pushed messages (adapters may restyle, never reword)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.domain.money import money, plain
from core.domain.positions import LiquidationOutcome


def usdt(value: Decimal) -> str:
    return f"{money(value):,.2f} USDT"


def signed(value: Decimal) -> str:
    """+1,234.56 / -0.50; a loss that rounds to nothing shows as +0.00, never -0.00."""
    cents = money(value).quantize(Decimal("0.01")) + 0  # + 0 turns -0.00 into 0.00
    return f"{cents:+,.2f}"


def price(value: Decimal | None) -> str:
    if value is None:
        return "none"
    return f"{value:,.8f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.2f}"


def describe_liquidation(outcome: LiquidationOutcome) -> tuple[str, dict[str, Any]]:
    legs = [
        f"{v.position.side_name} {v.position.qty} {v.position.symbol} @ {price(v.position.entry_price)} "
        f"closed at mark {price(v.mark)}"
        for v in outcome.closed
    ]
    if outcome.mode == "isolated":
        view = outcome.closed[0]
        why = (
            f"Its margin plus unrealized PnL fell to its maintenance margin ({usdt(view.maintenance_margin)}) "
            f"when the mark crossed the liquidation price {price(view.liquidation_price)}. "
            f"Isolated margin: you lost exactly the position margin, {usdt(outcome.lost)}; the rest of your "
            "balance was not touched."
        )
    else:
        why = (
            "Your cross margin ratio reached 100 %: the cross balance could no longer cover the maintenance "
            f"margin of your cross positions, so all {len(legs)} of them were closed. "
            f"Cross margin: the wallet lost {usdt(outcome.lost)} including the clearance fee; isolated "
            "positions were not touched."
        )
    text = "⚠️ Liquidated (" + outcome.mode + "): " + "; ".join(legs) + ". " + why
    data: dict[str, Any] = {
        "mode": outcome.mode,
        "lost": plain(outcome.lost),
        "insurance_fund": plain(outcome.insurance_fund),
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
            }
            for v in outcome.closed
        ],
    }
    return text, data
