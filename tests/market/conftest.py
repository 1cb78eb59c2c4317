"""Fakes for the market tests: a settable clock, a sleep that only yields, an offline ccxt exchange."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)

# ccxt market structures for the symbols the tests use (what `load_markets` would build from exchangeInfo)
TICK_SIZES = {"BTC": 0.1, "ETH": 0.01, "DOGE": 0.00001}


def usdm_market(base: str, tick: float) -> dict[str, Any]:
    return {
        "id": f"{base}USDT", "symbol": f"{base}/USDT:USDT", "base": base, "quote": "USDT", "settle": "USDT",
        "baseId": base, "quoteId": "USDT", "settleId": "USDT", "type": "swap", "spot": False,
        "margin": False, "swap": True, "future": False, "option": False, "contract": True, "linear": True,
        "inverse": False, "contractSize": 1.0, "active": True,
        "precision": {"price": tick, "amount": 0.001}, "info": {},
    }  # fmt: skip


@dataclass
class FakeClock:
    at: datetime = T0
    step: timedelta = timedelta(0)

    def now(self) -> datetime:
        current = self.at
        self.at += self.step
        return current


@dataclass
class RecordingSleep:
    """Stands in for asyncio.sleep: records the delays asked for and only yields to the loop."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


Route = Callable[[str], Any]


def offline_exchange(route: Route, exchange_class: Any = ccxt_async.binanceusdm) -> Any:
    """A real ccxt exchange whose single HTTP entry point answers from `route(url)`; no network at all."""
    exchange = exchange_class({"enableRateLimit": False})
    exchange.set_markets([usdm_market(base, tick) for base, tick in TICK_SIZES.items()])
    exchange.timeout_on_exit = 0
    exchange.requested = []

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        exchange.requested.append(url)
        return route(url)

    exchange.fetch = fetch
    return exchange


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()
