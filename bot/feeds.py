"""Choose the price feed named by PRICE_FEED (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from core.domain.instruments import Catalog
from core.market.feed import FeedState, ManualFeed
from core.ports import PriceFeed


class FeedSpecError(ValueError):
    """PRICE_FEED names no feed we have, or its options are wrong."""


def build_feed(spec: str, catalog: Catalog, start: datetime, saved_marks: Mapping[str, Decimal]) -> PriceFeed:
    kind, _, option = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "manual":
        return ManualFeed(saved_marks)
    if kind == "sim":
        from core.market.sim import DEFAULT_SIM_SYMBOLS, SimFeed

        symbols = {s: v for s, v in DEFAULT_SIM_SYMBOLS.items() if s in catalog.instruments}
        seed = int(option) if option.isdigit() else 7
        return SimFeed(symbols=symbols, seed=seed, start=start)
    if kind == "replay":
        from core.market.replay import ReplayFeed, parse_replay_spec

        paths, speed = parse_replay_spec(spec)
        return ReplayFeed(paths, speed=speed)
    if kind == "live":
        try:
            from bot.live import LiveFeed
        except ImportError as exc:
            raise FeedSpecError("the live feed needs ccxt: install the live extra (pip install -e '.[live]')") from exc
        return LiveFeed.from_spec(spec, catalog)
    raise FeedSpecError(f"PRICE_FEED '{spec}' is not one of sim, manual, replay:PATH, live[:EXCHANGE]")


def as_state(feed: PriceFeed) -> FeedState:
    if not isinstance(feed, FeedState):
        raise TypeError("every feed derives from FeedState")
    return feed
