"""The live feed: public mark prices and funding rates of a real exchange through ccxt (DESIGN §3).

One exchange object serves the feed (ccxt.pro's class when it exists, so marks can stream over a websocket;
the async REST class otherwise) and is closed by `close()`. Marks come from `watch_mark_prices` when the
exchange streams them, else from `fetch_mark_prices` (or `fetch_mark_price` per symbol) every
`poll_seconds`; funding rates from `fetch_funding_rates` (or `fetch_funding_rate`) and the exchange's own 24 h
change from `fetch_tickers` every `funding_seconds`.
A failing round is logged and retried after an exponential backoff; the loops never die. Without a mark
for `stale_after` seconds the feed is stale and trading must be refused ("market data is stale").
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import ccxt  # type: ignore[import-untyped]
import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]
import ccxt.pro as ccxt_pro  # type: ignore[import-untyped]

from core.market.feed import DAY, DEFAULT_FUNDING_RATE, FeedState
from core.market.sim import DEFAULT_SIM_SYMBOLS
from core.ports import Clock, Tick, TickHandler

if TYPE_CHECKING:
    from core.domain.instruments import Catalog

log = logging.getLogger(__name__)

DEFAULT_EXCHANGE = "binanceusdm"
DEFAULT_TICK_SIZES: Mapping[str, Decimal] = {
    symbol: spec.tick for symbol, spec in DEFAULT_SIM_SYMBOLS.items()
}
STALE_AFTER_S = 30.0

ExchangeFactory = Callable[[str], Any]
Sleep = Callable[[float], Awaitable[None]]


def create_exchange(exchange_id: str) -> Any:
    """ccxt.pro's class when the exchange has one (websocket streams), else the async REST one."""
    module = ccxt_pro if exchange_id in ccxt_pro.exchanges else ccxt_async
    return getattr(module, exchange_id)({"enableRateLimit": True})


def parse_live_spec(spec: str) -> str:
    """`live` or `live:EXCHANGE` → the ccxt exchange id."""
    kind, _, name = spec.partition(":")
    if kind.strip().lower() != "live":
        raise ValueError(f"'{spec}' is not a live feed; write live or live:EXCHANGE")
    exchange_id = name.strip().lower() or DEFAULT_EXCHANGE
    if exchange_id not in ccxt.exchanges:
        raise ValueError(f"ccxt knows no exchange '{exchange_id}' (e.g. binanceusdm, bybit, okx)")
    return exchange_id


def unified_symbol(symbol: str) -> str:
    """Our "BTC" → ccxt's linear perpetual "BTC/USDT:USDT"."""
    return f"{symbol}/USDT:USDT"


def to_decimal(value: object) -> Decimal | None:
    """A ccxt number (float, int or str) as a finite Decimal built from its shortest text, else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def describe_error(error: BaseException, limit: int = 240) -> str:
    """One line for a log or a user: ccxt's message plus the network error underneath, if any."""
    text = " ".join(str(error).split()) or type(error).__name__
    cause = error.__cause__ or error.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({' '.join(str(cause).split())})"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def on_tick_grid(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).to_integral_value() * tick


class Backoff:
    """Delays after consecutive failures: `initial`, doubling each time, never above `maximum`."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial, self.maximum = initial, maximum
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * 2.0**self.failures)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class LiveFeed(FeedState):
    """Marks and funding of a real exchange; stale when no mark arrived for `stale_after` seconds."""

    name = "live"

    def __init__(
        self,
        symbols: Mapping[str, Decimal] = DEFAULT_TICK_SIZES,
        *,
        exchange_id: str = DEFAULT_EXCHANGE,
        exchange_factory: ExchangeFactory = create_exchange,
        poll_seconds: float = 2.0,
        funding_seconds: float = 60.0,
        stale_after: float = STALE_AFTER_S,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        use_websocket: bool | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__()
        self.exchange = exchange_factory(exchange_id)
        self._tick_sizes = dict(symbols)
        self._ours = {unified_symbol(symbol): symbol for symbol in symbols}
        self._rates: dict[str, Decimal] = {}
        self._day_change: dict[str, Decimal] = {}  # the exchange's 24 h change, relative (-0.0123)
        self._last_mark_at: datetime | None = None
        self._poll_seconds = poll_seconds
        self._funding_seconds = funding_seconds
        self._stale_after = stale_after
        self._backoff = (backoff_initial, backoff_max)
        self._sleep = sleep
        self._closed = False
        self._listed_symbols: list[str] | None = None
        has = self.exchange.has
        streams = bool(has.get("watchMarkPrices"))
        if use_websocket and not streams:
            raise ValueError(f"{self.exchange.id} does not stream mark prices through ccxt")
        self.uses_websocket = streams if use_websocket is None else use_websocket
        if not (self.uses_websocket or has.get("fetchMarkPrices") or has.get("fetchMarkPrice")):
            raise ValueError(f"{self.exchange.id} publishes no mark prices through ccxt")

    @classmethod
    def from_spec(cls, spec: str, catalog: Catalog | None = None, **options: Any) -> LiveFeed:
        """`live[:EXCHANGE]` with the catalog's symbols and tick sizes (the defaults without a catalog)."""
        symbols = DEFAULT_TICK_SIZES
        if catalog is not None:
            symbols = {symbol: item.tick_size for symbol, item in catalog.instruments.items()}
        return cls(symbols, exchange_id=parse_live_spec(spec), **options)

    @property
    def last_mark_at(self) -> datetime | None:
        return self._last_mark_at

    def is_stale(self, now: datetime) -> bool:
        if self._last_mark_at is None:
            return True
        return (now - self._last_mark_at).total_seconds() >= self._stale_after

    def funding_rate(self, symbol: str) -> Decimal:
        return self._rates.get(symbol, DEFAULT_FUNDING_RATE)

    def change_24h(self, symbol: str) -> Decimal | None:
        """The exchange's own 24 h change once fetched (a full day even right after start), else our samples'."""
        if symbol in self._day_change:
            return self._day_change[symbol]
        return super().change_24h(symbol)

    def change_window(self) -> timedelta:
        return DAY if self._day_change else super().change_window()

    async def run(self, on_tick: TickHandler, clock: Clock) -> None:
        """Keep marks and funding rates coming until cancelled."""
        mark_pause = 0.0 if self.uses_websocket else self._poll_seconds
        async with asyncio.TaskGroup() as group:
            group.create_task(
                self._keep_going("marks", lambda: self.refresh_marks(on_tick, clock), mark_pause)
            )
            if self.exchange.has.get("fetchFundingRates") or self.exchange.has.get("fetchFundingRate"):
                group.create_task(
                    self._keep_going("funding rates", self.refresh_funding, self._funding_seconds)
                )
            if self.exchange.has.get("fetchTickers"):
                group.create_task(
                    self._keep_going("24 h changes", self.refresh_day_change, self._funding_seconds)
                )

    async def _keep_going(self, what: str, attempt: Callable[[], Awaitable[object]], pause: float) -> None:
        backoff = Backoff(*self._backoff)
        while True:
            try:
                await attempt()
            except Exception as exc:  # never let one bad round end the feed
                delay = backoff.next_delay()
                if isinstance(exc, ccxt.BaseError | OSError):
                    log.warning(
                        "%s %s failed (%s); retrying in %.0f s",
                        self.exchange.id,
                        what,
                        describe_error(exc),
                        delay,
                    )
                else:
                    log.exception("%s %s failed; retrying in %.0f s", self.exchange.id, what, delay)
                await self._sleep(delay)
                continue
            backoff.reset()
            if pause > 0:
                await self._sleep(pause)

    async def refresh_marks(self, on_tick: TickHandler, clock: Clock) -> Tick | None:
        """One round of marks: watch (websocket) or fetch them, apply and hand on what changed."""
        marks = self._marks_of(await self._latest_tickers())
        if not marks:
            return None
        now = clock.now()
        self._last_mark_at = now
        changed = {symbol: mark for symbol, mark in marks.items() if self.mark(symbol) != mark}
        if not changed:
            return None
        tick = self.apply(Tick(at=now, marks=changed))
        await on_tick(tick)
        return tick

    async def _listed(self) -> list[str]:
        """Our symbols the exchange lists; markets load once, unlisted symbols are skipped with a warning."""
        if self._listed_symbols is None:
            if self.exchange.markets is None:
                await self.exchange.load_markets()
            markets = self.exchange.markets
            self._listed_symbols = [symbol for symbol in self._ours if symbol in markets]
            if missing := sorted(set(self._ours) - set(self._listed_symbols)):
                log.warning(
                    "%s lists no %s; those symbols get no live marks", self.exchange.id, ", ".join(missing)
                )
        return self._listed_symbols

    async def _latest_tickers(self) -> Mapping[str, Any]:
        symbols = await self._listed()
        if self.uses_websocket:
            result: Mapping[str, Any] = await self.exchange.watch_mark_prices(symbols)
        elif self.exchange.has.get("fetchMarkPrices"):
            result = await self.exchange.fetch_mark_prices(symbols)
        else:
            result = {symbol: await self.exchange.fetch_mark_price(symbol) for symbol in symbols}
        return result

    def _marks_of(self, tickers: Mapping[str, Any]) -> dict[str, Decimal]:
        marks = {}
        for key, ticker in tickers.items():
            symbol = self._ours.get(ticker.get("symbol") or key)
            price = to_decimal(ticker.get("markPrice"))
            if symbol is not None and price is not None and price > 0:
                marks[symbol] = max(on_tick_grid(price, self._tick_sizes[symbol]), self._tick_sizes[symbol])
        return marks

    async def refresh_day_change(self) -> None:
        """One round of the exchange's 24 h tickers: their change in percent, kept as a fraction."""
        tickers: Mapping[str, Any] = await self.exchange.fetch_tickers(await self._listed())
        for key, ticker in tickers.items():
            symbol = self._ours.get(ticker.get("symbol") or key)
            percent = to_decimal(ticker.get("percentage"))
            if symbol is not None and percent is not None:
                self._day_change[symbol] = percent / 100

    async def refresh_funding(self) -> None:
        """One round of funding rates."""
        symbols = await self._listed()
        if self.exchange.has.get("fetchFundingRates"):
            rates: Mapping[str, Any] = await self.exchange.fetch_funding_rates(symbols)
        else:
            rates = {symbol: await self.exchange.fetch_funding_rate(symbol) for symbol in symbols}
        for key, item in rates.items():
            symbol = self._ours.get(item.get("symbol") or key)
            rate = to_decimal(item.get("fundingRate"))
            if symbol is not None and rate is not None:
                self._rates[symbol] = rate

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.exchange.close()
