"""`margin-dojo history`, offline: klines paged into a replay CSV; one clear line without network."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import pytest

from bot.history import download, main
from core.market.replay import load_candles
from tests.market.conftest import offline_exchange

HOUR = 3_600_000
START = int(datetime(2022, 11, 1, tzinfo=UTC).timestamp() * 1000)
END = int(datetime(2023, 1, 31, tzinfo=UTC).timestamp() * 1000)  # 91 days: 2184 hourly candles


def kline(open_ms: int) -> list[Any]:
    """One row of GET /fapi/v1/klines, as Binance documents it."""
    price = 16000 + (open_ms - START) // HOUR
    return [open_ms, f"{price}.10", f"{price + 2}.50", f"{price - 1}.00", f"{price + 1}.20", "1234.567",
            open_ms + HOUR - 1, "19876543.21", 4321, "600.1", "9600000.5", "0"]  # fmt: skip


def klines(url: str) -> list[list[Any]]:
    """Binance's klines endpoint over a synthetic market: hourly candles from startTime to endTime."""
    query = {
        key: int(values[0])
        for key, values in parse_qs(urlsplit(url).query).items()
        if key not in ("interval", "symbol")
    }
    assert "/fapi/v1/klines" in url and query["limit"] <= 1500
    first = max(query["startTime"], START)
    first += -first % HOUR
    return [kline(ms) for ms in range(first, min(query["endTime"] + 1, END), HOUR)][: query["limit"]]


def test_paging_writes_a_csv_that_replay_loads(tmp_path: Path) -> None:
    out = tmp_path / "BTCUSDT_2022-11-01_1h.csv"
    seen: list[tuple[int, int]] = []

    async def fetch_all() -> tuple[Any, int]:
        exchange = offline_exchange(klines)
        count = await download(
            exchange, "BTC/USDT:USDT", START, END, "1h", out, progress=lambda d, t: seen.append((d, t))
        )
        await exchange.close()
        return exchange, count

    exchange, count = asyncio.run(fetch_all())
    pages = [parse_qs(urlsplit(url).query) for url in exchange.requested]
    assert count == 2184
    assert len(pages) == 3  # ccxt asks Binance for 1000 at a time: 1000 + 1000 + 184
    assert [int(page["startTime"][0]) for page in pages] == [START, START + 1000 * HOUR, START + 2000 * HOUR]
    assert seen[-1] == (END - START, END - START)
    candles = load_candles(out)
    assert len(candles) == 2184
    assert candles[0].at_ms == START and candles[-1].at_ms == END - HOUR
    assert str(candles[0].open) == "16000.1" and str(candles[0].volume) == "1234.567"
    assert out.read_text(encoding="utf-8").splitlines()[0] == "timestamp_ms,open,high,low,close,volume"
    assert not list(tmp_path.glob("*.part"))


def test_main_writes_the_default_file_name_and_draws_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(
        ["btc", "2022-11-01", "2022-11-03T00:00:00"], exchange_factory=lambda _id: offline_exchange(klines)
    )
    assert code == 0
    candles = load_candles(tmp_path / "BTCUSDT_2022-11-01_1h.csv")
    assert len(candles) == 48
    captured = capsys.readouterr()
    assert "100%" in captured.err and "#" in captured.err
    assert "wrote 48 candles" in captured.out


@pytest.mark.parametrize(
    "error",
    [
        ccxt.NetworkError(
            "binanceusdm GET https://fapi.binance.com/fapi/v1/exchangeInfo Cannot connect to host"
        ),
        ccxt.ExchangeNotAvailable("binanceusdm GET https://fapi.binance.com/fapi/v1/exchangeInfo 503"),
        ccxt.RequestTimeout("binanceusdm GET https://fapi.binance.com/fapi/v1/exchangeInfo request timeout"),
    ],
)
def test_without_network_history_says_so_in_one_line_and_exits_2(
    error: Exception, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreachable(url: str) -> Any:
        raise error

    def factory(_id: str) -> Any:
        exchange = offline_exchange(unreachable)
        exchange.markets = None  # as on a fresh start: ccxt first loads the markets, and fails
        return exchange

    out = tmp_path / "btc.csv"
    code = main(["BTCUSDT", "2022-11-01", "2022-11-03", "--out", str(out)], exchange_factory=factory)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("could not reach binanceusdm: ")
    assert captured.err.rstrip().endswith("; history needs network access")
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["BTC", "2022-11-03", "2022-11-01"], "END must come after START"),
        (["BTC", "yesterday", "2022-11-01"], "'yesterday' is not a date"),
        (["BTC", "2022-11-01", "2022-11-03", "--interval", "7m"], "has no '7m' candles"),
        (["BTC", "2022-11-01", "2022-11-03", "--exchange", "nowhere"], "no exchange 'nowhere'"),
    ],
)
def test_bad_arguments_are_refused_with_exit_code_2(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv, exchange_factory=lambda _id: offline_exchange(klines)) == 2
    assert words in capsys.readouterr().err


def test_a_period_without_candles_writes_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "empty.csv"
    argv = ["ETH", "2020-01-01", "2020-01-02", "--out", str(out)]
    assert main(argv, exchange_factory=lambda _id: offline_exchange(klines)) == 1
    assert "no finished 1h candles" in capsys.readouterr().err
    assert not out.exists()
