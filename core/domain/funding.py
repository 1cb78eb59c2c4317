"""Funding (DESIGN §2): every 8 h at 00:00, 08:00, 16:00 UTC; payment = notional × rate, longs pay when
the rate is positive; isolated funding moves the position margin, cross funding moves the wallet."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from core.domain.money import money

INTERVAL = timedelta(hours=8)


def payment(side: int, qty: Decimal, mark: Decimal, rate: Decimal) -> Decimal:
    """What the position receives (negative: pays)."""
    return money(-side * qty * mark * rate)


def funding_times(after: datetime, until: datetime) -> list[datetime]:
    """Funding times t with after < t ≤ until."""
    day = after.replace(hour=0, minute=0, second=0, microsecond=0)
    times = []
    moment = day
    while moment <= until:
        if moment > after:
            times.append(moment)
        moment += INTERVAL
    return times
