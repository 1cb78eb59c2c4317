"""Instruments files (DESIGN §2): the default brackets, Binance's maintenance-amount rule, and what the loader
refuses, with the offending symbol, bracket and line named."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest

from core.domain.instruments import Catalog, InstrumentsError, load_catalog
from tests.conftest import BINANCE_2021_TOML, write_catalog

D = Decimal
DEFAULT_SYMBOLS = {"BTC", "ETH", "SOL", "BNB", "XRP", "DOGE"}

# Binance USD-M BTCUSDT brackets of 2021 (floors and rates), Binance FAQ b3c689c1… and the Qenv FAQ copy
BTC_2021_FLOORS = [D(0), D(50000), D(250000), D(1000000), D(5000000), D(20000000)]
BTC_2021_RATES = [D("0.004"), D("0.005"), D("0.01"), D("0.025"), D("0.05"), D("0.1")]


def continuity_amounts(floors: list[Decimal], rates: list[Decimal]) -> list[Decimal]:
    """Binance: cum_n = floor_n × (mmr_n − mmr_{n−1}) + cum_{n−1}, cum_1 = 0."""
    amounts = [D(0)]
    for n in range(1, len(floors)):
        amounts.append(floors[n] * (rates[n] - rates[n - 1]) + amounts[-1])
    return amounts


def one_symbol(brackets: str, fees: str = "") -> str:
    return f'{fees}\n[symbols.BTC]\ntick_size = "0.1"\nlot_size = "0.001"\nbrackets = {brackets}\n'


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(InstrumentsError) as caught:
        write_catalog(tmp_path, text)
    return str(caught.value)


def test_b5a_b5c_maintenance_amounts_follow_from_the_continuity_rule() -> None:
    """B5a–c (Binance FAQ b3c689c1…; Qenv copy): cum3 = 250,000 × (1 % − 0.5 %) + 50 = 1,300;
    cum4 = 1,000,000 × (2.5 % − 1 %) + 1,300 = 16,300; cum5 = 5,000,000 × (5 % − 2.5 %) + 16,300 = 141,300."""
    amounts = continuity_amounts(BTC_2021_FLOORS, BTC_2021_RATES)
    assert amounts[2:5] == [D(1300), D(16300), D(141300)]


def test_b5_the_loader_accepts_binances_2021_brackets_and_keeps_their_amounts(binance_2021: Catalog) -> None:
    """B5a–c: the loader's continuity check agrees with Binance's published maintenance amounts."""
    btc = binance_2021.instruments["BTC"]
    assert [b.cum for b in btc.brackets] == continuity_amounts(BTC_2021_FLOORS, BTC_2021_RATES)
    assert [b.cum for b in btc.brackets][2:5] == [D(1300), D(16300), D(141300)]
    eth = binance_2021.instruments["ETH"]
    assert [b.cum for b in eth.brackets] == continuity_amounts([b.floor for b in eth.brackets],
                                                                [b.mmr for b in eth.brackets])


@pytest.mark.parametrize(("published", "wrong"), [("1300", "1000"), ("16300", "16000"), ("141300", "141299.98")])
def test_b5_the_loader_refuses_a_maintenance_amount_off_the_continuity_rule(
    tmp_path: Path, published: str, wrong: str
) -> None:
    """B5a–c: an amount that makes MM jump at a boundary by more than 0.01 is refused, and the message says
    which symbol, which bracket and what the continuous amount would be."""
    text = BINANCE_2021_TOML.replace(f'"{published}"]', f'"{wrong}"]', 1)
    assert text != BINANCE_2021_TOML
    message = refusal(tmp_path, text)
    assert "symbol BTC" in message
    assert f"continuous would be {published}" in message
    assert "instruments.toml:" in message


def test_a_maintenance_jump_of_one_cent_is_tolerated_and_two_cents_are_not(tmp_path: Path) -> None:
    """DESIGN §2: the loader rejects maintenance amounts that make MM jump at a boundary by more than 0.01."""
    ok = one_symbol('[["0", "50000", "0.004", 125, "0"], ["50000", "250000", "0.005", 100, "50.01"]]')
    assert write_catalog(tmp_path, ok).instruments["BTC"].brackets[1].cum == D("50.01")
    bad = one_symbol('[["0", "50000", "0.004", 125, "0"], ["50000", "250000", "0.005", 100, "50.02"]]')
    assert "bracket 2" in refusal(tmp_path, bad)


def test_the_default_instruments_are_binances_six_symbols_with_continuous_brackets() -> None:
    """DESIGN §2: BTC, ETH, SOL, BNB, XRP, DOGE with Binance's brackets; default fees taker 0.05 %, maker 0.02 %,
    clearance 0.5 %; every chain starts at 0, touches end to start and keeps MM continuous."""
    catalog = load_catalog()
    assert set(catalog.symbols) == DEFAULT_SYMBOLS
    assert (catalog.fees.taker, catalog.fees.maker, catalog.fees.liquidation_clearance) == (
        D("0.0005"), D("0.0002"), D("0.005"))
    for instrument in catalog.instruments.values():
        brackets = instrument.brackets
        assert brackets[0].floor == 0
        for before, after in pairwise(brackets):
            assert after.floor == before.cap
            assert abs(before.maintenance(after.floor) - after.maintenance(after.floor)) <= D("0.01")
            assert after.mmr > before.mmr
            assert after.max_leverage <= before.max_leverage


def test_the_shared_example_instruments_file_loads_with_zero_fees(binance_2021: Catalog) -> None:
    """../shared/examples/binance-cross.instruments.toml (copied into tests/conftest.py): fees 0, and the clearance
    fee left out keeps its default."""
    assert binance_2021.fees.taker == 0 and binance_2021.fees.maker == 0
    assert binance_2021.fees.liquidation_clearance == D("0.005")
    assert set(binance_2021.symbols) == {"BTC", "ETH"}


def test_a_bracket_covers_its_floor_but_not_its_cap_and_the_last_one_everything_beyond(binance_2021: Catalog) -> None:
    """DESIGN §2: the bracket is chosen by N with floor ≤ N < cap."""
    btc = binance_2021.instruments["BTC"]
    assert btc.bracket_for(D("49999.99")).mmr == D("0.004")
    assert btc.bracket_for(D(50000)).mmr == D("0.005")
    assert btc.bracket_for(D(10) ** 15).mmr == D("0.1")
    assert btc.max_leverage_for(D(0)) == 125
    assert btc.max_leverage_for(D(5000000)) == 10


def test_numbers_may_be_strings_or_plain_numbers(tmp_path: Path) -> None:
    """DESIGN §2: "Numbers may be strings or plain numbers"."""
    text = one_symbol("[[0, 50000, 0.004, 125, 0], [50000, 250000, 0.005, 100, 50]]", '[fees]\ntaker = 0.0004')
    catalog = write_catalog(tmp_path, text)
    assert catalog.instruments["BTC"].brackets[1].cum == D(50)
    assert catalog.fees.taker == D("0.0004")
    assert catalog.fees.maker == D("0.0002")  # left out: keeps its default


@pytest.mark.parametrize(
    ("brackets", "words"),
    [
        ('[["0", "50000", "0.004", 125, "0"], ["60000", "250000", "0.005", 100, "50"]]', "gap between 50000 and 60000"),
        ('[["0", "50000", "0.004", 125, "0"], ["40000", "250000", "0.005", 100, "50"]]', "overlaps bracket 1"),
        ('[["10", "50000", "0.004", 125, "0"]]', "first floor must be 0"),
        ('[["0", "50000", "NaN", 125, "0"]]', "not a plain decimal number"),
        ('[["0", "50000", "0.004", 12.5, "0"]]', "whole number"),
        ('[["0", "50000", "1.5", 125, "0"]]', "0 < rate < 1"),
        ('[["0", "50000", "0.004", 125]]', "expected [floor, cap, rate, max leverage, amount]"),
        ('[["0", "0.0000000000000000000000000000001", "0.004", 125, "0"]]', "at most 30 characters"),
        ("[]", "non-empty list of brackets"),
    ],
)
def test_the_loader_refuses_malformed_brackets_naming_symbol_bracket_and_line(
    tmp_path: Path, brackets: str, words: str
) -> None:
    """DESIGN §2: a file whose brackets overlap, leave gaps or are malformed is refused with the place named."""
    message = refusal(tmp_path, one_symbol(brackets))
    assert words in message
    assert "symbol BTC" in message
    # the brackets' own line (5); the [symbols.BTC] line (2) when there is no bracket to point at
    assert ("instruments.toml:5:" if "bracket " in message else "instruments.toml:2:") in message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("this is = not toml [", "not valid TOML"),
        ('[fees]\ntaker = "0.0005"\n', "no [symbols.NAME] tables"),
        (one_symbol('[["0", "50000", "0.004", 125, "0"]]', '[fees]\ntaker = "1.5"'), "fees.taker"),
        ('[symbols.BTC]\nlot_size = "0.001"\nbrackets = [["0", "50000", "0.004", 125, "0"]]\n', "no tick_size"),
        ('[symbols.BTC]\ntick_size = "0"\nlot_size = "0.001"\nbrackets = [["0", "1", "0.004", 1, "0"]]\n',
         "must be positive"),
    ],
)
def test_the_loader_refuses_files_that_are_not_instrument_tables(tmp_path: Path, text: str, words: str) -> None:
    assert words in refusal(tmp_path, text)


def test_a_missing_instruments_file_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(InstrumentsError, match="cannot read instruments file"):
        load_catalog(tmp_path / "nowhere.toml")


def test_symbol_names_are_case_insensitive(tmp_path: Path) -> None:
    text = '[symbols.btc]\ntick_size = "0.1"\nlot_size = "0.001"\nbrackets = [["0", "50000", "0.004", 125, "0"]]\n'
    catalog = write_catalog(tmp_path, text)
    assert catalog.get("btc") is catalog.get("BTC") is not None


def test_the_loader_names_the_offending_brackets_own_line_in_a_multi_line_list(tmp_path: Path) -> None:
    """DESIGN §2: "The loader rejects, with the offending line named, a file whose brackets overlap, leave gaps…".
    Bracket 3 of BTC is on line 8 of this file (the default instruments file has the same layout)."""
    text = (
        '[symbols.BTC]\n'                                  # line 1
        'tick_size = "0.1"\n'                              # line 2
        'lot_size = "0.001"\n'                             # line 3
        '# notional floor, cap, rate, max leverage, amount\n'  # line 4
        'brackets = [\n'                                   # line 5
        '  ["0", "50000", "0.004", 125, "0"],\n'           # line 6
        '  ["50000", "250000", "0.005", 100, "50"],\n'     # line 7
        '  ["300000", "1000000", "0.01", 50, "1300"],\n'   # line 8: gap
        ']\n'
    )
    message = refusal(tmp_path, text)
    assert "bracket 3" in message
    assert "instruments.toml:8" in message
