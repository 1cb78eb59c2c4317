"""The "isolated or cross?" advisor behind /advise: five questions, a recommendation and its reasons."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Mode = Literal["isolated", "cross", "both"]


@dataclass(frozen=True, slots=True)
class AdviceOption:
    """One button: a short code stored and typed by power users, and the label people read."""

    code: str
    label: str


@dataclass(frozen=True, slots=True)
class AdviceQuestion:
    """One question of /advise with its button options."""

    key: str
    text: str
    options: tuple[AdviceOption, ...]

    def codes(self) -> tuple[str, ...]:
        return tuple(option.code for option in self.options)


@dataclass(frozen=True, slots=True)
class Advice:
    """The recommended mode, every reason that led there, and which positions go in which mode."""

    mode: Mode
    reasons: tuple[str, ...]
    which: str


class BadAdviceInput(ValueError):
    """Answers that name an unknown question or option, repeat a question, or leave one out."""


QUESTIONS: tuple[AdviceQuestion, ...] = (
    AdviceQuestion("exp", "How much futures trading experience do you have?", (
        AdviceOption("new", "New to futures"),
        AdviceOption("some", "Some experience"),
        AdviceOption("experienced", "Experienced"),
    )),
    AdviceQuestion("assets", "What do you trade?", (
        AdviceOption("one", "One coin"),
        AdviceOption("several-similar", "Several, similar risk"),
        AdviceOption("several-mixed", "Several, very different risk"),
    )),
    AdviceQuestion("hedge", "Do you hedge or run arbitrage (positions that offset each other)?", (
        AdviceOption("no", "No"),
        AdviceOption("sometimes", "Sometimes"),
        AdviceOption("yes", "Yes, regularly"),
    )),
    AdviceQuestion("watch", "How closely do you watch your open positions?", (
        AdviceOption("rarely", "Rarely"),
        AdviceOption("daily", "About once a day"),
        AdviceOption("active", "Actively, in real time"),
    )),
    AdviceQuestion("loss", "If things go badly wrong, how much are you ready to lose?", (
        AdviceOption("per-trade", "Only what I put in each trade"),
        AdviceOption("part", "A good part of my balance"),
        AdviceOption("all", "The whole balance"),
    )),
)

EXAMPLE_WORDS = "new several-mixed no daily per-trade"
EXAMPLE_PAIRS = "exp=experienced assets=one hedge=yes watch=active loss=all"

_BY_KEY: dict[str, AdviceQuestion] = {q.key: q for q in QUESTIONS}
# Every option code is unique across questions, so a bare word tells which question it answers.
_KEY_OF_CODE: dict[str, str] = {o.code: q.key for q in QUESTIONS for o in q.options}
_KEY_ALIASES = {"experience": "exp", "asset": "assets", "hedging": "hedge", "monitoring": "watch",
                "monitor": "watch"}
_CODE_ALIASES = {"mixed": "several-mixed", "similar": "several-similar", "actively": "active",
                 "pertrade": "per-trade", "whole": "all"}

_ISOLATED, _CROSS = "isolated", "cross"

# (question key, answer code, side it favours, weight, reason in our words)
_RULES: tuple[tuple[str, str, str, int, str], ...] = (
    ("exp", "new", _ISOLATED, 3,
     "You're new to futures: isolated caps what each trade can lose, so an early mistake costs one "
     "position, not the account."),
    ("assets", "several-mixed", _ISOLATED, 2,
     "Your coins carry very different risk: isolated stops a crash in a wild altcoin from draining the "
     "margin of your steadier trades."),
    ("loss", "per-trade", _ISOLATED, 3,
     "You want a hard ceiling per trade: in isolated the most a trade can lose is the margin you gave it."),
    ("watch", "rarely", _ISOLATED, 2,
     "You check in rarely: an isolated liquidation price stays put (only funding nudges it), so levels "
     "you plan today still hold tomorrow."),
    ("exp", "experienced", _CROSS, 2,
     "You're experienced: you can judge when sharing one balance across trades helps rather than hurts."),
    ("hedge", "yes", _CROSS, 2,
     "You hedge or run arbitrage: in cross the winning leg's profit props up the losing one, so "
     "offsetting legs need less margin."),
    ("hedge", "sometimes", _CROSS, 1,
     "You hedge now and then: such paired legs support each other when they share the cross pool."),
    ("watch", "active", _CROSS, 1,
     "You watch positions live: cross suits traders who add funds or cut risk as the margin ratio climbs."),
    ("loss", "all", _CROSS, 1,
     "You accept that the whole balance could go: that is the true cost of cross, and you've taken it on."),
)

# A score this high on the cross side, with nothing pulling towards isolated, recommends cross alone.
_CROSS_ALONE = 3
# Below this the cross reasons are too weak to justify a cross book next to isolated positions.
_CROSS_IN_MIX = 2

_DEFAULT_REASON = ("Nothing in your answers calls strongly for cross, so the safer default applies: each "
                   "trade keeps its own margin.")
_GATE_NEW = ("Cross can wait: practise it on paper with /compare until isolated feels routine, then ask "
             "/advise again.")
_GATE_PER_TRADE = ("Cross would put your whole cross balance on the line, more than the per-trade loss you "
                   "said you accept.")
_MIX_REASON = "Your answers pull both ways, so split by position instead of choosing one mode for all."
_CORRELATION_NOTE = ("Similar coins tend to fall together: in cross a single drop would hit them all at "
                     "once, so keep /health in view.")

_WHICH_ISOLATED = ("Open every position in isolated (/mode SYM isolated) and give each trade only the margin "
                   "you are ready to lose; /margin SYM add tops one up when you decide to.")
_WHICH_CROSS = ("Run your positions in cross (/mode SYM cross), give each a /sl, and keep the margin ratio "
                "in /health well below 80 %.")
_WHICH_BOTH = ("Isolated for speculative bets and altcoins (say SOL or DOGE), so each has a loss ceiling; "
               "cross for core BTC/ETH positions{hedged}, where the shared balance absorbs dips.")


def recommend(answers: Mapping[str, str]) -> Advice:
    """Recommend isolated, cross or both from the five answers (codes as in QUESTIONS)."""
    given = _validated(answers)
    applied = [(side, weight, reason) for key, code, side, weight, reason in _RULES if given[key] == code]
    iso = [(weight, reason) for side, weight, reason in applied if side == _ISOLATED]
    cross = [(weight, reason) for side, weight, reason in applied if side == _CROSS]
    iso_score = sum(weight for weight, _ in iso)
    cross_score = sum(weight for weight, _ in cross)
    reasons = [reason for _, _, reason in applied]
    mode = _decide(given, iso_score, cross_score)
    if mode == _ISOLATED:
        if not iso:
            reasons.append(_DEFAULT_REASON)
        elif cross and given["exp"] == "new":
            reasons.append(_GATE_NEW)
        elif cross and given["loss"] == "per-trade":
            reasons.append(_GATE_PER_TRADE)
        return Advice("isolated", tuple(reasons), _WHICH_ISOLATED)
    if given["assets"] == "several-similar":
        reasons.append(_CORRELATION_NOTE)
    if mode == _CROSS:
        return Advice("cross", tuple(reasons), _WHICH_CROSS)
    reasons.append(_MIX_REASON)
    hedged = " and hedged legs that offset each other" if given["hedge"] != "no" else ""
    return Advice("both", tuple(reasons), _WHICH_BOTH.format(hedged=hedged))


def _decide(given: Mapping[str, str], iso_score: int, cross_score: int) -> Mode:
    # Article: beginners and strict per-trade risk control belong in isolated, whatever else applies.
    if given["exp"] == "new" or given["loss"] == "per-trade":
        return "isolated"
    if iso_score == 0 and cross_score >= _CROSS_ALONE:
        return "cross"
    if iso_score > 0 and cross_score >= _CROSS_IN_MIX:
        return "both"
    return "isolated"


def missing(answers: Mapping[str, str]) -> tuple[AdviceQuestion, ...]:
    """The questions not answered yet, in asking order (what the button flow asks next)."""
    return tuple(q for q in QUESTIONS if q.key not in answers)


def _validated(answers: Mapping[str, str]) -> dict[str, str]:
    for key, code in answers.items():
        question = _BY_KEY.get(key)
        if question is None:
            raise BadAdviceInput(f"'{key}' is not an /advise question. {_keys_hint()}")
        if code not in question.codes():
            raise BadAdviceInput(f"'{key}={code}': {_choices(question)}. Example: /advise {EXAMPLE_PAIRS}")
    left = missing(answers)
    if left:
        needed = "; ".join(_choices(q) for q in left)
        raise BadAdviceInput(f"Missing answers: {needed}. Example: /advise {EXAMPLE_PAIRS}")
    return dict(answers)


def parse_inline(text: str) -> dict[str, str]:
    """Answers typed in one line: bare codes in any order ('new several-mixed no daily per-trade') or
    key=value pairs ('exp=experienced hedge=yes watch=active assets=one loss=all'), or a mix."""
    tokens = [t for t in re.split(r"[\s,;]+", text.strip().lower()) if t]
    if not tokens:
        raise BadAdviceInput(f"No answers given. Example: /advise {EXAMPLE_WORDS}")
    answers: dict[str, str] = {}
    for token in tokens:
        key, code = _parse_token(token)
        if key in answers and answers[key] != code:
            raise BadAdviceInput(f"'{key}' is answered twice ('{answers[key]}' and '{code}'). "
                                 f"Give one answer per question, e.g. /advise {EXAMPLE_WORDS}")
        answers[key] = code
    return _validated(answers)


def _parse_token(token: str) -> tuple[str, str]:
    if "=" in token:
        raw_key, _, raw_code = token.partition("=")
        key = _KEY_ALIASES.get(raw_key, raw_key)
        question = _BY_KEY.get(key)
        if question is None:
            raise BadAdviceInput(f"'{raw_key}' in '{token}' is not an /advise question. {_keys_hint()}")
        code = _CODE_ALIASES.get(raw_code, raw_code)
        if code not in question.codes():
            raise BadAdviceInput(f"'{token}': {_choices(question)}. Example: /advise {EXAMPLE_PAIRS}")
        return key, code
    code = _CODE_ALIASES.get(token, token)
    owner = _KEY_OF_CODE.get(code)
    if owner is None:
        raise BadAdviceInput(f"'{token}' is not an answer I know. Write codes like /advise {EXAMPLE_WORDS} "
                             f"or pairs like /advise {EXAMPLE_PAIRS}")
    return owner, code


def _choices(question: AdviceQuestion) -> str:
    codes = question.codes()
    return f"{question.key} takes {', '.join(codes[:-1])} or {codes[-1]}"


def _keys_hint() -> str:
    keys = ", ".join(q.key for q in QUESTIONS)
    return f"Questions are {keys}. Example: /advise {EXAMPLE_PAIRS}"
