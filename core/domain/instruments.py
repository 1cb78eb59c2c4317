"""Instruments: tick and lot sizes, maintenance brackets and fees, loaded from TOML and checked."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.domain.money import BadNumber, parse_decimal

DEFAULT_FILE = Path(__file__).with_name("instruments.toml")
CONTINUITY_TOLERANCE = Decimal("0.01")  # DESIGN §2: MM may not jump at a boundary by more than this


class InstrumentsError(ValueError):
    """A malformed instruments file; the message names the symbol, bracket and line."""


@dataclass(frozen=True)
class Bracket:
    floor: Decimal
    cap: Decimal
    mmr: Decimal  # maintenance margin rate
    max_leverage: int
    cum: Decimal  # maintenance amount

    def maintenance(self, notional: Decimal) -> Decimal:
        return notional * self.mmr - self.cum


@dataclass(frozen=True)
class Instrument:
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    brackets: tuple[Bracket, ...]

    def bracket_for(self, notional: Decimal) -> Bracket:
        """The bracket with floor ≤ notional < cap (the last one beyond its cap)."""
        for bracket in self.brackets:
            if notional < bracket.cap:
                return bracket
        return self.brackets[-1]

    def max_leverage_for(self, notional: Decimal) -> int:
        return self.bracket_for(notional).max_leverage


@dataclass(frozen=True)
class Fees:
    taker: Decimal = Decimal("0.0005")
    maker: Decimal = Decimal("0.0002")
    liquidation_clearance: Decimal = Decimal("0.005")


@dataclass(frozen=True)
class Catalog:
    instruments: Mapping[str, Instrument]
    fees: Fees

    def get(self, symbol: str) -> Instrument | None:
        return self.instruments.get(symbol.upper())

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.instruments)


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Read an instruments file (DESIGN §2 format); the default one when path is None."""
    file = Path(path) if path else DEFAULT_FILE
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InstrumentsError(f"{file}: cannot read instruments file ({exc.strerror})") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InstrumentsError(f"{file}: not valid TOML ({exc})") from exc
    lines = text.splitlines()
    fees = _fees(raw.get("fees", {}), file)
    symbols = raw.get("symbols")
    if not isinstance(symbols, dict) or not symbols:
        raise InstrumentsError(f"{file}: no [symbols.NAME] tables")
    instruments = {}
    for name, spec in symbols.items():
        header = _line_of(lines, name)
        located = _Located(str(file), name.upper(), header, _bracket_lines(lines, header))
        instruments[name.upper()] = _instrument(spec, located)
    return Catalog(instruments=instruments, fees=fees)


@dataclass(frozen=True)
class _Located:
    """Where a symbol's table and each of its brackets stand in the file, for error messages."""

    file: str
    symbol: str
    header: int
    brackets: list[int]

    @property
    def here(self) -> str:
        return f"{self.file}:{self.header}: symbol {self.symbol}"

    def bracket(self, index: int) -> str:
        line = self.brackets[index - 1] if index <= len(self.brackets) else self.header
        return f"{self.file}:{line}: symbol {self.symbol} bracket {index}"


def _line_of(lines: list[str], symbol: str) -> int:
    header = f"[symbols.{symbol}]"
    for number, line in enumerate(lines, start=1):
        if line.strip().startswith(header):
            return number
    return 0


def _bracket_lines(lines: list[str], header: int) -> list[int]:
    """The line on which each bracket of the table at `header` starts (its `[` inside `brackets = [...]`)."""
    found: list[int] = []
    depth = 0
    started = False
    for number in range(header + 1, len(lines) + 1):
        text = lines[number - 1].split("#", 1)[0]
        if not started:
            if text.strip().startswith("["):
                break  # the next table: this one has no brackets line
            if not text.strip().startswith("brackets"):
                continue
            started, text = True, text.split("=", 1)[-1]
        for char in text:
            depth += (char == "[") - (char == "]")
            if char == "[" and depth == 2:
                found.append(number)
            if char == "]" and depth == 0:
                return found
    return found


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InstrumentsError(f"{where}: '{value}' is not a number")
    if isinstance(value, float):  # a TOML float such as 1e-05: its exact decimal text
        value = format(Decimal(str(value)), "f")
    try:
        return parse_decimal(str(value))
    except BadNumber as exc:
        raise InstrumentsError(f"{where}: {exc}") from exc


def _fees(raw: Any, file: Path) -> Fees:
    if not isinstance(raw, dict):
        raise InstrumentsError(f"{file}: [fees] must be a table")
    defaults = Fees()
    values = {}
    for key in ("taker", "maker", "liquidation_clearance"):
        value = _number(raw[key], f"{file}: fees.{key}") if key in raw else getattr(defaults, key)
        if not Decimal(0) <= value < Decimal(1):
            raise InstrumentsError(f"{file}: fees.{key} must be a fraction between 0 and 1, got {value}")
        values[key] = value
    return Fees(**values)


def _instrument(spec: Any, at: _Located) -> Instrument:
    if not isinstance(spec, dict):
        raise InstrumentsError(f"{at.here} must be a table")
    for key in ("tick_size", "lot_size", "brackets"):
        if key not in spec:
            raise InstrumentsError(f"{at.here} has no {key}")
    tick = _number(spec["tick_size"], f"{at.here} tick_size")
    lot = _number(spec["lot_size"], f"{at.here} lot_size")
    if tick <= 0 or lot <= 0:
        raise InstrumentsError(f"{at.here} tick_size and lot_size must be positive")
    raw_brackets = spec["brackets"]
    if not isinstance(raw_brackets, list) or not raw_brackets:
        raise InstrumentsError(f"{at.here} needs a non-empty list of brackets")
    brackets = tuple(_bracket(row, at.bracket(index)) for index, row in enumerate(raw_brackets, start=1))
    _check_chain(brackets, at)
    return Instrument(symbol=at.symbol, tick_size=tick, lot_size=lot, brackets=brackets)


def _bracket(row: Any, where: str) -> Bracket:
    if not isinstance(row, list) or len(row) != 5:
        raise InstrumentsError(f"{where}: expected [floor, cap, rate, max leverage, amount]")
    floor, cap, mmr, _, cum = (_number(value, where) for value in row)
    leverage = row[3]
    if isinstance(leverage, bool) or not isinstance(leverage, int | str) or not str(leverage).isdigit():
        raise InstrumentsError(f"{where}: max leverage '{leverage}' must be a whole number")
    max_leverage = int(leverage)
    if not (floor >= 0 and cap > floor and Decimal(0) < mmr < Decimal(1) and max_leverage >= 1 and cum >= 0):
        raise InstrumentsError(f"{where}: need 0 ≤ floor < cap, 0 < rate < 1, leverage ≥ 1, amount ≥ 0")
    return Bracket(floor=floor, cap=cap, mmr=mmr, max_leverage=max_leverage, cum=cum)


def _check_chain(brackets: tuple[Bracket, ...], at: _Located) -> None:
    """Brackets must start at 0, touch end to start, and keep MM continuous (tax-bracket style)."""
    if brackets[0].floor != 0:
        raise InstrumentsError(f"{at.bracket(1)}: the first floor must be 0, got {brackets[0].floor}")
    for index in range(1, len(brackets)):
        before, this = brackets[index - 1], brackets[index]
        label = at.bracket(index + 1)
        if this.floor > before.cap:
            raise InstrumentsError(f"{label}: gap between {before.cap} and {this.floor}")
        if this.floor < before.cap:
            raise InstrumentsError(f"{label}: overlaps bracket {index} ({this.floor} < {before.cap})")
        jump = abs(before.maintenance(this.floor) - this.maintenance(this.floor))
        if jump > CONTINUITY_TOLERANCE:
            expected = this.floor * (this.mmr - before.mmr) + before.cum
            raise InstrumentsError(
                f"{label}: maintenance amount {this.cum} makes MM jump by {jump} at {this.floor}; "
                f"continuous would be {expected}"
            )
