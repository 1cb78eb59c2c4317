"""What the services return: frozen dataclasses that adapters render and the console prints as data."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core.domain.positions import AccountView, Mode
from core.storage.positions import TradeRow


@dataclass(frozen=True)
class Actor:
    """Who is speaking: a platform user, in a chat."""

    platform: str
    user_id: str
    name: str
    chat_id: str = ""
    chat_kind: str = "private"  # private | group
    chat_admin: bool = False  # the platform says this user administers the group chat

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True)
class Started:
    balance: Decimal
    new: bool


@dataclass(frozen=True)
class AccountReset:
    balance: Decimal
    closed_positions: int


@dataclass(frozen=True)
class NeedsConfirmation:
    """A destructive command waits for a yes: `command` is what to run again with `confirm`."""

    command: str
    question: str


@dataclass(frozen=True)
class PositionChanged:
    """A market fill: opened, averaged into, reduced, closed or flipped."""

    symbol: str
    action: str  # opened | increased | reduced | closed | flipped
    side: str  # side of the order: long (buy) | short (sell)
    qty: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal
    position_qty: Decimal
    position_side: str | None
    mode: Mode
    leverage: int
    margin: Decimal | None
    liquidation_price: Decimal | None
    wallet_balance: Decimal


@dataclass(frozen=True)
class ClosedAll:
    changes: tuple[PositionChanged, ...]


@dataclass(frozen=True)
class Portfolio:
    account: AccountView
    starting_balance: Decimal


@dataclass(frozen=True)
class Balance:
    wallet_balance: Decimal
    available_balance: Decimal
    margin_balance: Decimal
    starting_balance: Decimal
    return_pct: Decimal


@dataclass(frozen=True)
class History:
    trades: tuple[TradeRow, ...]


@dataclass(frozen=True)
class MarginChanged:
    symbol: str
    added: Decimal  # negative when removed
    margin: Decimal
    liquidation_price: Decimal | None


@dataclass(frozen=True)
class SymbolSetting:
    symbol: str
    mode: Mode
    leverage: int
    chosen: bool  # False: never chosen, these are the defaults
    max_leverage: int  # what the bracket of the current position's size allows
    locked: bool  # an open position or order keeps the mode as it is


@dataclass(frozen=True)
class SymbolSettings:
    """`/leverage SYM` or `/mode [SYM]` without a value: what is set now."""

    rows: tuple[SymbolSetting, ...]


@dataclass(frozen=True)
class LeverageSet:
    symbol: str
    leverage: int
    max_leverage: int


@dataclass(frozen=True)
class ModeSet:
    symbols: tuple[str, ...]  # switched (or already in that mode)
    mode: Mode
    locked: tuple[str, ...]  # kept: an open position or order


@dataclass(frozen=True)
class Prices:
    marks: dict[str, Decimal]
    feed: str
    change_24h: dict[str, Decimal] = field(default_factory=dict)  # relative, e.g. -0.031
    change_minutes: int = 0  # the span that change covers: 1440, or less while the feed is younger than a day
    unpriced: tuple[str, ...] = ()  # symbols asked for that have no mark yet


@dataclass(frozen=True)
class PricesSet:
    marks: dict[str, Decimal]
    liquidations: int


@dataclass(frozen=True)
class LeaderboardRow:
    name: str
    wallet_balance: Decimal
    return_pct: Decimal  # of equity (wallet + open PnL) on the starting balance
    equity: Decimal = Decimal(0)


@dataclass(frozen=True)
class Leaderboard:
    scope: str
    rows: tuple[LeaderboardRow, ...] = field(default_factory=tuple)
