"""The margin engine against every published worked example it claims (../shared/reference/exchange-rules.md §6).

Each example runs through the domain functions: `core.domain.margin.liquidation_price` with the cross balance
CWB − TMM₁ + UPNL₁ as printed, and `core.domain.positions.evaluate` with the positions themselves. The same
examples run end to end through the console in tests/e2e/test_console_transcript.py.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

import pytest

from core.domain import margin as m
from core.domain.instruments import Catalog
from core.domain.positions import AccountView, Position, evaluate

D = Decimal
CENT = D("0.01")

# Binance FAQ b3c689c1… "Example: Calculating Liquidation Price in One-way & Cross Margin mode"
# (numbers verbatim in freqtrade tests/exchange/test_binance.py and PR #5576)
B_WALLET = D("1535443.01")
B_ETH = Position("ETH", 1, D("3683.979"), D("1456.84"), 4, "cross")
B_BTC = Position("BTC", 1, D("109.488"), D("32481.98"), 20, "cross")
B_MARKS = {"BTC": D("31967.27"), "ETH": D("1335.18")}


def cents(value: Decimal | None) -> Decimal:
    assert value is not None
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def relative_error(value: Decimal, expected: Decimal) -> Decimal:
    return abs(value - expected) / abs(expected)


def binance_account(catalog: Catalog, marks: dict[str, Decimal] | None = None) -> AccountView:
    return evaluate(B_WALLET, [B_BTC, B_ETH], marks or B_MARKS, catalog)


# --- B1, B2: Binance's cross example, through the formula with the printed inputs ---


def test_b1_eth_cross_liquidation_price_is_1153_26_as_binance_publishes(binance_2021: Catalog) -> None:
    """B1 (Binance FAQ b3c689c1…): WB 1,535,443.01, TMM1 71,200.81144, UPNL1 −56,354.57, ETH long 3,683.979
    @ 1,456.84, mmr 10 %, cum 135,365 → LP 1,153.26."""
    balance = B_WALLET - D("71200.81144") + D("-56354.57")
    lp = m.liquidation_price(binance_2021.instruments["ETH"], 1, B_ETH.qty, B_ETH.entry_price, balance)
    assert cents(lp) == D("1153.26")


def test_b2_btc_cross_liquidation_price_is_26316_89_as_binance_publishes(binance_2021: Catalog) -> None:
    """B2 (same Binance FAQ): WB 1,535,443.01, TMM1 356,512.508, UPNL1 −448,192.89, BTC long 109.488 @ 32,481.98,
    mmr 2.5 %, cum 16,300 → LP 26,316.89."""
    balance = B_WALLET - D("356512.508") + D("-448192.89")
    lp = m.liquidation_price(binance_2021.instruments["BTC"], 1, B_BTC.qty, B_BTC.entry_price, balance)
    assert cents(lp) == D("26316.89")


def test_b0_the_other_positions_maintenance_and_pnl_come_out_as_binance_prints(binance_2021: Catalog) -> None:
    """B0a–d (freqtrade fixture "From calc example"): at marks BTC 31,967.27 / ETH 1,335.18 the BTC position has
    MM 71,200.81144 and uPnL −56,354.57, the ETH position MM 356,512.508 and uPnL −448,192.89."""
    account = binance_account(binance_2021)
    btc, eth = account.position("BTC"), account.position("ETH")
    assert btc is not None and eth is not None
    assert btc.maintenance_margin.quantize(D("0.00001")) == D("71200.81144")
    assert cents(btc.unrealized_pnl) == D("-56354.57")
    assert eth.maintenance_margin.quantize(D("0.001")) == D("356512.508")
    assert cents(eth.unrealized_pnl) == D("-448192.89")


def test_b1_b2_evaluating_the_account_gives_both_published_liquidation_prices(binance_2021: Catalog) -> None:
    """B1/B2 through `evaluate`: the others' MM and uPnL are computed, not typed in, and the brackets are found
    by the notional at the liquidation price (ETH 2M–5M: 10 %, cum 135,365; BTC 1M–5M: 2.5 %, cum 16,300)."""
    account = binance_account(binance_2021)
    eth, btc = account.position("ETH"), account.position("BTC")
    assert eth is not None and btc is not None
    assert cents(eth.liquidation_price) == D("1153.26")
    assert cents(btc.liquidation_price) == D("26316.89")
    assert binance_2021.instruments["ETH"].bracket_for(B_ETH.qty * eth.liquidation_price).cum == D(135365)
    assert binance_2021.instruments["BTC"].bracket_for(B_BTC.qty * btc.liquidation_price).cum == D(16300)


def test_binance_example_margin_ratio_is_41_49_percent(binance_2021: Catalog) -> None:
    """../shared/examples/README.md: maintenance 356,512.51 + 71,200.81 over 1,535,443.01 − 56,354.57 − 448,192.89."""
    account = binance_account(binance_2021)
    assert account.margin_ratio is not None
    assert account.margin_ratio.quantize(D("0.0001")) == D("0.4149")
    assert cents(account.maintenance_margin) == D("427713.32")
    assert cents(account.margin_balance) == D("1030895.56")


@pytest.mark.parametrize("symbol", ["ETH", "BTC"])
def test_b1c_b2c_the_margin_ratio_is_exactly_100_percent_at_each_cross_liquidation_price(
    binance_2021: Catalog, symbol: str
) -> None:
    """B1c/B2c (self-check, exchange-rules §6): at a position's cross LP, the other held at its mark, the account's
    margin ratio MM / (WB + ΣuPnL) is 1."""
    lp = binance_account(binance_2021).position(symbol)
    assert lp is not None and lp.liquidation_price is not None
    at_lp = binance_account(binance_2021, {**B_MARKS, symbol: lp.liquidation_price})
    assert at_lp.margin_ratio is not None
    assert relative_error(at_lp.margin_ratio, D(1)) <= D("1e-30")


def test_one_cent_above_the_cross_liquidation_price_the_account_is_not_liquidated(binance_2021: Catalog) -> None:
    """Binance: liquidation at a margin ratio of 100 %; just above a long's LP the ratio is still below 100 %."""
    safe = binance_account(binance_2021, {**B_MARKS, "ETH": D("1153.27")})
    gone = binance_account(binance_2021, {**B_MARKS, "ETH": D("1153.25")})
    assert safe.margin_ratio is not None and safe.margin_ratio < 1 and not safe.cross_liquidation_due
    assert gone.margin_ratio is not None and gone.margin_ratio > 1 and gone.cross_liquidation_due


def test_leverage_does_not_enter_a_cross_liquidation_price(binance_2021: Catalog) -> None:
    """Binance FAQ / exchange-rules §1.4: changing leverage in cross changes IM and available balance, not LP."""
    low = binance_account(binance_2021)
    high = evaluate(B_WALLET, [replace(B_BTC, leverage=1), replace(B_ETH, leverage=1)], B_MARKS, binance_2021)
    for symbol in ("BTC", "ETH"):
        a, b = low.position(symbol), high.position(symbol)
        assert a is not None and b is not None
        assert a.liquidation_price == b.liquidation_price


# --- B3, B4: the 2019–20 FAQ account (BTC short and ETH long in cross) ---

FAQ_BTC = Position("BTC", -1, D("0.005"), D("9451.53"), 50, "cross")
FAQ_ETH = Position("ETH", 1, D(1), D("199.53"), 50, "cross")
FAQ_MARKS = {"BTC": D("9462.81"), "ETH": D(200)}


def test_b3_btc_short_cross_liquidation_price_is_11383_99(faq_2019: Catalog) -> None:
    """B3 (Binance FAQ 2019–20, copy in bradkyle/Qenv/logic/binance.md): WB 10.72, TMM1 = 200×1×0.65 % = 1.3,
    UPNL1 0.47, BTC short 0.005 @ 9,451.53, mmr 0.4 %, cum 0 → LP 11,383.99."""
    balance = D("10.72") - D("1.3") + D("0.47")
    lp = m.liquidation_price(faq_2019.instruments["BTC"], -1, FAQ_BTC.qty, FAQ_BTC.entry_price, balance)
    assert cents(lp) == D("11383.99")


def test_b4_eth_long_cross_liquidation_price_is_190_29_with_the_unrounded_inputs(faq_2019: Catalog) -> None:
    """B4 (same FAQ): WB 10.72, TMM1 = 9,462.81×0.005×0.4 % = 0.189256, UPNL1 −0.0564, ETH long 1 @ 199.53,
    mmr 0.65 % → LP 190.29. (The FAQ substitutes 0.19 and −0.06, which gives 190.30: "difference due to
    rounding off".)"""
    instrument = faq_2019.instruments["ETH"]
    qty, entry = FAQ_ETH.qty, FAQ_ETH.entry_price
    unrounded = m.liquidation_price(instrument, 1, qty, entry, D("10.72") - D("0.189256") - D("0.0564"))
    printed = m.liquidation_price(instrument, 1, qty, entry, D("10.72") - D("0.19") - D("0.06"))
    assert cents(unrounded) == D("190.29")
    assert cents(printed) == D("190.30")


def test_b3_b4_evaluating_the_faq_account_gives_both_liquidation_prices(faq_2019: Catalog) -> None:
    """B3/B4 through `evaluate`: at marks BTC 9,462.81 and ETH 200 the BTC short has MM 0.189256 and uPnL −0.0564,
    the ETH long MM 1.3 and uPnL 0.47, and the LPs are 11,383.99 and 190.29."""
    account = evaluate(D("10.72"), [FAQ_BTC, FAQ_ETH], FAQ_MARKS, faq_2019)
    btc, eth = account.position("BTC"), account.position("ETH")
    assert btc is not None and eth is not None
    assert btc.maintenance_margin == D("0.1892562") and btc.unrealized_pnl == D("-0.0564")
    assert eth.maintenance_margin == D("1.3") and eth.unrealized_pnl == D("0.47")
    assert cents(btc.liquidation_price) == D("11383.99")
    assert cents(eth.liquidation_price) == D("190.29")


# --- B7, B8, B9a: isolated variants and single positions ---


def test_b7a_b7b_isolated_variants_of_the_binance_example(binance_2021: Catalog) -> None:
    """B7a/b (freqtrade tests): B1/B2 isolated with PM = 1,535,443.01 (TMM1 = UPNL1 = 0) → 1,114.78 / 18,778.73."""
    eth = m.liquidation_price(binance_2021.instruments["ETH"], 1, B_ETH.qty, B_ETH.entry_price, B_WALLET)
    btc = m.liquidation_price(binance_2021.instruments["BTC"], 1, B_BTC.qty, B_BTC.entry_price, B_WALLET)
    assert (cents(eth), cents(btc)) == (D("1114.78"), D("18778.73"))


def test_b7a_b7b_through_evaluate_an_isolated_price_ignores_every_other_position(binance_2021: Catalog) -> None:
    """B7a/b through `evaluate`: two isolated positions with PM 1,535,443.01 each; neither LP depends on the
    other position or on the marks."""
    positions = [replace(B_ETH, mode="isolated", margin=B_WALLET), replace(B_BTC, mode="isolated", margin=B_WALLET)]
    for marks in (B_MARKS, {"BTC": D(40000), "ETH": D(1100)}):
        account = evaluate(2 * B_WALLET, positions, marks, binance_2021)
        eth, btc = account.position("ETH"), account.position("BTC")
        assert eth is not None and btc is not None
        assert (cents(eth.liquidation_price), cents(btc.liquidation_price)) == (D("1114.78"), D("18778.73"))


def test_b9a_single_cross_long_liquidation_price_is_25100_40(binance_2021: Catalog) -> None:
    """B9a (Binance FAQ 25edcd7f…, how to avoid liquidation): cross 500 USDT, long 0.02 BTC @ 50,000 at 20x,
    mmr 0.4 %, cum 0 → LP 25,100.40."""
    lp = m.liquidation_price(binance_2021.instruments["BTC"], 1, D("0.02"), D(50000), D(500))
    account = evaluate(D(500), [Position("BTC", 1, D("0.02"), D(50000), 20, "cross")], {"BTC": D(50000)}, binance_2021)
    view = account.position("BTC")
    assert view is not None
    assert cents(lp) == cents(view.liquidation_price) == D("25100.40")


def test_b8_isolated_long_binance_exact_model_gives_54216_87_and_bankruptcy_54000(binance_2021: Catalog) -> None:
    """B8 (exchange-rules §0): 0.1 BTC @ 60,000 at 10x, margin 600, mmr 0.4 %: Binance's exact model (MM at the
    liquidation notional) gives 54,216.87, not the entry-value approximation 54,240; BP = EP·(1 − 1/L) = 54,000."""
    position = Position("BTC", 1, D("0.1"), D(60000), 10, "isolated", margin=D(600))
    view = evaluate(D(1000), [position], {"BTC": D(60000)}, binance_2021).position("BTC")
    assert view is not None
    assert cents(view.liquidation_price) == D("54216.87")
    assert view.bankruptcy_price == D(54000)


# --- rules around the examples ---


def test_a_liquidation_price_in_another_bracket_is_recomputed_with_that_bracket(binance_2021: Catalog) -> None:
    """Binance liquidation-price FAQ: if the notional at the LP falls in another bracket, recompute with it.
    Short 1.5 BTC @ 32,000 (48,000 notional, tier 1) with PM 6,000: the tier-1 answer 35,856.57 would be a
    53,785 notional (tier 2), so the price is 35,854.06 from tier 2 (0.5 %, cum 50)."""
    btc = binance_2021.instruments["BTC"]
    qty, entry, pm = D("1.5"), D(32000), D(6000)
    lp = m.liquidation_price(btc, -1, qty, entry, pm)
    assert lp is not None
    assert cents(lp) == D("35854.06")
    tier = btc.bracket_for(qty * lp)
    assert tier.mmr == D("0.005")
    equity = pm + m.unrealized_pnl(-1, qty, entry, lp)
    assert relative_error(equity, tier.maintenance(qty * lp)) <= D("1e-30")


def test_an_isolated_long_at_1x_has_no_liquidation_price(binance_2021: Catalog) -> None:
    """DESIGN §2: no liquidation price (null) when the formula gives ≤ 0."""
    position = Position("BTC", 1, D("0.1"), D(60000), 1, "isolated", margin=D(6000))
    view = evaluate(D(6000), [position], {"BTC": D(60000)}, binance_2021).position("BTC")
    assert view is not None
    assert view.liquidation_price is None
    assert view.bankruptcy_price is None


def test_a_cross_account_without_margin_balance_has_an_infinite_margin_ratio() -> None:
    """DESIGN §2: margin ratio = AMM / MB, infinite (None) when MB ≤ 0; zero with nothing to maintain."""
    assert m.margin_ratio(D(10), D(0)) is None
    assert m.margin_ratio(D(10), D(-5)) is None
    assert m.margin_ratio(D(0), D(100)) == 0
    assert m.margin_ratio(D(10), D(40)) == D("0.25")


def test_isolated_bankruptcy_price_is_entry_minus_margin_per_coin() -> None:
    """DESIGN §2: BP = EP − s·PM/q; for a 20x short of 1 BTC @ 40,000 with PM 2,000 that is 42,000."""
    assert m.bankruptcy_price(-1, D(1), D(40000), D(2000)) == D(42000)
    assert m.bankruptcy_price(1, D(1), D(40000), D(2000)) == D(38000)


def test_max_removable_isolated_margin_follows_binance() -> None:
    """Binance FAQ 360038447311: max removable = min(PM − MM, PM + size·(M − EP) − M·|size|/L), never below 0.
    1 BTC long @ 10,000 at 10x with PM 1,500, mark 10,500, MM 42: min(1,458, 950) = 950."""
    assert m.max_removable_isolated(D(1500), 1, D(1), D(10000), D(10500), 10, D(42)) == D(950)
    assert m.max_removable_isolated(D(1000), 1, D(1), D(10000), D(9000), 10, D(36)) == 0


def test_maintenance_margin_uses_the_notional_at_the_mark(binance_2021: Catalog) -> None:
    """exchange-rules §1.2: MM = N(mark) × mmr − cum, bracket by the notional at the mark (264,000 → 1 %)."""
    btc = binance_2021.instruments["BTC"]
    assert m.maintenance_margin(btc, D(4), D(66000)) == D(264000) * D("0.01") - D(1300)
    assert btc.bracket_for(D(264000)).mmr == D("0.01")
