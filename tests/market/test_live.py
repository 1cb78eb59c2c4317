"""The live feed, offline: a real ccxt binanceusdm whose HTTP entry point answers Binance JSON."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import ccxt
import ccxt.pro as ccxt_pro
import pytest

from bot.live import Backoff, LiveFeed, parse_live_spec
from core.ports import Tick
from tests.market.conftest import T0, FakeClock, RecordingSleep, offline_exchange

D = Decimal
TICKS = {"BTC": D("0.1"), "ETH": D("0.01"), "DOGE": D("0.00001")}


def premium_index(symbol: str, mark: str, rate: str) -> dict[str, Any]:
    """One entry of GET /fapi/v1/premiumIndex, as Binance documents it."""
    return {
        "symbol": symbol, "markPrice": mark, "indexPrice": mark, "estimatedSettlePrice": mark,
        "lastFundingRate": rate, "interestRate": "0.00010000", "nextFundingTime": 1794038400000,
        "time": 1794013200000,
    }  # fmt: skip


PREMIUM = [
    premium_index("BTCUSDT", "95000.12345678", "0.00012345"),
    premium_index("ETHUSDT", "3200.45678900", "-0.00002000"),
    premium_index("DOGEUSDT", "0.17123456", "0.00010000"),
    premium_index("PEPEUSDT", "0.00001234", "0.00050000"),  # a market we do not follow
]


def ticker_24h(symbol: str, last: str, percent: str) -> dict[str, Any]:
    """One entry of GET /fapi/v1/ticker/24hr, as Binance documents it."""
    return {
        "symbol": symbol, "priceChange": "0", "priceChangePercent": percent, "weightedAvgPrice": last,
        "lastPrice": last, "lastQty": "0.010", "openPrice": last, "highPrice": last, "lowPrice": last,
        "volume": "1000", "quoteVolume": "1000", "openTime": 1793926800000, "closeTime": 1794013199999,
        "firstId": 1, "lastId": 2, "count": 2,
    }  # fmt: skip


TICKERS_24H = [
    ticker_24h("BTCUSDT", "95000.10", "-1.234"),
    ticker_24h("ETHUSDT", "3200.46", "2.500"),
    ticker_24h("PEPEUSDT", "0.00001234", "9.000"),
]


def binance(pages: Iterator[Any] | None = None) -> Callable[[str], Any]:
    """Route a URL to Binance's answer; `pages` scripts successive premiumIndex answers (or errors)."""

    def route(url: str) -> Any:
        if "/fapi/v1/ticker/24hr" in url:
            return TICKERS_24H
        if "/fapi/v1/premiumIndex" not in url:
            raise AssertionError(f"unexpected request {url}")
        answer = next(pages) if pages is not None else PREMIUM
        if isinstance(answer, Exception):
            raise answer
        if "symbol=" in url:  # one symbol asked: Binance answers with a single object
            wanted = url.split("symbol=")[1].split("&")[0]
            return next(item for item in answer if item["symbol"] == wanted)
        return answer

    return route


def live_feed(route: Callable[[str], Any], **options: Any) -> LiveFeed:
    return LiveFeed(TICKS, exchange_factory=lambda _id: offline_exchange(route), **options)


async def record(tick: Tick) -> None:
    return None


async def test_polled_marks_become_decimal_ticks_on_the_tick_grid() -> None:
    feed = live_feed(binance())
    assert not feed.uses_websocket  # ccxt's async REST class streams nothing
    tick = await feed.refresh_marks(record, FakeClock())
    assert tick is not None
    assert tick.at == T0
    assert tick.marks == {"BTC": D("95000.1"), "ETH": D("3200.46"), "DOGE": D("0.17123")}
    assert all(isinstance(mark, Decimal) for mark in tick.marks.values())
    assert feed.marks() == tick.marks
    assert any("/fapi/v1/premiumIndex" in url for url in feed.exchange.requested)
    await feed.close()


async def test_unchanged_marks_keep_the_feed_fresh_without_a_tick() -> None:
    feed = live_feed(binance())
    clock = FakeClock()
    await feed.refresh_marks(record, clock)
    clock.at += timedelta(seconds=20)
    assert await feed.refresh_marks(record, clock) is None
    assert feed.last_mark_at == T0 + timedelta(seconds=20)
    await feed.close()


async def test_symbols_the_exchange_does_not_list_are_skipped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed = LiveFeed({**TICKS, "FOO": D("0.01")}, exchange_factory=lambda _id: offline_exchange(binance()))
    with caplog.at_level(logging.WARNING, logger="bot.live"):
        tick = await feed.refresh_marks(record, FakeClock())
        await feed.refresh_funding()
    assert tick is not None and set(tick.marks) == {"BTC", "ETH", "DOGE"}
    assert caplog.text.count("lists no FOO") == 1
    await feed.close()


async def test_marks_fall_back_to_one_request_per_symbol() -> None:
    exchange = offline_exchange(binance())
    exchange.has = {**exchange.has, "fetchMarkPrices": False}
    feed = LiveFeed(TICKS, exchange_factory=lambda _id: exchange)
    tick = await feed.refresh_marks(record, FakeClock())
    assert tick is not None and tick.marks["ETH"] == D("3200.46")
    assert sum("symbol=" in url for url in exchange.requested) == 3
    await feed.close()


async def test_funding_rates_are_parsed_per_symbol() -> None:
    feed = live_feed(binance())
    assert feed.funding_rate("BTC") == D("0.0001")  # Binance's default until the first answer
    await feed.refresh_funding()
    assert feed.funding_rate("BTC") == D("0.00012345")
    assert feed.funding_rate("ETH") == D("-0.00002")
    assert feed.funding_rate("PEPE") == D("0.0001")
    await feed.close()


async def test_the_24h_change_is_the_exchanges_own_from_the_first_minute() -> None:
    """Right after a start the feed has no day of marks of its own: /price shows Binance's 24 h change."""
    feed = live_feed(binance())
    await feed.refresh_marks(record, FakeClock())
    assert feed.change_window() == timedelta(0)  # one sample of its own: no span yet
    await feed.refresh_day_change()
    assert feed.change_24h("BTC") == D("-0.01234")
    assert feed.change_24h("ETH") == D("0.025")
    assert feed.change_24h("DOGE") == D(0)  # not in Binance's answer: our own samples (one mark, no change)
    assert feed.change_window() == timedelta(hours=24)
    await feed.close()


async def test_feed_is_stale_before_any_mark_and_after_30_seconds_of_silence() -> None:
    feed = live_feed(binance())
    assert feed.is_stale(T0)
    await feed.refresh_marks(record, FakeClock())
    assert not feed.is_stale(T0 + timedelta(seconds=29.9))
    assert feed.is_stale(T0 + timedelta(seconds=30))
    assert live_feed(binance(), stale_after=5).is_stale(T0)
    await feed.close()


async def run_until(feed: LiveFeed, ticks_wanted: int, clock: FakeClock) -> list[Tick]:
    seen: list[Tick] = []
    enough = asyncio.Event()

    async def on_tick(tick: Tick) -> None:
        seen.append(tick)
        if len(seen) >= ticks_wanted:
            enough.set()

    task = asyncio.create_task(feed.run(on_tick, clock))
    await asyncio.wait_for(enough.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return seen


def marks_only(exchange: Any) -> Any:
    """No funding rates and no 24 h tickers: only the marks loop runs."""
    exchange.has = {**exchange.has, "fetchFundingRates": False, "fetchFundingRate": False, "fetchTickers": False}
    return exchange


async def test_failed_polls_are_retried_with_exponential_backoff_and_the_loop_survives(
    sleep: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    moved = [{**PREMIUM[0], "markPrice": "95100.0"}, *PREMIUM[1:]]
    pages = iter([ccxt.NetworkError("connection reset"), ccxt.RequestTimeout("timed out"), PREMIUM,
                  ccxt.ExchangeNotAvailable("502"), moved] + [moved] * 100)  # fmt: skip
    exchange = marks_only(offline_exchange(binance(pages)))
    feed = LiveFeed(TICKS, exchange_factory=lambda _id: exchange, poll_seconds=2.0, sleep=sleep)
    with caplog.at_level(logging.WARNING, logger="bot.live"):
        seen = await run_until(feed, 2, FakeClock(step=timedelta(seconds=1)))
    assert sleep.delays[:5] == [1.0, 2.0, 2.0, 1.0, 2.0]  # backoff 1, 2; poll; backoff restarts at 1; poll
    assert seen[0].marks["BTC"] == D("95000.1")
    assert seen[1].marks == {"BTC": D("95100.0")}
    assert "retrying in 1 s" in caplog.text and "connection reset" in caplog.text
    await feed.close()


async def test_a_failing_tick_handler_is_logged_and_the_loop_goes_on(
    sleep: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    pages = iter([PREMIUM, [{**PREMIUM[0], "markPrice": "94000"}]] * 50)
    feed = LiveFeed(
        TICKS, exchange_factory=lambda _id: marks_only(offline_exchange(binance(pages))), sleep=sleep
    )
    calls = 0
    done = asyncio.Event()

    async def on_tick(tick: Tick) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("sweep bug")
        done.set()

    task = asyncio.create_task(feed.run(on_tick, FakeClock()))
    await asyncio.wait_for(done.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "sweep bug" in caplog.text
    await feed.close()


async def test_run_refreshes_funding_rates_periodically(sleep: RecordingSleep) -> None:
    feed = live_feed(binance(), funding_seconds=60.0, sleep=sleep)
    task = asyncio.create_task(feed.run(record, FakeClock()))
    for _ in range(1000):  # yield to the loop until both rounds have run
        if 60.0 in sleep.delays and 2.0 in sleep.delays:
            break
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert feed.funding_rate("BTC") == D("0.00012345")
    assert feed.mark("BTC") == D("95000.1")
    assert feed.change_24h("BTC") == D("-0.01234")
    await feed.close()


async def test_close_closes_the_exchange_once() -> None:
    feed = live_feed(binance())
    closed: list[bool] = []
    real_close = feed.exchange.close

    async def close_spy() -> None:
        closed.append(True)
        await real_close()

    feed.exchange.close = close_spy
    await feed.close()
    await feed.close()
    assert closed == [True]


async def test_websocket_is_used_where_the_exchange_streams_marks() -> None:
    exchange = offline_exchange(binance(), exchange_class=ccxt_pro.binanceusdm)
    assert exchange.has["watchMarkPrices"]
    streamed = LiveFeed(TICKS, exchange_factory=lambda _id: exchange)
    assert streamed.uses_websocket

    async def watch_mark_prices(symbols: list[str]) -> dict[str, Any]:  # stands in for the stream
        return {"BTC/USDT:USDT": {"symbol": "BTC/USDT:USDT", "markPrice": 95000.06}}

    exchange.watch_mark_prices = watch_mark_prices
    tick = await streamed.refresh_marks(record, FakeClock())
    assert tick is not None and tick.marks == {"BTC": D("95000.1")}
    polled = LiveFeed(TICKS, exchange_factory=lambda _id: exchange, use_websocket=False)
    assert not polled.uses_websocket
    await streamed.close()


def test_asking_for_a_websocket_the_exchange_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="does not stream mark prices"):
        live_feed(binance(), use_websocket=True)


@pytest.mark.parametrize(("spec", "exchange_id"), [("live", "binanceusdm"), ("live:bybit", "bybit")])
def test_live_spec_names_the_exchange(spec: str, exchange_id: str) -> None:
    assert parse_live_spec(spec) == exchange_id


@pytest.mark.parametrize(
    ("spec", "words"), [("live:nowhere", "no exchange 'nowhere'"), ("sim", "not a live")]
)
def test_bad_live_specs_are_refused(spec: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_live_spec(spec)


async def test_from_spec_takes_symbols_and_tick_sizes_from_the_catalog() -> None:
    catalog = SimpleNamespace(instruments={"BTC": SimpleNamespace(tick_size=D("1"))})
    feed = LiveFeed.from_spec("live", catalog, exchange_factory=lambda _id: offline_exchange(binance()))
    tick = await feed.refresh_marks(record, FakeClock())
    assert tick is not None and tick.marks == {"BTC": D("95000")}
    await feed.close()


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(1.0, 5.0)
    assert [backoff.next_delay() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next_delay() == 1.0
