"""Order commands: /sl, /tp, /trail, /orders, /cancel, and `/long`/`/short` with @LIMIT, sl= and tp=."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot.commands import Parsed, Spec, number, symbol_word
from bot.registry_types import Handler
from bot.render import change_text, to_data
from bot.replies import Button, Reply
from core.domain.money import BadNumber, parse_decimal, plain
from core.domain.orders import Order
from core.errors import Refused
from core.results import Actor
from core.services import orders, trading
from core.services.core import Core
from core.text import price, usdt

__all__ = ["COMMANDS", "HANDLERS", "RENDERERS", "open_with_orders"]

MAX_ORDER_ID_DIGITS = 18
MAX_CANCEL_BUTTONS = 4


def _stop(name: str, what: str) -> Callable[[list[str]], dict[str, Any]]:
    def parse(words: list[str]) -> dict[str, Any]:
        example = f"/{name} BTC 55000" if name == "sl" else f"/{name} BTC 70000"
        if len(words) != 2:
            raise Refused("missing_argument", f"/{name} needs a symbol and a {what} price.", example)
        return {"symbol": symbol_word(words[0], example), "price": number(words[1], f"{what} price", example)}

    return parse


def _trail(words: list[str]) -> dict[str, Any]:
    example = "/trail BTC 2%"
    if len(words) != 2:
        raise Refused("missing_argument", "/trail needs a symbol and a callback percentage.", example)
    symbol = symbol_word(words[0], example)
    try:
        percent = parse_decimal(words[1].removesuffix("%"))
    except BadNumber as exc:
        raise Refused("bad_number", f"The callback '{words[1][:30]}' is not a usable number.", example) from exc
    return {"symbol": symbol, "percent": percent}  # the core refuses ≤ 0 % and ≥ 100 % (bad_callback)


def _orders(words: list[str]) -> dict[str, Any]:
    if words:
        raise Refused("unexpected_argument", f"/orders takes no arguments, got '{words[0][:20]}'.", "/orders")
    return {}


def _cancel(words: list[str]) -> dict[str, Any]:
    example = "/cancel 12 (the id /orders shows)"
    if len(words) != 1:
        raise Refused("missing_argument", "/cancel needs one order id.", example)
    word = words[0].removeprefix("#")
    if not word.isdecimal() or len(word) > MAX_ORDER_ID_DIGITS:
        raise Refused("bad_order_id", f"'{words[0][:20]}' is not an order id.", example)
    return {"order_id": int(word)}


COMMANDS: dict[str, Spec] = {
    "sl": Spec("/sl SYM PRICE", "stop-loss: close the position when the mark reaches PRICE", _stop("sl", "stop")),
    "tp": Spec("/tp SYM PRICE", "take-profit: close the position when the mark reaches PRICE",
               _stop("tp", "take-profit")),
    "trail": Spec("/trail SYM PCT%", "trailing stop: close when the mark falls back PCT % from its best", _trail),
    "orders": Spec("/orders", "your open orders with their ids", _orders),
    "cancel": Spec("/cancel ID", "cancel one of your open orders", _cancel),
}


async def open_with_orders(core: Core, actor: Actor, p: Parsed) -> object:
    """`/long` and `/short`: a market open, or with @LIMIT a resting limit order, with sl=/tp= attached."""
    a = p.args
    amount = trading.Amount(a["amount"], a["is_qty"])
    prices = {key: a[key] for key in ("limit", "sl", "tp") if a.get(key) is not None}
    if not prices:
        return await trading.open_position(core, actor, a["symbol"], a["side"], amount, a["leverage"], a["mode"])
    return await orders.open_with_orders(
        core, actor, a["symbol"], a["side"], amount, a["leverage"], a["mode"], prices
    )


async def _sl(core: Core, actor: Actor, p: Parsed) -> object:
    return await orders.place_stop(core, actor, p.args["symbol"], "stop_loss", p.args["price"])


async def _tp(core: Core, actor: Actor, p: Parsed) -> object:
    return await orders.place_stop(core, actor, p.args["symbol"], "take_profit", p.args["price"])


async def _trail_handler(core: Core, actor: Actor, p: Parsed) -> object:
    return await orders.place_trailing(core, actor, p.args["symbol"], p.args["percent"])


async def _orders_handler(core: Core, actor: Actor, p: Parsed) -> object:
    return await orders.list_orders(core, actor)


async def _cancel_handler(core: Core, actor: Actor, p: Parsed) -> object:
    return await orders.cancel_order(core, actor, p.args["order_id"])


HANDLERS: dict[str, Handler] = {
    "long": open_with_orders,  # /long and /short with @LIMIT, sl= and tp= (plain market orders too)
    "short": open_with_orders,
    "sl": _sl,
    "tp": _tp,
    "trail": _trail_handler,
    "orders": _orders_handler,
    "cancel": _cancel_handler,
}


def order_line(o: Order) -> str:
    """One order as a short line: id, what it does, where it fires."""
    side = "buy" if o.side > 0 else "sell"
    head = f"#{o.id} {o.symbol} {o.label}"
    if o.type == "limit":
        line = f"{head} {side} {plain(o.qty)} @ {price(o.price)}, holds {usdt(o.reserved_margin)}"
        stops = [f"{name} {price(value)}" for name, value in (("sl", o.attached_sl), ("tp", o.attached_tp)) if value]
        return f"{line}, then {' '.join(stops)}" if stops else line
    closes = "closes long" if o.side < 0 else "closes short"
    sign = "≤" if (o.type == "take_profit") == (o.side > 0) else "≥"
    if o.type == "trailing_stop":
        rate = (o.callback_rate or Decimal(0)) * 100
        return (f"{head} {plain(rate)} % ({closes}): best {price(o.best_mark)}, "
                f"fires at mark {sign} {price(o.trigger_price)}")
    return f"{head} ({closes}) at mark {sign} {price(o.price)}"


def order_data(o: Order) -> dict[str, Any]:
    data: dict[str, Any] = to_data(o)
    data["trigger_price"] = plain(o.trigger_price)
    data["reduce_only"] = o.reduce_only
    return data


def _placed(r: orders.OrderPlaced) -> Reply:
    o = r.order
    text = f"Order placed: {order_line(o)}. Mark {price(r.mark)}."
    if r.replaced:
        text += f" It replaces #{', #'.join(str(i) for i in r.replaced)}."
    if r.note:
        text += f" {r.note}"
    data = {"order": order_data(o), "mark": plain(r.mark), "replaced": list(r.replaced), "note": r.note}
    return Reply("order", text, data, (Button(f"Cancel #{o.id}", f"/cancel {o.id}"), Button("Orders", "/orders")))


def _opened(r: orders.OpenedWithOrders) -> Reply:
    lines = [change_text(r.change), *(f"Order placed: {order_line(o)}." for o in r.orders)]
    data = {**to_data(r.change), "orders": [order_data(o) for o in r.orders], "replaced": list(r.replaced)}
    return Reply("trade", "\n".join(lines), data, (Button("Orders", "/orders"), Button("Positions", "/positions")))


def _listed(r: orders.OrdersListed) -> Reply:
    if not r.orders:
        text = "No open orders. Try /long BTC 100 10x @55000 or /sl BTC 55000"
    else:
        marks = ", ".join(f"{s} {price(m)}" for s, m in r.marks.items())
        text = "\n".join([*(order_line(o) for o in r.orders), f"Marks: {marks}" if marks else ""]).rstrip()
    buttons = tuple(Button(f"Cancel #{o.id}", f"/cancel {o.id}") for o in r.orders[:MAX_CANCEL_BUTTONS])
    data = {"orders": [order_data(o) for o in r.orders], "marks": to_data(r.marks)}
    return Reply("orders", text, data, (*buttons, Button("🔄 Refresh", "/orders")))


def _cancelled(r: orders.OrderCancelled) -> Reply:
    text = f"Cancelled {order_line(r.order)}."
    if r.released:
        text += f" Released {usdt(r.released)}; available now {usdt(r.available_balance)}."
    data = {"order": order_data(r.order), "released": plain(r.released),
            "available_balance": plain(r.available_balance)}
    return Reply("cancelled", text, data)


RENDERERS: dict[type, Callable[[Any], Reply]] = {
    orders.OrderPlaced: _placed,
    orders.OpenedWithOrders: _opened,
    orders.OrdersListed: _listed,
    orders.OrderCancelled: _cancelled,
}
