"""The in-memory risk index: open positions as float columns, so a tick pre-screens every account at once.

The database stays the source of truth (DESIGN §1): the index is rebuilt from it at start-up and told about
every change. It only *pre-screens*: each account it names is re-read and confirmed in Decimal by
`core.services.risk.liquidate_if_due` before anything is written.

Error bound. Every screened quantity is `slack = equity − MM` (isolated: PM + uPnL − MM; cross:
CWB + Σ uPnL − Σ MM), computed in binary64 from inputs rounded once from Decimal. Each input conversion and
each float operation adds a relative error of at most u = 2⁻⁵³, and no term goes through more than
k = 12 + (positions of the account) of them, so |slack_float − slack_exact| ≤ γ_k·S with γ_k = k·u/(1 − k·u)
and S the sum of the absolute values of every term (|wallet|, |PM|, q·M, q·EP, N·mmr, cum). For any account
below 10⁶ positions γ_k < 1.2·10⁻¹⁰, so `EPSILON`·S with EPSILON = 10⁻⁹ covers it with room to spare (the
Decimal side, 40 significant digits, adds < 10⁻³⁸·S). A float notional within that error of a bracket cap
may pick the neighbouring bracket: MM is continuous at caps up to the loader's CONTINUITY_TOLERANCE, so each
position also carries the largest jump of its symbol's brackets. Hence: an account that is due in Decimal
always has slack_float ≤ tolerance, and is always a candidate. False candidates cost one Decimal check.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from core.domain.instruments import Catalog, Instrument
from core.domain.money import ZERO
from core.domain.positions import MODES, LiquidationOutcome, Mode, Position
from core.ports import Tick
from core.services.core import Core
from core.services.risk import liquidate_if_due
from core.storage import accounts as acc
from core.storage import positions as pos
from core.storage.db import Tx

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]

EPSILON = 1e-9  # relative tolerance on the screened slack; see the module docstring for the bound
LIQUIDATION = 1.0  # a margin ratio of 100 % (equity ≤ MM) is due
QTY, ENTRY, SIDE, MARGIN = range(4)  # rows of a book's float columns
Row = tuple[str, Mode, int, float, float, float]  # symbol, mode, side, qty, entry, margin (the index's view)
State = tuple[Decimal, Sequence[Position]]  # wallet balance, open positions
StatesReader = Callable[[Tx, Sequence[int]], Awaitable[Mapping[int, State]]]


@dataclass(frozen=True)
class _Brackets:
    """A symbol's brackets as float arrays for np.searchsorted, and its worst MM jump at a cap."""

    caps: Floats
    mmr: Floats
    cum: Floats
    jump: float

    @classmethod
    def of(cls, instrument: Instrument) -> _Brackets:
        brackets = instrument.brackets
        jumps = [
            abs(before.maintenance(this.floor) - this.maintenance(this.floor)) for before, this in pairwise(brackets)
        ]
        return cls(
            caps=np.array([float(b.cap) for b in brackets]),
            mmr=np.array([float(b.mmr) for b in brackets]),
            cum=np.array([float(b.cum) for b in brackets]),
            jump=float(max(jumps, default=ZERO)) * 1.000001 + 1e-12,
        )


@dataclass(frozen=True)
class _Measure:
    """Per row at the marks: maintenance margin, equity, what float error to tolerate, and the owning slot."""

    mm: Floats
    equity: Floats
    tolerance: Floats
    slots: Ints


class _Columns:
    """A book's rows while a bulk load collects them: plain C arrays, 8 bytes a number, no Decimal kept."""

    def __init__(self) -> None:
        self.values = array("d")  # qty, entry, side, margin per row
        self.slots = array("q")
        self.owners = array("q")


class _Book:
    """The open positions of one symbol in one margin mode: dense columns, removal by swapping in the last row."""

    def __init__(self) -> None:
        self.n = 0
        self.values: Floats = np.zeros((4, 64))
        self.slots: Ints = np.zeros(64, dtype=np.int64)
        self.owners: Ints = np.zeros(64, dtype=np.int64)
        self.rows: dict[int, int] = {}  # account id → row

    def add(self, account_id: int, slot: int, p: Position) -> None:
        if self.n == self.slots.size:
            self.values = np.concatenate([self.values, np.zeros_like(self.values)], axis=1)
            self.slots = np.concatenate([self.slots, np.zeros_like(self.slots)])
            self.owners = np.concatenate([self.owners, np.zeros_like(self.owners)])
        row = self.n
        self.values[:, row] = _columns(p)
        self.slots[row], self.owners[row] = slot, account_id
        self.rows[account_id] = row
        self.n += 1

    def fill(self, columns: _Columns) -> None:
        """Bulk load into an empty book: one array build from the collected columns, no per-row numpy."""
        self.n = n = len(columns.owners)
        size = max(64, n)
        self.values = np.zeros((4, size))
        self.values[:, :n] = np.frombuffer(columns.values, dtype=np.float64).reshape(n, 4).T
        self.slots = np.zeros(size, dtype=np.int64)
        self.slots[:n] = np.frombuffer(columns.slots, dtype=np.int64)
        self.owners = np.zeros(size, dtype=np.int64)
        self.owners[:n] = np.frombuffer(columns.owners, dtype=np.int64)
        self.rows = {account_id: row for row, account_id in enumerate(columns.owners)}

    def row(self, account_id: int, slot: int) -> tuple[int, float, float, float]:
        """(side, qty, entry, margin) of an account's row, checking that the row points back to it."""
        row = self.rows[account_id]
        if int(self.owners[row]) != account_id or int(self.slots[row]) != slot or row >= self.n:
            raise RuntimeError(f"risk index row {row} does not belong to account {account_id}")
        qty, entry, side, margin = self.values[:, row].tolist()
        return int(side), qty, entry, margin

    def remove(self, account_id: int) -> None:
        row = self.rows.pop(account_id)
        last = self.n - 1
        if row != last:
            self.values[:, row] = self.values[:, last]
            self.slots[row] = self.slots[last]
            moved = int(self.owners[last])
            self.owners[row] = moved
            self.rows[moved] = row
        self.n = last

    def measure(self, brackets: _Brackets, mark: Decimal | None, scale: float) -> _Measure:
        """MM, uPnL (+ PM when isolated) and tolerance of every row; no mark: valued at entry, as Core.marks_for."""
        n = self.n
        qty, entry, side, margin = (self.values[row, :n] for row in (QTY, ENTRY, SIDE, MARGIN))
        price = entry if mark is None else np.full(n, float(mark))
        value = qty * price
        bracket = np.minimum(np.searchsorted(brackets.caps, value, side="right"), brackets.caps.size - 1)
        held = value * brackets.mmr[bracket]
        cum = brackets.cum[bracket]
        terms = qty * (price + entry) + held + cum + np.abs(margin)
        return _Measure(
            mm=held - cum,
            equity=side * qty * (price - entry) + margin,
            tolerance=EPSILON * scale * terms + brackets.jump,
            slots=self.slots[:n],
        )


def _columns(p: Position) -> tuple[float, float, float, float]:
    """A position's float columns; cross positions own no margin (DESIGN §2: PM is isolated only)."""
    return float(p.qty), float(p.entry_price), float(p.side), float(p.margin) if p.mode == "isolated" else 0.0


def _ratio(mm: Floats, equity: Floats) -> Floats:
    """MM / equity, infinite when equity ≤ 0 (as core.domain.margin.margin_ratio)."""
    out = np.full(mm.shape, np.inf)
    np.divide(mm, equity, out=out, where=equity > 0)
    return out


class RiskIndex:
    """Every open position and the wallet of its account, screened per tick with numpy (see module docstring)."""

    def __init__(self, catalog: Catalog) -> None:
        self._brackets = {symbol: _Brackets.of(instrument) for symbol, instrument in catalog.instruments.items()}
        self._clear()

    def _clear(self) -> None:
        self._books: dict[tuple[str, Mode], _Book] = {(s, m): _Book() for s in self._brackets for m in MODES}
        self._keys = {key: key for key in self._books}  # one shared tuple per book for the lists in _held
        self._slot: dict[int, int] = {}  # account id → slot in the per-account columns
        self._held: dict[int, list[tuple[str, Mode]]] = {}  # account id → its books
        self._free: list[int] = []
        self._ids: Ints = np.zeros(0, dtype=np.int64)  # account id per slot
        self._cwb: Floats = np.zeros(0)  # wallet − Σ isolated PM, subtracted in Decimal
        self._scale: Floats = np.zeros(0)  # |wallet| + Σ |PM|: the account's own terms of S
        self._crosses: Ints = np.zeros(0, dtype=np.int64)  # cross positions per slot (0: free or isolated only)

    def __len__(self) -> int:
        return len(self._slot)

    @property
    def positions(self) -> int:
        return sum(book.n for book in self._books.values())

    async def rebuild(self, core: Core, read: StatesReader | None = None, batch: int = 1000) -> None:
        """Forget everything and load every open position and its account's wallet from the database.

        `read` gives the states of a batch of account ids in the caller's transaction (default: one account
        at a time through core.storage); only float columns are kept, so memory stays flat while loading.
        """
        reader = read or read_states
        self._clear()
        collected: defaultdict[tuple[str, Mode], _Columns] = defaultdict(_Columns)
        async with core.db.transaction() as tx:
            await pos.take_dirty(tx)  # everything is read now: earlier changes are in
            ids = await pos.accounts_holding(tx, list(self._brackets))
            for start in range(0, len(ids), batch):
                states = await reader(tx, ids[start : start + batch])
                self._collect_states(collected, states.items())
        self._fill(collected)

    def replace_all(self, states: Iterable[tuple[int, State]]) -> None:
        """Forget everything and hold these (account id, (wallet, positions)): the bulk path, one array per book."""
        self._clear()
        collected: defaultdict[tuple[str, Mode], _Columns] = defaultdict(_Columns)
        self._collect_states(collected, states)
        self._fill(collected)

    def _collect_states(
        self, collected: defaultdict[tuple[str, Mode], _Columns], states: Iterable[tuple[int, State]]
    ) -> None:
        for account_id, (wallet, positions) in states:
            if account_id in self._slot:
                raise ValueError(f"account {account_id} loaded twice")
            slot, held = self._register(account_id, wallet, positions)
            for p in held:
                columns = collected[(p.symbol, p.mode)]
                columns.values.extend(_columns(p))
                columns.slots.append(slot)
                columns.owners.append(account_id)

    def _fill(self, collected: Mapping[tuple[str, Mode], _Columns]) -> None:
        for key, columns in collected.items():
            self._books[key].fill(columns)

    async def catch_up(self, core: Core) -> int:
        """Re-read the accounts changed since the last look (database triggers list them); returns how many."""
        async with core.db.transaction() as tx:
            changed = await pos.take_dirty(tx)
            states = await read_states(tx, changed) if changed else {}
        for account_id in changed:
            wallet, positions = states.get(account_id, (ZERO, []))
            self.update_account(account_id, wallet, positions)
        return len(changed)

    async def refresh(self, core: Core, account_ids: Iterable[int]) -> None:
        """Re-read these accounts after a committed change: the generic hook for every use case."""
        async with core.db.transaction() as tx:
            for account_id in account_ids:
                await self._load(tx, account_id)

    async def _load(self, tx: Tx, account_id: int) -> None:
        self.update_account(account_id, *await read_state(tx, account_id))

    def update_account(self, account_id: int, wallet: Decimal, positions: Iterable[Position]) -> None:
        """The account's state after a committed change; positions of symbols the catalog lacks are not screened."""
        self.remove_account(account_id)
        slot, held = self._register(account_id, wallet, positions)
        for p in held:
            self._books[(p.symbol, p.mode)].add(account_id, slot, p)

    def _register(self, account_id: int, wallet: Decimal, positions: Iterable[Position]) -> tuple[int, list[Position]]:
        """Give a (new) account a slot and its per-account columns; returns the positions to screen."""
        held = [p for p in positions if p.symbol in self._brackets and p.qty > 0]
        if not held:
            return -1, []
        slot = self._allocate(account_id)
        isolated = [p.margin for p in held if p.mode == "isolated"]
        self._cwb[slot] = float(wallet - sum(isolated, ZERO))
        self._scale[slot] = abs(float(wallet)) + sum(abs(float(m)) for m in isolated)
        self._crosses[slot] = len(held) - len(isolated)
        self._held[account_id] = [self._keys[(p.symbol, p.mode)] for p in held]
        return slot, held

    def remove_account(self, account_id: int) -> None:
        slot = self._slot.pop(account_id, None)
        if slot is None:
            return
        for key in self._held.pop(account_id):
            self._books[key].remove(account_id)
        self._crosses[slot] = 0
        self._free.append(slot)

    def _allocate(self, account_id: int) -> int:
        if not self._free:
            size = self._ids.size
            grow = max(size, 64)
            self._ids = np.concatenate([self._ids, np.zeros(grow, dtype=np.int64)])
            self._cwb = np.concatenate([self._cwb, np.zeros(grow)])
            self._scale = np.concatenate([self._scale, np.zeros(grow)])
            self._crosses = np.concatenate([self._crosses, np.zeros(grow, dtype=np.int64)])
            self._free.extend(range(size + grow - 1, size - 1, -1))
        slot = self._free.pop()
        self._slot[account_id] = slot
        self._ids[slot] = account_id
        return slot

    def snapshot(self) -> dict[int, tuple[float, frozenset[Row]]]:
        """Account id → (cross wallet balance, positions) as the books hold them: for checks and tests."""
        return {
            account_id: (
                float(self._cwb[slot]),
                frozenset((s, m, *self._books[(s, m)].row(account_id, slot)) for s, m in self._held[account_id]),
            )
            for account_id, slot in self._slot.items()
        }

    def candidates(self, marks: Mapping[str, Decimal], symbols: Iterable[str]) -> list[int]:
        """Accounts that MAY be due for liquidation after a tick on `symbols` (a superset of the due ones)."""
        return [account_id for account_id, _ in self.screen(marks, symbols, LIQUIDATION)]

    def screen(
        self, marks: Mapping[str, Decimal], symbols: Iterable[str], threshold: float = 0.7
    ) -> list[tuple[int, float]]:
        """(account id, worst float margin ratio) of every account a tick on `symbols` may bring to `threshold`.

        Touched: isolated positions of those symbols, and the cross side of every account holding one of
        them. The ratio is the worst of the cross margin ratio and each touched isolated position's own
        MM / (PM + uPnL), infinite when equity ≤ 0. Never misses one at or above the threshold in Decimal.
        `marks` should hold every priced symbol (a cross account is valued at all its marks); a symbol
        without a mark is valued at its entry price, as `Core.marks_for` does.
        """
        touched = sorted({s for s in symbols if s in self._brackets})
        scale = max(1.0, threshold)
        worst: dict[int, float] = {}
        for symbol in touched:
            book = self._books[(symbol, "isolated")]
            if book.n:
                self._collect(worst, book.measure(self._brackets[symbol], marks.get(symbol), scale), threshold)
        self._screen_cross(worst, marks, touched, threshold)
        return sorted(worst.items())

    def _screen_cross(
        self, worst: dict[int, float], marks: Mapping[str, Decimal], touched: list[str], threshold: float
    ) -> None:
        """Σ over the cross books with np.bincount per slot: MB = CWB + Σ uPnL against AMM = Σ MM."""
        size = self._ids.size
        affected = np.zeros(size, dtype=bool)
        for symbol in touched:
            for mode in MODES:
                book = self._books[(symbol, mode)]
                affected[book.slots[: book.n]] = True
        affected &= self._crosses > 0
        if not affected.any():
            return
        scale = max(1.0, threshold)
        mm, equity, tolerance = np.zeros(size), self._cwb.copy(), EPSILON * scale * self._scale
        for symbol, brackets in self._brackets.items():
            book = self._books[(symbol, "cross")]
            if not book.n or not affected[book.slots[: book.n]].any():
                continue
            part = book.measure(brackets, marks.get(symbol), scale)
            mm += np.bincount(part.slots, weights=part.mm, minlength=size)
            equity += np.bincount(part.slots, weights=part.equity, minlength=size)
            tolerance += np.bincount(part.slots, weights=part.tolerance, minlength=size)
        slots = np.flatnonzero(affected)
        self._collect(worst, _Measure(mm[slots], equity[slots], tolerance[slots], slots), threshold)

    def _collect(self, worst: dict[int, float], part: _Measure, threshold: float) -> None:
        """Keep the rows whose MM − threshold·equity ≥ −tolerance, i.e. ratio ≥ threshold up to float error."""
        hit = np.flatnonzero(part.mm - threshold * part.equity >= -part.tolerance)
        if not hit.size:
            return
        ratios = _ratio(part.mm[hit], part.equity[hit])
        for account_id, ratio in zip(self._ids[part.slots[hit]].tolist(), ratios.tolist(), strict=True):
            worst[account_id] = max(worst.get(account_id, ratio), ratio)


async def read_state(tx: Tx, account_id: int) -> State:
    """An account's wallet balance and open positions, in the caller's transaction (for `update_account`)."""
    return (await acc.account_by_id(tx, account_id)).wallet_balance, await pos.positions_of(tx, account_id)


async def read_states(tx: Tx, account_ids: Sequence[int]) -> dict[int, State]:
    """Wallet and open positions of these accounts, two queries per batch."""
    ids = list(account_ids)
    wallets = await acc.wallets_of(tx, ids)
    held = await pos.positions_of_accounts(tx, ids)
    return {i: (wallets[i], held[i]) for i in ids if i in wallets}


async def sweep_indexed(core: Core, index: RiskIndex, tick: Tick) -> list[LiquidationOutcome]:
    """`core.services.risk.sweep` through the index: only the candidates are re-read and confirmed in Decimal.

    Each candidate runs `liquidate_if_due` in its own transaction (it decides in Decimal, as the plain
    sweep does); an account it liquidated is re-read in that transaction and updated in the index after
    the commit.
    """
    symbols = sorted(tick.marks)
    if not symbols:
        return []
    await index.catch_up(core)
    marks = {**core.feed.marks(), **tick.marks}
    outcomes: list[LiquidationOutcome] = []
    for account_id in index.candidates(marks, symbols):
        after: State | None = None
        async with core.db.transaction() as tx:
            done = await liquidate_if_due(core, tx, account_id, set(symbols))
            if done:
                after = await read_state(tx, account_id)
        if after is not None:  # committed: now the index may follow
            index.update_account(account_id, *after)
        outcomes.extend(done)
    return outcomes
