"""The manual feed and what every feed shares: the 24 h change /price shows."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from core.market.feed import ManualFeed

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def test_the_24h_change_compares_with_the_mark_a_day_ago():
    feed = ManualFeed()
    for hour in range(30):  # a mark every hour: 100, 101, … 129
        feed.set_marks({"BTC": D(100 + hour)}, T0 + timedelta(hours=hour))
    # now 129 at hour 29; the sample a day before is hour 5's 105
    assert feed.change_24h("BTC") == D(129) / D(105) - 1
    assert feed.change_window() == timedelta(hours=24)


def test_a_young_feed_compares_with_its_first_mark_and_an_unknown_symbol_has_none():
    feed = ManualFeed()
    feed.set_marks({"ETH": D(2000)}, T0)
    feed.set_marks({"ETH": D(2100)}, T0 + timedelta(hours=2))
    assert feed.change_24h("ETH") == D("0.05")
    assert feed.change_window() == timedelta(hours=2)  # /price says "in 2h 00m", not "24h"
    assert feed.change_24h("SOL") is None

