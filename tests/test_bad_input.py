"""DESIGN §4: "Every bad input gets one clear reply that says what was wrong and how to write it; nothing changes."

Each line goes through `bot.dispatch.handle`, the entry point of every platform. The reply must be one `error`
with a specific `data.code` and an example, and every table and every mark must be exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from bot.commands import parse
from bot.dispatch import handle, help_reply
from core.market.feed import FeedState
from core.results import Actor
from core.services import trading
from core.services.core import Core
from core.services.trading import Amount
from tests.conftest import STARTING_MARKS, table_snapshot

ActorFactory = Callable[..., Actor]

LONG_NUMBER = "1" * 31  # one character more than parse_decimal accepts


class LiveLikeFeed(FeedState):
    """A feed whose marks come from a market, not from admins (live, sim and replay feeds derive from FeedState)."""

    name = "live"


@pytest.fixture
async def trader(core: Core, actor: ActorFactory) -> Actor:
    """alice holds an isolated 0.1 BTC long at 20x (PM 300) with 9,997 USDT in her wallet."""
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, Amount(Decimal("0.1"), True))
    return alice


async def assert_refused_without_change(core: Core, who: Actor, line: str, code: str) -> None:
    tables = await table_snapshot(core)
    marks = core.feed.marks()
    reply = await handle(core, who, line)
    assert reply.type == "error", f"{line!r} was not refused: {reply.text}"
    assert reply.data["code"] == code, f"{line!r}: {reply.text}"
    assert reply.data["example"], f"{line!r} gives no example"
    assert "Example: " in reply.text
    assert await table_snapshot(core) == tables, f"{line!r} changed the database"
    assert core.feed.marks() == marks, f"{line!r} changed the marks"


BAD_LINES = [
    # unknown command, unknown symbol, missing arguments
    ("/frobnicate", "unknown_command"),
    ("/long FOO 100", "unknown_symbol"),
    ("/long B 100", "unknown_symbol"),
    ("/close ETHX", "unknown_symbol"),
    ("/long BTC", "missing_argument"),
    ("/short", "missing_argument"),
    ("/close", "missing_argument"),
    ("/margin BTC add", "missing_argument"),
    ("/leverage BTC 10 20", "missing_argument"),
    ("/mode BTC iso cross", "missing_argument"),
    ("/mode BTC ETH", "missing_argument"),
    # zero, negative, NaN, infinity, more than 30 characters
    ("/long BTC 0", "not_positive"),
    ("/long BTC 0btc", "not_positive"),
    ("/margin BTC add 0", "not_positive"),
    ("/reset 0 confirm", "not_positive"),
    ("/long BTC -100", "not_positive"),
    ("/short BTC -0.1btc", "not_positive"),
    ("/close BTC -5%", "not_positive"),
    ("/margin BTC remove -10", "not_positive"),
    ("/long BTC nan", "bad_number"),
    ("/long BTC NaN", "bad_number"),
    ("/margin BTC add snan", "bad_number"),
    ("/long BTC inf", "bad_number"),
    ("/long BTC Infinity", "bad_number"),
    ("/reset -infinity", "bad_number"),
    (f"/long BTC {LONG_NUMBER}", "bad_number"),
    (f"/margin BTC add 0.{'0' * 29}1", "bad_number"),
    (f"/close BTC {LONG_NUMBER}%", "bad_number"),
    # quantities, leverage and balance the rules refuse
    ("/long BTC 0.0001btc", "qty_below_lot"),
    ("/long BTC 1usdt", "qty_below_lot"),
    ("/long BTC 0.0015btc", "qty_not_lot_multiple"),
    ("/long SOL 100 101x", "leverage_too_high"),
    ("/long BTC 100 151x", "bad_leverage"),
    ("/leverage ETH 151", "leverage_too_high"),
    ("/long BTC 1000 200x", "bad_leverage"),
    ("/long ETH 20000 10x", "insufficient_balance"),
    ("/long BTC 20000", "insufficient_balance"),
    ("/long BTC 100 10x", "leverage_mismatch"),
    ("/short ETH 100eth 10x", "insufficient_balance"),
    ("/mode BTC cross", "mode_locked"),
    ("/long BTC 100 cross", "mode_locked"),
    ("/margin BTC remove 1000", "margin_limit"),
    ("/margin BTC add 9998", "margin_limit"),
    ("/close ETH", "no_position"),
    ("/close BTC 0.5btc", "qty_above_position"),
    ("/close BTC 150%", "bad_percent"),
    # wrong unit, not a command, permissions
    ("/long BTC 0.5eth", "wrong_unit"),
    ("/close BTC 0.05eth", "wrong_unit"),
    ("/long BTC 10usd", "wrong_unit"),
    ("/long BTC 1,00", "bad_number"),  # not a thousands separator
    ("/long BTC 0,001btc", "bad_number"),  # a comma in a quantity may be a decimal point: refused, not guessed
    ("/long BTC 0,5", "bad_number"),
    ("/long BTC 100 10x @59,000", "bad_number"),
    ("/alert BTC > 2,300", "bad_number"),
    ("/alert BTC > 999999999999999k", "bad_number"),  # the size limit holds after the k
    ("/mode BTC isolate", "bad_mode"),
    ("/leverage 10", "missing_argument"),
    ("/leverage BTC ²", "bad_leverage"),  # a digit to str.isdigit, not to int()
    ("/long ETH 100 10", "bad_leverage"),  # leverage is written with an x
    ("long BTC 100", "not_a_command"),
    ("/setprice BTC 50000", "not_admin"),
]


@pytest.mark.parametrize(("line", "code"), BAD_LINES)
async def test_a_bad_command_gets_one_specific_error_with_an_example_and_changes_nothing(
    core: Core, trader: Actor, line: str, code: str
) -> None:
    await assert_refused_without_change(core, trader, line, code)


@pytest.mark.parametrize(
    ("line", "code"),
    [("/setprice BTC", "missing_argument"), ("/setprice BTC nan", "bad_number"), ("/setprice BTC 0", "not_positive"),
     ("/setprice FOO 10", "unknown_symbol"), (f"/setprice BTC {LONG_NUMBER}", "bad_number")],
)
async def test_an_admins_bad_setprice_changes_no_mark(
    core: Core, trader: Actor, admin: Actor, line: str, code: str
) -> None:
    await assert_refused_without_change(core, admin, line, code)


@pytest.mark.parametrize("feed", [LiveLikeFeed(STARTING_MARKS)])
async def test_setprice_is_refused_on_a_feed_that_is_not_manual(core: Core, trader: Actor, admin: Actor) -> None:
    """DESIGN §4: `/setprice SYM PRICE`: admins only, manual feed only."""
    await assert_refused_without_change(core, admin, "/setprice BTC 50000", "not_manual_feed")


async def test_a_refused_first_command_does_not_even_open_an_account(core: Core, actor: ActorFactory) -> None:
    """Nothing changes: not even the account a first contact would open."""
    await assert_refused_without_change(core, actor("bob"), "/long BTC 20000 10x", "insufficient_balance")
    assert (await table_snapshot(core))["users"] == []


async def test_too_long_a_message_is_refused_without_reading_it(core: Core, trader: Actor) -> None:
    await assert_refused_without_change(core, trader, "/long BTC " + "9" * 600, "too_long")


async def test_an_amount_in_exponent_notation_beyond_30_digits_gets_a_specific_refusal(
    core: Core, trader: Actor
) -> None:
    """`1e100` is 5 characters but a 101-digit amount: it must be refused like a 31-digit number is."""
    tables = await table_snapshot(core)
    reply = await handle(core, trader, "/long BTC 1e100")
    assert reply.type == "error"
    assert reply.data["code"] in {"bad_number", "insufficient_balance", "leverage_too_high"}
    assert await table_snapshot(core) == tables


async def test_an_admins_absurd_price_in_exponent_notation_is_refused_and_sets_nothing(
    core: Core, trader: Actor, admin: Actor
) -> None:
    """A 51-digit price written as `1e50` must be refused like a 31-digit one, and the market left as it was."""
    await assert_refused_without_change(core, admin, "/setprice BTC 1e50", "bad_number")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("/long BTC 1k 10X", "/long BTC 1000 10x"), ("/long btcusdt $100 5x", "/long BTC 100 5x"),
     ("/long BTC 1,000 10x", "/long BTC 1000 10x"), ("/close BTC 25 %", "/close BTC 25%"),
     ("/close BTC all", "/close BTC"), ("/alert BTC > 70k", "/alert BTC > 70000"),
     ("/margin BTC add 1,250.5", "/margin BTC add 1250.5"), ("/reset 5,000", "/reset 5000"),
     ("/whatif long BTC 1,000 10x, short ETH 500 5x wallet=20,000",
      "/whatif long BTC 1000 10x, short ETH 500 5x wallet=20000")],
)
def test_numbers_as_people_type_them_mean_the_plain_form(typed: str, meant: str) -> None:
    assert parse(typed) == parse(meant)


def test_help_for_a_command_explains_its_defaults() -> None:
    text = help_reply("long").text
    assert text.startswith("/long SYM AMOUNT") and "20x" in text and "isolated" in text and "1k" in text
    assert help_reply("frob").data["code"] == "unknown_command"
