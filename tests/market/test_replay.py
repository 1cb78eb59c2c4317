"""The replay feed: candle paths, merge order, funding, file validation with line numbers, playback speed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from core.market.replay import (
    ReplayFeed,
    ReplayFileError,
    load_candles,
    load_funding,
    parse_replay_spec,
    symbol_of,
)
from core.ports import Tick
from tests.market.conftest import FakeClock

HEADER = "timestamp_ms,open,high,low,close,volume"
T = 1_667_865_600_000  # 2022-11-08 00:00 UTC
FIVE_MIN = 300_000
D = Decimal


def at(ms: int) -> datetime:
    return datetime(2022, 11, 8, tzinfo=UTC) + timedelta(milliseconds=ms - T)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    def write_file(name: str, *lines: str, header: str | None = HEADER) -> Path:
        path = tmp_path / name
        path.write_text("\n".join([header, *lines] if header else lines) + "\n", encoding="utf-8")
        return path

    return write_file


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("BTCUSDT_2022-11-09_5m.csv", "BTC"),
        ("ethusdt_2021-05-19_1m.csv", "ETH"),
        ("DOGEUSDT.csv", "DOGE"),
        ("SOL_1h.csv", "SOL"),
        ("BTCUSDT_2022-11-09_funding.csv", "BTC"),
        ("XRPUSDT-1m-2022-11.csv", "XRP"),
    ],
)
def test_symbol_comes_from_the_file_name(name: str, symbol: str) -> None:
    assert symbol_of(Path("/data") / name) == symbol


def test_each_candle_visits_open_nearer_extreme_other_extreme_close(write: Callable[..., Path]) -> None:
    path = write(
        "BTCUSDT_x_5m.csv",
        f"{T},100,103,99,101,1",  # low is nearer to the open
        f"{T + FIVE_MIN},101,102,95,96,1",  # high is nearer
        f"{T + 2 * FIVE_MIN},96,98,94,97,1",  # tie: low first
    )
    ticks = list(ReplayFeed([path]).ticks())
    path_points = [100, 99, 103, 101, 101, 102, 95, 96, 96, 94, 98, 97]
    assert [t.marks["BTC"] for t in ticks] == [D(p) for p in path_points]
    times = [T, T + 100_000, T + 200_000, T + FIVE_MIN - 1, T + FIVE_MIN]
    assert [t.at for t in ticks[:5]] == [at(ms) for ms in times]


def test_symbols_merge_in_time_order_and_share_ticks_at_the_same_time(write: Callable[..., Path]) -> None:
    btc = write("BTCUSDT_x_5m.csv", f"{T},100,103,99,101", f"{T + FIVE_MIN},101,102,95,96")
    eth = write("ETHUSDT_x_15m.csv", f"{T},10,11,9.5,10.5", f"{T + 3 * FIVE_MIN},10.5,11,10,10.8")
    ticks = list(ReplayFeed([btc, eth]).ticks())
    times = [t.at for t in ticks]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert ticks[0].marks == {"BTC": D("100"), "ETH": D("10")}
    eth_points = [(t.at, t.marks["ETH"]) for t in ticks if "ETH" in t.marks]
    assert eth_points[:4] == [(at(T), D("10")), (at(T + FIVE_MIN), D("9.5")), (at(T + 2 * FIVE_MIN), D("11")),
                              (at(T + 3 * FIVE_MIN - 1), D("10.5"))]  # fmt: skip
    shared = next(t for t in ticks if t.at == at(T + FIVE_MIN))
    assert shared.marks == {"BTC": D("101"), "ETH": D("9.5")}


def test_funding_rides_on_the_first_tick_at_or_after_its_time(write: Callable[..., Path]) -> None:
    candles = write("BTCUSDT_x_5m.csv", f"{T},100,103,99,101", f"{T + FIVE_MIN},101,102,95,96")
    funding = write(
        "BTCUSDT_x_funding.csv",
        f"{T + 1},0.0003",  # between the open and the first extreme
        f"{T + 10 * FIVE_MIN},-0.0002",  # after the last candle: a tick of its own
        header="timestamp_ms,funding_rate",
    )
    feed = ReplayFeed([candles, funding])
    assert feed.funding_rate("BTC") == D("0.0001")
    ticks = list(feed.ticks())
    settled = [(t.at, dict(t.funding_settlements)) for t in ticks if t.funding_settlements]
    assert settled == [
        (at(T + 100_000), {"BTC": D("0.0003")}),
        (at(T + 10 * FIVE_MIN), {"BTC": D("-0.0002")}),
    ]
    assert ticks[-1].marks == {}
    assert feed.funding_rate("BTC") == D("-0.0002")


def test_funding_rate_follows_the_played_events(write: Callable[..., Path]) -> None:
    candles = write("ETHUSDT_x_5m.csv", f"{T},10,11,9,10", f"{T + FIVE_MIN},10,11,9,10")
    funding = write("ETHUSDT_x_funding.csv", f"{T + FIVE_MIN},0.0007", header=None)
    feed = ReplayFeed([funding, candles])
    feed.advance(at(T + FIVE_MIN - 1))
    assert feed.funding_rate("ETH") == D("0.0001")
    feed.advance(at(T + FIVE_MIN))
    assert feed.funding_rate("ETH") == D("0.0007")


@dataclass(frozen=True)
class BadFile:
    lines: tuple[str, ...]
    line: int
    words: str


BAD_FILES = {
    "missing column": BadFile((f"{T},1,2,0.5",), 2, "found 4 column"),
    "non-numeric price": BadFile(
        (f"{T},1,2,0.5,1", f"{T + FIVE_MIN},1,2,abc,1"), 3, "low 'abc' is not a number"
    ),
    "non-numeric time": BadFile((f"{T}.5,1,2,0.5,1",), 2, "not a whole number of milliseconds"),
    "time in seconds": BadFile((f"{T // 1000},1,2,0.5,1",), 2, "seconds or microseconds"),
    "unsorted": BadFile(
        (f"{T + FIVE_MIN},1,2,0.5,1", f"{T},1,2,0.5,1"), 3, "goes back before the one on line 2"
    ),
    "duplicate": BadFile((f"{T},1,2,0.5,1", f"{T},1,2,0.5,1"), 3, "repeats the one on line 2"),
    "zero price": BadFile((f"{T},1,2,0.5,1", f"{T + FIVE_MIN},1,2,0,1"), 3, "prices must be positive"),
    "negative price": BadFile((f"{T},-1,2,-3,1",), 2, "prices must be positive"),
    "high below close": BadFile((f"{T},1,1.5,0.5,1.6",), 2, "high 1.5 is below max(open, close) = 1.6"),
    "high below open": BadFile((f"{T},1.7,1.5,0.5,1.2",), 2, "high 1.5 is below max(open, close) = 1.7"),
    "low above open": BadFile((f"{T},1,2,1.1,1.5",), 2, "low 1.1 is above min(open, close) = 1"),
    "low above close": BadFile((f"{T},1.5,2,1.1,1",), 2, "low 1.1 is above min(open, close) = 1"),
    "negative volume": BadFile((f"{T},1,2,0.5,1,-3",), 2, "volume must not be negative"),
}


@pytest.mark.parametrize("case", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_candle_files_are_refused_naming_file_and_line(write: Callable[..., Path], case: BadFile) -> None:
    path = write("BTCUSDT_bad_5m.csv", *case.lines)
    with pytest.raises(ReplayFileError) as caught:
        load_candles(path)
    message = str(caught.value)
    assert "BTCUSDT_bad_5m.csv" in message
    assert f"line {case.line}:" in message
    assert case.words in message
    assert caught.value.line == case.line


def test_line_numbers_count_the_missing_header_and_blank_lines(write: Callable[..., Path]) -> None:
    path = write("BTCUSDT_bad_5m.csv", f"{T},1,2,0.5,1", "", f"{T + FIVE_MIN},1,2,0.5", header=None)
    with pytest.raises(ReplayFileError, match=r"line 3: expected timestamp_ms,open,high,low,close"):
        load_candles(path)


def test_empty_missing_and_binary_files_are_refused(write: Callable[..., Path], tmp_path: Path) -> None:
    with pytest.raises(ReplayFileError, match="holds no rows"):
        load_candles(write("BTCUSDT_empty_5m.csv"))
    with pytest.raises(ReplayFileError, match="cannot be read"):
        load_candles(tmp_path / "ETHUSDT_missing.csv")
    binary = tmp_path / "SOLUSDT_binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ReplayFileError, match="not a text CSV"):
        load_candles(binary)


def test_bad_funding_file_names_file_and_line(write: Callable[..., Path]) -> None:
    path = write(
        "BTCUSDT_x_funding.csv", f"{T},0.0001", f"{T + 1},0.0001,8", header="timestamp_ms,funding_rate"
    )
    with pytest.raises(
        ReplayFileError, match=r"BTCUSDT_x_funding.csv, line 3: expected timestamp_ms,funding_rate"
    ):
        load_funding(path)


def test_binance_kline_dump_with_extra_columns_and_no_volume_files_load(write: Callable[..., Path]) -> None:
    dump = write(
        "BTCUSDT-1m-2022-11.csv",
        f"{T},20482.1,20486.9,20451.0,20469.3,123.4,{T + 59_999},2525000.1,1000,60.1,1230000.5,0",
        header="open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
        "taker_buy_quote_volume,ignore",
    )
    marks = write(
        "ETHUSDT_x_1h-mark.csv", f"{T},1567.5,1570,1560.25,1568", header="timestamp_ms,open,high,low,close"
    )
    assert load_candles(dump)[0].volume == D("123.4")
    assert load_candles(marks)[0].volume is None
    feed = ReplayFeed([dump, marks])
    assert feed.symbols == ["BTC", "ETH"]
    assert feed.end == at(T + 3_600_000 - 1)  # one candle: the interval comes from "_1h" in the name


def test_one_candle_without_an_interval_in_the_name_is_refused(write: Callable[..., Path]) -> None:
    with pytest.raises(ReplayFileError, match="no interval in the name"):
        ReplayFeed([write("BTCUSDT.csv", f"{T},1,2,0.5,1")])


def test_two_candle_files_for_one_symbol_are_refused(write: Callable[..., Path]) -> None:
    first = write("BTCUSDT_a_5m.csv", f"{T},1,2,0.5,1", f"{T + FIVE_MIN},1,2,0.5,1")
    second = write("BTCUSDT_b_5m.csv", f"{T},1,2,0.5,1", f"{T + FIVE_MIN},1,2,0.5,1")
    with pytest.raises(ReplayFileError, match="second candle file for BTC"):
        ReplayFeed([first, second])


def test_prices_are_quantized_to_tick_sizes_when_given(write: Callable[..., Path]) -> None:
    path = write("BTCUSDT_x_5m.csv", f"{T},20000.04,20000.16,19999.95,20000.05", f"{T + FIVE_MIN},1,2,0.5,1")
    ticks = list(ReplayFeed([path], tick_sizes={"BTC": D("0.1")}).ticks())
    assert [t.marks["BTC"] for t in ticks[:4]] == [D("20000.0"), D("20000.0"), D("20000.2"), D("20000.0")]


def test_advance_plays_up_to_a_time_and_ticks_plays_the_rest(write: Callable[..., Path]) -> None:
    path = write("BTCUSDT_x_5m.csv", f"{T},100,103,99,101", f"{T + FIVE_MIN},101,102,95,96")
    feed = ReplayFeed([path])
    assert feed.mark("BTC") is None
    first = feed.advance(at(T + 150_000))
    assert [t.marks["BTC"] for t in first] == [D("100"), D("99")]
    assert feed.mark("BTC") == D("99")
    assert feed.advance(at(T + 150_000)) == []
    rest = list(feed.ticks())
    assert len(rest) == 6 and feed.mark("BTC") == D("96")
    assert feed.advance(at(T + 100 * FIVE_MIN)) == []


async def test_run_plays_at_speed_times_real_time(write: Callable[..., Path]) -> None:
    path = write("BTCUSDT_x_5m.csv", f"{T},100,103,99,101", f"{T + FIVE_MIN},101,102,95,96")
    clock = FakeClock()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # the wall clock moves only while the feed sleeps
        waits.append(seconds)
        clock.at += timedelta(seconds=seconds)

    played: list[Tick] = []

    async def on_tick(tick: Tick) -> None:
        played.append(tick)

    feed = ReplayFeed([path], speed=100, sleep=sleep)
    await feed.run(on_tick, clock)
    assert len(played) == 8
    assert waits == pytest.approx([1.0, 1.0, 0.99999, 0.00001, 1.0, 1.0, 0.99999])


@pytest.mark.parametrize(
    ("spec", "paths", "speed"),
    [
        ("replay:a.csv", ["a.csv"], 60.0),
        (
            "replay:data/BTCUSDT_5m.csv, data/ETHUSDT_5m.csv@120",
            ["data/BTCUSDT_5m.csv", "data/ETHUSDT_5m.csv"],
            120,
        ),
        ("replay:a.csv@2.5x", ["a.csv"], 2.5),
    ],
)
def test_replay_spec_names_paths_and_speed(spec: str, paths: list[str], speed: float) -> None:
    assert parse_replay_spec(spec) == ([Path(p) for p in paths], speed)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("replay:a.csv@fast", "speed 'fast'"),
        ("replay:a.csv@0", "speed '0'"),
        ("replay:a.csv@-5", "speed '-5'"),
        ("replay:a.csv@nan", "speed 'nan'"),
        ("replay:a.csv@", "speed ''"),
        ("replay:", "at least one file"),
        ("sim", "not a replay feed"),
    ],
)
def test_bad_replay_specs_are_refused(spec: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        parse_replay_spec(spec)


def test_funding_files_alone_are_refused(write: Callable[..., Path]) -> None:
    funding = write("BTCUSDT_x_funding.csv", f"{T},0.0001", header=None)
    with pytest.raises(ValueError, match="at least one candle file"):
        ReplayFeed([funding])
