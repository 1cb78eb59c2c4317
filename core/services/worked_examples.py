"""Worked examples for /learn: the last page of some lessons, computed by the engine at today's marks, never
typed by hand."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.domain import drills as dr
from core.domain import margin as m
from core.domain.drills import Leg
from core.domain.instruments import Instrument
from core.domain.money import ZERO, plain
from core.domain.positions import evaluate, liquidate_isolated
from core.errors import Refused
from core.services.core import Core


def worked_example(core: Core, topic: str) -> str | None:
    """The last page of a lesson: its idea in exact numbers at today's marks (None when it has none, or
    when the instruments or prices it needs are missing)."""
    maker = _EXAMPLES.get(topic)
    if maker is None:
        return None
    try:
        return maker(core)
    except (KeyError, Refused, StopIteration):
        return None


def _reference(core: Core) -> tuple[Instrument, Decimal]:
    """BTC (else the first symbol) and its mark."""
    symbol = "BTC" if core.catalog.get("BTC") else core.catalog.symbols[0]
    mark = core.feed.mark(symbol)
    if mark is None:
        raise KeyError(symbol)
    return core.instrument(symbol), mark


def _away(price: Decimal | None, mark: Decimal) -> str:
    if price is None:
        return "none (it would lie at or below zero)"
    return f"{price:,.2f} ({(price - mark) / mark * 100:+.1f} %)"


def _isolated_example(core: Core) -> str:
    instrument, mark = _reference(core)
    sym = instrument.symbol
    pos = dr.open_leg(instrument, Leg(sym, 1, Decimal(100), 10), mark)
    wallet = core.settings.starting_balance
    view = evaluate(wallet, [pos], {sym: mark}, core.catalog).positions[0]
    more = m.liquidation_price(instrument, 1, pos.qty, pos.entry_price, pos.margin + 50)
    return (f"In numbers (computed now, {sym} mark {mark:,.2f}):\n"
            f"/long {sym} 100 10x isolated buys {plain(pos.qty)} {sym} ({view.notional:,.2f} USDT) with "
            f"{pos.margin:,.2f} USDT of margin.\nLiquidation price: {_away(view.liquidation_price, mark)}.\n"
            f"If it is hit you lose exactly {pos.margin:,.2f} USDT; the other {wallet - pos.margin:,.2f} USDT of a "
            f"{wallet:,.0f} wallet stay untouched.\nAfter /margin {sym} add 50 it moves to {_away(more, mark)}.")


def _cross_example(core: Core) -> str:
    instrument, mark = _reference(core)
    sym = instrument.symbol
    pos = dr.open_leg(instrument, Leg(sym, 1, Decimal(500), 20, "cross"), mark)
    lines = [f"In numbers (computed now, {sym} mark {mark:,.2f}): /long {sym} 500 20x cross buys "
             f"{plain(pos.qty)} {sym}."]
    for wallet in (Decimal(1000), Decimal(3000), Decimal(10000)):
        view = evaluate(wallet, [pos], {sym: mark}, core.catalog).positions[0]
        lines.append(f"• cross wallet {wallet:,.0f} USDT: liquidation price {_away(view.liquidation_price, mark)}")
    lines.append("The 20x only set the 500 USDT of initial margin; the balance decides the price. And when it is "
                 "hit, the whole cross balance goes, not 500.")
    return "\n".join(lines)


def _story_lines(report: dr.DrillReport) -> list[str]:
    lines = []
    for run in (report.isolated, report.cross):
        lines.append(f"{run.mode.capitalize()}: {run.events_text()}. Ends with {run.outcome.equity_after:,.2f} of "
                     f"{report.wallet:,.0f} USDT.")
    return lines


def _isolated_benefits_example(core: Core) -> str:
    report = dr.run_story(dr.STORIES["article-isolated"], core.catalog, core.catalog.fees.liquidation_clearance)
    return "\n".join([f"In numbers: {report.summary}.", *_story_lines(report), "Replay it: /drill article-isolated"])


def _cross_danger_example(core: Core) -> str:
    report = dr.run_story(dr.STORIES["article-cross"], core.catalog, core.catalog.fees.liquidation_clearance)
    return "\n".join([f"In numbers: {report.summary}.", *_story_lines(report), "Replay it: /drill article-cross"])


def _cross_benefits_example(core: Core) -> str:
    prices = {"BTC": Decimal(50000), "ETH": Decimal(2500)}
    legs = (Leg("BTC", 1, Decimal(250), 20), Leg("ETH", -1, Decimal(250), 20))
    positions = [dr.open_leg(core.instrument(leg.symbol), leg, prices[leg.symbol]) for leg in legs]
    wallet = Decimal(1000)
    report = dr.run_shape(dr.SHAPES["wick30"], wallet, positions, prices, core.catalog,
                          core.catalog.fees.liquidation_clearance)
    return "\n".join([f"In numbers: a {wallet:,.0f} USDT wallet, long {plain(positions[0].qty)} BTC against short "
                      f"{plain(positions[1].qty)} ETH (20x each), through a −30 % wick that recovers (/drill wick30).",
                      *_story_lines(report)])


def _brackets_example(core: Core) -> str:
    instrument, _ = _reference(core)
    lines = [f"In numbers, {instrument.symbol} brackets today:"]
    for notional in (Decimal(100000), Decimal(500000), Decimal(1000000)):
        b = instrument.bracket_for(notional)
        lines.append(f"• {notional:,.0f} USDT: {notional:,.0f} × {(b.mmr * 100).normalize():f} % − {b.cum:,.0f} = "
                     f"{b.maintenance(notional):,.2f} MM, leverage up to {b.max_leverage}x")
    return "\n".join(lines)


def _leftover_example(core: Core) -> str:
    instrument, mark = _reference(core)
    sym = instrument.symbol
    pos = dr.open_leg(instrument, Leg(sym, 1, Decimal(100), 10), mark)
    view = evaluate(pos.margin, [pos], {sym: mark}, core.catalog).positions[0]
    lp = view.liquidation_price
    assert lp is not None
    at_lp = evaluate(pos.margin, [pos], {sym: lp}, core.catalog).positions[0]
    fund = liquidate_isolated(at_lp).insurance_fund
    return (f"In numbers (computed now): /long {sym} 100 10x isolated at {mark:,.2f}, margin {pos.margin:,.2f}.\n"
            f"Liquidation price {lp:,.2f}, bankruptcy price {view.bankruptcy_price or ZERO:,.2f}.\n"
            f"At the liquidation price {fund:,.2f} USDT of margin is still there (its maintenance margin): it goes "
            f"to the insurance fund, and you lose the whole {pos.margin:,.2f}.")


_EXAMPLES: dict[str, Callable[[Core], str]] = {
    "isolated": _isolated_example,
    "cross": _cross_example,
    "isolated-benefits": _isolated_benefits_example,
    "cross-benefits": _cross_benefits_example,
    "cross-danger": _cross_danger_example,
    "brackets": _brackets_example,
    "liquidation-leftover": _leftover_example,
}
