"""Account use cases: start, reset, portfolio, balance, history, leaderboard."""

from __future__ import annotations

from decimal import Decimal

from core.domain.margin import unrealized_pnl
from core.domain.money import ZERO, money, plain
from core.errors import Refused
from core.results import (
    AccountReset,
    Actor,
    Balance,
    History,
    Leaderboard,
    LeaderboardRow,
    NeedsConfirmation,
    Portfolio,
    Started,
    SymbolSetting,
    SymbolSettings,
)
from core.services.core import MAX_STARTING_BALANCE, Core, ensure_user, load
from core.services.trading import chosen_setting
from core.storage import accounts as acc
from core.storage import chats
from core.storage import orders as orders_store
from core.storage import positions as pos

MIN_STARTING_BALANCE = Decimal(10)  # below this nothing can be opened (lot sizes and fees)


async def start(core: Core, actor: Actor) -> Started:
    async with core.db.transaction() as tx:
        _, account, created = await ensure_user(core, tx, actor)
        return Started(account.wallet_balance, created)


async def reset(core: Core, actor: Actor, balance: Decimal | None, confirmed: bool) -> AccountReset | NeedsConfirmation:
    target = core.settings.starting_balance if balance is None else balance
    if not MIN_STARTING_BALANCE <= target <= MAX_STARTING_BALANCE:
        raise Refused(
            "bad_balance",
            f"A paper balance must be from {MIN_STARTING_BALANCE} to {MAX_STARTING_BALANCE:,} USDT.",
            "/reset 10000",
        )
    target = money(target)
    if not confirmed:
        return NeedsConfirmation(
            f"/reset {plain(target)} confirm",
            f"Start over with {target:,.2f} paper USDT? Every position and the trade history stay behind.",
        )
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        account_id = loaded.account.id
        now = core.clock.now()
        await orders_store.cancel_all_open(tx, account_id, "reset", now)
        pos.delete_positions(tx, account_id)
        acc.clear_symbol_settings(tx, account_id)
        await acc.book(tx, account_id, "reset", target - loaded.account.wallet_balance, now)
        acc.set_starting_balance(tx, account_id, target)
        return AccountReset(target, len(loaded.positions))


async def portfolio(core: Core, actor: Actor) -> Portfolio:
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        return Portfolio(loaded.view, loaded.account.starting_balance)


async def balance(core: Core, actor: Actor) -> Balance:
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        view, start_balance = loaded.view, loaded.account.starting_balance
        equity = view.wallet_balance + sum((p.unrealized_pnl for p in view.positions), ZERO)
        return Balance(
            wallet_balance=view.wallet_balance,
            available_balance=view.available_balance,
            margin_balance=equity,
            starting_balance=start_balance,
            return_pct=(equity - start_balance) / start_balance * 100 if start_balance else ZERO,
        )


async def history(core: Core, actor: Actor, limit: int = 10) -> History:
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
        return History(tuple(await pos.trades_of(tx, loaded.account.id, limit)))


async def leaderboard(core: Core, actor: Actor, limit: int = 10) -> Leaderboard:
    """In a group: its members; elsewhere: everyone on the platform; ranked by the return of their equity
    (wallet + open PnL at the current marks) on the starting balance."""
    async with core.db.transaction() as tx:
        await ensure_user(core, tx, actor)
        if actor.chat_kind == "group":
            rows = await chats.member_balances(tx, actor.platform, actor.chat_id)
        else:
            rows = await acc.leaderboard(tx, actor.platform)
        held = await pos.positions_of_accounts(tx, [row[0] for row in rows])
    board = []
    for account_id, name, wallet, start in rows:
        if start <= 0:
            continue
        positions = held[account_id]
        marks = core.marks_for(positions)
        equity = wallet + sum((unrealized_pnl(p.side, p.qty, p.entry_price, marks[p.symbol]) for p in positions), ZERO)
        board.append(LeaderboardRow(name, wallet, (equity - start) / start * 100, equity))
    ranked = sorted(board, key=lambda row: row.return_pct, reverse=True)
    scope = f"group {actor.chat_id}" if actor.chat_kind == "group" else actor.platform
    return Leaderboard(scope, tuple(ranked[:limit]))


async def symbol_settings(core: Core, actor: Actor, symbol: str | None) -> SymbolSettings:
    """The margin mode and leverage of one symbol (or all), as the next order would use them."""
    names = core.symbols_named([symbol] if symbol else [])
    async with core.db.transaction() as tx:
        loaded = await load(core, tx, actor)
    rows = []
    for name in names:
        mode, leverage = chosen_setting(loaded, name)
        view = loaded.view.position(name)
        notional = view.notional if view else ZERO
        has_position, has_orders = loaded.mode_locked(name)
        rows.append(SymbolSetting(name, mode, leverage, name in loaded.settings,
                                  core.instrument(name).max_leverage_for(notional), has_position or has_orders))
    return SymbolSettings(tuple(rows))
