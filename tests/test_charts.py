"""Charts: curves computed by the engine in core, valid small PNGs drawn by bot/charts.py."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import matplotlib.image
import pytest

from bot.charts import render_account, render_position, warm_up
from core.clock import VirtualClock
from core.domain.instruments import load_catalog
from core.domain.positions import Position
from core.domain.whatif import as_mode, compare, outcome_at
from core.errors import Refused
from core.market.feed import ManualFeed
from core.results import Actor
from core.services import charts, market, teaching, trading
from core.services.core import Core, Settings
from core.storage.db import Database

D = Decimal
CATALOG = load_catalog()
RATE = CATALOG.fees.liquidation_clearance
ALICE = Actor("console", "alice", "alice", chat_id="private:alice")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 200_000


@pytest.fixture
async def core(tmp_path):  # type: ignore[no-untyped-def]
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    c = Core(db=db, catalog=CATALOG, feed=ManualFeed({"BTC": D(60000), "ETH": D(3000)}),
             clock=VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)), settings=Settings())
    yield c
    await db.close()


def _check_png(png: bytes, what: str, elapsed: float) -> None:
    print(f"{what}: {len(png)} bytes in {elapsed * 1000:.0f} ms")
    assert png.startswith(PNG_MAGIC)
    assert len(png) <= MAX_BYTES
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert pixels.shape[0] > 300 and pixels.shape[1] > 500


async def _open_book(core: Core) -> None:
    await trading.open_position(core, ALICE, "BTC", 1, trading.Amount(D(1000), False), 10, "isolated")
    await trading.open_position(core, ALICE, "ETH", -1, trading.Amount(D(500), False), 5, "cross")


async def test_position_curve_marks_the_engines_liquidation_prices_and_caps_isolated_at_its_margin(core: Core) -> None:
    await _open_book(core)
    chart = await charts.position_chart(core, ALICE, "BTC")
    from core.services.accounts import portfolio

    view = (await portfolio(core, ALICE)).account
    positions = [v.position for v in view.positions]
    marks = {"BTC": D(60000), "ETH": D(3000)}
    pair = compare(view.wallet_balance, positions, marks, CATALOG, RATE).positions[0]
    assert chart.isolated_liquidation_price == pair.isolated_liquidation_price
    assert chart.cross_liquidation_price == pair.cross_liquidation_price
    assert chart.isolated_worst == -positions[0].margin
    assert chart.mark == D(60000)
    prices = [p.price for p in chart.points]
    assert prices == sorted(prices)
    lp = chart.isolated_liquidation_price
    assert lp is not None and any(p <= lp for p in prices) and any(p > lp for p in prices)
    for point in chart.points[::9]:
        for mode, value in (("isolated", point.isolated), ("cross", point.cross)):
            copies = as_mode(positions, mode)  # type: ignore[arg-type]
            at = outcome_at(view.wallet_balance, copies, {**marks, "BTC": point.price}, CATALOG, RATE, mode)  # type: ignore[arg-type]
            entry = outcome_at(view.wallet_balance, copies, {**marks, "BTC": D(60000)}, CATALOG, RATE, mode)  # type: ignore[arg-type]
            assert value == at.equity_after - entry.equity_after


async def test_position_chart_is_a_small_valid_png(core: Core) -> None:
    await _open_book(core)
    chart = await charts.position_chart(core, ALICE, "ETH")
    warm_up()  # fonts and caches, as the bot does at start-up
    started = time.perf_counter()
    png = render_position(chart)
    _check_png(png, "position chart", time.perf_counter() - started)


async def test_an_inline_position_can_be_charted_and_an_absent_one_is_refused(core: Core) -> None:
    chart = await charts.position_chart(core, ALICE, leg=teaching.Leg("BTC", -1, D(200), 20))
    assert chart.source == "inline" and chart.side == -1
    assert chart.isolated_worst == -chart.isolated_margin
    lowest = min(chart.points, key=lambda p: p.cross)
    assert (chart.cross_worst, chart.cross_worst_price) == (lowest.cross, lowest.price)
    with pytest.raises(Refused) as absent:
        await charts.position_chart(core, ALICE, "ETH")
    assert absent.value.code == "no_position"


async def test_account_chart_follows_the_ledger_and_ends_with_todays_equity(core: Core) -> None:
    await _open_book(core)
    assert isinstance(core.clock, VirtualClock)
    core.clock.advance(timedelta(hours=5))
    await market.set_prices(core, None, {"BTC": D(50000)})  # liquidates the isolated BTC long
    chart = await charts.account_chart(core, ALICE)
    assert chart.points[0].kind == "reset" and chart.points[0].wallet == D(10000)
    assert chart.points[-1].kind == "now" and chart.points[-1].wallet == chart.equity
    assert "liquidation" in {p.kind for p in chart.points}
    assert chart.equity == chart.wallet + chart.unrealized_pnl
    warm_up()
    started = time.perf_counter()
    png = render_account(chart)
    _check_png(png, "account chart", time.perf_counter() - started)


def test_price_grid_puts_a_point_on_each_side_of_every_liquidation_price() -> None:
    position = Position("BTC", 1, D("0.2"), D(50000), 10, "isolated", D(1000))
    grid = charts.price_grid(position, D(50000), (D("45180.72"), None), D("0.1"))
    assert D("45180.7") in grid and D("45180.8") in grid
    assert grid[0] < D(25000)  # cross never liquidates: the chart reaches far below
    assert all(p > 0 for p in grid)
