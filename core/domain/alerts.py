"""Alert decisions: thresholds with hysteresis, quiet hours, price crossings, ways out, merging of pushes.

Pure and synchronous: ratios and prices are Decimal, `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Literal, Protocol, TypeVar

from core.domain.positions import AccountView, PositionView
from core.errors import Refused

HUNDRED = Decimal(100)
DEFAULT_WARNING = Decimal("0.70")
DEFAULT_DANGER = Decimal("0.90")
HYSTERESIS = Decimal("0.10")  # a level re-arms only once the ratio is 10 points below it
MIN_WARNING_PCT = 15
MAX_DANGER_PCT = 99

# Push kinds a user can switch; liquidations are always delivered and cannot be switched off.
KIND_DEFAULTS: Mapping[str, bool] = {
    "margin_warning": True,
    "margin_danger": True,
    "price_alert": True,
    "order_filled": True,
    "funding": False,
    "digest": False,
    "quiz_reminder": False,
}
KIND_WORDS = {
    "warning": "margin_warning", "warnings": "margin_warning", "margin_warning": "margin_warning",
    "danger": "margin_danger", "margin_danger": "margin_danger",
    "price": "price_alert", "price_alert": "price_alert", "price_alerts": "price_alert", "alerts": "price_alert",
    "fills": "order_filled", "fill": "order_filled", "order_filled": "order_filled", "orders": "order_filled",
    "funding": "funding", "digest": "digest",
    "quiz": "quiz_reminder", "quiz_reminder": "quiz_reminder", "reminders": "quiz_reminder",
}
ALWAYS_DELIVERED = "liquidation"

Direction = Literal["above", "below"]


@dataclass(frozen=True)
class AlertSettings:
    """A user's push settings; `kinds` holds only what differs from KIND_DEFAULTS."""

    warning: Decimal = DEFAULT_WARNING
    danger: Decimal = DEFAULT_DANGER
    quiet: tuple[int, int] | None = None  # UTC hours [start, end)
    kinds: Mapping[str, bool] = field(default_factory=dict)

    def enabled(self, kind: str) -> bool:
        if kind == ALWAYS_DELIVERED:
            return True
        return self.kinds.get(kind, KIND_DEFAULTS.get(kind, True))

    def all_kinds(self) -> dict[str, bool]:
        return {kind: self.enabled(kind) for kind in KIND_DEFAULTS}


# ------------------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class LevelState:
    """Which levels have fired and are not yet re-armed."""

    warned: bool = False
    endangered: bool = False


def decide_level(
    ratio: Decimal | None, state: LevelState, warning: Decimal, danger: Decimal
) -> tuple[LevelState, str | None]:
    """The new state and the push to send (margin_danger, margin_warning or None) for a margin ratio.

    `ratio` None is infinite (no equity left). A level fires once; it re-arms when the ratio falls more than
    HYSTERESIS below it. Danger implies warning: a jump straight past danger sends only the danger push.
    """
    warned = state.warned and not _rearmed(ratio, warning)
    endangered = state.endangered and not _rearmed(ratio, danger)
    if _reached(ratio, danger) and not endangered:
        return LevelState(True, True), "margin_danger"
    if _reached(ratio, warning) and not warned:
        return LevelState(True, endangered), "margin_warning"
    return LevelState(warned, endangered), None


def _reached(ratio: Decimal | None, threshold: Decimal) -> bool:
    return ratio is None or ratio >= threshold


def _rearmed(ratio: Decimal | None, threshold: Decimal) -> bool:
    return ratio is not None and ratio < threshold - HYSTERESIS


def threshold_from_percent(word_value: Decimal, which: str, settings: AlertSettings) -> AlertSettings:
    """Settings with a new warning or danger level given in percent; refused when the pair stops making sense."""
    example = "/settings warning 60" if which == "warning" else "/settings danger 85"
    if not MIN_WARNING_PCT <= word_value <= MAX_DANGER_PCT:
        raise Refused(
            "bad_threshold",
            f"A {which} level must be from {MIN_WARNING_PCT} to {MAX_DANGER_PCT} % (100 % is liquidation).",
            example,
        )
    value = word_value / HUNDRED
    warning = value if which == "warning" else settings.warning
    danger = value if which == "danger" else settings.danger
    if warning >= danger:
        raise Refused(
            "bad_threshold",
            f"The warning level ({pct(warning)}) must stay below the danger level ({pct(danger)}).",
            f"/settings warning {int(danger * HUNDRED) - 10}" if which == "warning"
            else f"/settings danger {min(MAX_DANGER_PCT, int(warning * HUNDRED) + 10)}",
        )
    return AlertSettings(warning, danger, settings.quiet, settings.kinds)


# ------------------------------------------------------------------------------------- quiet hours


def check_quiet(start: int, end: int) -> tuple[int, int]:
    if not (0 <= start <= 23 and 0 <= end <= 23) or start == end:
        raise Refused("bad_quiet_hours", "Quiet hours are two different UTC hours from 0 to 23.",
                      "/settings quiet 23-7")
    return start, end


def is_quiet(now: datetime, quiet: tuple[int, int] | None) -> bool:
    """True inside [start, end) UTC hours; a range may wrap past midnight (23-7)."""
    if quiet is None:
        return False
    start, end = quiet
    hour = now.hour
    return start <= hour < end if start < end else hour >= start or hour < end


def quiet_ends(now: datetime, quiet: tuple[int, int] | None) -> datetime | None:
    """When the current quiet period ends; None when not in quiet hours."""
    if quiet is None or not is_quiet(now, quiet):
        return None
    end = now.replace(hour=quiet[1], minute=0, second=0, microsecond=0)
    return end if end > now else end + timedelta(days=1)


def held_until(kind: str, now: datetime, settings: AlertSettings) -> datetime | None:
    """Quiet hours hold every push except liquidations until they end."""
    if kind == ALWAYS_DELIVERED:
        return None
    return quiet_ends(now, settings.quiet)


# ------------------------------------------------------------------------------------- prices


def crossed(direction: str, target: Decimal, mark: Decimal) -> bool:
    """A price alert fires when the mark reaches its price from the side it was set on."""
    return mark >= target if direction == "above" else mark <= target


# ------------------------------------------------------------------------------------- health


@dataclass(frozen=True)
class HealthLine:
    """One subject's health: the cross account or one position."""

    symbol: str | None  # None: the cross account as a whole
    mode: str
    side: str | None
    margin_ratio: Decimal | None  # None: infinite
    mark_price: Decimal | None
    liquidation_price: Decimal | None
    distance_pct: Decimal | None  # how far the mark may move against the position, in % of the mark


def distance_pct(view: PositionView) -> Decimal | None:
    """How far the mark can move against the position before it is liquidated, in % of the mark."""
    lp = view.liquidation_price
    if lp is None or view.mark <= 0:
        return None
    return view.position.side * (view.mark - lp) / view.mark * HUNDRED


def position_ratio(account: AccountView, view: PositionView) -> Decimal | None:
    """Isolated: the position's own MM / (PM + uPnL); cross: the account's margin ratio."""
    return view.health if view.position.mode == "isolated" else account.margin_ratio


def health_lines(account: AccountView) -> tuple[HealthLine, ...]:
    lines: list[HealthLine] = []
    if account.cross_positions:
        lines.append(HealthLine(None, "cross", None, account.margin_ratio, None, None, None))
    for view in account.positions:
        p = view.position
        lines.append(
            HealthLine(p.symbol, p.mode, p.side_name, position_ratio(account, view), view.mark,
                       view.liquidation_price, distance_pct(view))
        )
    return tuple(lines)


def nearest(views: Sequence[PositionView]) -> PositionView | None:
    """The position closest to its liquidation price (in % of its mark)."""
    ranked = [(d, i) for i, v in enumerate(views) if (d := distance_pct(v)) is not None]
    return views[min(ranked)[1]] if ranked else (views[0] if views else None)


# ------------------------------------------------------------------------------------- ways out


@dataclass(frozen=True)
class WayOut:
    command: str
    text: str


def target_ratio(settings: AlertSettings) -> Decimal:
    """Where a way out aims: 20 points under the warning level (at least half of it), so the alert re-arms."""
    return max(settings.warning / 2, settings.warning - 2 * HYSTERESIS)


def isolated_way_out(view: PositionView, available: Decimal, target: Decimal) -> WayOut:
    """Add margin when the wallet allows it; reducing an isolated position leaves its ratio where it is,
    so otherwise close it."""
    symbol = view.position.symbol
    need = view.maintenance_margin / target - (view.margin + view.unrealized_pnl)
    amount = max(Decimal(1), need.to_integral_value(rounding=ROUND_CEILING))
    if amount <= available:
        return WayOut(f"/margin {symbol} add {amount}",
                      f"adds {amount} USDT of margin and brings the ratio to about {pct(target)}")
    return WayOut(f"/close {symbol}",
                  f"closes it before it is liquidated (adding enough margin would take {amount} USDT, "
                  f"more than the {available:,.2f} USDT available)")


def cross_way_out(account: AccountView, target: Decimal) -> WayOut:
    """Reduce the cross position carrying the most maintenance margin by the share that reaches `target`."""
    biggest = max(account.cross_positions, key=lambda v: v.maintenance_margin)
    symbol = biggest.position.symbol
    excess = account.maintenance_margin - target * account.margin_balance
    if account.margin_balance <= 0 or biggest.maintenance_margin <= 0 or excess >= biggest.maintenance_margin:
        return WayOut(f"/close {symbol}", f"closes your largest cross position, {symbol}; then check /health")
    share = max(Decimal(1), (excess / biggest.maintenance_margin * HUNDRED).to_integral_value(rounding=ROUND_CEILING))
    return WayOut(f"/close {symbol} {share}%", f"brings the cross margin ratio to about {pct(target)}")


def ratio_pct(value: Decimal | None) -> str:
    """A margin ratio as people read it, always to the hundredth (4.00 %, 6.21 %), so ratios line up."""
    if value is None:
        return "∞"
    return f"{(value * HUNDRED).quantize(Decimal('0.01'))} %"


def pct(value: Decimal | None) -> str:
    """A level or target as a percentage for people: 70 %, 12.5 % (∞ for None)."""
    if value is None:
        return "∞"
    shown = (value * HUNDRED).quantize(Decimal("0.01"))
    return f"{shown.normalize():f} %" if shown == shown.to_integral_value() else f"{shown} %"


# ------------------------------------------------------------------------------------- merging


class Mergeable(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def user_id(self) -> int: ...

    @property
    def priority(self) -> int: ...

    @property
    def created_at(self) -> datetime: ...


M = TypeVar("M", bound=Mergeable)


def merge_groups(rows: Sequence[M], window: timedelta = timedelta(0)) -> list[list[M]]:
    """Pushes to one user created together (within `window` of the group's first) become one message.

    Each group lists its rows most urgent first; groups come most urgent first (then oldest first).
    """
    groups: list[list[M]] = []
    open_group: dict[int, list[M]] = {}
    for row in sorted(rows, key=lambda r: (r.user_id, r.created_at, r.id)):
        group = open_group.get(row.user_id)
        if group is None or row.created_at - group[0].created_at > window:
            group = []
            groups.append(group)
            open_group[row.user_id] = group
        group.append(row)
    for group in groups:
        group.sort(key=lambda r: (r.priority, r.id))
    groups.sort(key=lambda g: (g[0].priority, g[0].id))
    return groups


def merged_text(texts: Sequence[str]) -> str:
    return "\n\n".join(texts)
