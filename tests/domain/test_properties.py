"""Money invariants (DESIGN §2) over random accounts, positions and marks, with the default Binance brackets so that
bracket switches are exercised; the ledger invariants run through the services on a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.clock import VirtualClock
from core.domain.instruments import load_catalog
from core.domain.money import ZERO, floor_to_step, money
from core.domain.positions import Position, evaluate, isolated_liquidation_due, liquidate_cross, liquidate_isolated
from core.domain.trading import plan_fill
from core.errors import Refused
from core.market.feed import ManualFeed
from core.services import market, trading
from core.services.core import Core, Settings
from core.storage.db import Database
from tests.conftest import STARTING_MARKS, T0, ledger_sums, make_actor

D = Decimal
CATALOG = load_catalog()
SYMBOLS = sorted(CATALOG.symbols)
REFERENCE = {"BTC": D(60000), "ETH": D(3000), "SOL": D(150), "BNB": D(600), "XRP": D("0.5"), "DOGE": D("0.2")}
TOLERANCE = D("1e-9")
PROPERTIES = settings(max_examples=150, deadline=None)


def relative_error(value: Decimal, expected: Decimal) -> Decimal:
    return abs(value - expected) / abs(expected)


def price_near(symbol: str, percent: int) -> Decimal:
    instrument = CATALOG.instruments[symbol]
    return max(instrument.tick_size, floor_to_step(REFERENCE[symbol] * percent / 100, instrument.tick_size))


@st.composite
def positions(draw: st.DrawFn, symbol: str | None = None, mode: str | None = None) -> Position:
    """A valid open position: lot-sized quantity, leverage allowed by its bracket, isolated margin ≥ IM."""
    symbol = symbol or draw(st.sampled_from(SYMBOLS))
    instrument = CATALOG.instruments[symbol]
    entry = price_near(symbol, draw(st.integers(20, 500)))
    # notionals from 10 USDT to 900M USDT: every bracket of every symbol is reachable
    notional = D(draw(st.integers(1, 9))) * D(10) ** draw(st.integers(1, 8))
    qty = max(instrument.lot_size, floor_to_step(notional / entry, instrument.lot_size))
    leverage = draw(st.integers(1, instrument.max_leverage_for(qty * entry)))
    side = draw(st.sampled_from([1, -1]))
    chosen = mode or draw(st.sampled_from(["isolated", "cross"]))
    position = Position(symbol, side, qty, entry, leverage, chosen)  # type: ignore[arg-type]
    if chosen == "isolated":
        extra = D(draw(st.integers(0, 200))) / 100  # 0–200 % of IM added
        position = replace(position, margin=money(position.initial_margin() * (1 + extra)))
    return position


def mark_for(position: Position, percent: int) -> Decimal:
    instrument = CATALOG.instruments[position.symbol]
    return max(instrument.tick_size, floor_to_step(position.entry_price * percent / 100, instrument.tick_size))


@st.composite
def accounts(draw: st.DrawFn, mode: str | None = None) -> tuple[Decimal, list[Position], dict[str, Decimal]]:
    """(wallet, positions on distinct symbols, marks); the cross wallet balance is never negative."""
    symbols = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=4, unique=True))
    held = [draw(positions(symbol=s, mode=mode)) for s in symbols]
    marks = {p.symbol: mark_for(p, draw(st.integers(5, 300))) for p in held}
    cross_im = sum((p.initial_margin() for p in held if p.mode == "cross"), ZERO)
    cross_wallet = money(cross_im * D(draw(st.integers(0, 300))) / 100)
    wallet = cross_wallet + sum((p.margin for p in held if p.mode == "isolated"), ZERO)
    return wallet, held, marks


@PROPERTIES
@given(position=positions(mode="isolated"), percent=st.integers(1, 400), cross_wallet=st.integers(0, 10**6))
def test_an_isolated_position_never_loses_more_than_its_margin(
    position: Position, percent: int, cross_wallet: int
) -> None:
    """DESIGN §2: "Only PM can be lost": liquidated, exactly PM goes; closed before that, less than PM goes."""
    mark = mark_for(position, percent)
    wallet = D(cross_wallet) + position.margin
    view = evaluate(wallet, [position], {position.symbol: mark}, CATALOG).position(position.symbol)
    assert view is not None
    if isolated_liquidation_due(view):
        outcome = liquidate_isolated(view)
        assert outcome.lost == position.margin
        assert outcome.wallet_change == -position.margin
        return
    closing = replace(position, side=-position.side, entry_price=mark, margin=ZERO)
    fill = plan_fill(position, closing, mark, CATALOG.fees.taker, D(cross_wallet))
    assert fill.position is None
    assert -fill.wallet_change <= position.margin


@PROPERTIES
@given(account=accounts())
def test_a_cross_liquidation_never_touches_an_isolated_position(
    account: tuple[Decimal, list[Position], dict[str, Decimal]],
) -> None:
    """DESIGN §2 / Binance Liquidation Protocols: a cross liquidation closes every cross position and only those;
    the isolated margins stay whole in the wallet, which never goes below zero."""
    wallet, held, marks = account
    view = evaluate(wallet, held, marks, CATALOG)
    outcome = liquidate_cross(view, CATALOG.fees.liquidation_clearance)
    cross = {p.symbol for p in held if p.mode == "cross"}
    isolated_margin = sum((p.margin for p in held if p.mode == "isolated"), ZERO)
    assert {v.position.symbol for v in outcome.closed} == cross
    assert all(entry.symbol is None or entry.symbol in cross for entry in outcome.entries)
    after = wallet + outcome.wallet_change
    assert after >= isolated_margin >= 0
    fee = -sum((e.amount for e in outcome.entries if e.kind == "liquidation"), ZERO)
    liquidated = sum((v.notional for v in outcome.closed), ZERO)
    assert 0 <= fee <= money(liquidated * CATALOG.fees.liquidation_clearance)


@PROPERTIES
@given(account=accounts(mode="cross"))
def test_at_a_computed_cross_liquidation_price_the_margin_ratio_is_100_percent(
    account: tuple[Decimal, list[Position], dict[str, Decimal]],
) -> None:
    """DESIGN §2 cross LP formula (Binance FAQ b3c689c1…), the others held at their marks: at LPᵢ the account's
    margin ratio AMM / MB is 1 (relative error ≤ 1e-9), whichever bracket the LP falls in."""
    wallet, held, marks = account
    view = evaluate(wallet, held, marks, CATALOG)
    for position_view in view.positions:
        lp = position_view.liquidation_price
        if lp is None:
            continue
        at_lp = evaluate(wallet, held, {**marks, position_view.position.symbol: lp}, CATALOG)
        assert at_lp.margin_ratio is not None
        assert relative_error(at_lp.margin_ratio, D(1)) <= TOLERANCE


@PROPERTIES
@given(position=positions(mode="isolated"))
def test_at_an_isolated_liquidation_price_margin_plus_pnl_equals_maintenance(position: Position) -> None:
    """DESIGN §2 isolated LP = (PM + cum − s·q·EP) / (q·mmr − s·q): at LP, PM + uPnL = MM (relative error ≤ 1e-9),
    with MM from the bracket of the notional at LP; no LP only when a long can never reach it."""
    view = evaluate(position.margin, [position], {position.symbol: position.entry_price}, CATALOG)
    lp = view.positions[0].liquidation_price
    if lp is None:
        assert position.side == 1 and position.margin >= position.qty * position.entry_price
        return
    at_lp = evaluate(position.margin, [position], {position.symbol: lp}, CATALOG).positions[0]
    assert relative_error(at_lp.margin + at_lp.unrealized_pnl, at_lp.maintenance_margin) <= TOLERANCE


# --- the ledger, through the services on a real SQLite file ---

LEDGER_SYMBOLS = ["BTC", "ETH", "DOGE"]
USERS = 2

Op = tuple[Any, ...]
OPENS = st.tuples(st.just("open"), st.integers(0, USERS - 1), st.sampled_from(LEDGER_SYMBOLS),
                  st.sampled_from([1, -1]), st.one_of(st.integers(10, 3000), st.integers(3000, 20000)),
                  st.sampled_from([None, 3, 10, 25, 50, 100]), st.sampled_from([None, "isolated", "cross"]))
OPS = st.one_of(
    OPENS,
    OPENS,
    st.tuples(st.just("close"), st.integers(0, USERS - 1), st.sampled_from(LEDGER_SYMBOLS),
              st.sampled_from([25, 50, 100])),
    st.tuples(st.just("margin"), st.integers(0, USERS - 1), st.sampled_from(LEDGER_SYMBOLS), st.booleans(),
              st.integers(1, 5000)),
    st.tuples(st.just("price"), st.sampled_from(LEDGER_SYMBOLS),
              st.one_of(st.sampled_from([25, 50, 150, 300]), st.integers(90, 110))),
)

# Cross profit funds an isolated position whose liquidation then takes more than the wallet holds.
NEGATIVE_WALLET = [
    ("open", 0, "BTC", 1, 3000, 10, "cross"),  # 0.5 BTC @ 60,000: IM 3,000, fee 15
    ("price", "BTC", 150),  # BTC 90,000: cross uPnL +15,000, available 21,985
    ("open", 0, "ETH", 1, 15000, 2, "isolated"),  # 10 ETH @ 3,000: PM 15,000 > wallet 9,970
    ("price", "ETH", 30),  # ETH 900: the isolated position is liquidated and loses its 15,000
]


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database file that every example copies (migrating once keeps the property fast)."""
    path = tmp_path_factory.mktemp("template") / "dojo.sqlite3"

    async def migrate() -> None:
        db = Database(path)
        await db.open()
        await db.close()

    asyncio.run(migrate())
    return path


async def apply(core: Core, op: Op) -> None:
    kind = op[0]
    if kind == "price":
        _, symbol, percent = op
        mark = core.feed.mark(symbol)
        assert mark is not None
        tick = CATALOG.instruments[symbol].tick_size
        await market.set_prices(core, None, {symbol: max(tick, floor_to_step(mark * percent / 100, tick))})
        return
    actor = make_actor(f"user{op[1]}")
    if kind == "open":
        _, _, symbol, side, amount, leverage, mode = op
        await trading.open_position(core, actor, symbol, side, trading.Amount(D(amount), False), leverage, mode)
    elif kind == "close":
        await trading.close_position(core, actor, op[2], pct=D(op[3]))
    else:
        await trading.change_margin(core, actor, op[2], D(op[4]), op[3])


async def run_ops(template: Path, ops: Sequence[Op]) -> list[dict[int, tuple[Decimal, Decimal]]]:
    """Run the operations on a copy of the template database; (ledger sum, wallet) per account after each."""
    with tempfile.TemporaryDirectory(dir=template.parent) as directory:
        path = Path(directory) / "dojo.sqlite3"
        shutil.copyfile(template, path)
        db = Database(path)
        await db.open()
        try:
            core = Core(db=db, catalog=CATALOG, feed=ManualFeed(STARTING_MARKS), clock=VirtualClock(T0),
                        settings=Settings(starting_balance=D(10000)))
            for name in range(USERS):
                await trading.set_mode(core, make_actor(f"user{name}"), None, "isolated")
            observed = [await ledger_sums(core)]
            for op in ops:
                with contextlib.suppress(Refused):
                    await apply(core, op)
                observed.append(await ledger_sums(core))
            return observed
        finally:
            await db.close()


LEDGER_PROPERTIES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@LEDGER_PROPERTIES
@given(ops=st.lists(OPS, min_size=3, max_size=16))
@example(ops=NEGATIVE_WALLET)
def test_the_ledger_sums_to_every_wallet_after_any_sequence_of_commands(template_db: Path, ops: list[Op]) -> None:
    """DESIGN §2: "Every balance change is a ledger row, so money is conserved and auditable": after every
    open, close, margin move and price move (with its liquidations), Σ ledger.amount = wallet of every account."""
    for snapshot in asyncio.run(run_ops(template_db, ops)):
        for ledger_sum, wallet in snapshot.values():
            assert ledger_sum == wallet


@LEDGER_PROPERTIES
@given(ops=st.lists(OPS, min_size=3, max_size=16))
@example(ops=NEGATIVE_WALLET)
def test_no_wallet_is_ever_negative_after_any_sequence_of_commands(template_db: Path, ops: list[Op]) -> None:
    """DESIGN §2: "A wallet never goes below zero: a gap past bankruptcy is absorbed by the insurance fund"."""
    for snapshot in asyncio.run(run_ops(template_db, ops)):
        for _, wallet in snapshot.values():
            assert wallet >= 0
