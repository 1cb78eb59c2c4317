"""What /history and trade replies show a user: a flip is a close and an open (two rows, one fee split exactly
between them), /close of a symbol never held says so, and quantities are plain digits, never exponent notation."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from bot.dispatch import handle
from bot.render import describe
from core.results import Actor, PositionChanged
from core.services.core import Core

D = Decimal
USDT_STEP = D("0.00000001")


async def say(core: Core, who: Actor, line: str) -> Any:
    reply = await handle(core, who, line)
    assert reply.type != "error", f"{line}: {reply.text}"
    return reply


async def test_a_flip_shows_as_a_close_of_the_old_quantity_and_an_open_of_the_rest(core: Core, actor: Any) -> None:
    """/long BTC 1000 10x at 60,000 buys 0.166 BTC; /short BTC 3000 sells 0.5: 0.166 closes the long, 0.334 opens
    a short. One fee of 0.5 × 60,000 × 0.05 % = 15.00 was charged: 4.98 on the close, 10.02 on the open."""
    alice = actor("alice")
    await say(core, alice, "/long BTC 1000 10x")
    flip = await say(core, alice, "/short BTC 3000")
    assert (flip.data["action"], flip.data["qty"], flip.data["fee"]) == ("flipped", "0.5", "15")

    history = await say(core, alice, "/history")
    newest, older = history.text.splitlines()[:2]
    assert newest.endswith("open sell 0.334 BTC @ 60,000.00")
    assert older.endswith("close sell 0.166 BTC @ 60,000.00")
    opened, closed = history.data["trades"][:2]
    assert (closed["kind"], closed["qty"], closed["fee"]) == ("close", "0.166", "4.98")
    assert (opened["kind"], opened["qty"], opened["fee"], opened["realized_pnl"]) == ("open", "0.334", "10.02", "0")
    assert D(closed["fee"]) + D(opened["fee"]) == D(flip.data["fee"])


async def test_a_flip_at_a_profit_books_the_pnl_on_the_close_and_splits_an_odd_fee_to_the_last_unit(
    core: Core, actor: Any, admin: Actor
) -> None:
    """Long 0.001 BTC @ 60,000, then short 0.003 at 61,234.567: the close of 0.001 realizes +1.234567; the fee
    0.003 × 61,234.567 × 0.05 % = 0.0918518505 is charged as 0.09185185 and split 1 : 2, each part on the 8-decimal
    USDT step, the two adding up to exactly the fee charged."""
    alice = actor("alice")
    await say(core, alice, "/long BTC 0.001btc 10x")
    await say(core, admin, "/setprice BTC 61234.567")
    flip = await say(core, alice, "/short BTC 0.003btc")
    charged = D(flip.data["fee"])
    assert charged == (D("0.003") * D("61234.567") * D("0.0005")).quantize(USDT_STEP, rounding=ROUND_HALF_EVEN)

    opened, closed = (await say(core, alice, "/history")).data["trades"][:2]
    assert (closed["kind"], closed["qty"], D(closed["realized_pnl"])) == ("close", "0.001", D("1.234567"))
    assert (opened["kind"], opened["qty"], D(opened["realized_pnl"])) == ("open", "0.002", 0)
    close_fee, open_fee = D(closed["fee"]), D(opened["fee"])
    assert close_fee == (charged / 3).quantize(USDT_STEP, rounding=ROUND_HALF_EVEN)
    assert close_fee + open_fee == charged
    assert close_fee == close_fee.quantize(USDT_STEP) and open_fee == open_fee.quantize(USDT_STEP)


async def test_closing_a_symbol_never_held_and_never_priced_says_there_is_no_position(
    core: Core, actor: Any
) -> None:
    """XRP has no mark yet (the test market prices BTC, ETH, SOL, DOGE): what matters is that there is nothing
    to close."""
    alice = actor("alice")
    await say(core, alice, "/long BTC 100 10x")
    reply = await handle(core, alice, "/close XRP")
    assert (reply.type, reply.data["code"]) == ("error", "no_position")
    assert reply.text.startswith("You have no open XRP position.")


async def test_a_doge_open_never_shows_exponent_notation(core: Core, actor: Any, admin: Actor) -> None:
    """/long DOGE 100 10x at 0.1 buys 10,000 DOGE: every reply says 10000, never 1.000E+4."""
    alice = actor("alice")
    await say(core, admin, "/setprice DOGE 0.1")
    replies = [await say(core, alice, line) for line in ("/long DOGE 100 10x", "/positions", "/history")]
    assert "bought 10000 DOGE" in replies[0].text and "Position: long 10000 DOGE" in replies[0].text
    assert "qty 10000 @" in replies[1].text and "buy 10000 DOGE" in replies[2].text
    for reply in replies:
        assert "E+" not in reply.text and "e+" not in reply.text


def test_a_trade_reply_writes_quantities_as_plain_digits_however_the_decimal_is_held() -> None:
    """The renderer never trusts a quantity's exponent: 1.000E+4 DOGE reads as 10000."""
    change = PositionChanged(
        symbol="DOGE", action="opened", side="long", qty=D("1.000E+4"), price=D("0.1"), fee=D("0.5"),
        realized_pnl=D(0), position_qty=D("1.000E+4"), position_side="long", mode="isolated", leverage=10,
        margin=D(100), liquidation_price=D("0.09058883"), wallet_balance=D("9999.5"),
    )
    _, text, _ = describe(change)
    assert "bought 10000 DOGE" in text and "long 10000 DOGE" in text and "E+" not in text
