"""Shared plain-text wording and transcript data of every result; platforms restyle, never reword."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.domain.alerts import ratio_pct
from core.domain.money import plain
from core.domain.positions import AccountView, PositionView
from core.results import (
    AccountReset,
    Balance,
    ClosedAll,
    History,
    Leaderboard,
    LeverageSet,
    MarginChanged,
    ModeSet,
    NeedsConfirmation,
    Portfolio,
    PositionChanged,
    Prices,
    PricesSet,
    Started,
)
from core.text import cents, price, signed, usdt

if TYPE_CHECKING:  # the row type of History.trades; adapters never call storage
    from core.storage.positions import TradeRow

TABLE_WIDTH = 36  # fits a phone in a monospace block


def to_data(value: Any) -> Any:
    """Dataclasses to dicts, Decimals to plain strings at full precision."""
    if isinstance(value, Decimal):
        return plain(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    return value


def account_data(view: AccountView) -> dict[str, Any]:
    return {
        "wallet_balance": plain(view.wallet_balance),
        "cross_wallet_balance": plain(view.cross_wallet_balance),
        "margin_balance": plain(view.margin_balance),
        "maintenance_margin": plain(view.maintenance_margin),
        "margin_ratio": plain(view.margin_ratio),
        "available_balance": plain(view.available_balance),
        "effective_leverage": plain(view.effective_leverage),
    }


def position_data(view: PositionView) -> dict[str, Any]:
    p = view.position
    return {
        "symbol": p.symbol,
        "side": p.side_name,
        "qty": plain(p.qty),
        "entry_price": plain(p.entry_price),
        "mark_price": plain(view.mark),
        "leverage": p.leverage,
        "margin_mode": p.mode,
        "margin": plain(view.margin),
        "maintenance_margin": plain(view.maintenance_margin),
        "unrealized_pnl": plain(view.unrealized_pnl),
        "liquidation_price": plain(view.liquidation_price),
        "bankruptcy_price": plain(view.bankruptcy_price),
    }


def portfolio_text(result: Portfolio) -> str:
    view = result.account
    lines = [
        f"Wallet {usdt(view.wallet_balance)}",
        f"Available {usdt(view.available_balance)}",
    ]
    if view.cross_positions:
        lines.append(f"Cross margin ratio {ratio_pct(view.margin_ratio)} (liquidated at 100 %)")
    if not view.positions:
        lines.append("No open positions. Try /long BTC 100 10x")
        return "\n".join(lines)
    table = []
    for v in view.positions:
        p = v.position
        table.append(f"{p.symbol} {p.side_name} {p.leverage}x {p.mode}"[:TABLE_WIDTH])
        table.append(f" qty {plain(p.qty)} @ {price(p.entry_price)}"[:TABLE_WIDTH])
        table.append(f" mark {price(v.mark)} PnL {signed(v.unrealized_pnl)}"[:TABLE_WIDTH])
        table.append(f" margin {v.margin:,.2f} MM {v.maintenance_margin:,.2f}"[:TABLE_WIDTH])
        table.append(f" liq {price(v.liquidation_price)}"[:TABLE_WIDTH])
        table.append(f" bankrupt {price(v.bankruptcy_price)}"[:TABLE_WIDTH])
    return "\n".join(lines) + "\n" + "\n".join(table)


ACTION_WORDS = {
    "opened": "Opened a {new}",
    "increased": "Added to your {new}",
    "reduced": "Reduced your {new}",
    "closed": "Closed your {old}",
    "flipped": "Closed your {old} and opened a {new}",
}


def change_text(c: PositionChanged) -> str:
    """Say what happened to the position, then the order that did it (bought/sold), never the other way round."""
    old = "short" if c.side == "long" else "long"  # a close or flip undoes the opposite side
    what = ACTION_WORDS[c.action].format(new=c.position_side or c.side, old=old)
    verb = "bought" if c.side == "long" else "sold"
    head = f"{what} {c.symbol}: {verb} {plain(c.qty)} {c.symbol} at {price(c.price)} (fee {usdt(c.fee)})."
    if c.position_side is None:
        return f"{head} Realized PnL {signed(c.realized_pnl)} USDT. Wallet {usdt(c.wallet_balance)}."
    tail = f" Position: {c.position_side} {plain(c.position_qty)} {c.symbol}, {c.leverage}x {c.mode}"
    if c.margin is not None:
        tail += f", margin {usdt(c.margin)}"
    tail += f", liquidation price {price(c.liquidation_price)}."
    if c.realized_pnl:
        tail += f" Realized PnL {signed(c.realized_pnl)} USDT."
    return head + tail


def describe(result: object) -> tuple[str, str, dict[str, Any]]:  # noqa: C901 - one flat mapping
    """(type, text, data) of a service result."""
    match result:
        case Portfolio():
            data = {"account": account_data(result.account),
                    "positions": [position_data(v) for v in result.account.positions]}
            return "positions", portfolio_text(result), data
        case PositionChanged():
            return "trade", change_text(result), to_data(result)
        case ClosedAll():
            return "trade", "\n".join(change_text(c) for c in result.changes), to_data(result)
        case NeedsConfirmation():
            return "confirm", f"{result.question} Reply with {result.command} or press a button.", to_data(result)
        case Started():
            return "start", _start_text(result), to_data(result)
        case AccountReset():
            return "reset", f"Fresh paper account: {usdt(result.balance)}.", to_data(result)
        case Balance():
            return "balance", _balance_text(result), to_data(result)
        case History():
            return "history", _history_text(result), to_data(result)
        case MarginChanged():
            verb = "Added" if result.added > 0 else "Removed"
            text = (f"{verb} {usdt(abs(result.added))} {'to' if result.added > 0 else 'from'} {result.symbol}. "
                    f"Position margin {usdt(result.margin)}, liquidation price {price(result.liquidation_price)}.")
            return "margin", text, to_data(result)
        case LeverageSet():
            text = f"{result.symbol} leverage is now {result.leverage}x (bracket allows up to {result.max_leverage}x)."
            return "leverage", text, to_data(result)
        case ModeSet():
            return "mode", _mode_text(result), to_data(result)
        case Prices():
            span, changes = _span(result.change_minutes), result.change_24h
            lines = [f"{s} {price(p)}" + (f" ({signed(changes[s] * 100)} % {span})" if s in changes else "")
                     for s, p in result.marks.items()]
            lines += [f"{s}: no price yet" for s in result.unpriced]
            text = "\n".join(lines) or "No prices yet."
            return "price", text, to_data(result)
        case PricesSet():
            said = "1 liquidation" if result.liquidations == 1 else f"{result.liquidations} liquidations"
            text = "Marks set: " + ", ".join(f"{s} {price(p)}" for s, p in result.marks.items()) + f" ({said})."
            return "setprice", text, to_data(result)
        case Leaderboard():
            return "leaderboard", _board_text(result), to_data(result)
    raise TypeError(f"no rendering for {type(result).__name__}")


def _start_text(result: Started) -> str:
    greeting = "Welcome to Margin Dojo!" if result.new else "Welcome back!"
    return (
        f"{greeting} Your paper account holds {usdt(result.balance)}. Nothing here is real money.\n"
        "Try: /price · /long BTC 100 10x isolated · /positions · /close BTC\n"
        "Isolated margin risks only the position's margin; cross margin puts the whole balance behind "
        "every cross position. /help lists everything."
    )


def _balance_text(b: Balance) -> str:
    return (f"Wallet {usdt(b.wallet_balance)}\nEquity {usdt(b.margin_balance)}\n"
            f"Available {usdt(b.available_balance)}\nReturn {signed(b.return_pct)} % on {usdt(b.starting_balance)}")


def _history_text(h: History) -> str:
    if not h.trades:
        return "No trades yet."
    return "\n".join(_history_row(t) for t in h.trades)


def _history_row(t: TradeRow) -> str:
    side = "buy" if t.side > 0 else "sell"
    head = f"{t.created_at[:16].replace('T', ' ')} UTC {t.kind} {side} {plain(t.qty)} {t.symbol} @ {price(t.price)}"
    if t.kind == "liquidation":
        # what the wallet gave up (capped by the margin or the wallet, clearance fee included), as the push
        # says it: not the price move, so never labelled PnL
        taken = cents(t.fee - t.realized_pnl)
        return f"{head} {'lost' if taken >= 0 else 'gained'} {abs(taken):,.2f}"
    return head + (f" PnL {signed(t.realized_pnl)}" if t.realized_pnl else "")


def _mode_text(m: ModeSet) -> str:
    text = f"Margin mode {m.mode} for {', '.join(m.symbols)}." if m.symbols else "Nothing switched."
    if m.locked:
        text += f" Kept as they are (open position): {', '.join(m.locked)}."
    return text


def _board_text(board: Leaderboard) -> str:
    if not board.rows:
        return "Nobody on the board yet."
    return "\n".join(f"{i}. {r.name} {signed(r.return_pct)} %" for i, r in enumerate(board.rows, start=1))


def _span(minutes: int) -> str:
    """The window of a price change: "24h" once the feed has a day of marks, "in 2h 05m" before that."""
    if minutes >= 24 * 60:
        return "24h"
    return f"in {minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"in {minutes} min"
