"""The liquidation push says exactly what happened to the money (DESIGN §2): isolated loses its position margin and
says where the rest of it went (or who paid past bankruptcy); cross names the clearance fee only when one was
charged, and says when the insurance fund covered a loss beyond the wallet. /history labels the same figures as
what was lost, never as PnL. Expected figures are worked out here by hand from the published rules."""

from __future__ import annotations

import json
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Any

from bot.dispatch import handle
from core.results import Actor
from core.services.core import Core

D = Decimal
TAKER = D("0.0005")


def usdt(value: Decimal) -> str:
    return f"{value.quantize(D('0.01'), rounding=ROUND_HALF_EVEN):,.2f} USDT"


def cents(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_EVEN)


def lots(value: Decimal, lot: Decimal) -> Decimal:
    return (value / lot).quantize(D(1), rounding=ROUND_DOWN) * lot


async def say(core: Core, who: Actor, line: str) -> Any:
    reply = await handle(core, who, line)
    assert reply.type != "error", f"{line}: {reply.text}"
    return reply


async def liquidation_pushes(core: Core, who: Actor) -> list[tuple[str, dict[str, Any]]]:
    async with core.db.transaction() as tx, tx.execute(
        "SELECT o.text, o.data FROM outbox o JOIN users u ON u.id = o.user_id "
        "WHERE u.platform_user_id = ? AND o.kind = 'liquidation' ORDER BY o.id",
        (who.user_id,),
    ) as cursor:
        return [(text, json.loads(data)) for text, data in await cursor.fetchall()]


async def test_an_isolated_liquidation_between_the_liquidation_and_bankruptcy_price_says_where_the_rest_went(
    core: Core, actor: Any, admin: Actor
) -> None:
    """Long 0.016 BTC @ 60,000 at 10x isolated (PM 96; BTC's first bracket: mmr 0.4 %, cum 0), mark 54,100:
    the price move costs 94.40, PM 96 is lost, the 1.60 between the mark and the bankruptcy price 54,000 goes to
    the insurance fund. The push says all three, and the other-mode line (cross: no liquidation)."""
    alice = actor("alice")
    await say(core, alice, "/reset 2000 confirm")
    await say(core, alice, "/long BTC 100 10x isolated")
    await say(core, admin, "/setprice BTC 54100")

    entry, mark, mmr = D(60000), D(54100), D("0.004")
    qty = lots(D(100) * 10 / entry, D("0.001"))  # 0.016
    pm = qty * entry / 10  # 96
    wallet = D(2000) - qty * entry * TAKER
    move = qty * (mark - entry)  # −94.40
    liquidation_price = (pm + 0 - qty * entry) / (qty * mmr - qty)  # DESIGN §2, s = +1
    bankruptcy_price = entry - pm / qty  # 54,000
    cross_pct = -move / wallet * 100  # in cross the wallet only carries the open loss
    expected = (
        f"⚠️ Liquidated (isolated): long {qty} BTC @ 60,000.00 closed at mark 54,100.00. "
        f"Its margin plus unrealized PnL fell to its maintenance margin ({usdt(qty * mark * mmr)}) when the mark "
        f"crossed the liquidation price {liquidation_price:,.2f}. Isolated margin: you lost exactly the position "
        f"margin, {usdt(pm)} (the price move cost {usdt(-move)}; the other {usdt(pm + move)}, the gap to the "
        f"bankruptcy price {bankruptcy_price:,.2f}, went to the insurance fund); the rest of your balance was not "
        f"touched. In cross: loses {usdt(-move)} ({cross_pct:.1f} % of the wallet), nothing liquidated."
    )
    [(text, data)] = await liquidation_pushes(core, alice)
    assert text == expected
    assert D(data["lost"]) == pm and D(data["insurance_fund"]) == pm + move
    assert D(data["price_move"]) == move and D(data["clearance_fee"]) == 0 and D(data["insurance_covered"]) == 0

    history = await say(core, alice, "/history")
    assert history.text.splitlines()[0].endswith(f"liquidation sell {qty} BTC @ 54,100.00 lost {cents(pm):,.2f}")
    assert "PnL" not in history.text.splitlines()[0]


async def test_an_isolated_liquidation_past_bankruptcy_says_the_insurance_fund_paid_the_rest(
    core: Core, actor: Any, admin: Actor
) -> None:
    """Long 1 ETH @ 3,000 at 10x isolated (PM 300, bankruptcy 2,700), mark 2,000: the move costs 1,000, the wallet
    loses only the 300 of margin, the insurance fund covers the other 700."""
    alice = actor("alice")
    await say(core, alice, "/long ETH 1eth 10x isolated")
    await say(core, admin, "/setprice ETH 2000")
    [(text, data)] = await liquidation_pushes(core, alice)
    assert (
        "you lost exactly the position margin, 300.00 USDT (the price move cost 1,000.00 USDT, past the bankruptcy "
        "price 2,700.00: the insurance fund covered the other 700.00 USDT); the rest of your balance was not touched."
    ) in text
    assert (data["lost"], data["insurance_fund"], data["insurance_covered"]) == ("300", "-700", "700")


async def test_a_cross_liquidation_past_bankruptcy_says_the_wallet_stopped_at_zero_and_no_fee_was_charged(
    core: Core, actor: Any, admin: Actor
) -> None:
    """The tester's case: 2,000 USDT, cross long BTC 1000 20x and SOL 500 10x, then BTC 55,000 and SOL 140. The
    moves cost more than the wallet holds: the wallet loses all it has and stops at zero, no clearance fee is left
    to charge, and the insurance fund covers the rest. The push says so; it never mentions a fee."""
    alice = actor("alice")
    await say(core, alice, "/reset 2000 confirm")
    await say(core, alice, "/long BTC 1000 20x cross")
    await say(core, alice, "/long SOL 500 10x cross")
    await say(core, admin, "/setprice BTC 55000 SOL 140")

    btc = lots(D(1000) * 20 / 60000, D("0.001"))  # 0.333
    sol = lots(D(500) * 10 / 150, D(1))  # 33
    wallet = D(2000) - (btc * 60000 + sol * 150) * TAKER  # 1,987.535
    move = btc * (55000 - 60000) + sol * (140 - 150)  # −1,995
    assert -move > wallet  # past bankruptcy: the wallet cannot pay the whole move
    # the same positions isolated: BTC's PM 999 is gone (−1,665), SOL keeps 495 − 330 above its MM, open loss 330
    btc_pm, sol_loss = btc * 60000 / 20, sol * 10
    sol_bracket = core.catalog.instruments["SOL"].bracket_for(sol * 140)
    assert D(495) - sol_loss > sol * 140 * sol_bracket.mmr - sol_bracket.cum
    isolated_loss = btc_pm + sol_loss
    expected = (
        f"⚠️ Liquidated (cross): long {btc} BTC @ 60,000.00 closed at mark 55,000.00; long {sol} SOL @ 150.00 "
        "closed at mark 140.00. Your cross margin ratio reached 100 %: the cross balance could no longer cover the "
        "maintenance margin of your cross positions, so both were closed. Cross margin: the price move "
        f"cost {usdt(-move)}, more than the {usdt(wallet)} behind your cross positions: the wallet lost those "
        f"{usdt(wallet)} and stopped at zero, and the insurance fund covered the other "
        f"{usdt(cents(-move) - cents(wallet))}; isolated positions were not touched. In isolated: loses "
        f"{usdt(isolated_loss)} ({isolated_loss / wallet * 100:.1f} % of the wallet), liquidates BTC."
    )
    [(text, data)] = await liquidation_pushes(core, alice)
    assert text == expected
    assert "fee" not in text
    assert D(data["lost"]) == wallet and D(data["clearance_fee"]) == 0
    assert D(data["insurance_fund"]) == wallet + move and D(data["insurance_covered"]) == -move - wallet
    assert D(data["price_move"]) == move

    # /history: one "lost" row per position, summing to what the push says the wallet lost; never "PnL"
    rows = (await say(core, alice, "/history")).text.splitlines()[:2]
    assert all(" lost " in row and "PnL" not in row for row in rows)
    assert sum(D(row.rsplit(" ", 1)[1].replace(",", "")) for row in rows) == cents(wallet)
    assert (await say(core, alice, "/balance")).data["wallet_balance"] == "0"


async def test_a_cross_liquidation_that_charges_the_clearance_fee_names_it_with_its_amount(
    core: Core, actor: Any, admin: Actor
) -> None:
    """DOGE long 20,000 @ 0.2 at 10x cross beside an isolated BTC 0.01 (PM 30): at 0.1525 the move costs 950, the
    cross balance still holds more than the clearance fee 3,050 × 0.5 % = 15.25, so the wallet loses 965.25."""
    alice = actor("alice")
    await say(core, alice, "/reset 1000 confirm")
    await say(core, alice, "/long DOGE 20000doge 10x cross")
    await say(core, alice, "/long BTC 0.01btc 20x isolated")
    await say(core, admin, "/setprice DOGE 0.1525")
    move, fee = D(20000) * (D("0.1525") - D("0.2")), D(20000) * D("0.1525") * D("0.005")
    [(text, data)] = await liquidation_pushes(core, alice)
    assert (
        f"so it was closed. Cross margin: the wallet lost {usdt(fee - move)}: {usdt(-move)} to the price move and a "
        f"clearance fee of {usdt(fee)} paid to the insurance fund; isolated positions were not touched."
    ) in text
    assert (D(data["clearance_fee"]), D(data["insurance_covered"]), D(data["lost"])) == (fee, 0, fee - move)
    history = (await say(core, alice, "/history")).text.splitlines()[0]
    assert history.endswith(f"liquidation sell 20000 DOGE @ 0.15250 lost {cents(fee - move):,.2f}")
