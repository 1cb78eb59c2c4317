"""Market time moving: crash replays liquidate at the exact path point, hedges survive in cross, funding
every 8 hours, stale live data refuses trading (issue: market data, orders and funding)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from bot.dispatch import handle
from bot.jobs import play, run_until
from core.market.feed import ManualFeed
from core.market.replay import ReplayFeed
from core.services.core import Core
from tests.conftest import T0, table_snapshot

HOUR_MS = 3_600_000
START_MS = int((T0 + timedelta(hours=1)).timestamp() * 1000)  # candles after the test clock's start


def candles(path: Path, rows: list[tuple[int, int, int, int]]) -> Path:
    lines = ["timestamp_ms,open,high,low,close"]
    lines += [f"{START_MS + i * HOUR_MS},{o},{h},{lo},{c}" for i, (o, h, lo, c) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


async def rows(core: Core, sql: str) -> list[tuple[object, ...]]:
    async with core.db.transaction() as tx:
        return [tuple(r) for r in await tx.execute_fetchall(sql)]


async def test_a_crash_replay_liquidates_at_the_candle_and_path_point_where_the_mark_crosses(core, actor, tmp_path):
    """Long 0.166 BTC at 60,000, 10x isolated: liquidation price 54,216.87. The second candle goes
    open 59,500 → high 59,800 (nearer the open) → low 54,000 → close 55,000: the low crosses."""
    alice = actor("alice")
    await handle(core, alice, "/long BTC 1000 10x")
    btc = candles(tmp_path / "BTCUSDT_crash_1h.csv", [(60000, 60500, 59000, 59500), (59500, 59800, 54000, 55000)])
    await play(core, core.clock, ReplayFeed([btc]).ticks())
    [(price, at)] = await rows(core, "SELECT price, created_at FROM trades WHERE kind = 'liquidation'")
    assert D(str(price)) == D(54000)  # the second candle's low, its third path point
    second_candle = datetime.fromtimestamp((START_MS + HOUR_MS) / 1000, tz=T0.tzinfo)
    assert datetime.fromisoformat(str(at)) == second_candle + timedelta(minutes=40)  # 2/3 into the candle
    assert await rows(core, "SELECT * FROM positions") == []


async def test_a_hedged_cross_account_survives_the_crash_that_liquidates_the_same_legs_in_isolated(
    core, actor, tmp_path
):
    """Long BTC and short ETH, 20,000 USDT of notional each at 20x: both fall 10 %. In cross the short's gain
    pays the long's loss; in isolated the long has only its own 1,000 USDT and is liquidated."""
    btc = candles(tmp_path / "BTCUSDT_drop_1h.csv", [(60000, 60000, 54000, 54000)])
    eth = candles(tmp_path / "ETHUSDT_drop_1h.csv", [(3000, 3000, 2700, 2700)])
    hedger, solo = actor("hedger"), actor("solo")
    for line in ("/mode cross", "/long BTC 1000 20x", "/short ETH 1000 20x"):
        await handle(core, hedger, line)
    for line in ("/long BTC 1000 20x", "/short ETH 1000 20x"):
        await handle(core, solo, line)
    await play(core, core.clock, ReplayFeed([btc, eth]).ticks())
    held = await rows(core, "SELECT u.platform_user_id, p.symbol FROM positions p JOIN accounts a "
                            "ON a.id = p.account_id JOIN users u ON u.id = a.user_id ORDER BY 1, 2")
    assert held == [("hedger", "BTC"), ("hedger", "ETH"), ("solo", "ETH")]


async def test_advancing_a_day_pays_three_fundings_moving_isolated_margin_and_the_cross_wallet(core, actor, feed):
    """Funding at 16:00, 00:00 and 08:00 UTC: payment = notional × rate, longs pay a positive rate."""
    assert isinstance(feed, ManualFeed)
    feed.set_funding_rate("BTC", D("0.0001"))
    feed.set_funding_rate("ETH", D("0.0001"))
    alice = actor("alice")
    await handle(core, alice, "/long BTC 0.1btc 10x")  # isolated, notional 6,000
    await handle(core, alice, "/short ETH 2eth 10x cross")  # cross, notional 6,000
    [(margin_before,)] = await rows(core, "SELECT margin FROM positions WHERE symbol = 'BTC'")
    await run_until(core, core.clock, core.clock.now() + timedelta(hours=24))
    funding = await rows(core, "SELECT symbol, amount FROM ledger WHERE kind = 'funding' ORDER BY id")
    assert [s for s, _ in funding] == ["BTC", "ETH"] * 3
    assert all(D(str(a)) == (D("-0.6") if s == "BTC" else D("0.6")) for s, a in funding)  # long pays, short gets
    [(margin,)] = await rows(core, "SELECT margin FROM positions WHERE symbol = 'BTC'")
    assert D(str(margin)) == D(str(margin_before)) - D("1.8")  # isolated funding moves the position margin


class StaleFeed(ManualFeed):
    """A live feed that has heard nothing for over 30 s."""

    name = "live"

    def is_stale(self, now: datetime) -> bool:
        return True


async def test_stale_market_data_refuses_trading_and_changes_nothing(core, actor):
    core.feed = StaleFeed({"BTC": D(60000)})
    alice = actor("alice")
    await handle(core, alice, "/start")
    before = await table_snapshot(core)
    reply = await handle(core, alice, "/long BTC 100 10x")
    assert reply.type == "error" and reply.data["code"] == "stale_market"
    assert "stale" in reply.text
    assert await table_snapshot(core) == before
