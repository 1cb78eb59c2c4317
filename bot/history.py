"""`margin-dojo history SYMBOL START END [--interval 1h] [--out FILE]`: candles into a replay CSV.

Pages through ccxt's `fetch_ohlcv` (up to 1500 candles a request; ccxt may ask for fewer) from START up to,
not including, END (dates are midnight UTC; ISO datetimes without a zone are UTC) and writes
`timestamp_ms,open,high,low,close,volume` with a header — the format `replay:` reads — to
`BTCUSDT_<start>_<interval>.csv` unless --out names a file. ccxt's rate limiter stays on. Needs network
access: without it the command says so in one line and exits with code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import ccxt  # type: ignore[import-untyped]
import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]

from bot.live import describe_error

DEFAULT_EXCHANGE = "binanceusdm"
PAGE_LIMIT = 1500  # Binance USDⓈ-M klines: at most 1500 a request
HEADER = "timestamp_ms,open,high,low,close,volume"

Progress = Callable[[int, int], None]
ExchangeFactory = Callable[[str], Any]


def create_exchange(exchange_id: str) -> Any:
    return getattr(ccxt_async, exchange_id)({"enableRateLimit": True})


class ProgressBar:
    """`BTC 1h [#######.............]  35%` redrawn in place on stderr."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label, self.stream, self.width = label, stream or sys.stderr, width

    def __call__(self, done: int, total: int) -> None:
        share = 1.0 if total <= 0 else min(1.0, done / total)
        filled = round(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if share >= 1 else ""
        self.stream.write(f"\r{self.label} [{bar}] {share:4.0%}{end}")
        self.stream.flush()


def plain(value: object) -> str:
    """A ccxt number as plain decimal text (no exponent); empty when missing."""
    if value is None:
        return ""
    number = Decimal(repr(value) if isinstance(value, float) else str(value))
    return format(number, "f")


def csv_line(row: Sequence[Any]) -> str:
    stamp, open_, high, low, close = row[:5]
    volume = row[5] if len(row) > 5 else None
    return ",".join([str(int(stamp)), *map(plain, (open_, high, low, close, volume))]) + "\n"


async def download(
    exchange: Any,
    symbol: str,
    start_ms: int,
    end_ms: int,
    interval: str,
    out_path: Path,
    progress: Progress | None = None,
) -> int:
    """Write the finished candles of [start_ms, end_ms) to out_path; returns how many (0: no file)."""
    step = int(exchange.parse_timeframe(interval) * 1000)
    report = progress or ProgressBar(f"{symbol} {interval}")
    finished_before = exchange.milliseconds() - step  # a candle opened later is still moving
    part = out_path.with_name(out_path.name + ".part")
    written, since = 0, start_ms
    try:
        with part.open("w", encoding="utf-8", newline="") as handle:
            handle.write(HEADER + "\n")
            while since < end_ms:
                page = await exchange.fetch_ohlcv(
                    symbol, interval, since=since, limit=PAGE_LIMIT, params={"until": end_ms - 1}
                )
                rows = [row for row in page if since <= row[0] < end_ms and row[0] <= finished_before]
                if not rows:
                    break
                handle.writelines(csv_line(row) for row in rows)
                written += len(rows)
                since = int(rows[-1][0]) + step
                report(min(since, end_ms) - start_ms, end_ms - start_ms)
            if written and since < end_ms:  # the market had nothing more (END in the future): done anyway
                report(end_ms - start_ms, end_ms - start_ms)
        if written:
            part.replace(out_path)
    finally:
        part.unlink(missing_ok=True)
    return written


def utc_time(text: str) -> datetime:
    """YYYY-MM-DD (midnight UTC) or an ISO datetime (UTC when it names no zone)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD) or ISO datetime") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def market_of(text: str) -> tuple[str, str]:
    """ "BTC", "btcusdt" or "BTC/USDT:USDT" → ("BTC", "BTC/USDT:USDT")."""
    cleaned = text.strip().upper()
    base = cleaned.split("/")[0] if "/" in cleaned else cleaned.removesuffix("USDT") or cleaned
    return base, f"{base}/USDT:USDT"


def parser() -> argparse.ArgumentParser:
    commands = argparse.ArgumentParser(
        prog="margin-dojo history",
        description="Download candles into a replay CSV (timestamp_ms,open,high,low,close,volume).",
    )
    commands.add_argument("symbol", help="BTC, BTCUSDT or BTC/USDT:USDT")
    commands.add_argument("start", type=utc_time, help="first day, YYYY-MM-DD or ISO datetime (UTC)")
    commands.add_argument("end", type=utc_time, help="end, not included, YYYY-MM-DD or ISO datetime (UTC)")
    commands.add_argument("--interval", default="1h", help="candle interval: 1m, 5m, 15m, 1h, 4h, 1d … (1h)")
    commands.add_argument("--out", type=Path, help="file to write (BTCUSDT_<start>_<interval>.csv)")
    commands.add_argument(
        "--exchange", default=DEFAULT_EXCHANGE, help=f"ccxt exchange id ({DEFAULT_EXCHANGE})"
    )
    return commands


def main(argv: list[str] | None = None, *, exchange_factory: ExchangeFactory = create_exchange) -> int:
    commands = parser()
    try:
        args = commands.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage and the problem
        return int(exit_.code or 0)
    if args.end <= args.start:
        commands.print_usage(sys.stderr)
        print("margin-dojo history: error: END must come after START", file=sys.stderr)
        return 2
    if args.exchange not in ccxt.exchanges:
        print(f"margin-dojo history: error: ccxt knows no exchange '{args.exchange}'", file=sys.stderr)
        return 2
    return asyncio.run(_history(args, exchange_factory))


async def _history(args: argparse.Namespace, exchange_factory: ExchangeFactory) -> int:
    base, symbol = market_of(args.symbol)
    out = args.out or Path(f"{base}USDT_{args.start:%Y-%m-%d}_{args.interval}.csv")
    exchange = exchange_factory(args.exchange)
    try:
        if args.interval not in exchange.timeframes:
            known = ", ".join(exchange.timeframes)
            print(f"{exchange.id} has no '{args.interval}' candles; try one of {known}", file=sys.stderr)
            return 2
        start_ms, end_ms = (int(moment.timestamp() * 1000) for moment in (args.start, args.end))
        count = await download(exchange, symbol, start_ms, end_ms, args.interval, out)
    except ccxt.NetworkError as exc:
        print(
            f"could not reach {exchange.id}: {describe_error(exc)}; history needs network access",
            file=sys.stderr,
        )
        return 2
    except ccxt.BaseError as exc:
        print(f"{exchange.id} refused: {describe_error(exc)}", file=sys.stderr)
        return 1
    finally:
        await exchange.close()
    if count == 0:
        print(f"no finished {args.interval} candles of {symbol} in that period", file=sys.stderr)
        return 1
    print(f"wrote {count} candles to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
