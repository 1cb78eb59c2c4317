"""The core's dependencies in one place, and the steps every use case shares."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from core.domain.instruments import Catalog, Instrument
from core.domain.positions import AccountView, Mode, Position, evaluate
from core.domain.throttle import CommandThrottle, Verdict
from core.errors import Refused
from core.ports import Clock, PriceFeed
from core.results import Actor
from core.storage import accounts as acc
from core.storage import chats
from core.storage import positions as pos
from core.storage.db import Database, Tx

if TYPE_CHECKING:
    from core.services.risk_index import RiskIndex

DEFAULT_STARTING_BALANCE = Decimal(10_000)
MAX_STARTING_BALANCE = Decimal(1_000_000_000)


@dataclass(frozen=True)
class Settings:
    starting_balance: Decimal = DEFAULT_STARTING_BALANCE
    admins: frozenset[str] = frozenset()  # "telegram:123", "discord:456", "console:alice"


@dataclass
class Core:
    """Storage, instruments, market and clock, injected once by the composition root."""

    db: Database
    catalog: Catalog
    feed: PriceFeed
    clock: Clock
    settings: Settings = field(default_factory=Settings)
    outbox_changed: asyncio.Event = field(default_factory=asyncio.Event)
    throttle: CommandThrottle = field(default_factory=CommandThrottle)
    risk_index: RiskIndex | None = None  # the in-memory pre-screen of the sweep, when the process keeps one

    def instrument(self, symbol: str) -> Instrument:
        instrument = self.catalog.get(symbol)
        if instrument is None:
            known = ", ".join(self.catalog.symbols)
            raise Refused("unknown_symbol", f"Unknown symbol '{symbol[:20]}'. Known: {known}.", "/long BTC 100 10x")
        return instrument

    def symbols_named(self, names: list[str]) -> list[str]:
        """The catalog's spelling of each symbol named (refusing an unknown one), or every symbol if none is."""
        return [self.instrument(name).symbol for name in names] or list(self.catalog.symbols)

    def mark(self, symbol: str) -> Decimal:
        if self.feed.is_stale(self.clock.now()):
            raise Refused("stale_market", "Market data is stale, so nothing can be filled right now.", "/price")
        price = self.feed.mark(symbol)
        if price is None:
            raise Refused("no_price", f"There is no price for {symbol} yet.", f"/price {symbol}")
        return price

    def marks_for(self, positions: list[Position]) -> dict[str, Decimal]:
        """Marks for valuation; a symbol the feed has never priced is valued at its entry price."""
        return {p.symbol: self.feed.mark(p.symbol) or p.entry_price for p in positions}

    def admit(self, actor: Actor) -> Verdict:
        """Per-user rate limit on commands (abuse protection), the same on every chat platform. The local
        console (one trusted person, often on a virtual clock) is not limited."""
        if actor.platform == "console":
            return Verdict.OK
        now = self.clock.now().timestamp()
        if len(self.throttle) > 10_000:
            self.throttle.forget_idle(now)
        return self.throttle.check(actor.key, now)

    def notify_outbox(self) -> None:
        self.outbox_changed.set()


@dataclass(frozen=True)
class Loaded:
    """A user's account as read inside a transaction."""

    user: acc.UserRow
    account: acc.AccountRow
    positions: list[Position]
    view: AccountView
    settings: dict[str, tuple[Mode, int]] = field(default_factory=dict)  # symbol → chosen (mode, leverage)
    ordered: frozenset[str] = frozenset()  # symbols with an open opening order (they lock the margin mode)

    def position(self, symbol: str) -> Position | None:
        return next((p for p in self.positions if p.symbol == symbol), None)

    def mode_locked(self, symbol: str) -> tuple[bool, bool]:
        """(an open position, an open order) on the symbol: either keeps its margin mode as it is."""
        return self.position(symbol) is not None, symbol in self.ordered


async def ensure_user(core: Core, tx: Tx, actor: Actor) -> tuple[acc.UserRow, acc.AccountRow, bool]:
    """The user and their account, opened with the starting balance on first contact."""
    now = core.clock.now()
    found = await acc.find_user_account(tx, actor.platform, actor.user_id)
    created = found is None
    account: acc.AccountRow | None = None
    if found is None:
        push_chat = actor.chat_id if actor.chat_kind == "private" and actor.chat_id else actor.user_id
        user = await acc.create_user(tx, actor.platform, actor.user_id, actor.name, push_chat, now)
    else:
        user, account = found
        if actor.name and (user.display_name != actor.name or not user.pushes_enabled):
            await acc.touch_user(tx, user.id, actor.name)
    if actor.chat_kind == "group" and actor.chat_id:
        await chats.remember_member(tx, actor.platform, actor.chat_id, user.id, now)
    if account is None:
        account = await acc.create_account(tx, user.id, now)
        balance = core.settings.starting_balance
        await acc.book(tx, account.id, "reset", balance, now)
        acc.set_starting_balance(tx, account.id, balance)
        account = await acc.account_by_id(tx, account.id)
        created = True
    return user, account, created


async def load(core: Core, tx: Tx, actor: Actor) -> Loaded:
    """The actor's account inside the transaction: one query for a known user in a private chat."""
    if actor.chat_kind == "private":
        found = await acc.user_state(tx, actor.platform, actor.user_id)
        if found is not None and (not actor.name or found[0].display_name == actor.name) and found[0].pushes_enabled:
            user, account, state = found
            return _loaded(core, user, account, state)
    user, account, _ = await ensure_user(core, tx, actor)
    return await load_account(core, tx, user, account)


def _loaded(core: Core, user: acc.UserRow, account: acc.AccountRow, state: pos.AccountState) -> Loaded:
    positions = state.positions
    view = evaluate(account.wallet_balance, positions, core.marks_for(positions), core.catalog, state.reserved_margin)
    return Loaded(user, account, positions, view, state.settings, state.ordered)


async def load_account(
    core: Core, tx: Tx, user: acc.UserRow, account: acc.AccountRow
) -> Loaded:
    return _loaded(core, user, account, await pos.account_state(tx, account.id))
