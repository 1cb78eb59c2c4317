"""Numeric quiz questions computed by the engine: liquidation prices, margin ratio, losses in each mode,
adding margin, hedges, maintenance brackets, the insurance fund's share.

The right answer always comes from `core.domain.margin` / `positions.evaluate` / `whatif`; the wrong ones are
the mistakes people really make (Bybit's shortcut EP·(1−1/L+MMR), forgetting the maintenance amount, using
leverage in cross, measuring maintenance at the entry, the bankruptcy price, ignoring other cross positions).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.domain import margin as m
from core.domain.instruments import Bracket, Catalog, Instrument
from core.domain.money import ZERO, floor_to_step, money, plain
from core.domain.positions import Position, evaluate, liquidate_isolated
from core.domain.quiz_bank import MAX_EXPLANATION_CHARS, MAX_OPTION_CHARS, MAX_TEXT_CHARS, Question
from core.domain.whatif import as_mode, outcome_at

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ATTEMPTS = 40

# Round prices people recognise: (low, high, step) per symbol.
_PRICES: dict[str, tuple[int, int, int]] = {
    "BTC": (40000, 90000, 500), "ETH": (2000, 4000, 50), "SOL": (100, 250, 5), "BNB": (400, 800, 10),
}
# Notionals that stay inside one bracket while the price moves to the liquidation price.
_NOTIONALS: dict[str, tuple[int, ...]] = {
    "BTC": (5000, 25000, 100000, 500000), "ETH": (5000, 25000, 100000, 500000),
    "SOL": (5000, 25000, 150000), "BNB": (5000, 25000, 60000, 150000),
}


class _Retry(Exception):
    """The drawn numbers gave no usable question (no liquidation price, options that coincide)."""


@dataclass(frozen=True)
class NumericQuestion:
    """A generated question, the engine's exact answer and the inputs (so a test can recompute it)."""

    kind: str
    question: Question
    answer: Decimal
    params: Mapping[str, str]


@dataclass(frozen=True)
class _Draft:
    topic: str
    difficulty: int
    text: str
    correct: str
    wrong: tuple[str, ...]
    explanation: str
    answer: Decimal
    params: dict[str, str]


def _params(**values: object) -> dict[str, str]:
    return {key: str(value) for key, value in values.items()}


def usd(value: Decimal) -> str:
    """Two decimals with thousands separators, as options and texts show amounts and prices."""
    return f"{value.quantize(CENT):,.2f}"


def pct(value: Decimal) -> str:
    return f"{(value * HUNDRED).quantize(CENT):,.2f} %"


def rate(value: Decimal) -> str:
    return f"{(value * HUNDRED).normalize():f} %"


def _side(s: int) -> str:
    return "long" if s > 0 else "short"


def _market(
    rng: random.Random, catalog: Catalog, symbols: Sequence[str] = tuple(_PRICES)
) -> tuple[Instrument, Decimal]:
    symbol = rng.choice([s for s in symbols if catalog.get(s) is not None])
    instrument = catalog.get(symbol)
    assert instrument is not None
    low, high, step = _PRICES[symbol]
    return instrument, Decimal(low + step * rng.randint(0, (high - low) // step))


def _qty(rng: random.Random, instrument: Instrument, price: Decimal) -> Decimal:
    qty = floor_to_step(Decimal(rng.choice(_NOTIONALS[instrument.symbol])) / price, instrument.lot_size)
    if qty <= 0:
        raise _Retry
    return qty


def _bracket_at(instrument: Instrument, qty: Decimal, price: Decimal | None) -> Bracket:
    if price is None:
        raise _Retry
    return instrument.bracket_for(qty * price)


def _bybit(entry: Decimal, side: int, leverage: Decimal, mmr: Decimal) -> Decimal:
    """Bybit's shortcut, a common wrong answer for Binance: EP·(1 − 1/L + MMR) for a long."""
    return entry * (1 - side / leverage + side * mmr)


def _liq_isolated(rng: random.Random, catalog: Catalog) -> _Draft:
    instrument, entry = _market(rng, catalog)
    side, lev = rng.choice((1, -1)), rng.choice((5, 10, 20, 25))
    qty = _qty(rng, instrument, entry)
    pm = money(m.initial_margin(qty, entry, lev))
    lp = m.liquidation_price(instrument, side, qty, entry, pm)
    b = _bracket_at(instrument, qty, lp)
    assert lp is not None
    no_cum = (pm - side * qty * entry) / (qty * b.mmr - side * qty)
    mm_at_entry = entry + (qty * entry * b.mmr - b.cum - pm) / (side * qty)
    bp = m.bankruptcy_price(side, qty, entry, pm) or ZERO
    sym = instrument.symbol
    return _Draft(
        "isolated", 3 if b.cum else 2,
        f"Isolated {_side(side)} {plain(qty)} {sym} at {usd(entry)}, {lev}x, position margin {usd(pm)} USDT. Its "
        f"bracket: MMR {rate(b.mmr)}, maintenance amount {usd(b.cum)}. At what mark is it liquidated?",
        usd(lp), (usd(_bybit(entry, side, Decimal(lev), b.mmr)), usd(no_cum), usd(mm_at_entry), usd(bp)),
        f"LP = (PM + cum − s·q·EP) / (q·MMR − s·q) = {usd(lp)}. EP·(1−1/L+MMR) is Bybit's shortcut; "
        f"{usd(bp)} is the bankruptcy price.",
        lp, _params(symbol=instrument.symbol, side=side, qty=qty, entry=entry, leverage=lev, margin=pm, mmr=b.mmr,
                    cum=b.cum),
    )


def _add_margin(rng: random.Random, catalog: Catalog) -> _Draft:
    instrument, entry = _market(rng, catalog)
    side, lev = rng.choice((1, -1)), rng.choice((10, 20, 25))
    qty = _qty(rng, instrument, entry)
    pm = money(m.initial_margin(qty, entry, lev))
    added = money(pm * Decimal(rng.choice(("0.25", "0.5", "1"))))
    old = m.liquidation_price(instrument, side, qty, entry, pm)
    new = m.liquidation_price(instrument, side, qty, entry, pm + added)
    b = _bracket_at(instrument, qty, new)
    if old is None or new is None:
        raise _Retry
    effective = qty * entry / (pm + added)
    sym = instrument.symbol
    return _Draft(
        "isolated", 2,
        f"Isolated {_side(side)} {plain(qty)} {sym} at {usd(entry)}, {lev}x, margin {usd(pm)} USDT, MMR "
        f"{rate(b.mmr)}, maintenance amount {usd(b.cum)}; liquidation at {usd(old)}. You add {usd(added)} "
        "USDT of margin. Where is the liquidation price now?",
        usd(new), (usd(old), usd(2 * old - new), usd(_bybit(entry, side, effective, b.mmr))),
        f"Solve LP with PM = {usd(pm + added)}: {usd(new)}. More margin means the price must travel further "
        "before equity meets maintenance.",
        new, _params(symbol=instrument.symbol, side=side, qty=qty, entry=entry, leverage=lev, margin=pm, added=added,
                     mmr=b.mmr, cum=b.cum),
    )


def _liq_cross(rng: random.Random, catalog: Catalog) -> _Draft:
    instrument, entry = _market(rng, catalog, ("BTC", "SOL", "BNB"))
    side, lev = rng.choice((1, -1)), rng.choice((10, 20, 25))
    qty = _qty(rng, instrument, entry)
    im = money(m.initial_margin(qty, entry, lev))
    cwb = (im * rng.choice((2, 3, 4))).quantize(Decimal(1))
    eth_qty, eth_entry = Decimal(rng.choice((1, 2, 4))), Decimal(rng.randrange(2000, 4000, 100))
    eth_mark = eth_entry + Decimal(rng.choice((-150, -100, -50, 50, 100, 150)))
    main = Position(instrument.symbol, side, qty, entry, lev, "cross")
    other = Position("ETH", 1, eth_qty, eth_entry, 10, "cross")
    view = evaluate(cwb, (main, other), {main.symbol: entry, "ETH": eth_mark}, catalog)
    lp, ov = view.positions[0].liquidation_price, view.positions[1]
    if lp is None or ov.unrealized_pnl <= -cwb / 2:
        raise _Retry
    b = _bracket_at(instrument, qty, lp)
    upnl1, mm1 = ov.unrealized_pnl, ov.maintenance_margin
    ignore_other = m.liquidation_price(instrument, side, qty, entry, cwb)
    with_leverage = m.liquidation_price(instrument, side, qty, entry, im)
    flipped = m.liquidation_price(instrument, side, qty, entry, cwb - mm1 - upnl1)
    sym = instrument.symbol
    return _Draft(
        "cross", 3,
        f"Cross wallet {usd(cwb)} USDT. {_side(side).capitalize()} {plain(qty)} {sym} at {usd(entry)}, {lev}x, MMR "
        f"{rate(b.mmr)}, amount {usd(b.cum)}. Your other cross position: PnL {upnl1:+,.2f}, maintenance "
        f"{usd(mm1)}. Where is {sym} liquidated?",
        usd(lp), tuple(usd(p) for p in (ignore_other, with_leverage, flipped) if p is not None),
        f"Cross LP = (CWB − TMM₁ + UPNL₁ + cum − s·q·EP)/(q·MMR − s·q) = {usd(lp)}. Leverage plays no part; the "
        "other position does.",
        lp, _params(symbol=instrument.symbol, side=side, qty=qty, entry=entry, leverage=lev, wallet=cwb,
                    other_pnl=upnl1, other_mm=mm1, mmr=b.mmr, cum=b.cum),
    )


def _margin_ratio(rng: random.Random, catalog: Catalog) -> _Draft:
    instrument, entry = _market(rng, catalog, ("BTC", "ETH"))
    lev = rng.choice((10, 20, 25))
    qty = _qty(rng, instrument, entry)
    mark = entry * (1 - Decimal(rng.choice((2, 4, 6, 8))) / HUNDRED)
    wallet = (m.initial_margin(qty, entry, lev) * rng.choice((2, 3))).quantize(Decimal(1))
    view = evaluate(wallet, (Position(instrument.symbol, 1, qty, entry, lev, "cross"),), {instrument.symbol: mark},
                    catalog)
    ratio, pv = view.margin_ratio, view.positions[0]
    if ratio is None:
        raise _Retry
    b = instrument.bracket_for(qty * mark)
    im = m.initial_margin(qty, entry, lev)
    wrong = (pv.maintenance_margin / wallet, im / view.margin_balance,
             pv.maintenance_margin / (wallet - pv.unrealized_pnl))
    return _Draft(
        "cross", 2,
        f"Cross wallet {usd(wallet)} USDT, one position: long {plain(qty)} {instrument.symbol} at {usd(entry)}, "
        f"{lev}x. "
        f"Mark now {usd(mark)}; MMR {rate(b.mmr)}, maintenance amount {usd(b.cum)}. What is the margin ratio?",
        pct(ratio), tuple(pct(w) for w in wrong),
        f"Ratio = MM / (wallet + PnL) = {usd(pv.maintenance_margin)} / {usd(view.margin_balance)} = {pct(ratio)}. "
        "Leverage and initial margin play no part.",
        ratio, _params(symbol=instrument.symbol, wallet=wallet, qty=qty, entry=entry, mark=mark, leverage=lev,
                       mmr=b.mmr, cum=b.cum),
    )


def _loss_modes(rng: random.Random, catalog: Catalog) -> _Draft:
    instrument, entry = _market(rng, catalog)
    wallet = Decimal(rng.choice((1000, 2000, 3000, 5000)))
    lev = rng.choice((5, 10, 20))
    qty = floor_to_step(wallet * Decimal(rng.choice(("0.1", "0.2", "0.25"))) * lev / entry, instrument.lot_size)
    if qty <= 0:
        raise _Retry
    drop = Decimal(rng.choice((5, 8, 12, 15, 20, 25, 30, 40)))
    mark = entry * (1 - drop / HUNDRED)
    position = Position(instrument.symbol, 1, qty, entry, lev, "isolated", money(m.initial_margin(qty, entry, lev)))
    rate_ = catalog.fees.liquidation_clearance
    marks = {instrument.symbol: mark}
    iso = outcome_at(wallet, as_mode((position,), "isolated"), marks, catalog, rate_, "isolated").lost
    cross = outcome_at(wallet, as_mode((position,), "cross"), marks, catalog, rate_, "cross").lost
    raw = qty * (entry - mark)
    combos = ((raw, raw), (cross, iso), (position.margin, wallet), (iso, raw), (raw, cross))
    return _Draft(
        "comparison", 2,
        f"Wallet {usd(wallet)} USDT. Long {plain(qty)} {instrument.symbol} at {usd(entry)}, {lev}x "
        f"({usd(position.margin)} USDT margin). The price drops {drop} % in one jump. How much of the wallet is "
        "gone (open losses counted) in isolated, and in cross?",
        _pair(iso, cross), tuple(_pair(a, b) for a, b in combos),
        f"Isolated {'stops at the margin' if iso < raw else 'takes the plain loss'}: {usd(iso)}. Cross "
        f"{'is liquidated' if cross >= wallet * Decimal('0.9') else 'absorbs it'}: {usd(cross)}.",
        iso, _params(symbol=instrument.symbol, wallet=wallet, qty=qty, entry=entry, leverage=lev,
                     margin=position.margin, mark=mark, cross_lost=cross),
    )


def _pair(iso: Decimal, cross: Decimal) -> str:
    return f"Isolated {usd(iso)} · cross {usd(cross)}"


def _hedge(rng: random.Random, catalog: Catalog) -> _Draft:
    btc, btc_price = _market(rng, catalog, ("BTC",))
    eth, eth_price = _market(rng, catalog, ("ETH",))
    wallet = Decimal(rng.choice((500, 1000, 2000)))
    btc_qty = floor_to_step(wallet * rng.choice((5, 8, 10)) / btc_price, btc.lot_size)
    eth_qty = floor_to_step(btc_qty * btc_price / eth_price, eth.lot_size)
    drop = Decimal(rng.choice((15, 20, 25, 30)))
    marks = {"BTC": btc_price * (1 - drop / HUNDRED), "ETH": eth_price * (1 - drop / HUNDRED)}
    long_ = Position("BTC", 1, btc_qty, btc_price, 10, "cross")
    short = Position("ETH", -1, eth_qty, eth_price, 10, "cross")
    rate_ = catalog.fees.liquidation_clearance
    alone = outcome_at(wallet, (long_,), marks, catalog, rate_, "cross")
    hedged = outcome_at(wallet, (long_, short), marks, catalog, rate_, "cross")
    if not alone.liquidated or hedged.liquidated:
        raise _Retry
    raw = btc_qty * (btc_price - marks["BTC"])
    combos = ((alone.lost, alone.lost), (hedged.lost, alone.lost), (raw, hedged.lost), (alone.lost, raw / 2))
    return _Draft(
        "cross-benefits", 3,
        f"Cross wallet {usd(wallet)} USDT. A: long {plain(btc_qty)} BTC at {usd(btc_price)}. B: the same long plus "
        f"short {plain(eth_qty)} ETH at {usd(eth_price)}. BTC and ETH both drop {drop} % at once. How much of the "
        "wallet is gone in A, and in B?",
        _ab(alone.lost, hedged.lost), tuple(_ab(a, b) for a, b in combos),
        f"A is liquidated and loses {usd(alone.lost)}; in B the short's gain offsets the long's loss in the "
        f"shared pool: {usd(hedged.lost)}.",
        alone.lost, _params(wallet=wallet, btc_qty=btc_qty, btc_entry=btc_price, eth_qty=eth_qty,
                            eth_entry=eth_price, drop=drop, hedged_lost=hedged.lost),
    )


def _ab(a: Decimal, b: Decimal) -> str:
    return f"A {usd(a)} · B {usd(b)}"


def _maintenance(rng: random.Random, catalog: Catalog) -> _Draft:
    instrument = catalog.get(rng.choice(("BTC", "ETH")))
    if instrument is None or len(instrument.brackets) < 3:
        raise _Retry
    shown = instrument.brackets[:3]
    notional = Decimal(rng.randrange(int(shown[0].cap) // 2, int(shown[2].cap), 10000))
    b = instrument.bracket_for(notional)
    mm = b.maintenance(notional)
    table = "; ".join(f"{x.floor:,.0f}–{x.cap:,.0f}: {rate(x.mmr)}, amount {x.cum:,.0f}" for x in shown)
    first = shown[0]
    return _Draft(
        "brackets", 2,
        f"Your {instrument.symbol} position has a notional of {usd(notional)} USDT. Brackets: {table}. What is its "
        "maintenance margin?",
        usd(mm), (usd(notional * b.mmr), usd(notional * first.mmr - first.cum), usd(notional * b.mmr + b.cum),
                  usd(notional * shown[-1].mmr - shown[-1].cum)),
        f"The notional picks the bracket: MM = N × MMR − amount = {usd(notional)} × {rate(b.mmr)} − {usd(b.cum)} "
        f"= {usd(mm)}.",
        mm, _params(symbol=instrument.symbol, notional=notional, mmr=b.mmr, cum=b.cum),
    )


def _leftover(rng: random.Random, catalog: Catalog) -> _Draft:
    instrument, entry = _market(rng, catalog)
    side, lev = rng.choice((1, -1)), rng.choice((5, 10, 20))
    qty = _qty(rng, instrument, entry)
    pm = money(m.initial_margin(qty, entry, lev))
    position = Position(instrument.symbol, side, qty, entry, lev, "isolated", pm)
    lp = m.liquidation_price(instrument, side, qty, entry, pm)
    if lp is None:
        raise _Retry
    view = evaluate(pm, (position,), {instrument.symbol: lp}, catalog).positions[0]
    fund = liquidate_isolated(view).insurance_fund
    return _Draft(
        "liquidation-leftover", 3,
        f"Isolated {_side(side)} {plain(qty)} {instrument.symbol} at {usd(entry)}, {lev}x, margin {usd(pm)} USDT. "
        f"It is liquidated exactly at its liquidation price {usd(lp)}. How much goes to the insurance fund?",
        usd(fund), (usd(ZERO), usd(pm), usd(pm - fund)),
        f"At the liquidation price margin + PnL equals the maintenance margin, {usd(fund)}: that goes to the fund, "
        f"and you lose the whole {usd(pm)}.",
        fund, _params(symbol=instrument.symbol, side=side, qty=qty, entry=entry, leverage=lev, margin=pm,
                      liquidation_price=lp),
    )


Generator = Callable[[random.Random, Catalog], _Draft]
GENERATORS: dict[str, Generator] = {
    "liq-iso": _liq_isolated,
    "add-margin": _add_margin,
    "liq-cross": _liq_cross,
    "margin-ratio": _margin_ratio,
    "loss-modes": _loss_modes,
    "hedge": _hedge,
    "maintenance": _maintenance,
    "leftover": _leftover,
}
TOPIC_OF: dict[str, str] = {
    "liq-iso": "isolated", "add-margin": "isolated", "liq-cross": "cross", "margin-ratio": "cross",
    "loss-modes": "comparison", "hedge": "cross-benefits", "maintenance": "brackets",
    "leftover": "liquidation-leftover",
}


def kinds_for(topic: str) -> tuple[str, ...]:
    """The numeric question kinds of a lesson topic."""
    return tuple(kind for kind, t in TOPIC_OF.items() if t == topic)


def question_id(kind: str) -> str:
    return f"num-{kind}"


def generate(kind: str, rng: random.Random, catalog: Catalog) -> NumericQuestion:
    """A fresh question of this kind; draws again when the numbers give coinciding options."""
    for _ in range(ATTEMPTS):
        try:
            draft = GENERATORS[kind](rng, catalog)
            options, correct = _options(rng, draft.correct, draft.wrong)
        except _Retry:
            continue
        if len(draft.text) > MAX_TEXT_CHARS or len(draft.explanation) > MAX_EXPLANATION_CHARS:
            continue
        q = Question(question_id(kind), draft.topic, draft.difficulty, draft.text, options, correct,
                     draft.explanation)
        return NumericQuestion(kind, q, draft.answer, draft.params)
    raise RuntimeError(f"no usable {kind} question in {ATTEMPTS} draws")


def _options(rng: random.Random, correct: str, wrong: Sequence[str]) -> tuple[tuple[str, str, str, str], int]:
    chosen = [correct]
    for option in wrong:
        if option not in chosen and not option.startswith("-") and len(option) <= MAX_OPTION_CHARS:
            chosen.append(option)
        if len(chosen) == 4:
            break
    if len(chosen) < 4:
        raise _Retry
    order = chosen[:]
    rng.shuffle(order)
    return (order[0], order[1], order[2], order[3]), order.index(correct)
