"""Exact numbers: parsing and the one place where money is rounded."""

from __future__ import annotations

import decimal
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# Enough digits that Binance's worked examples reproduce to 1e-12 and beyond.
CONTEXT = decimal.Context(prec=40, rounding=ROUND_HALF_EVEN)
decimal.setcontext(CONTEXT)
decimal.DefaultContext.prec = CONTEXT.prec

ZERO = Decimal(0)
ONE = Decimal(1)
USDT_STEP = Decimal("0.00000001")  # ledger precision: 8 decimals, as exchanges settle USDT
MAX_NUMBER_CHARS = 30
MAX_MAGNITUDE = Decimal(10) ** 15  # no price, amount or balance here comes near a quadrillion
PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")


class BadNumber(ValueError):
    """Text that is not a finite, reasonably short decimal number. `malformed`: not written as digits with at
    most one point at all (as opposed to too long, too large or not finite)."""

    def __init__(self, message: str, malformed: bool = False) -> None:
        super().__init__(message)
        self.malformed = malformed


def parse_decimal(text: str | int | Decimal) -> Decimal:
    """A finite Decimal from user or file text; refuses NaN, infinity and absurdly long input."""
    if isinstance(text, Decimal):
        value = text
    else:
        raw = str(text).strip().replace("_", "")
        if len(raw) > MAX_NUMBER_CHARS:
            raise BadNumber(f"'{str(text)[:40]}' is not a number of at most {MAX_NUMBER_CHARS} characters")
        if not PLAIN_NUMBER.match(raw):  # no exponents, NaN or infinity: digits and one point only
            raise BadNumber(f"'{raw}' is not a plain decimal number", malformed=True)
        try:
            value = Decimal(raw)
        except InvalidOperation as exc:
            raise BadNumber(f"'{raw}' is not a number") from exc
    if not value.is_finite():
        raise BadNumber(f"'{text}' is not a finite number")
    if abs(value) >= MAX_MAGNITUDE:
        raise BadNumber(f"'{str(text)[:40]}' is too large")
    return value


def money(value: Decimal) -> Decimal:
    """Round an amount of USDT that moves between balances (the only rounding of money)."""
    return value.quantize(USDT_STEP, rounding=ROUND_HALF_EVEN)


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Round a quantity down to a lot size (never buy more than asked), written with the lot's own decimals
    (10000 DOGE, not 1.000E+4)."""
    return Decimal(int(value / step)) * step  # int() truncates toward zero, as ROUND_DOWN does


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return (value % step) == 0


def plain(value: Decimal | None) -> str | None:
    """A decimal as a plain string for JSON (no exponent), or None."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return format(value.quantize(ONE), "f")
    return format(value.normalize(), "f")
