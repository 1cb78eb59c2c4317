"""What-if: every number equals the engine's own computation on the same inputs, recomputed here."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain import margin as m
from core.domain.instruments import Catalog, load_catalog
from core.domain.money import ZERO, money
from core.domain.positions import (
    Position,
    evaluate,
    isolated_liquidation_due,
    liquidate_cross,
    liquidate_isolated,
)
from core.domain.whatif import (
    Shock,
    as_mode,
    compare,
    other_mode_outcome,
    outcome_at,
    pct_shock,
    pnl_curve,
    price_shock,
    shock_outcome,
)

D = Decimal
CATALOG: Catalog = load_catalog()
RATE = CATALOG.fees.liquidation_clearance
MARKS = {"BTC": D(60000), "ETH": D(3000), "SOL": D(150)}
WALLET = D(10000)


def _positions() -> list[Position]:
    """A mixed book: isolated BTC long (PM = IM), cross ETH short, cross SOL long."""
    return [
        Position("BTC", 1, D("0.166"), D(60000), 10, "isolated", money(D("0.166") * 60000 / 10)),
        Position("ETH", -1, D("1.5"), D(2900), 5, "cross"),
        Position("SOL", 1, D(40), D(160), 20, "cross"),
    ]


def test_as_mode_gives_cross_positions_their_initial_margin_and_isolated_ones_back_to_the_pool() -> None:
    iso = as_mode(_positions(), "isolated")
    assert [p.mode for p in iso] == ["isolated"] * 3
    assert iso[0].margin == _positions()[0].margin
    assert iso[1].margin == money(D("1.5") * 2900 / 5)
    cross = as_mode(_positions(), "cross")
    assert all(p.mode == "cross" and p.margin == 0 for p in cross)


def test_side_by_side_liquidation_prices_and_ratios_equal_the_engine() -> None:
    result = compare(WALLET, _positions(), MARKS, CATALOG, RATE)
    iso_view = evaluate(WALLET, as_mode(_positions(), "isolated"), MARKS, CATALOG)
    cross_view = evaluate(WALLET, as_mode(_positions(), "cross"), MARKS, CATALOG)
    assert result.isolated == iso_view and result.cross == cross_view
    for pair, iv, cv in zip(result.positions, iso_view.positions, cross_view.positions, strict=True):
        assert pair.isolated_liquidation_price == iv.liquidation_price
        assert pair.cross_liquidation_price == cv.liquidation_price
        assert pair.isolated_margin_ratio == iv.health
        assert pair.isolated_margin == iv.margin
    assert result.cross.margin_ratio == cross_view.maintenance_margin / cross_view.margin_balance


def test_design_worked_example_cross_500_usdt_long_btc_liquidates_at_25100_40() -> None:
    """DESIGN §2: cross 500 USDT, long 1,000 USDT notional of BTC @ 50,000, mmr 0.4 %, cum 0 → LP 25,100.40."""
    position = Position("BTC", 1, D("0.02"), D(50000), 10, "cross")
    pair = compare(D(500), [position], {"BTC": D(50000)}, CATALOG, RATE).positions[0]
    assert pair.cross_liquidation_price is not None
    assert pair.cross_liquidation_price.quantize(D("0.01")) == D("25100.40")


def _engine_jump(wallet: Decimal, positions: list[Position], marks: dict[str, Decimal]) -> tuple[set[str], Decimal]:
    """The risk sweep's decision, written out again: (liquidated symbols, equity after)."""
    view = evaluate(wallet, positions, marks, CATALOG)
    outcomes = [liquidate_isolated(v) for v in view.positions if isolated_liquidation_due(v)]
    if view.cross_liquidation_due:
        outcomes.append(liquidate_cross(view, RATE))
    closed = {v.position.symbol for o in outcomes for v in o.closed}
    wallet_after = wallet + sum((o.wallet_change for o in outcomes), ZERO)
    open_pnl = sum((v.unrealized_pnl for v in view.positions if v.position.symbol not in closed), ZERO)
    return closed, wallet_after + open_pnl


@pytest.mark.parametrize("change", ["-0.05", "-0.10", "-0.20", "-0.30", "0.25"])
def test_shock_outcomes_equal_the_sweep_on_copies_in_each_mode(change: str) -> None:
    shock = pct_shock(D(change))
    result = shock_outcome(WALLET, _positions(), MARKS, CATALOG, RATE, shock)
    moved = {s: p * (1 + D(change)) for s, p in MARKS.items()}
    assert result.marks == moved
    for outcome in (result.isolated, result.cross):
        closed, equity = _engine_jump(WALLET, list(as_mode(_positions(), outcome.mode)), moved)
        assert set(outcome.liquidated) == closed
        assert outcome.equity_after == equity
        assert outcome.lost == WALLET - equity
        assert outcome.lost_pct == (WALLET - equity) / WALLET * 100


def test_default_shocks_are_minus_5_10_20_30_percent_and_verdicts_name_the_modes() -> None:
    result = compare(WALLET, _positions(), MARKS, CATALOG, RATE, [pct_shock(D(c)) for c in ("-0.05", "-0.3")])
    assert [s.shock.label for s in result.shocks] == ["-5 %", "-30 %"]
    assert all("isolated" in s.verdict or "either mode" in s.verdict for s in result.shocks)
    assert result.verdict


def test_isolated_liquidation_costs_exactly_the_position_margin_and_leaves_the_others() -> None:
    positions = [Position("BTC", 1, D("0.2"), D(50000), 10, "isolated", D(1000)),
                 Position("ETH", 1, D("0.4"), D(2500), 5, "isolated", D(200))]
    outcome = outcome_at(D(2000), positions, {"BTC": D(40000), "ETH": D(2500)}, CATALOG, RATE, "isolated")
    assert outcome.liquidated == ("BTC",)
    assert outcome.survivors == ("ETH",)
    assert outcome.wallet_after == D(1000)
    assert outcome.lost == D(1000)


def test_cross_liquidation_closes_every_position_and_the_wallet_never_goes_below_zero() -> None:
    positions = as_mode(_positions(), "cross")
    outcome = outcome_at(D(1000), positions, {"BTC": D(30000), "ETH": D(3000), "SOL": D(75)}, CATALOG, RATE, "cross")
    assert set(outcome.liquidated) == {"BTC", "ETH", "SOL"}
    assert outcome.survivors == ()
    assert outcome.wallet_after >= 0
    assert outcome.lost == D(1000) - outcome.wallet_after


def test_a_price_shock_moves_only_its_symbol() -> None:
    shock = price_shock("BTC", D(50000))
    assert shock.apply(MARKS) == {**MARKS, "BTC": D(50000)}
    assert shock.label == "BTC at 50,000"


def test_other_mode_outcome_tells_what_cross_would_have_done_after_an_isolated_liquidation() -> None:
    positions = [Position("BTC", 1, D("0.2"), D(50000), 10, "isolated", D(1000)),
                 Position("ETH", 1, D("0.4"), D(2500), 5, "isolated", D(200))]
    marks = {"BTC": D(44000), "ETH": D(2500)}
    other = other_mode_outcome(D(5000), positions, marks, CATALOG, RATE, "isolated")
    assert other.mode == "cross"
    closed, equity = _engine_jump(D(5000), list(as_mode(positions, "cross")), marks)
    assert other.liquidated == () == tuple(closed)
    assert other.equity_after == equity == D(5000) + D("0.2") * (44000 - 50000)
    back = other_mode_outcome(D(5000), positions, marks, CATALOG, RATE, "cross")
    assert back.mode == "isolated" and back.liquidated == ("BTC",)


def test_pnl_curve_stops_at_minus_pm_in_isolated_and_runs_on_in_cross() -> None:
    positions = [Position("BTC", 1, D("0.2"), D(50000), 10, "isolated", D(1000))]
    prices = [D(p) for p in (30000, 40000, 45000, 46000, 50000, 55000)]
    curve = pnl_curve(D(3000), positions, {"BTC": D(50000)}, CATALOG, RATE, "BTC", prices)
    lp = m.liquidation_price(CATALOG.instruments["BTC"], 1, D("0.2"), D(50000), D(1000))
    assert lp is not None
    for point in curve:
        raw = D("0.2") * (point.price - 50000)
        assert point.isolated == (D(-1000) if point.price <= lp else raw)
    assert curve[-1].cross == curve[-1].isolated == D(1000)
    assert curve[0].cross == D(-3000)  # the whole wallet in a cross liquidation
    assert min(p.isolated for p in curve) == D(-1000)


@settings(max_examples=60, deadline=None)
@given(change=st.decimals(min_value=D("-0.95"), max_value=D("0.95"), places=3))
def test_isolated_loss_never_exceeds_the_sum_of_position_margins(change: Decimal) -> None:
    result = shock_outcome(WALLET, _positions(), MARKS, CATALOG, RATE, Shock("x", change=change))
    margins = sum((p.margin for p in as_mode(_positions(), "isolated")), ZERO)
    assert result.isolated.lost <= margins
    assert result.cross.wallet_after >= 0
