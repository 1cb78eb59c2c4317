"""The risk index pre-screens in floats and never hides a liquidation that Decimal says is due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import VirtualClock
from core.domain.instruments import load_catalog
from core.domain.positions import MODES, LiquidationOutcome, Position, evaluate, isolated_liquidation_due
from core.market.feed import ManualFeed
from core.results import Actor
from core.services import market, risk, trading
from core.services.core import Core, Settings
from core.services.risk_index import RiskIndex, sweep_indexed
from core.storage import accounts as acc
from core.storage import positions as pos
from core.storage.db import Database

CATALOG = load_catalog()
SYMBOLS = list(CATALOG.symbols)
BASE = {"BTC": "95000", "ETH": "3200", "SOL": "140", "BNB": "900", "XRP": "2.2", "DOGE": "0.17"}
Account = tuple[Decimal, list[Position]]


# --- brute force in Decimal, with the domain functions --------------------------------------------------


def due_in_decimal(accounts: Mapping[int, Account], marks: Mapping[str, Decimal], symbols: set[str]) -> set[int]:
    """What `risk.liquidate_if_due` would liquidate after a tick on `symbols`."""
    due = set()
    for account_id, (wallet, positions) in accounts.items():
        if not any(p.symbol in symbols for p in positions):
            continue
        view = evaluate(wallet, positions, marks, CATALOG)
        touched = [v for v in view.positions if v.position.symbol in symbols]
        if view.cross_liquidation_due or any(isolated_liquidation_due(v) for v in touched):
            due.add(account_id)
    return due


def at_or_above_in_decimal(
    accounts: Mapping[int, Account], marks: Mapping[str, Decimal], symbols: set[str], threshold: Decimal
) -> set[int]:
    """Accounts whose cross margin ratio or a touched isolated position's health reaches `threshold`."""
    found = set()
    for account_id, (wallet, positions) in accounts.items():
        if not any(p.symbol in symbols for p in positions):
            continue
        view = evaluate(wallet, positions, marks, CATALOG)
        ratios = [v.health for v in view.positions if v.position.symbol in symbols and v.position.mode == "isolated"]
        if view.cross_positions:
            ratios.append(view.margin_ratio)
        if any(r is None or r >= threshold for r in ratios):
            found.add(account_id)
    return found


def indexed(accounts: Mapping[int, Account]) -> RiskIndex:
    index = RiskIndex(CATALOG)
    for account_id, (wallet, positions) in accounts.items():
        index.update_account(account_id, wallet, positions)
    return index


# --- random accounts, with marks pushed onto liquidation prices and bracket caps ---------------------------


def scaled(draw: st.DrawFn, low: int, high: int, places: int) -> Decimal:
    return Decimal(draw(st.integers(low, high))).scaleb(-places)


@st.composite
def a_position(draw: st.DrawFn, symbol: str) -> Position:
    base = Decimal(BASE[symbol])
    entry = base * scaled(draw, 500_000, 1_500_000, 6)
    qty = scaled(draw, 1, 10**9, draw(st.integers(0, 8))) / base * 10
    leverage = draw(st.integers(1, 125))
    mode = draw(st.sampled_from(MODES))
    added = scaled(draw, 0, 10**6, 2) * draw(st.sampled_from([0, 0, 1]))
    margin = qty * entry / leverage + added if mode == "isolated" else Decimal(0)
    return Position(symbol, draw(st.sampled_from([1, -1])), qty, entry, leverage, mode, margin)


@st.composite
def an_account(draw: st.DrawFn) -> Account:
    held = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=6, unique=True))
    wallet = scaled(draw, 0, 10**12, draw(st.integers(0, 8)))
    return wallet, [draw(a_position(symbol)) for symbol in held]


@st.composite
def a_market(draw: st.DrawFn) -> tuple[dict[int, Account], dict[str, Decimal], set[str]]:
    """Accounts and marks; some marks sit exactly on a position's liquidation price or a bracket cap."""
    accounts = dict(enumerate(draw(st.lists(an_account(), min_size=1, max_size=12)), start=1))
    marks = {s: Decimal(BASE[s]) * scaled(draw, 800_000, 1_200_000, 6) for s in SYMBOLS}
    for _ in range(draw(st.integers(0, 4))):
        wallet, positions = accounts[draw(st.sampled_from(sorted(accounts)))]
        p = draw(st.sampled_from(positions))
        view = evaluate(wallet, positions, marks, CATALOG).position(p.symbol)
        assert view is not None
        cap = draw(st.sampled_from(CATALOG.instruments[p.symbol].brackets)).cap
        target = draw(st.sampled_from([view.liquidation_price, cap / p.qty]))
        if target is not None:
            marks[p.symbol] = target * (1 + Decimal(draw(st.integers(-2, 2))).scaleb(-draw(st.integers(9, 30))))
    symbols = set(draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=6, unique=True)))
    return accounts, marks, symbols


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a_market())
def test_the_prescreen_never_misses_a_liquidation_that_decimal_says_is_due(
    market: tuple[dict[int, Account], dict[str, Decimal], set[str]],
) -> None:
    accounts, marks, symbols = market
    index = indexed(accounts)
    candidates = set(index.candidates(marks, symbols))
    assert due_in_decimal(accounts, marks, symbols) <= candidates
    # and it is a screen, not a pass-through: a candidate is due or within float noise of it
    for account_id in candidates - due_in_decimal(accounts, marks, symbols):
        wallet, positions = accounts[account_id]
        assert near_due(wallet, positions, marks, symbols), account_id


def near_due(wallet: Decimal, positions: list[Position], marks: Mapping[str, Decimal], symbols: set[str]) -> bool:
    view = evaluate(wallet, positions, marks, CATALOG)
    noise = Decimal("1e-7") * (
        abs(wallet) + sum(p.qty * (marks[p.symbol] + p.entry_price) + p.margin for p in positions)
    )
    noise += Decimal("0.011") * len(positions)  # bracket caps: MM continuous within the loader's tolerance
    touched = [v for v in view.positions if v.position.symbol in symbols and v.position.mode == "isolated"]
    slacks = [v.margin + v.unrealized_pnl - v.maintenance_margin for v in touched]
    if view.cross_positions:
        slacks.append(view.margin_balance - view.maintenance_margin)
    return any(slack <= noise for slack in slacks)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a_market(), st.sampled_from(["0.5", "0.7", "0.9"]))
def test_the_alert_screen_names_every_account_at_or_above_its_threshold(
    market: tuple[dict[int, Account], dict[str, Decimal], set[str]], threshold: str
) -> None:
    accounts, marks, symbols = market
    screened = dict(indexed(accounts).screen(marks, symbols, float(threshold)))
    assert at_or_above_in_decimal(accounts, marks, symbols, Decimal(threshold)) <= set(screened)
    assert all(ratio >= float(threshold) * (1 - 1e-6) for ratio in screened.values())


def test_design_cross_example_is_a_candidate_just_past_its_liquidation_price() -> None:
    """DESIGN §2: cross 500 USDT, long 1,000 USDT of BTC @ 50,000, mmr 0.4 %, cum 0 → LP 25,100.40."""
    btc = Position("BTC", 1, Decimal("0.02"), Decimal("50000"), 10, "cross")
    index = indexed({7: (Decimal(500), [btc])})
    others = {s: Decimal(BASE[s]) for s in SYMBOLS}
    assert index.candidates({**others, "BTC": Decimal("25100.40")}, {"BTC"}) == [7]
    assert index.candidates({**others, "BTC": Decimal("25100.41")}, {"BTC"}) == []
    assert index.candidates({**others, "BTC": Decimal("25100.40")}, {"ETH"}) == []  # BTC did not move


def test_isolated_positions_are_screened_only_when_their_symbol_moves() -> None:
    eth = Position("ETH", 1, Decimal(1), Decimal(3000), 100, "isolated", Decimal(30))
    index = indexed({3: (Decimal(1000), [eth])})
    crashed = {**{s: Decimal(BASE[s]) for s in SYMBOLS}, "ETH": Decimal(2000)}
    assert index.candidates(crashed, {"ETH"}) == [3]
    assert index.candidates(crashed, {"BTC"}) == []
    ratio = dict(index.screen(crashed, {"ETH"}, 0.7))[3]
    assert ratio == float("inf")  # equity 30 − 1000 < 0


def test_a_symbol_without_a_mark_is_valued_at_its_entry_price_as_core_does() -> None:
    btc = Position("BTC", 1, Decimal("0.1"), Decimal(95000), 50, "cross")
    eth = Position("ETH", -1, Decimal(3), Decimal(3200), 50, "cross")
    index = indexed({5: (Decimal(400), [btc, eth])})
    verdicts = []
    for btc_mark in (Decimal(91800), Decimal(91700), Decimal(91000)):
        due = evaluate(Decimal(400), [btc, eth], {"BTC": btc_mark, "ETH": eth.entry_price}, CATALOG)
        assert (index.candidates({"BTC": btc_mark}, {"BTC"}) == [5]) == due.cross_liquidation_due
        verdicts.append(due.cross_liquidation_due)
    assert verdicts == [False, True, True]


# --- the index follows every update and removal ------------------------------------------------------------


def operations() -> st.SearchStrategy[list[tuple[int, Account | None]]]:
    """Updates (an account state) and removals (None) of fifteen account ids, in any order."""
    return st.lists(st.tuples(st.integers(1, 15), st.none() | an_account()), min_size=1, max_size=60)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations(), a_market())
def test_the_index_stays_in_sync_after_updates_and_removals(
    steps: list[tuple[int, Account | None]], market: tuple[dict[int, Account], dict[str, Decimal], set[str]]
) -> None:
    index = RiskIndex(CATALOG)
    model: dict[int, Account] = {}
    for account_id, state in steps:
        if state is None:
            index.remove_account(account_id)
            model.pop(account_id, None)
        else:
            index.update_account(account_id, *state)
            model[account_id] = state
    fresh, bulk = indexed(model), RiskIndex(CATALOG)
    bulk.replace_all(model.items())
    assert index.snapshot() == fresh.snapshot() == bulk.snapshot()
    assert len(index) == len(model)
    assert index.positions == sum(len(positions) for _, positions in model.values())
    _, marks, symbols = market
    assert index.candidates(marks, symbols) == fresh.candidates(marks, symbols) == bulk.candidates(marks, symbols)
    assert due_in_decimal(model, marks, symbols) <= set(index.candidates(marks, symbols))


def test_an_account_without_positions_leaves_the_index() -> None:
    index = indexed({1: (Decimal(100), [Position("BTC", 1, Decimal("0.01"), Decimal(95000), 10, "cross")])})
    index.update_account(1, Decimal(100), [])
    assert len(index) == 0 and index.positions == 0
    index.remove_account(1)  # twice is harmless
    assert index.snapshot() == {}


# --- sweep_indexed on a real SQLite file ------------------------------------------------------------------


async def open_core(path: str) -> Core:
    db = Database(path)
    await db.open()
    feed = ManualFeed({s: Decimal(v) for s, v in BASE.items()})
    return Core(
        db=db,
        catalog=CATALOG,
        feed=feed,
        clock=VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)),
        settings=Settings(admins=frozenset({"console:admin"})),
    )


@pytest.fixture
async def cores(tmp_path):  # type: ignore[no-untyped-def]
    """Two identical markets: one swept by the plain sweep, one through the index."""
    made = [await open_core(str(tmp_path / f"{name}.sqlite3")) for name in ("plain", "indexed")]
    yield made
    for core in made:
        await core.db.close()


LEVERAGES = [2, 5, 10, 20, 40, 75]


async def populate(core: Core) -> None:
    """Eighteen traders: isolated (BTC and ETH hedged) and cross (both one way, 4,000 USDT each), long and
    short, low to high leverage, some with an isolated SOL position beside."""
    for n in range(18):
        actor = Actor("console", f"t{n}", f"t{n}", chat_id=f"private:t{n}")
        side = 1 if n % 2 == 0 else -1
        if n % 3 == 0:
            lev, mode, amounts, eth_side = LEVERAGES[n // 3], "cross", (4000, 4000), side
        else:
            lev, mode, amounts, eth_side = LEVERAGES[n % len(LEVERAGES)], "isolated", (2000, 1500), -side
        btc, eth = (trading.Amount(Decimal(a), False) for a in amounts)
        await trading.open_position(core, actor, "BTC", side, btc, lev, mode)
        await trading.open_position(core, actor, "ETH", eth_side, eth, lev, mode)
        if n % 4 == 0:
            await trading.open_position(core, actor, "SOL", side, trading.Amount(Decimal(500), False), 10, "isolated")


async def accounts_in(core: Core) -> dict[int, Account]:
    async with core.db.transaction() as tx:
        ids = await pos.accounts_holding(tx, SYMBOLS)
        return {i: ((await acc.account_by_id(tx, i)).wallet_balance, await pos.positions_of(tx, i)) for i in ids}


def manual(core: Core) -> ManualFeed:
    assert isinstance(core.feed, ManualFeed)
    return core.feed


def described(outcomes: list[LiquidationOutcome]) -> list[tuple[str, tuple[str, ...], Decimal]]:
    return sorted((o.mode, tuple(v.position.symbol for v in o.closed), o.lost) for o in outcomes)


async def test_sweep_indexed_liquidates_exactly_the_due_accounts(cores: list[Core]) -> None:
    plain, fast = cores
    for core in cores:
        await populate(core)
    index = RiskIndex(CATALOG)
    await index.rebuild(fast)
    assert index.positions == sum(len(p) for _, p in (await accounts_in(fast)).values())
    moves = [{"BTC": "93500"}, {"BTC": "97500", "ETH": "3290"}, {"ETH": "3120", "SOL": "125"}, {"BTC": "99800"}]
    liquidated: list[LiquidationOutcome] = []
    for move in moves:
        marks = {s: Decimal(v) for s, v in move.items()}
        before = await accounts_in(fast)
        expected = due_in_decimal(before, {**fast.feed.marks(), **marks}, set(marks))
        ticks = [manual(core).set_marks(marks, core.clock.now()) for core in cores]
        by_plain = await risk.sweep(plain, ticks[0])
        by_index = await sweep_indexed(fast, index, ticks[1])
        assert described(by_index) == described(by_plain)
        after = await accounts_in(fast)
        changed = {i for i in before if after.get(i) != before[i]}
        assert changed == expected
        fresh = RiskIndex(CATALOG)
        await fresh.rebuild(fast)
        assert index.snapshot() == fresh.snapshot()
        liquidated += by_index
    assert {o.mode for o in liquidated} == {"isolated", "cross"}  # the moves really liquidate both kinds


async def test_refresh_follows_a_trade_and_a_reset(cores: list[Core]) -> None:
    core = cores[1]
    await populate(core)
    index = RiskIndex(CATALOG)
    await index.rebuild(core)
    actor = Actor("console", "t1", "t1", chat_id="private:t1")
    await trading.close_position(core, actor, "BTC")
    await trading.open_position(core, actor, "XRP", 1, trading.Amount(Decimal(100), False), 5, "isolated")
    accounts = await accounts_in(core)
    account_id = next(i for i, (_, ps) in accounts.items() if any(p.symbol == "XRP" for p in ps))
    await index.refresh(core, [account_id])
    fresh = RiskIndex(CATALOG)
    await fresh.rebuild(core)
    assert index.snapshot() == fresh.snapshot()


async def test_every_committed_change_reaches_the_index_through_the_database_triggers(tmp_path) -> None:
    """Use cases never call the index: triggers list changed accounts and the sweep catches up first."""
    db = Database(tmp_path / "dirty.sqlite3")
    await db.open()
    try:
        core = Core(db=db, catalog=load_catalog(), feed=ManualFeed({"BTC": Decimal(60000), "ETH": Decimal(3000)}),
                    clock=VirtualClock(datetime(2026, 5, 1, tzinfo=UTC)))
        core.risk_index = RiskIndex(core.catalog)
        await core.risk_index.rebuild(core)
        alice, bob = Actor("console", "alice", "alice"), Actor("console", "bob", "bob")
        a = await trading.open_position(core, alice, "BTC", 1, trading.Amount(Decimal(1000), False), 10)
        b = await trading.open_position(core, bob, "BTC", 1, trading.Amount(Decimal(1000), False), 10)
        assert a.liquidation_price == b.liquidation_price
        moved = await trading.change_margin(core, bob, "BTC", Decimal(500), adding=True)
        assert moved.liquidation_price is not None and moved.liquidation_price < a.liquidation_price
        between = (a.liquidation_price + moved.liquidation_price) / 2
        result = await market.set_prices(core, None, {"BTC": between.quantize(Decimal("0.1"))})
        assert result.liquidations == 1  # alice's position, opened after the rebuild, was seen
        async with db.transaction() as tx:
            rows = await tx.execute_fetchall("SELECT account_id FROM positions")
        assert len(list(rows)) == 1  # bob's added margin was seen too: he survives
    finally:
        await db.close()
