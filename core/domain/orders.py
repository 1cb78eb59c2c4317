"""Resting orders (DESIGN §2 "Orders"): when they trigger, what they reserve, which prices are accepted.

Side is the order's side: +1 buys, −1 sells. A stop protecting a long is a sell (−1), one protecting a
short is a buy (+1). Every decision here is Decimal in, Decimal out; nothing reads a clock or a database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from core.domain import margin as m
from core.domain.instruments import Instrument
from core.domain.money import ONE, ZERO, floor_to_step, is_multiple, money, plain
from core.domain.positions import Mode
from core.errors import Refused
from core.text import price as price_text

OrderType = Literal["limit", "stop_loss", "take_profit", "trailing_stop"]
REDUCE_ONLY: tuple[OrderType, ...] = ("stop_loss", "take_profit", "trailing_stop")
LABELS: dict[str, str] = {
    "limit": "limit",
    "stop_loss": "stop-loss",
    "take_profit": "take-profit",
    "trailing_stop": "trailing stop",
}


@dataclass(frozen=True)
class Order:
    """An order as stored. `qty` None: a reduce-only order that closes the whole position."""

    id: int
    account_id: int
    symbol: str
    side: int
    type: OrderType
    qty: Decimal | None
    price: Decimal | None  # limit price, or the trigger of a stop-loss / take-profit
    leverage: int
    mode: Mode
    reserved_margin: Decimal = ZERO
    callback_rate: Decimal | None = None  # trailing stops: fraction, 0.02 = 2 %
    best_mark: Decimal | None = None  # trailing stops: best mark since set (highest for a sell)
    attached_sl: Decimal | None = None
    attached_tp: Decimal | None = None
    status: str = "open"
    created_at: str = ""

    @property
    def reduce_only(self) -> bool:
        return self.type in REDUCE_ONLY

    @property
    def label(self) -> str:
        return LABELS[self.type]

    @property
    def trigger_price(self) -> Decimal | None:
        """Where it fires: the limit or stop price; for a trailing stop, best × (1 ∓ callback)."""
        if self.type != "trailing_stop":
            return self.price
        if self.best_mark is None or self.callback_rate is None:
            return None
        return self.best_mark * (ONE + self.side * self.callback_rate)

    def protects(self, position_side: int | None) -> bool:
        """A reduce-only order lives only while a position on the other side exists."""
        return position_side is not None and position_side == -self.side


@dataclass(frozen=True)
class Decision:
    """What one mark does to an order: fire it, and for a trailing stop the best mark to keep."""

    fire: bool
    best_mark: Decimal | None


def decide(order: Order, mark: Decimal) -> Decision:
    """Binance: a buy limit fills at mark ≤ limit, a sell limit at mark ≥ limit; a long's stop-loss
    triggers at mark ≤ P and its take-profit at mark ≥ P (mirrored for shorts); a trailing stop
    triggers when the mark retraces the callback from the best mark seen since it was set."""
    if order.type == "trailing_stop":
        order = replace(order, best_mark=track_best(order, mark))
    trigger = order.trigger_price
    if trigger is None:
        return Decision(False, order.best_mark)
    if order.type in ("limit", "take_profit"):
        fire = order.side * (trigger - mark) >= 0
    else:
        fire = order.side * (mark - trigger) >= 0
    return Decision(fire, order.best_mark)


def track_best(order: Order, mark: Decimal) -> Decimal:
    """The best mark for a trailing stop: the highest one for a sell (long), the lowest for a buy (short)."""
    if order.best_mark is None:
        return mark
    return max(order.best_mark, mark) if order.side < 0 else min(order.best_mark, mark)


def reserve_for(qty: Decimal, price: Decimal, leverage: int, fee_rate: Decimal) -> tuple[Decimal, Decimal]:
    """(fee, reserved margin) of a limit order: IM at the limit price + the maker fee, held from available."""
    fee = money(qty * price * fee_rate)
    return fee, money(m.initial_margin(qty, price, leverage)) + fee


def check_tick(instrument: Instrument, price: Decimal, example: str) -> None:
    # Binance −4014: price not increased by tick size
    if not is_multiple(price, instrument.tick_size):
        nearest = floor_to_step(price, instrument.tick_size)
        raise Refused(
            "price_not_tick",
            f"{instrument.symbol} prices go in steps of {instrument.tick_size}; {price} is not on that grid.",
            example.replace("{price}", f"{plain(nearest)}"),
        )


def check_limit_side(symbol: str, side: int, limit: Decimal, mark: Decimal, example: str) -> None:
    """A buy limit at or above the mark (a sell limit at or below) would fill at once: refuse it."""
    if side * (mark - limit) > 0:
        return
    verb, where = ("buy", "below") if side > 0 else ("sell", "above")
    raise Refused(
        "limit_wrong_side",
        f"A {verb} limit must sit {where} the {symbol} mark ({price_text(mark)}); at {price_text(limit)} it would "
        "fill at once. Leave the @price out to trade at the mark now.",
        example,
    )


def check_stop_side(
    order_type: OrderType, position_side: int, price: Decimal, reference: Decimal, example: str, versus: str = "mark"
) -> None:
    """A long's stop-loss sits below the reference (the mark, or the limit of an entry), its take-profit
    above; mirrored for a short. On the other side it would trigger at once."""
    wanted = -position_side if order_type == "stop_loss" else position_side
    if wanted * (price - reference) > 0:
        return
    where = "below" if wanted < 0 else "above"
    side = "long" if position_side > 0 else "short"
    raise Refused(
        "stop_wrong_side",
        f"A {LABELS[order_type]} for a {side} must sit {where} the {versus} ({price_text(reference)}); "
        f"at {price_text(price)} it would trigger at once.",
        example,
    )


def example_stop(order_type: OrderType, symbol: str, position_side: int, reference: Decimal, tick: Decimal) -> str:
    """A correct `/sl` or `/tp` for the position: 5 % away from the reference, on the right side."""
    wanted = -position_side if order_type == "stop_loss" else position_side
    price = floor_to_step(reference * (ONE + wanted * Decimal("0.05")), tick)
    return f"/{'sl' if order_type == 'stop_loss' else 'tp'} {symbol} {plain(price)}"


def callback_rate(percent: Decimal) -> Decimal:
    """`/trail BTC 2%` → 0.02; refuses 0 % or less and 100 % or more."""
    if not ZERO < percent < 100:
        raise Refused(
            "bad_callback",
            f"The trailing callback must be above 0 % and below 100 %, got {percent} %.",
            "/trail BTC 2%",
        )
    return percent / 100
