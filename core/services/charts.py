"""The numbers behind /chart: a position's PnL against price in both modes, and the account's equity over time.

Core computes the curves (every point decided by the engine via `whatif.pnl_curve`); `bot/charts.py` draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.domain.drills import Leg
from core.domain.money import ZERO, floor_to_step
from core.domain.positions import Mode, Position
from core.domain.whatif import CurvePoint, as_mode, compare, pnl_curve
from core.errors import Refused
from core.results import Actor
from core.services.core import Core, load
from core.services.teaching import inline_positions
from core.storage import accounts as history

GRID_STEPS = 64
MARGIN_BELOW = Decimal("0.8")
MARGIN_ABOVE = Decimal("1.2")
LEDGER_POINTS = 500


@dataclass(frozen=True)
class PositionChart:
    symbol: str
    side: int
    qty: Decimal
    entry_price: Decimal
    mark: Decimal
    leverage: int
    actual_mode: Mode
    wallet: Decimal
    isolated_margin: Decimal
    isolated_liquidation_price: Decimal | None
    cross_liquidation_price: Decimal | None
    isolated_worst: Decimal  # the lowest point of each curve: what the position can cost in that mode
    cross_worst: Decimal
    cross_worst_price: Decimal  # where on the chart's price range the cross curve is lowest
    points: tuple[CurvePoint, ...]
    source: str  # account | inline


@dataclass(frozen=True)
class EquityPoint:
    at: str  # ISO time
    wallet: Decimal
    kind: str  # the ledger kind, or "now" for today's equity (wallet + open PnL)


@dataclass(frozen=True)
class AccountChart:
    points: tuple[EquityPoint, ...]
    wallet: Decimal
    equity: Decimal
    unrealized_pnl: Decimal
    starting_balance: Decimal


async def position_chart(core: Core, actor: Actor, symbol: str | None = None, leg: Leg | None = None) -> PositionChart:
    """PnL versus price of one open position (or an inline one), with both liquidation prices marked."""
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
    wallet = loaded.account.wallet_balance
    if leg is not None:
        positions, source = inline_positions(core, [leg], wallet), "inline"
        marks = {p.symbol: p.entry_price for p in positions}
        wanted = positions[0].symbol
    else:
        wanted = core.instrument(symbol or "").symbol
        positions, source = list(loaded.positions), "account"
        marks = core.marks_for(positions)
        if loaded.position(wanted) is None:
            raise Refused("no_position", f"You have no open {wanted} position. Open one, or chart one inline.",
                          f"/chart long {wanted} 1000 10x")
    target = next(p for p in positions if p.symbol == wanted)
    rate = core.catalog.fees.liquidation_clearance
    pair = next(p for p in compare(wallet, positions, marks, core.catalog, rate).positions if p.symbol == target.symbol)
    iso_lp, cross_lp = pair.isolated_liquidation_price, pair.cross_liquidation_price
    tick = core.instrument(target.symbol).tick_size
    prices = price_grid(target, pair.mark, (iso_lp, cross_lp), tick)
    points = pnl_curve(wallet, positions, marks, core.catalog, rate, target.symbol, prices)
    return PositionChart(
        symbol=target.symbol, side=target.side, qty=target.qty, entry_price=target.entry_price, mark=pair.mark,
        leverage=target.leverage, actual_mode=target.mode, wallet=wallet,
        isolated_margin=as_mode([target], "isolated")[0].margin, isolated_liquidation_price=iso_lp,
        cross_liquidation_price=cross_lp, isolated_worst=min(p.isolated for p in points),
        cross_worst=(worst := min(points, key=lambda p: p.cross)).cross, cross_worst_price=worst.price, points=points,
        source=source,
    )


def price_grid(
    position: Position, mark: Decimal, liquidation_prices: tuple[Decimal | None, ...], tick: Decimal
) -> tuple[Decimal, ...]:
    """Prices from below the lowest to above the highest point of interest, on the tick grid, with a point on
    each side of every liquidation price so the steps are drawn sharp."""
    found = [lp for lp in liquidation_prices if lp is not None]
    anchors = [mark, position.entry_price, *found]
    low, high = min(anchors) * MARGIN_BELOW, max(anchors) * MARGIN_ABOVE
    if len(found) < len(liquidation_prices):  # a mode never liquidates: show a long way against the position
        low, high = (min(anchors) / 2, high) if position.side > 0 else (low, max(anchors) * 2)
    step = (high - low) / GRID_STEPS
    prices = {floor_to_step(low + step * i, tick) for i in range(GRID_STEPS + 1)}
    for lp in found:
        below = floor_to_step(lp, tick)
        prices.update({below, below + tick})
    prices.add(floor_to_step(mark, tick))
    return tuple(sorted(p for p in prices if p > 0))


async def account_chart(core: Core, actor: Actor) -> AccountChart:
    """The wallet after every ledger row, then today's equity (wallet plus open PnL)."""
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        rows = await history.ledger_history(tx, loaded.account.id, LEDGER_POINTS)
    upnl = sum((v.unrealized_pnl for v in loaded.view.positions), ZERO)
    wallet = loaded.account.wallet_balance
    points = [EquityPoint(at, after, kind) for at, kind, _, after in rows]
    points.append(EquityPoint(core.clock.now().isoformat(), wallet + upnl, "now"))
    return AccountChart(tuple(points), wallet, wallet + upnl, upnl, loaded.account.starting_balance)
