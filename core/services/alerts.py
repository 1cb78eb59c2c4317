"""Alerts: margin health after every tick, price alerts, funding notices, daily digests, and their settings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from core.domain import alerts as rules
from core.domain.alerts import AlertSettings, HealthLine, LevelState, WayOut
from core.domain.money import plain
from core.domain.positions import AccountView, PositionView
from core.errors import Refused
from core.ports import Tick
from core.results import Actor
from core.services.core import Core, ensure_user, load, load_account
from core.services.notify import push
from core.storage import accounts as acc
from core.storage import alerts as store
from core.storage import positions as pos
from core.storage.alerts import PriceAlertRow, SavedLevel
from core.storage.db import Tx
from core.text import price, usdt

MAX_PRICE_ALERTS = 20


# ------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PriceAlertSet:
    id: int
    symbol: str
    direction: str
    price: Decimal
    mark: Decimal | None


@dataclass(frozen=True)
class PriceAlerts:
    alerts: tuple[PriceAlertRow, ...]
    marks: dict[str, Decimal]


@dataclass(frozen=True)
class PriceAlertRemoved:
    id: int
    symbol: str


@dataclass(frozen=True)
class AlertSettingsShown:
    settings: AlertSettings
    changed: str | None  # what this command changed; None when only shown


@dataclass(frozen=True)
class HealthReport:
    lines: tuple[HealthLine, ...]
    warning: Decimal
    danger: Decimal


# ------------------------------------------------------------------------------------------- the tick


async def on_tick(core: Core, tick: Tick) -> None:
    """After the liquidation sweep: margin alerts for accounts holding the tick's symbols, then price alerts."""
    symbols = sorted(tick.marks)
    if not symbols:
        return
    async with core.db.transaction() as tx:
        await store.rearm_closed(tx)
        account_ids = await _accounts_to_check(core, tx, tick, symbols)
    for account_id in account_ids:
        async with core.db.transaction() as tx:
            await check_margin(core, tx, account_id)
    await check_price_alerts(core, tick)


async def _accounts_to_check(core: Core, tx: Tx, tick: Tick, symbols: list[str]) -> list[int]:
    """Every account holding the symbols; with a risk index, only those its float screen puts near a level
    (less 10 points of hysteresis) plus those with a level raised (they may re-arm). Decimal decides."""
    index = core.risk_index
    if index is None:
        return await pos.accounts_holding(tx, symbols)
    floor = await store.lowest_warning(tx, rules.AlertSettings().warning) - rules.HYSTERESIS
    marks = {**core.feed.marks(), **tick.marks}
    screened = {account_id for account_id, _ in index.screen(marks, symbols, float(floor))}
    return sorted(screened | await store.accounts_with_raised_levels(tx))


@dataclass(frozen=True)
class _Subject:
    name: str  # "cross" or an isolated position's symbol
    episode: str
    ratio: Decimal | None
    view: PositionView | None  # isolated position; None for the cross account


def _subjects(view: AccountView, episodes: dict[str, tuple[int, str]]) -> list[_Subject]:
    subjects = []
    cross = [episodes.get(v.position.symbol, (0, "")) for v in view.cross_positions]
    if cross:
        subjects.append(_Subject("cross", min(cross)[1], view.margin_ratio, None))
    for v in view.positions:
        if v.position.mode == "isolated":
            subjects.append(_Subject(v.position.symbol, episodes.get(v.position.symbol, (0, ""))[1], v.health, v))
    return subjects


async def check_margin(core: Core, tx: Tx, account_id: int) -> int:
    """Decide every subject's alert level (in Decimal) and push what newly fired; returns pushes queued."""
    account = await acc.account_by_id(tx, account_id)
    user = await acc.user_by_id(tx, account.user_id)
    loaded = await load_account(core, tx, user, account)
    settings = await store.settings_for(tx, user.id)
    saved = await store.levels_of(tx, user.id)
    now = core.clock.now()
    pushed = 0
    for subject in _subjects(loaded.view, await store.position_episodes(tx, account_id)):
        before = saved.get(subject.name, SavedLevel(subject.episode, LevelState(), 0))
        state = before.state if before.episode == subject.episode else LevelState()
        after, kind = rules.decide_level(subject.ratio, state, settings.warning, settings.danger)
        level = SavedLevel(subject.episode, after, before.fired + (kind is not None))
        if level != before:
            await store.save_level(tx, user.id, subject.name, level, now)
        if kind is not None and settings.enabled(kind):
            text, data = describe_margin_alert(kind, loaded.view, subject.view, settings)
            await push(core, tx, user.id, kind, text, data, f"{kind}:{subject.name}:{level.fired}")
            pushed += 1
    return pushed


async def check_price_alerts(core: Core, tick: Tick) -> int:
    """Fire (once) and remove every price alert the tick's marks reached; returns how many fired."""
    fired = 0
    async with core.db.transaction() as tx:
        alerts = await store.price_alerts_for(tx, sorted(tick.marks))
        due = [a for a in alerts if rules.crossed(a.direction, a.price, tick.marks[a.symbol])]
        if not due:
            return 0
        settings = await store.settings_of(tx, {a.user_id for a in due})
        for alert in due:
            if not settings[alert.user_id].enabled("price_alert"):
                continue  # muted: it stays and fires once price alerts are switched on again
            if await store.remove_price_alert(tx, alert.id):
                text, data = describe_price_alert(alert, tick.marks[alert.symbol])
                await push(core, tx, alert.user_id, "price_alert", text, data, f"price_alert:{alert.id}")
                fired += 1
    return fired


# ------------------------------------------------------------------------------------------- wording


def describe_margin_alert(
    kind: str, account: AccountView, view: PositionView | None, settings: AlertSettings
) -> tuple[str, dict[str, object]]:
    """What a margin warning or danger push says: ratio, liquidation price and distance, one way out."""
    danger = kind == "margin_danger"
    level = settings.danger if danger else settings.warning
    target = rules.target_ratio(settings)
    head = "🚨 Margin danger" if danger else "⚠️ Margin warning"
    shown: PositionView | None = view
    if view is not None:
        p = view.position
        ratio = view.health
        where = f"{p.symbol} {p.side_name} {p.leverage}x isolated"
        way = rules.isolated_way_out(view, account.available_balance, target)
    else:
        ratio = account.margin_ratio
        where = "cross account"
        way = rules.cross_way_out(account, target)
        shown = rules.nearest(account.cross_positions)
    text = (f"{head} — {where}: margin ratio {rules.ratio_pct(ratio)} (your {'danger' if danger else 'warning'} level "
            f"is {rules.pct(level)}; liquidation at 100 %). {_liquidation_words(shown, view is None)} "
            f"Way out: {way.command} — {way.text}.")
    return text, _alert_data(ratio, level, shown, way, view is None)


def _liquidation_words(view: PositionView | None, cross: bool) -> str:
    if view is None:
        return ""
    lead = f"Nearest liquidation: {view.position.symbol} {view.position.side_name} at" if cross else "Liquidation at"
    distance = rules.distance_pct(view)
    if view.liquidation_price is None or distance is None:
        return f"No liquidation price for {view.position.symbol} at the current marks."
    way = "below" if view.position.side > 0 else "above"
    return f"{lead} {price(view.liquidation_price)}, {distance:.2f} % {way} the mark {price(view.mark)}."


def _alert_data(
    ratio: Decimal | None, level: Decimal, view: PositionView | None, way: WayOut, cross: bool
) -> dict[str, object]:
    return {
        "scope": "cross" if cross else "isolated",
        "symbol": view.position.symbol if view is not None else None,
        "margin_ratio": plain(ratio),
        "threshold": plain(level),
        "mark_price": plain(view.mark) if view is not None else None,
        "liquidation_price": plain(view.liquidation_price) if view is not None else None,
        "distance_pct": plain(rules.distance_pct(view)) if view is not None else None,
        "command": way.command,
    }


def describe_price_alert(alert: PriceAlertRow, mark: Decimal) -> tuple[str, dict[str, object]]:
    sign = ">" if alert.direction == "above" else "<"
    text = (f"🔔 Price alert #{alert.id}: {alert.symbol} is at {price(mark)} ({alert.direction} "
            f"{price(alert.price)}). The alert is now removed; set another with /alert {alert.symbol} {sign} PRICE.")
    data: dict[str, object] = {"id": alert.id, "symbol": alert.symbol, "direction": alert.direction,
                               "price": plain(alert.price), "mark_price": plain(mark)}
    return text, data


# ------------------------------------------------------------------------------------------- commands


async def add_price_alert(core: Core, actor: Actor, symbol: str, direction: str, target: Decimal) -> PriceAlertSet:
    symbol = core.instrument(symbol).symbol
    sign = ">" if direction == "above" else "<"
    example = f"/alert {symbol} {sign} {plain(target)}"
    if target <= 0:
        raise Refused("bad_price", "A price must be more than zero.", example)
    mark = core.feed.mark(symbol)
    if mark is not None and rules.crossed(direction, target, mark):
        other = "<" if direction == "above" else ">"
        raise Refused("already_there", f"{symbol} is already {direction} {price(target)} (mark {price(mark)}).",
                      f"/alert {symbol} {other} {plain(target)}")
    async with core.db.transaction() as tx:
        user, _, _ = await ensure_user(core, tx, actor)
        if len(await store.price_alerts_of(tx, user.id)) >= MAX_PRICE_ALERTS:
            raise Refused("too_many_alerts", f"You have {MAX_PRICE_ALERTS} price alerts already; remove one first.",
                          "/alerts off 1")
        alert_id = await store.add_price_alert(tx, user.id, symbol, direction, target, core.clock.now())
    return PriceAlertSet(alert_id, symbol, direction, target, mark)


async def price_alerts(core: Core, actor: Actor) -> PriceAlerts:
    async with core.db.transaction() as tx:
        user, _, _ = await ensure_user(core, tx, actor)
        alerts = await store.price_alerts_of(tx, user.id)
    marks = {a.symbol: m for a in alerts if (m := core.feed.mark(a.symbol)) is not None}
    return PriceAlerts(tuple(alerts), marks)


async def remove_price_alert(core: Core, actor: Actor, alert_id: int) -> PriceAlertRemoved:
    """`/alerts off ID`: only your own alerts (someone else's id gets the same answer as a missing one)."""
    async with core.db.transaction() as tx:
        user, _, _ = await ensure_user(core, tx, actor)
        mine = {a.id: a for a in await store.price_alerts_of(tx, user.id)}
        alert = mine.get(alert_id)
        if alert is None or not await store.remove_price_alert(tx, alert_id, user.id):
            example = f"/alerts off {min(mine)}" if mine else "/alerts"
            raise Refused("no_alert", f"You have no price alert #{alert_id}.", example)
    return PriceAlertRemoved(alert_id, alert.symbol)


async def show_settings(core: Core, actor: Actor) -> AlertSettingsShown:
    async with core.db.transaction() as tx:
        user, _, _ = await ensure_user(core, tx, actor)
        return AlertSettingsShown(await store.settings_for(tx, user.id), None)


async def set_threshold(core: Core, actor: Actor, which: str, percent: Decimal) -> AlertSettingsShown:
    """`/settings warning 60`, `/settings danger 85` (percent of margin ratio)."""
    async with core.db.transaction() as tx:
        user, _, _ = await ensure_user(core, tx, actor)
        updated = rules.threshold_from_percent(percent, which, await store.settings_for(tx, user.id))
        await store.save_settings(tx, user.id, updated)
    return AlertSettingsShown(updated, which)


async def set_quiet(core: Core, actor: Actor, hours: tuple[int, int] | None) -> AlertSettingsShown:
    """`/settings quiet 23-7` (UTC hours) or `/settings quiet off`."""
    quiet = rules.check_quiet(*hours) if hours is not None else None
    async with core.db.transaction() as tx:
        user, _, _ = await ensure_user(core, tx, actor)
        updated = replace(await store.settings_for(tx, user.id), quiet=quiet)
        await store.save_settings(tx, user.id, updated)
    return AlertSettingsShown(updated, "quiet")


async def set_kind(core: Core, actor: Actor, kind: str, on: bool) -> AlertSettingsShown:
    """`/settings funding on`, `/settings price_alert off` …; liquidations cannot be switched off."""
    if kind not in rules.KIND_DEFAULTS:
        choices = ", ".join(rules.KIND_DEFAULTS)
        raise Refused("unknown_push_kind", f"'{kind[:30]}' is not a push you can switch; choose from {choices}. "
                      "Liquidation notices are always sent.", "/settings funding on")
    async with core.db.transaction() as tx:
        user, _, _ = await ensure_user(core, tx, actor)
        current = await store.settings_for(tx, user.id)
        kinds = {k: v for k, v in {**current.kinds, kind: on}.items() if v != rules.KIND_DEFAULTS[k]}
        updated = replace(current, kinds=kinds)
        await store.save_settings(tx, user.id, updated)
    return AlertSettingsShown(updated, kind)


async def health(core: Core, actor: Actor) -> HealthReport:
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        settings = await store.settings_for(tx, loaded.user.id)
    return HealthReport(rules.health_lines(loaded.view), settings.warning, settings.danger)


# ------------------------------------------------------------------------------------------- funding, digest


async def funding_notices(core: Core, at: datetime) -> int:
    """After a funding settlement at `at`: tell each user who switched funding notices on what they paid."""
    pushed = 0
    async with core.db.transaction() as tx:
        wanted = set(await store.users_with_kind(tx, "funding"))
        if not wanted:
            return 0
        by_account: dict[int, list[store.FundingRow]] = {}
        for row in await store.funding_paid_at(tx, at):
            by_account.setdefault(row.account_id, []).append(row)
        for account_id, rows in by_account.items():
            user_id = (await acc.account_by_id(tx, account_id)).user_id
            if user_id in wanted:
                text, data = describe_funding(at, rows)
                await push(core, tx, user_id, "funding", text, data, f"funding:{at.isoformat()}")
                pushed += 1
    return pushed


def describe_funding(at: datetime, rows: list[store.FundingRow]) -> tuple[str, dict[str, object]]:
    parts = []
    for row in rows:
        verb = "received" if row.amount > 0 else "paid"
        rate = f" (rate {row.rate * 100:.4f} %)" if row.rate is not None else ""
        parts.append(f"{row.symbol}: {verb} {usdt(abs(row.amount))}{rate}")
    net = sum((row.amount for row in rows), Decimal(0))
    text = f"💸 Funding at {at:%H:%M} UTC — " + "; ".join(parts) + f". Net {net:+,.2f} USDT."
    data: dict[str, object] = {
        "at": at.isoformat(), "net": plain(net),
        "payments": [{"symbol": r.symbol, "amount": plain(r.amount), "rate": plain(r.rate)} for r in rows],
    }
    return text, data


async def send_digests(core: Core, at: datetime) -> int:
    """The daily digest, once per user and day, for users who switched it on."""
    pushed = 0
    async with core.db.transaction() as tx:
        for user_id in await store.users_with_kind(tx, "digest"):
            user = await acc.user_by_id(tx, user_id)
            account = await acc.find_account(tx, user_id)
            if account is None:
                continue
            loaded = await load_account(core, tx, user, account)
            change = await store.ledger_change_since(tx, account.id, at - timedelta(days=1), at)
            text, data = describe_digest(loaded.view, account.starting_balance, change)
            await push(core, tx, user_id, "digest", text, data, f"digest:{at.date().isoformat()}")
            pushed += 1
    return pushed


async def send_quiz_reminders(core: Core, at: datetime) -> int:
    """Once a day, for users who asked (`/settings quiz on`): a nudge to keep the quiz streak going."""
    pushed = 0
    async with core.db.transaction() as tx:
        for user_id in await store.users_with_kind(tx, "quiz_reminder"):
            text = "🧠 Your daily question is waiting: /quiz (topics you missed come back first)."
            await push(core, tx, user_id, "quiz_reminder", text, {"command": "/quiz"},
                       f"quiz_reminder:{at.date().isoformat()}")
            pushed += 1
    return pushed


def describe_digest(view: AccountView, starting: Decimal, change: Decimal) -> tuple[str, dict[str, object]]:
    since_start = (view.wallet_balance - starting) / starting * 100 if starting > 0 else Decimal(0)
    held = len(view.positions)
    text = (f"📊 Daily digest: wallet {usdt(view.wallet_balance)} ({since_start:+.2f} % since the start; "
            f"{change:+,.2f} USDT in the last 24 h). {held} open position{'' if held == 1 else 's'}.")
    if view.cross_positions:
        text += f" Cross margin ratio {rules.ratio_pct(view.margin_ratio)}."
    closest = rules.nearest(view.positions)
    distance = rules.distance_pct(closest) if closest is not None else None
    if closest is not None and distance is not None:
        text += (f" Nearest liquidation: {closest.position.symbol} at {price(closest.liquidation_price)}, "
                 f"{distance:.2f} % away.")
    data: dict[str, object] = {"wallet_balance": plain(view.wallet_balance), "change_24h": plain(change),
                               "return_pct": plain(since_start), "positions": len(view.positions),
                               "margin_ratio": plain(view.margin_ratio)}
    return text, data
