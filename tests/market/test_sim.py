"""The sim feed: deterministic, realistic volatility and correlation, tick-grid marks, Binance funding."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from decimal import Decimal
from functools import cache

import numpy as np
import pytest

from core.market.sim import DEFAULT_SIM_SYMBOLS, SimFeed, funding_from_premium
from core.ports import Tick
from tests.market.conftest import T0, FakeClock, RecordingSleep

MONTH = timedelta(days=30)
FIVE_MINUTES = 300.0


@cache
def month_of_five_minute_ticks() -> tuple[SimFeed, tuple[Tick, ...], np.ndarray]:
    """One simulated month at 5-minute steps: the feed, its ticks and the (steps × symbols) mark matrix."""
    feed = SimFeed(seed=1, start=T0, advance_step=FIVE_MINUTES)
    current = feed.marks()
    ticks = feed.advance(T0 + MONTH)
    rows = [[float(current[s]) for s in DEFAULT_SIM_SYMBOLS]]
    for tick in ticks:
        current.update(tick.marks)
        rows.append([float(current[s]) for s in DEFAULT_SIM_SYMBOLS])
    return feed, tuple(ticks), np.array(rows)


def test_same_seed_gives_the_same_marks_and_another_seed_does_not() -> None:
    first, second, other = (SimFeed(seed=seed, start=T0) for seed in (42, 42, 43))
    until = T0 + timedelta(hours=3)
    assert first.advance(until) == second.advance(until)
    assert first.marks() == second.marks()
    other.advance(until)
    assert other.marks() != first.marks()


def test_the_mark_at_a_time_does_not_depend_on_how_the_feed_was_advanced() -> None:
    in_pieces, at_once = SimFeed(seed=5, start=T0), SimFeed(seed=5, start=T0)
    end = T0 + timedelta(hours=2, seconds=13)
    for second in range(37, 3600, 37):  # second by second through the first hour, then at once
        in_pieces.advance(T0 + timedelta(seconds=second))
    in_pieces.advance(end)
    at_once.advance(end)
    assert in_pieces.now == at_once.now
    assert in_pieces.marks() == at_once.marks()


def test_short_advances_tick_every_second_and_long_ones_every_advance_step() -> None:
    feed = SimFeed(seed=3, start=T0)
    short = feed.advance(T0 + timedelta(seconds=45))
    assert [t.at for t in short] == [T0 + timedelta(seconds=s) for s in range(1, 46)]
    long = feed.advance(T0 + timedelta(hours=2, seconds=30))
    assert [t.at for t in long][:2] == [T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    assert long[-2].at == T0 + timedelta(hours=2)
    assert long[-1].at == T0 + timedelta(hours=2, seconds=30)  # the last tick lands on `until`
    assert feed.advance(T0 + timedelta(hours=1)) == []  # time never goes back


def test_ticks_carry_only_the_marks_that_changed() -> None:
    feed = SimFeed({"XRP": (Decimal("2.2"), "0.001"), "BTC": ("95000", "0.1")}, seed=9, start=T0)
    previous = feed.marks()
    ticks = [tick for minute in range(1, 4) for tick in feed.advance(T0 + timedelta(minutes=minute))]
    assert len(ticks) == 180
    for tick in ticks:
        assert all(previous[symbol] != mark for symbol, mark in tick.marks.items())
        previous.update(tick.marks)
    assert any("XRP" not in tick.marks for tick in ticks)  # a coarse tick often stays put for a second


@pytest.mark.parametrize("symbol", list(DEFAULT_SIM_SYMBOLS))
def test_realised_volatility_over_a_month_is_within_20_percent_of_the_configured_one(symbol: str) -> None:
    feed, _, marks = month_of_five_minute_ticks()
    returns = np.diff(np.log(marks[:, list(DEFAULT_SIM_SYMBOLS).index(symbol)]))
    realised = returns.std() * math.sqrt(365 * 24 * 3600 / FIVE_MINUTES)
    assert realised == pytest.approx(feed.volatility(symbol), rel=0.2)


def test_btc_eth_correlation_over_a_month_is_within_20_percent_of_the_configured_one() -> None:
    feed, _, marks = month_of_five_minute_ticks()
    returns = np.diff(np.log(marks), axis=0)
    realised = np.corrcoef(returns.T)
    symbols = list(DEFAULT_SIM_SYMBOLS)
    assert feed.correlation("BTC", "ETH") == pytest.approx(0.8, abs=0.01)
    assert realised[0, 1] == pytest.approx(feed.correlation("BTC", "ETH"), rel=0.2)
    for other in symbols[2:]:
        assert realised[0, symbols.index(other)] == pytest.approx(feed.correlation("BTC", other), rel=0.2)


def test_marks_are_always_positive_and_on_the_tick_grid() -> None:
    _, ticks, _ = month_of_five_minute_ticks()
    for tick in ticks:
        for symbol, mark in tick.marks.items():
            assert mark > 0
            assert mark % DEFAULT_SIM_SYMBOLS[symbol].tick == 0


def test_a_crashing_coin_stays_at_least_one_tick() -> None:
    feed = SimFeed({"DUST": (Decimal("0.00002"), Decimal("0.00001"))}, seed=0, start=T0)
    for tick in feed.advance(T0 + timedelta(days=3)):
        assert tick.marks.get("DUST", Decimal(1)) >= Decimal("0.00001")


def test_funding_follows_the_premium_within_binance_clamp_band() -> None:
    feed = SimFeed(seed=11, start=T0, advance_step=900)
    rates = set()
    for hour in range(1, 24 * 20):
        feed.advance(T0 + timedelta(hours=hour))
        for symbol in DEFAULT_SIM_SYMBOLS:
            premium, rate = feed.premium(symbol), feed.funding_rate(symbol)
            assert abs(rate - premium) <= Decimal("0.0005")
            assert rate == funding_from_premium(premium)
            rates.add(rate)
    assert Decimal("0.0001") in rates
    assert len(rates) > 10  # volatile coins' premiums leave the band now and then


@pytest.mark.parametrize(
    ("premium", "rate"),
    [("0.0003", "0.0001"), ("-0.0004", "0.0001"), ("0.002", "0.0015"), ("-0.001", "-0.0005")],
)
def test_binance_funding_formula(premium: str, rate: str) -> None:
    assert funding_from_premium(Decimal(premium)) == Decimal(rate)


def test_unknown_symbol_gets_the_default_funding_rate() -> None:
    assert SimFeed(seed=0, start=T0).funding_rate("PEPE") == Decimal("0.0001")


@pytest.mark.parametrize(
    "kwargs",
    [{"start": T0.replace(tzinfo=None)}, {"start": T0, "advance_step": 90.5}, {"start": T0, "seed": -1}],
)
def test_bad_construction_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SimFeed(**kwargs)  # type: ignore[arg-type]


async def test_run_steps_market_time_with_the_clock(sleep: RecordingSleep) -> None:
    feed = SimFeed(seed=2, start=T0, sleep=sleep)
    clock = FakeClock(at=T0 + timedelta(seconds=1), step=timedelta(seconds=1))
    seen: list[Tick] = []
    enough = asyncio.Event()

    async def on_tick(tick: Tick) -> None:
        seen.append(tick)
        if len(seen) == 5:
            enough.set()

    task = asyncio.create_task(feed.run(on_tick, clock))
    await asyncio.wait_for(enough.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [t.at for t in seen[:5]] == [T0 + timedelta(seconds=s) for s in range(1, 6)]
    assert set(sleep.delays) == {1.0}
    assert feed.marks() == {
        **SimFeed(seed=2, start=T0).marks(),
        **{k: v for t in seen for k, v in t.marks.items()},
    }
