"""Trading, account and market services on a real SQLite file (DESIGN §2, §4): what a user sees happen to their
positions, wallet, ledger and pushes. Fakes only at the edges: a manual feed and a virtual clock."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.dispatch import handle
from core.errors import Refused
from core.market.feed import ManualFeed
from core.results import Actor, ClosedAll, NeedsConfirmation, PositionChanged
from core.services import accounts, funding, market, trading
from core.services.core import Core, Settings
from core.services.trading import Amount
from tests.conftest import ledger_sums

D = Decimal
ActorFactory = Callable[..., Actor]


def qty(value: str) -> Amount:
    return Amount(D(value), True)


def usdt(value: str) -> Amount:
    return Amount(D(value), False)


async def rows(core: Core, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    async with core.db.transaction() as tx, tx.execute(sql, args) as cursor:
        return [tuple(row) for row in await cursor.fetchall()]


async def wallet(core: Core, who: Actor) -> Decimal:
    return (await accounts.balance(core, who)).wallet_balance


async def positions(core: Core, who: Actor) -> dict[str, Any]:
    view = (await accounts.portfolio(core, who)).account
    return {v.position.symbol: v for v in view.positions}


async def ledger(core: Core, who: Actor) -> list[tuple[str, Decimal, str | None]]:
    found = await rows(
        core,
        "SELECT l.kind, l.amount, l.symbol FROM ledger l JOIN accounts a ON a.id = l.account_id "
        "JOIN users u ON u.id = a.user_id WHERE u.platform_user_id = ? ORDER BY l.id",
        who.user_id,
    )
    return [(kind, D(amount), symbol) for kind, amount, symbol in found]


async def pushes(core: Core, who: Actor) -> list[tuple[str, str, dict[str, Any]]]:
    found = await rows(
        core,
        "SELECT o.kind, o.text, o.data FROM outbox o JOIN users u ON u.id = o.user_id "
        "WHERE u.platform_user_id = ? ORDER BY o.id",
        who.user_id,
    )
    return [(kind, text, json.loads(data)) for kind, text, data in found]


async def set_price(core: Core, admin: Actor, line: str) -> None:
    reply = await handle(core, admin, f"/setprice {line}")
    assert reply.type == "setprice", reply.text


async def assert_ledger_matches_wallets(core: Core) -> None:
    for ledger_sum, balance in (await ledger_sums(core)).values():
        assert ledger_sum == balance


# --- accounts ---


async def test_a_new_user_starts_with_the_starting_balance_booked_in_the_ledger(
    core: Core, actor: ActorFactory
) -> None:
    """DESIGN §4 /start: an account with 10,000 paper USDT; the opening balance is a ledger row."""
    alice = actor("alice")
    first = await accounts.start(core, alice)
    again = await accounts.start(core, alice)
    assert (first.balance, first.new) == (D(10000), True)
    assert (again.balance, again.new) == (D(10000), False)
    assert await ledger(core, alice) == [("reset", D(10000), None)]


@pytest.mark.parametrize("settings", [Settings(starting_balance=D(2500))])
async def test_starting_balance_comes_from_the_setting(core: Core, actor: ActorFactory) -> None:
    """DESIGN §6 STARTING_BALANCE."""
    assert await wallet(core, actor("bob")) == D(2500)


async def test_reset_asks_first_then_closes_everything_and_sets_the_new_balance(
    core: Core, actor: ActorFactory
) -> None:
    """DESIGN §4: /reset destroys state, so it asks for confirmation unless `confirm` follows."""
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"))
    asked = await accounts.reset(core, alice, D(5000), confirmed=False)
    assert isinstance(asked, NeedsConfirmation)
    assert "BTC" in await positions(core, alice)
    done = await accounts.reset(core, alice, D(5000), confirmed=True)
    assert done.closed_positions == 1
    assert await positions(core, alice) == {}
    assert await wallet(core, alice) == D(5000)
    await assert_ledger_matches_wallets(core)


# --- opening ---


async def test_a_market_long_opens_isolated_at_20x_by_default_and_pays_the_taker_fee(
    core: Core, actor: ActorFactory
) -> None:
    """DESIGN §2: default mode isolated (advised to beginners), Binance's default 20x, market fills at the mark,
    taker fee 0.05 % of notional booked as a 'fee' ledger row: 0.1 BTC @ 60,000 → PM 300, fee 3."""
    alice = actor("alice")
    change = await trading.open_position(core, alice, "BTC", 1, qty("0.1"))
    assert (change.action, change.mode, change.leverage) == ("opened", "isolated", 20)
    assert (change.price, change.margin, change.fee) == (D(60000), D(300), D(3))
    assert change.wallet_balance == D(9997)
    assert (await ledger(core, alice))[-1] == ("fee", D(-3), "BTC")
    view = (await positions(core, alice))["BTC"]
    assert (view.position.side, view.position.qty, view.position.entry_price) == (1, D("0.1"), D(60000))
    assert await rows(core, "SELECT kind, qty, price, fee FROM trades") == [("open", "0.1", "60000", "3.00000000")]


async def test_an_amount_in_usdt_is_margin_and_buys_margin_times_leverage_floored_to_the_lot(
    core: Core, actor: ActorFactory
) -> None:
    """DESIGN §4: `/long BTC 1000 10x`: 1,000 USDT of margin at 10x buys 10,000 / 60,000 = 0.1666… → 0.166 BTC."""
    change = await trading.open_position(core, actor("alice"), "BTC", 1, usdt("1000"), leverage=10)
    assert change.qty == D("0.166")
    assert change.margin == D("996")
    assert change.fee == D("4.98")


async def test_a_cross_short_locks_its_initial_margin_out_of_the_available_balance(
    core: Core, actor: ActorFactory
) -> None:
    """DESIGN §2: available balance = MB − Σ IM of cross positions; a cross position's margin is the whole cross
    balance, its IM only gates new orders. 2 ETH short @ 3,000 at 10x: IM 600, fee 3."""
    alice = actor("alice")
    change = await trading.open_position(core, alice, "ETH", -1, qty("2"), leverage=10, mode="cross")
    assert (change.action, change.position_side, change.mode) == ("opened", "short", "cross")
    balance = await accounts.balance(core, alice)
    assert balance.wallet_balance == D(9997)
    assert balance.available_balance == D(9997) - D(600)


async def test_adding_to_a_position_averages_the_entry_by_quantity(
    core: Core, actor: ActorFactory, admin: Actor
) -> None:
    """One-way mode: same side adds; entry = Σ q·price / Σ q: 0.1 @ 60,000 + 0.2 @ 63,000 → 0.3 @ 62,000, and the
    isolated margins add up (300 + 630)."""
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"))
    await set_price(core, admin, "BTC 63000")
    change = await trading.open_position(core, alice, "BTC", 1, qty("0.2"))
    assert change.action == "increased"
    view = (await positions(core, alice))["BTC"]
    assert view.position.qty == D("0.3")
    assert view.position.entry_price == D(62000)
    assert view.position.margin == D(930)
    assert await wallet(core, alice) == D(10000) - D(3) - D("6.3")


async def test_an_opposite_order_reduces_books_the_pnl_and_releases_margin_pro_rata(
    core: Core, actor: ActorFactory, admin: Actor
) -> None:
    """One-way mode: a sell against a long reduces it; realized PnL = 0.05 × (61,000 − 60,000) = 50, PM 600 → 450."""
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, qty("0.2"))
    await set_price(core, admin, "BTC 61000")
    change = await trading.open_position(core, alice, "BTC", -1, qty("0.05"))
    assert (change.action, change.realized_pnl, change.fee) == ("reduced", D(50), D("1.525"))
    view = (await positions(core, alice))["BTC"]
    assert (view.position.side, view.position.qty, view.position.margin) == (1, D("0.15"), D(450))
    assert (await ledger(core, alice))[-2:] == [("realized_pnl", D(50), "BTC"), ("fee", D("-1.525"), "BTC")]
    await assert_ledger_matches_wallets(core)


async def test_an_opposite_order_larger_than_the_position_flips_it(
    core: Core, actor: ActorFactory, admin: Actor
) -> None:
    """One-way mode: long 0.1 then sell 0.3 at 59,000 → closes the long (−100) and opens short 0.2 @ 59,000."""
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"))
    await set_price(core, admin, "BTC 59000")
    change = await trading.open_position(core, alice, "BTC", -1, qty("0.3"))
    assert (change.action, change.realized_pnl, change.position_side) == ("flipped", D(-100), "short")
    view = (await positions(core, alice))["BTC"]
    assert (view.position.side, view.position.qty, view.position.entry_price) == (-1, D("0.2"), D(59000))
    assert view.position.margin == D(590)
    assert await wallet(core, alice) == D(10000) - D(3) - D(100) - D("8.85")


# --- closing ---


async def test_close_by_percentage_by_quantity_and_whole(core: Core, actor: ActorFactory, admin: Actor) -> None:
    """DESIGN §4 `/close SYM [PCT%|QTY]`: 25 % of 0.2 → 0.15 left, then 0.05 → 0.1 left, then all of it."""
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, qty("0.2"))
    await set_price(core, admin, "BTC 60500")
    first = await trading.close_position(core, alice, "BTC", pct=D(25))
    second = await trading.close_position(core, alice, "BTC", qty=D("0.05"))
    assert (first.qty, first.position_qty, second.qty, second.position_qty) == (D("0.05"), D("0.15"), D("0.05"),
                                                                                 D("0.1"))
    last = await trading.close_position(core, alice, "BTC")
    assert (last.action, last.qty, last.position_side, last.realized_pnl) == ("closed", D("0.1"), None, D(50))
    assert await positions(core, alice) == {}
    await assert_ledger_matches_wallets(core)


async def test_close_all_asks_for_confirmation_and_changes_nothing_until_confirmed(
    core: Core, actor: ActorFactory
) -> None:
    """DESIGN §4: `/close all` destroys state, so it asks first; `confirm` skips the question."""
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"))
    await trading.open_position(core, alice, "ETH", -1, qty("1"), mode="cross")
    asked = await trading.close_all(core, alice, confirmed=False)
    assert isinstance(asked, NeedsConfirmation) and asked.command == "/close all confirm"
    assert set(await positions(core, alice)) == {"BTC", "ETH"}
    reply = await handle(core, alice, "/close all")
    assert reply.type == "confirm"
    assert set(await positions(core, alice)) == {"BTC", "ETH"}
    done = await trading.close_all(core, alice, confirmed=True)
    assert isinstance(done, ClosedAll)
    assert sorted(c.symbol for c in done.changes) == ["BTC", "ETH"]
    assert all(c.action == "closed" for c in done.changes)
    assert await positions(core, alice) == {}


# --- margin, leverage, mode ---


async def test_isolated_margin_can_be_added_and_removed_up_to_binances_limit(
    core: Core, actor: ActorFactory, admin: Actor
) -> None:
    """Binance FAQ 360038447311: max removable = min(PM − MM, PM + uPnL − M·q/L). 0.1 BTC long @ 60,000 at 10x
    (PM 600) + 400 added = 1,000; at mark 61,000: MM 24.4, so min(975.6, 1,000 + 100 − 610) = 490."""
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"), leverage=10)
    added = await trading.change_margin(core, alice, "BTC", D(400), adding=True)
    assert (added.added, added.margin) == (D(400), D(1000))
    await set_price(core, admin, "BTC 61000")
    with pytest.raises(Refused) as too_much:
        await trading.change_margin(core, alice, "BTC", D("490.01"), adding=False)
    assert too_much.value.code == "margin_limit"
    assert "490.00" in too_much.value.message
    removed = await trading.change_margin(core, alice, "BTC", D(490), adding=False)
    assert (removed.added, removed.margin) == (D(-490), D(510))
    assert removed.liquidation_price is not None and added.liquidation_price is not None
    assert removed.liquidation_price > added.liquidation_price  # less margin: liquidated sooner
    assert await wallet(core, alice) == D(10000) - D(3)  # moving margin is not a wallet change


async def test_margin_cannot_be_added_beyond_the_available_balance_or_to_a_cross_position(
    core: Core, actor: ActorFactory
) -> None:
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"))
    with pytest.raises(Refused) as beyond:
        await trading.change_margin(core, alice, "BTC", D(9698), adding=True)
    assert beyond.value.code == "margin_limit"
    await trading.open_position(core, alice, "ETH", 1, qty("1"), mode="cross")
    with pytest.raises(Refused) as cross:
        await trading.change_margin(core, alice, "ETH", D(10), adding=True)
    assert cross.value.code == "not_isolated"


async def test_leverage_is_bounded_by_the_bracket_of_the_position(core: Core, actor: ActorFactory) -> None:
    """DESIGN §2 opening rule: L ≤ the bracket's max leverage for the new notional. BTC tier 1 (< 300,000) allows
    150x, tier 2 (300,000–800,000) 100x: 5 BTC @ 60,000 is 300,000."""
    alice = actor("alice")
    with pytest.raises(Refused) as no_position:
        await trading.set_leverage(core, alice, "BTC", 151)
    assert no_position.value.code == "leverage_too_high"
    assert (await trading.set_leverage(core, alice, "BTC", 150)).max_leverage == 150
    await accounts.reset(core, alice, D(1000000), confirmed=True)
    with pytest.raises(Refused) as opening:
        await trading.open_position(core, alice, "BTC", 1, qty("5"), leverage=120)
    assert opening.value.code == "leverage_too_high"
    await trading.open_position(core, alice, "BTC", 1, qty("5"), leverage=50)
    with pytest.raises(Refused) as holding:
        await trading.set_leverage(core, alice, "BTC", 101)
    assert holding.value.code == "leverage_too_high"
    assert (await trading.set_leverage(core, alice, "BTC", 100)).max_leverage == 100


async def test_leverage_can_be_raised_any_time_and_lowered_only_while_the_position_stays_valid(
    core: Core, actor: ActorFactory
) -> None:
    """DESIGN §2: raise any time; lower only when it keeps the position valid. Isolated 0.1 BTC at 20x (PM 300):
    50x keeps PM 300; 10x needs PM 600 until 300 more margin is added."""
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"))
    assert (await trading.set_leverage(core, alice, "BTC", 50)).leverage == 50
    assert (await positions(core, alice))["BTC"].position.margin == D(300)
    with pytest.raises(Refused) as lower:
        await trading.set_leverage(core, alice, "BTC", 10)
    assert lower.value.code == "leverage_lower_refused"
    await trading.change_margin(core, alice, "BTC", D(300), adding=True)
    assert (await trading.set_leverage(core, alice, "BTC", 10)).leverage == 10
    assert (await positions(core, alice))["BTC"].position.leverage == 10


async def test_lowering_cross_leverage_needs_the_extra_initial_margin_available(
    core: Core, actor: ActorFactory
) -> None:
    """DESIGN §2: cross 0.1 BTC at 20x locks IM 300; 1x would lock 6,000, more than 1,000 − 3 − 300 available."""
    alice = actor("alice")
    await accounts.reset(core, alice, D(1000), confirmed=True)
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"), mode="cross")
    with pytest.raises(Refused) as lower:
        await trading.set_leverage(core, alice, "BTC", 1)
    assert lower.value.code == "leverage_lower_refused"
    assert (await trading.set_leverage(core, alice, "BTC", 10)).leverage == 10


async def test_the_margin_mode_cannot_switch_while_the_symbol_has_a_position(
    core: Core, actor: ActorFactory
) -> None:
    """DESIGN §2 / Binance −4048: margin mode is per user and symbol and locked while a position is open."""
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"))
    with pytest.raises(Refused) as locked:
        await trading.set_mode(core, alice, "BTC", "cross")
    assert locked.value.code == "mode_locked"
    with pytest.raises(Refused) as by_order:
        await trading.open_position(core, alice, "BTC", 1, qty("0.1"), mode="cross")
    assert by_order.value.code == "mode_locked"
    every = await trading.set_mode(core, alice, None, "cross")
    assert "BTC" in every.locked and "ETH" in every.symbols
    await trading.close_position(core, alice, "BTC")
    assert (await trading.set_mode(core, alice, "BTC", "cross")).symbols == ("BTC",)
    assert (await trading.open_position(core, alice, "BTC", 1, qty("0.1"))).mode == "cross"


async def test_every_taker_fill_pays_0_05_percent_of_its_notional_into_the_ledger(
    core: Core, actor: ActorFactory, admin: Actor
) -> None:
    """DESIGN §2: taker fee 0.05 % of notional, paid from the wallet, one 'fee' row per fill."""
    alice = actor("alice")
    await trading.open_position(core, alice, "ETH", 1, qty("2"))  # 6,000 notional
    await set_price(core, admin, "ETH 3100")
    await trading.close_position(core, alice, "ETH", pct=D(50))  # 3,100 notional
    fees = [amount for kind, amount, _ in await ledger(core, alice) if kind == "fee"]
    assert fees == [D(-3), D("-1.55")]


# --- liquidation ---


async def test_an_isolated_liquidation_loses_exactly_its_margin_and_leaves_other_positions_alone(
    core: Core, actor: ActorFactory, admin: Actor
) -> None:
    """DESIGN §2: isolated liquidation closes the position and exactly PM is lost; the gap to the bankruptcy price
    goes to the insurance fund; other positions and the rest of the wallet are not touched."""
    alice = actor("alice")
    await trading.open_position(core, alice, "ETH", 1, qty("1"), leverage=10)  # PM 300
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"))  # PM 300
    await trading.open_position(core, alice, "SOL", 1, qty("10"), leverage=10, mode="cross")
    before = await positions(core, alice)
    wallet_before = await wallet(core, alice)
    await set_price(core, admin, "ETH 2000")
    after = await positions(core, alice)
    assert set(after) == {"BTC", "SOL"}
    for symbol in ("BTC", "SOL"):
        assert after[symbol].position == before[symbol].position
    assert await wallet(core, alice) == wallet_before - D(300)
    assert (await ledger(core, alice))[-1] == ("liquidation", D(-300), "ETH")
    assert await rows(core, "SELECT amount, reason FROM insurance_fund") == [("-700.00000000", "isolated liquidation")]
    assert await rows(core, "SELECT symbol, kind FROM trades WHERE kind = 'liquidation'") == [("ETH", "liquidation")]
    await assert_ledger_matches_wallets(core)


async def test_a_cross_liquidation_closes_every_cross_position_and_charges_the_clearance_fee(
    core: Core, actor: ActorFactory, admin: Actor
) -> None:
    """DESIGN §2: at a cross margin ratio of 100 % every cross position closes at its mark and a clearance fee of
    0.5 % of the liquidated notional goes to the insurance fund. DOGE (mmr 0.65 % > 0.5 %) long 20,000 @ 0.2 at 10x
    and an isolated BTC 0.01: at 0.1525 the cross balance is 17.70, MM 19.83 → fee 3,050 × 0.5 % = 15.25."""
    alice = actor("alice")
    await accounts.reset(core, alice, D(1000), confirmed=True)
    await trading.open_position(core, alice, "DOGE", 1, qty("20000"), leverage=10, mode="cross")
    await trading.open_position(core, alice, "BTC", 1, qty("0.01"))  # isolated, PM 30
    await set_price(core, admin, "DOGE 0.1525")
    left = await positions(core, alice)
    assert set(left) == {"BTC"} and left["BTC"].position.margin == D(30)
    assert (await ledger(core, alice))[-2:] == [("realized_pnl", D(-950), None), ("liquidation", D("-15.25"), None)]
    assert await wallet(core, alice) == D(1000) - D(2) - D("0.3") - D(950) - D("15.25")
    assert await rows(core, "SELECT amount, reason FROM insurance_fund") == [("15.25000000", "cross liquidation")]
    await assert_ledger_matches_wallets(core)


async def test_a_cross_liquidation_past_bankruptcy_never_leaves_the_wallet_below_zero(
    core: Core, actor: ActorFactory, admin: Actor
) -> None:
    """DESIGN §2: a gap past bankruptcy is absorbed by the insurance fund and recorded; isolated positions stay.
    Cross BTC 0.1 and SOL 10 with 894.75 of cross balance, BTC 60,000 → 40,000 (−2,000): both close, the fund pays
    1,105.25, the wallet keeps exactly the isolated ETH margin 300."""
    alice = actor("alice")
    await accounts.reset(core, alice, D(1200), confirmed=True)
    await trading.open_position(core, alice, "ETH", 1, qty("1"), leverage=10)  # isolated PM 300
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"), leverage=10, mode="cross")
    await trading.open_position(core, alice, "SOL", 1, qty("10"), leverage=10, mode="cross")
    await set_price(core, admin, "BTC 40000")
    left = await positions(core, alice)
    assert set(left) == {"ETH"} and left["ETH"].position.margin == D(300)
    assert await wallet(core, alice) == D(300)
    # the wallet books only the loss it can pay (its whole cross balance), never dipping below zero
    assert (await ledger(core, alice))[-1] == ("realized_pnl", D("-894.75"), None)
    assert all(D(after) >= 0 for (after,) in await rows(core, "SELECT balance_after FROM ledger"))
    assert await rows(core, "SELECT amount FROM insurance_fund") == [("-1105.25000000",)]
    closed = await rows(core, "SELECT symbol FROM trades WHERE kind = 'liquidation' ORDER BY symbol")
    assert closed == [("BTC",), ("SOL",)]
    await assert_ledger_matches_wallets(core)


async def test_an_isolated_liquidation_never_leaves_the_wallet_below_zero(
    core: Core, actor: ActorFactory, admin: Actor
) -> None:
    """DESIGN §2: "A wallet never goes below zero". Wallet 1,000; cross 0.1 BTC @ 60,000 at 10x; BTC → 80,000
    (+2,000 unrealized); isolated 1 ETH @ 3,000 at 2x takes PM 1,500 out of a 995.50 wallet; ETH → 1,000."""
    alice = actor("alice")
    await accounts.reset(core, alice, D(1000), confirmed=True)
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"), leverage=10, mode="cross")
    await set_price(core, admin, "BTC 80000")
    with contextlib.suppress(Refused):  # refusing this open would be one way to keep the rule
        await trading.open_position(core, alice, "ETH", 1, qty("1"), leverage=2)
    await set_price(core, admin, "ETH 1000")
    assert await wallet(core, alice) >= 0


async def test_a_liquidation_push_reaches_the_outbox_and_names_what_was_lost(
    core: Core, actor: ActorFactory, admin: Actor
) -> None:
    """DESIGN §5: pushed liquidations have type `liquidation`; the text says what was lost and why."""
    alice = actor("alice")
    await trading.open_position(core, alice, "ETH", 1, qty("1"), leverage=10)
    await set_price(core, admin, "ETH 2000")
    [(kind, text, data)] = await pushes(core, alice)
    assert kind == "liquidation"
    assert data["mode"] == "isolated" and data["lost"] == "300"
    assert data["positions"][0]["symbol"] == "ETH"
    assert "300.00 USDT" in text and "ETH" in text
    assert await pushes(core, admin) == []


async def test_a_price_that_liquidates_nobody_changes_no_wallet(
    core: Core, actor: ActorFactory, admin: Actor
) -> None:
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"))
    result = await market.set_prices(core, admin, {"BTC": D(59000)})
    assert result.liquidations == 0
    assert await wallet(core, alice) == D(9997)
    assert (await positions(core, alice))["BTC"].unrealized_pnl == D(-100)


# --- funding ---


async def test_funding_moves_isolated_margin_and_the_cross_wallet_once_per_funding_time(
    core: Core, actor: ActorFactory, feed: ManualFeed
) -> None:
    """DESIGN §2: payment = N × rate, longs pay when the rate is positive; isolated funding moves PM, cross funding
    moves the wallet; a funding time is applied once."""
    alice = actor("alice")
    await trading.open_position(core, alice, "BTC", 1, qty("0.1"))  # isolated, PM 300
    await trading.open_position(core, alice, "ETH", -1, qty("1"), mode="cross")
    at = core.clock.now().replace(hour=16, minute=0) + timedelta(days=0)
    rates = {"BTC": D("0.0001"), "ETH": D("0.0001")}
    assert await funding.settle(core, at, rates) == 2
    assert await funding.settle(core, at, rates) == 0
    held = await positions(core, alice)
    assert held["BTC"].position.margin == D("299.4")
    funded = [(amount, symbol) for kind, amount, symbol in await ledger(core, alice) if kind == "funding"]
    assert funded == [(D("-0.6"), "BTC"), (D("0.3"), "ETH")]
    assert await wallet(core, alice) == D(10000) - D(3) - D("1.5") - D("0.6") + D("0.3")
    await assert_ledger_matches_wallets(core)


async def test_a_change_result_carries_what_the_user_needs(core: Core, actor: ActorFactory) -> None:
    change = await trading.open_position(core, actor("alice"), "BTC", -1, qty("0.1"), leverage=10)
    assert isinstance(change, PositionChanged)
    assert change.liquidation_price is not None and change.liquidation_price > D(60000)
