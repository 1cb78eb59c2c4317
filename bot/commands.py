"""The shared command grammar (DESIGN §4): chat text in, a parsed command or one clear refusal out.

Only syntax lives here; the core validates values again (so a forged Discord option is refused alike).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.domain.money import BadNumber, parse_decimal
from core.errors import Refused

MAX_LINE = 500
MODE_WORDS = {"isolated": "isolated", "iso": "isolated", "cross": "cross"}
ALIASES = {"pos": "positions", "portfolio": "positions", "buy": "long", "sell": "short"}
LEVERAGE = re.compile(r"^(?:(\d{1,4})x|x(\d{1,4}))$", re.IGNORECASE)
THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")  # 1,000 or 12,500.5 (not 0,001)


@dataclass(frozen=True)
class Parsed:
    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    confirm: bool = False


@dataclass(frozen=True)
class Spec:
    usage: str
    summary: str
    parse: Callable[[list[str]], dict[str, Any]]
    details: str = ""  # what `/help COMMAND` adds to the usage line


def no_args(name: str) -> Callable[[list[str]], dict[str, Any]]:
    def parse(words: list[str]) -> dict[str, Any]:
        if words:
            raise Refused("unexpected_argument", f"/{name} takes no arguments, got '{words[0][:20]}'.", f"/{name}")
        return {}

    return parse


def _rest(words: list[str]) -> dict[str, Any]:
    return {"words": words}


def number(word: str, what: str, example: str, grouped: bool = False) -> Decimal:
    """A positive number as people type it: 1000, 0.5, and also $100 (dollars are USDT) and 2.5k. `grouped`: a
    USDT amount, where 1,000 is a thousand; in a price or a quantity a comma could be a decimal point (2,300
    for 2.3), so it is refused rather than guessed."""
    text, scale = word.strip().removeprefix("$"), 1
    if text[-1:] in ("k", "K"):
        text, scale = text[:-1], 1000
    if grouped and THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    elif "," in text:
        raise Refused("bad_number", f"The {what} '{word[:30]}' has a comma: write it without one, with a point for "
                      "decimals (2300 or 2.3).", example)
    try:
        value = parse_decimal(parse_decimal(text) * scale)  # checked again once scaled: 1e15k is too large too
    except BadNumber as exc:
        why = "write digits with at most one point, like 1000 or 0.5" if exc.malformed else str(exc)
        raise Refused("bad_number", f"The {what} '{word[:30]}' is not a usable number: {why}.", example) from exc
    if value <= 0:
        raise Refused("not_positive", f"The {what} must be more than zero, got {word[:30]}.", example)
    return value


def symbol_word(word: str, example: str) -> str:
    symbol = word.upper().removesuffix("USDT")
    if not re.fullmatch(r"[A-Z0-9]{2,10}", symbol):
        raise Refused("unknown_symbol", f"'{word[:20]}' is not a symbol.", example)
    return symbol


def leverage_word(word: str) -> int | None:
    found = LEVERAGE.match(word)
    if not found:
        return None
    return int(found.group(1) or found.group(2))


def _amount(word: str, symbol: str, example: str) -> tuple[Decimal, bool]:
    lower = word.lower()
    base = symbol.lower()
    if lower.endswith("usdt"):
        return number(lower[:-4], "amount", example, grouped=True), False
    if lower.endswith(base):
        return number(lower[: -len(base)], "quantity", example), True
    match = re.fullmatch(r"([0-9.,]+)([a-z]+)", lower)
    if match and match.group(2) != "k":
        raise Refused(
            "wrong_unit",
            f"'{word[:30]}': the unit must be usdt (margin) or {base} (quantity) for {symbol}.",
            example,
        )
    return number(word, "amount", example, grouped=True), False


def _open(side: str) -> Callable[[list[str]], dict[str, Any]]:
    def parse(words: list[str]) -> dict[str, Any]:
        example = f"/{side} BTC 1000 10x isolated"
        if len(words) < 2:
            raise Refused("missing_argument", f"/{side} needs a symbol and an amount.", example)
        symbol = symbol_word(words[0], example)
        value, is_qty = _amount(words[1], symbol, example)
        args: dict[str, Any] = {"symbol": symbol, "side": 1 if side == "long" else -1, "amount": value,
                                "is_qty": is_qty, "leverage": None, "mode": None}
        for word in words[2:]:
            _option(word, args, example)
        return args

    return parse


def _option(word: str, args: dict[str, Any], example: str) -> None:
    lower = word.lower()
    lev = leverage_word(lower)
    if lev is not None:
        if not 1 <= lev <= 150 or args["leverage"] is not None:
            raise Refused("bad_leverage", f"Leverage '{word}' must be given once, from 1x to the bracket's maximum.",
                          example)
        args["leverage"] = lev
    elif lower in MODE_WORDS:
        _once(args, "mode", MODE_WORDS[lower], word, example)
    elif lower.startswith("@"):
        _once(args, "limit", number(lower[1:], "limit price", example), word, example)
    elif lower.startswith(("sl=", "tp=")):
        what = "stop-loss" if lower[:2] == "sl" else "take-profit"
        _once(args, lower[:2], number(lower[3:], what, example), word, example)
    elif word.isdecimal():
        raise Refused("bad_leverage", f"'{word[:30]}': write the leverage with an x, like {word[:5]}x.", example)
    else:
        raise Refused("unexpected_argument", f"I don't understand '{word[:30]}' here.", example)


def _once(args: dict[str, Any], key: str, value: object, word: str, example: str) -> None:
    """An option given twice (`isolated cross`, two limits) is a contradiction, not a last-one-wins."""
    if args.get(key) is not None:
        raise Refused("duplicate_option", f"'{word[:30]}' contradicts an option given earlier; give it once.", example)
    args[key] = value


def _close(words: list[str]) -> dict[str, Any]:
    example = "/close BTC 50%"
    if not words:
        raise Refused("missing_argument", "/close needs a symbol, or 'all'.", example)
    if words[0].lower() == "all":
        if len(words) > 1:
            raise Refused("unexpected_argument", "/close all takes nothing more.", "/close all")
        return {"all": True}
    symbol = symbol_word(words[0], example)
    if len(words) == 3 and words[2] == "%":  # "25 %"
        words = [words[0], words[1] + "%"]
    if len(words) == 1 or (len(words) == 2 and words[1].lower() == "all"):
        return {"symbol": symbol}
    if len(words) > 2:
        raise Refused("unexpected_argument", f"I don't understand '{words[2][:30]}' here.", example)
    word = words[1].lower()
    if word.endswith("%"):
        return {"symbol": symbol, "pct": number(word[:-1], "percentage", example)}
    value, is_qty = _amount(word, symbol, example)
    if not is_qty and not word.replace(".", "", 1).isdecimal():
        raise Refused("bad_number", f"'{word}' is neither a percentage nor a quantity.", example)
    return {"symbol": symbol, "qty": value}


def _margin(words: list[str]) -> dict[str, Any]:
    example = "/margin BTC add 100"
    if len(words) != 3:
        raise Refused("missing_argument", "/margin needs a symbol, add or remove, and an amount.", example)
    symbol = symbol_word(words[0], example)
    action = words[1].lower()
    if action not in ("add", "remove"):
        raise Refused("bad_action", f"'{words[1][:20]}' must be add or remove.", example)
    value = number(words[2].lower().removesuffix("usdt"), "amount", example, grouped=True)
    return {"symbol": symbol, "adding": action == "add", "amount": value}


def _leverage(words: list[str]) -> dict[str, Any]:
    example = "/leverage BTC 10"
    if len(words) == 1 and leverage_word(words[0]) is None and not words[0].isdecimal():  # what is it now?
        return {"symbol": symbol_word(words[0], example), "leverage": None}
    if len(words) != 2:
        raise Refused("missing_argument", "/leverage needs a symbol and a leverage (a symbol alone shows it).",
                      example)
    symbol = symbol_word(words[0], example)
    lev = leverage_word(words[1]) if not words[1].isdecimal() else int(words[1][:5])
    if lev is None or not 1 <= lev <= 1000:
        raise Refused("bad_leverage", f"'{words[1][:20]}' is not a leverage.", example)
    return {"symbol": symbol, "leverage": lev}


def _mode(words: list[str]) -> dict[str, Any]:
    example = "/mode BTC cross"
    if words and words[-1].lower().startswith(("iso", "cros")) and words[-1].lower() not in MODE_WORDS:
        raise Refused("bad_mode", f"'{words[-1][:20]}' is not a margin mode: write isolated or cross.", example)
    if len(words) <= 1 and not (words and words[0].lower() in MODE_WORDS):  # what is it now?
        return {"symbol": symbol_word(words[0], example) if words else None, "mode": None}
    if len(words) > 2 or words[-1].lower() not in MODE_WORDS:
        raise Refused("missing_argument", "/mode needs isolated or cross (and optionally a symbol first).", example)
    symbol = symbol_word(words[0], example) if len(words) == 2 else None
    return {"symbol": symbol, "mode": MODE_WORDS[words[-1].lower()]}


def _reset(words: list[str]) -> dict[str, Any]:
    if len(words) > 1:
        raise Refused("unexpected_argument", "/reset takes at most a balance.", "/reset 10000")
    if not words:
        return {"balance": None}
    return {"balance": number(words[0].lower().removesuffix("usdt"), "balance", "/reset 10000", grouped=True)}


def _setprice(words: list[str]) -> dict[str, Any]:
    example = "/setprice BTC 60000"
    if not words or len(words) % 2:
        raise Refused("missing_argument", "/setprice needs pairs of symbol and price.", example)
    return {"marks": {symbol_word(words[i], example): number(words[i + 1], "price", example)
                      for i in range(0, len(words), 2)}}


def _symbols(words: list[str]) -> dict[str, Any]:
    return {"symbols": [symbol_word(w, "/price BTC ETH") for w in words[:10]]}


def _help(words: list[str]) -> dict[str, Any]:
    return {"command": words[0].lstrip("/").lower() if words else None}


OPEN_DETAILS = (
    "AMOUNT is margin in USDT (1000, 1000usdt, $1000, 1k) or a quantity with the coin's name (0.5btc). "
    "LEV is written 10x or x10; without it the symbol keeps the leverage you chose last (/leverage), else "
    "Binance's default of 20x. The mode is isolated or cross (default: your last choice for the symbol, else "
    "isolated). @PRICE makes it a limit order; sl= and tp= attach a stop-loss and a take-profit."
)


TRADING_COMMANDS: dict[str, Spec] = {
    "start": Spec("/start", "open your paper account (10,000 USDT) and take the tour", _rest),
    "help": Spec("/help [command]", "list the commands, or explain one", _help),
    "price": Spec("/price [SYM…]", "current marks", _symbols),
    "long": Spec("/long SYM AMOUNT [LEV] [isolated|cross] [@LIMIT] [sl=P] [tp=P]", "open or add to a long (buy)",
                 _open("long"), OPEN_DETAILS),
    "short": Spec("/short SYM AMOUNT [LEV] [isolated|cross] [@LIMIT] [sl=P] [tp=P]", "open or add to a short (sell)",
                  _open("short"), OPEN_DETAILS),
    "close": Spec("/close SYM [PCT%|QTY] · /close all", "reduce or close positions", _close,
                  "Without a size the whole position closes; 50% closes half; 0.01btc closes that quantity. "
                  "/close all closes every position (it asks first; add confirm to skip the question)."),
    "positions": Spec("/positions", "your positions with liquidation prices", no_args("positions")),
    "balance": Spec("/balance", "wallet, available balance and return", no_args("balance")),
    "history": Spec("/history", "your last trades", no_args("history")),
    "margin": Spec("/margin SYM add|remove AMOUNT", "move margin in or out of an isolated position", _margin),
    "leverage": Spec("/leverage SYM [N]", "set a symbol's leverage (without N: show it)", _leverage,
                     "Raising it frees margin in cross and is allowed any time; lowering it is allowed only while "
                     "the position stays valid. The bracket of your position's size caps it."),
    "mode": Spec("/mode [SYM] [isolated|cross]", "set the margin mode before opening (without one: show them)",
                 _mode),
    "leaderboard": Spec("/leaderboard", "who is up the most", no_args("leaderboard")),
    "reset": Spec("/reset [BALANCE]", "start over with a fresh paper account", _reset),
    "setprice": Spec("/setprice SYM PRICE", "admins: set a mark on the manual feed", _setprice),
}


def parse(text: str, bot_username: str | None = None, commands: Mapping[str, Spec] | None = None) -> Parsed:
    """Parse one chat line. Raises Refused with a correct example for anything malformed."""
    if commands is None:
        from bot.registry import COMMANDS as commands
    line = text.strip()
    if len(line) > MAX_LINE:
        raise Refused("too_long", f"That message is too long (over {MAX_LINE} characters).", "/help")
    if not line.startswith("/"):
        raise Refused("not_a_command", "Commands start with a slash.", "/help")
    words = line.split()
    head, _, target = words[0][1:].partition("@")
    if target and bot_username and target.lower() != bot_username.lower():
        raise Refused("other_bot", "That command is for another bot.", "/help")
    name = ALIASES.get(head.lower(), head.lower())
    spec = commands.get(name)
    if spec is None:
        raise Refused("unknown_command", f"Unknown command '/{head[:30]}'.", "/help")
    rest = words[1:]
    confirm = bool(rest) and rest[-1].lower() == "confirm"
    if confirm:
        rest = rest[:-1]
    return Parsed(name, spec.parse(rest), confirm)
