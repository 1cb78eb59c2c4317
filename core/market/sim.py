"""The sim feed: seeded, correlated random walks with jumps and a funding premium per symbol (DESIGN §3).

Model (log returns, annualised over 365 days because crypto never closes):

* Factors. One market factor and one idiosyncratic factor per symbol, each a unit-variance jump diffusion:
  a Brownian part carrying `1 - JUMP_SHARE` of the variance and compound-Poisson jumps carrying the rest
  (`JUMP_SHARE`), so jumps sit *inside* the volatility budget. A symbol's log return is
  `vol × (loading × market + √(1 − loading²) × own)`: its variance is `vol²` and the correlation of two
  symbols is the product of their loadings (BTC 0.90 × ETH 0.89 ≈ 0.80). Market jumps hit every symbol at
  the same second, like a real crash or squeeze.
* Jumps. Factor jump sizes are ± uniform in [JUMP_MIN, JUMP_MAX] factor units, about 0.35 jumps a day per
  factor (≈ 2.5 a day across the six default symbols), i.e. single moves of roughly 0.3–4 % of price.
* Funding. A premium per symbol follows an Ornstein–Uhlenbeck process (mean PREMIUM_MEAN, half-life 8 h,
  stationary spread proportional to the symbol's volatility). The rate is Binance's
  F = P + clamp(0.0001 − P, −0.0005, 0.0005) of the current premium (Binance averages P over the funding
  period; the sim's premium is smooth enough that the difference does not matter for practice).

Time grid. The path is defined on a coarse grid of `advance_step` seconds (default 60), generated in
blocks keyed by (seed, block), and filled in between with one point every `step_seconds` (default 1) by a
Brownian bridge keyed by (seed, interval) — so the mark at a given time depends only on the seed, the
symbols and the grid, never on how the feed was advanced. `advance(until)` emits one tick per
`step_seconds` when it moves at most `advance_step`; further, it emits one tick per `advance_step` (plus
one at `until`), which skips the wicks between grid points.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from core.market.feed import DEFAULT_FUNDING_RATE, FeedState
from core.ports import Clock, Tick, TickHandler

FloatArray = npt.NDArray[np.float64]

SECONDS_PER_YEAR = 365 * 24 * 3600
JUMP_SHARE = 0.2  # part of each factor's variance that comes from jumps
JUMP_MIN, JUMP_MAX = 0.015, 0.06  # jump magnitude, in units of a factor's annual standard deviation
JUMPS_PER_YEAR = JUMP_SHARE / ((JUMP_MAX**3 - JUMP_MIN**3) / (3 * (JUMP_MAX - JUMP_MIN)))  # share / E[J²]
PREMIUM_MEAN = 0.00005
PREMIUM_SPREAD_PER_VOL = 0.0008  # stationary standard deviation of the premium per unit of volatility
PREMIUM_HALF_LIFE_S = 8 * 3600.0
INTEREST = Decimal("0.0001")  # Binance: 0.01 % per 8 h
CLAMP = Decimal("0.0005")
BLOCK = 1440  # coarse intervals generated at once (a day at the default 60 s)


class SimSymbol(NamedTuple):
    """How one symbol moves: start mark, tick size, annualised volatility, loading on the market factor."""

    start: Decimal
    tick: Decimal
    vol: float = 0.8
    loading: float = 0.75  # correlation of two symbols = product of their loadings


DEFAULT_SIM_SYMBOLS: Mapping[str, SimSymbol] = MappingProxyType(
    {
        "BTC": SimSymbol(Decimal("95000"), Decimal("0.1"), 0.50, 0.90),
        "ETH": SimSymbol(Decimal("3200"), Decimal("0.01"), 0.65, 0.89),  # BTC–ETH 0.80
        "SOL": SimSymbol(Decimal("140"), Decimal("0.01"), 0.90, 0.76),  # 0.68 with BTC
        "BNB": SimSymbol(Decimal("900"), Decimal("0.01"), 0.60, 0.73),  # 0.66
        "XRP": SimSymbol(Decimal("2.2"), Decimal("0.0001"), 0.80, 0.72),  # 0.65
        "DOGE": SimSymbol(Decimal("0.17"), Decimal("0.00001"), 1.00, 0.70),  # 0.63
    }
)

SymbolSpec = SimSymbol | tuple[Decimal | str, Decimal | str]


def funding_from_premium(premium: Decimal) -> Decimal:
    """Binance USDⓈ-M: F = P + clamp(I − P, −0.05 %, 0.05 %) with I = 0.01 %."""
    return premium + min(max(INTEREST - premium, -CLAMP), CLAMP)


def _spec(value: SymbolSpec) -> SimSymbol:
    if isinstance(value, SimSymbol):
        return value
    start, tick = value
    return SimSymbol(Decimal(str(start)), Decimal(str(tick)))


def _on_tick_grid(value: float, tick: Decimal) -> Decimal:
    """A float price as a Decimal multiple of the tick size, never below one tick."""
    return Decimal(max(1, round(value / float(tick)))) * tick


class _Block(NamedTuple):
    log_marks: FloatArray  # (BLOCK + 1, symbols): log mark at each grid point
    premium: FloatArray  # (BLOCK + 1, symbols)
    diffusion: FloatArray  # (BLOCK, symbols): log return of each interval without its jumps
    jumps: FloatArray  # (BLOCK, factors): factor jumps of each interval


class SimPath:
    """The float model behind SimFeed: log marks and premiums at any step, deterministic under a seed."""

    def __init__(self, specs: list[SimSymbol], seed: int, coarse_seconds: float, fine_steps: int) -> None:
        vols = np.array([s.vol for s in specs])
        loadings = np.array([s.loading for s in specs])
        if np.any(vols <= 0) or np.any(np.abs(loadings) >= 1):
            raise ValueError("volatilities must be positive and loadings strictly between -1 and 1")
        count = len(specs)
        # factor → symbol weights: row 0 is the market factor, row 1 + i symbol i's own factor
        self._weights = np.vstack([vols * loadings, np.diag(vols * np.sqrt(1 - loadings**2))])
        self._seed, self._fine = seed, fine_steps
        self._dt = coarse_seconds / SECONDS_PER_YEAR
        self._drift = -0.5 * (1 - JUMP_SHARE) * vols**2 * self._dt
        self._decay = math.exp(-math.log(2) * coarse_seconds / PREMIUM_HALF_LIFE_S)
        self._spread = PREMIUM_SPREAD_PER_VOL * vols
        start = np.log(np.array([float(s.start) for s in specs]))
        self._block_index = -1
        self._end = (start, np.full(count, PREMIUM_MEAN))
        self._block = self._next_block()
        self._bridge_key = -1
        self._bridge: tuple[FloatArray, FloatArray] = (np.empty(0), np.empty(0))

    def at(self, step: int) -> tuple[FloatArray, FloatArray]:
        """Log marks and premiums after `step` fine steps (steps are only ever asked in rising order)."""
        interval, offset = divmod(step, self._fine)
        if offset == 0:
            block = self._block_at(interval)
            row = interval - self._block_index * BLOCK
            return block.log_marks[row], block.premium[row]
        log_marks, premium = self._bridge_of(interval)
        return log_marks[offset - 1], premium[offset - 1]

    def _block_at(self, interval: int) -> _Block:
        wanted = interval // BLOCK
        if wanted < self._block_index:
            raise ValueError("the sim path only moves forward")
        while self._block_index < wanted:
            self._block = self._next_block()
        return self._block

    def _next_block(self) -> _Block:
        self._block_index += 1
        rng = np.random.default_rng([self._seed, 0, self._block_index])
        factors = self._weights.shape[0]
        noise = rng.standard_normal((BLOCK, factors)) * math.sqrt((1 - JUMP_SHARE) * self._dt)
        jumps = _jump_sums(rng, rng.poisson(JUMPS_PER_YEAR * self._dt, (BLOCK, factors)))
        diffusion = noise @ self._weights + self._drift
        start, premium_start = self._end
        steps = np.cumsum(diffusion + jumps @ self._weights, axis=0)
        log_marks = np.vstack([start, start + steps])
        shocks = rng.standard_normal((BLOCK, len(start))) * self._spread * math.sqrt(1 - self._decay**2)
        premium = np.empty((BLOCK + 1, len(start)))
        premium[0] = premium_start
        for row in range(BLOCK):  # exact Ornstein–Uhlenbeck step
            premium[row + 1] = PREMIUM_MEAN + self._decay * (premium[row] - PREMIUM_MEAN) + shocks[row]
        self._end = (log_marks[-1], premium[-1])
        return _Block(log_marks, premium, diffusion, jumps)

    def _bridge_of(self, interval: int) -> tuple[FloatArray, FloatArray]:
        """Fine points 1…n of a coarse interval: a Brownian bridge plus the interval's jumps."""
        if interval != self._bridge_key:
            self._bridge = self._fill(interval, self._block_at(interval), interval % BLOCK)
            self._bridge_key = interval
        return self._bridge

    def _fill(self, interval: int, block: _Block, row: int) -> tuple[FloatArray, FloatArray]:
        n = self._fine
        rng = np.random.default_rng([self._seed, 1, interval])
        factors = self._weights.shape[0]
        fine = rng.standard_normal((n, factors)) * math.sqrt((1 - JUMP_SHARE) * self._dt / n) @ self._weights
        fine += (block.diffusion[row] - fine.sum(axis=0)) / n  # condition the walk on the interval's sum
        landed = np.arange(1, n + 1)[:, None] >= rng.integers(1, n + 1, size=(factors,))[None, :]
        start, end = block.log_marks[row], block.log_marks[row + 1]
        log_marks = start + np.cumsum(fine, axis=0) + (landed * block.jumps[row]) @ self._weights
        log_marks[-1] = end  # the grid point itself, exactly
        weights = (np.arange(1, n + 1) / n)[:, None]
        premium = block.premium[row] + weights * (block.premium[row + 1] - block.premium[row])  # linear
        return log_marks, premium


def _jump_sums(rng: np.random.Generator, counts: npt.NDArray[np.int64]) -> FloatArray:
    """Sum of `counts` jumps of ± uniform [JUMP_MIN, JUMP_MAX] size, per cell."""
    most = int(counts.max())
    if most == 0:
        return np.zeros(counts.shape)
    sizes = rng.uniform(JUMP_MIN, JUMP_MAX, (*counts.shape, most))
    signs = rng.choice(np.array([-1.0, 1.0]), (*counts.shape, most))
    used = np.arange(most) < counts[..., None]
    total: FloatArray = (sizes * signs * used).sum(axis=-1)
    return total


class SimFeed(FeedState):
    """Simulated marks and funding for local play with no network; see the module docstring for the model."""

    name = "sim"

    def __init__(
        self,
        symbols: Mapping[str, SymbolSpec] = DEFAULT_SIM_SYMBOLS,
        *,
        seed: int = 0,
        start: datetime,
        step_seconds: float = 1.0,
        advance_step: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be a timezone-aware UTC datetime")
        if seed < 0 or step_seconds <= 0 or not symbols:
            raise ValueError("seed must be ≥ 0, step_seconds > 0 and at least one symbol given")
        fine = round(advance_step / step_seconds)
        if fine < 1 or abs(fine * step_seconds - advance_step) > 1e-9 * advance_step:
            raise ValueError("advance_step must be a whole multiple of step_seconds")
        self._specs = {symbol: _spec(value) for symbol, value in symbols.items()}
        self._symbols = list(self._specs)
        super().__init__({s: _on_tick_grid(float(v.start), v.tick) for s, v in self._specs.items()})
        self._path = SimPath(list(self._specs.values()), seed, advance_step, fine)
        self._start, self._step_seconds, self._fine = start, step_seconds, fine
        self._step = 0
        self._sleep = sleep
        self._premium = self._path.at(0)[1]

    @property
    def now(self) -> datetime:
        """The feed's market time."""
        return self._start + timedelta(seconds=self._step * self._step_seconds)

    def volatility(self, symbol: str) -> float:
        """Configured annualised volatility of a symbol's log returns."""
        return self._specs[symbol].vol

    def correlation(self, first: str, second: str) -> float:
        """Configured correlation of two symbols' log returns."""
        if first == second:
            return 1.0
        return self._specs[first].loading * self._specs[second].loading

    def premium(self, symbol: str) -> Decimal:
        """The simulated premium index P from which the funding rate follows."""
        column = self._symbols.index(symbol) if symbol in self._specs else None
        if column is None:
            raise KeyError(symbol)
        return Decimal(f"{self._premium[column]:.8f}")  # 8 decimals, as Binance publishes rates

    def funding_rate(self, symbol: str) -> Decimal:
        if symbol not in self._specs:
            return DEFAULT_FUNDING_RATE
        return funding_from_premium(self.premium(symbol))

    def advance(self, until: datetime) -> list[Tick]:
        """Step market time to `until`: a tick per `step_seconds` for spans up to `advance_step`, else a tick
        per `advance_step` plus one at `until`. Each tick carries only the marks that moved a tick or more."""
        target = math.floor((until - self._start).total_seconds() / self._step_seconds + 1e-9)
        if target <= self._step:
            return []
        return [self._emit(step) for step in self._steps_to(target)]

    def _steps_to(self, target: int) -> Iterable[int]:
        if target - self._step <= self._fine:
            return range(self._step + 1, target + 1)
        grid = range((self._step // self._fine + 1) * self._fine, target + 1, self._fine)
        return [*grid, target] if target % self._fine else grid

    def _emit(self, step: int) -> Tick:
        log_marks, premium = self._path.at(step)
        self._step = step
        self._premium = premium
        marks = {}
        for symbol, log_mark in zip(self._symbols, log_marks.tolist(), strict=True):
            mark = _on_tick_grid(math.exp(log_mark), self._specs[symbol].tick)
            if mark != self.mark(symbol):
                marks[symbol] = mark
        return self.apply(Tick(at=self.now, marks=marks))

    async def run(self, on_tick: TickHandler, clock: Clock) -> None:
        """Follow the clock: every `step_seconds` of wall time, step market time up to `clock.now()`."""
        while True:
            await self._sleep(self._step_seconds)
            for tick in self.advance(clock.now()):
                await on_tick(tick)
