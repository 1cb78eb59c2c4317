"""Teaching commands: /learn, /advise, /whatif, /compare, /drill, /quiz, /answer, /chart.

Grammar here, rules in core (core.services.teaching, quizzes, charts), pictures in bot/charts.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from bot.commands import MODE_WORDS, Parsed, Spec, leverage_word, number, symbol_word
from bot.registry_types import Handler
from bot.render import account_data, to_data
from bot.replies import Button, Reply
from core.domain.alerts import ratio_pct
from core.domain.drills import DrillReport, DrillRun
from core.domain.money import BadNumber, parse_decimal, plain
from core.domain.positions import Mode
from core.domain.whatif import ModeOutcome, PositionPair, ShockOutcome
from core.errors import Refused
from core.results import Actor
from core.services import charts, quizzes, teaching
from core.services.core import Core
from core.text import price, signed, usdt

__all__ = ["COMMANDS", "HANDLERS", "RENDERERS"]

WHATIF_EXAMPLE = teaching.WHATIF_EXAMPLE
LEG_COMMA = re.compile(r",(?![0-9]{3}(?:[^0-9]|$))")  # a comma between legs, not one inside 1,000


def _render_position(chart: charts.PositionChart) -> bytes:
    from bot.charts import render_position  # matplotlib loads on the first chart, not at start-up

    return render_position(chart)


def _render_account(chart: charts.AccountChart) -> bytes:
    from bot.charts import render_account

    return render_account(chart)


# --- grammar ----------------------------------------------------------------------------------------


def _learn(words: list[str]) -> dict[str, Any]:
    if len(words) > 2:
        raise Refused("unexpected_argument", "/learn takes a topic and a page number.", "/learn isolated 2")
    page = 1
    if len(words) == 2:
        if not words[1].isdecimal() or not 0 < int(words[1][:4]) < 100:
            raise Refused("bad_page", f"'{words[1][:20]}' is not a page number.", f"/learn {words[0][:30]} 2")
        page = int(words[1])
    return {"topic": words[0].lower() if words else None, "page": page}


def _words(words: list[str]) -> dict[str, Any]:
    return {"words": words}


def _leg(tokens: list[str], i: int) -> tuple[teaching.Leg, int]:
    """`long BTC 1000 10x [isolated|cross]` starting at tokens[i]; returns the leg and the next index."""
    side = 1 if tokens[i].lower() == "long" else -1
    if len(tokens) < i + 3:
        raise Refused("missing_argument", "Each position needs a side, a symbol, a margin and a leverage.",
                      WHATIF_EXAMPLE)
    symbol = symbol_word(tokens[i + 1], WHATIF_EXAMPLE)
    margin = number(tokens[i + 2].lower().removesuffix("usdt"), "margin", WHATIF_EXAMPLE, grouped=True)
    lev: int | None = None
    mode: Mode | None = None
    j = i + 3
    while j < len(tokens) and (leverage_word(tokens[j]) is not None or tokens[j].lower() in MODE_WORDS):
        if leverage_word(tokens[j]) is not None:
            lev = leverage_word(tokens[j])
        else:
            mode = cast(Mode, MODE_WORDS[tokens[j].lower()])
        j += 1
    if lev is None or not 1 <= lev <= 150:
        raise Refused("missing_argument", f"Give the leverage of the {symbol} position, like 10x.", WHATIF_EXAMPLE)
    return teaching.Leg(symbol, side, margin, lev, mode), j


def _percent(word: str) -> Decimal:
    try:
        return parse_decimal(word[:-1]) / 100
    except BadNumber as exc:
        raise Refused("bad_number", f"'{word[:20]}' is not a percentage.", "/whatif -20%") from exc


def _shock_at(tokens: list[str], i: int) -> tuple[teaching.ShockSpec, int]:
    word = tokens[i].lower()
    if word.endswith("%"):
        return teaching.ShockSpec(change=_percent(word)), i + 1
    if word == "crash":
        if i + 1 >= len(tokens):
            raise Refused("missing_argument", "Name the crash: crash50, wick30, bleed or squeeze.",
                          "/whatif crash wick30")
        return teaching.ShockSpec(crash=tokens[i + 1].lower()), i + 2
    if i + 1 >= len(tokens) or tokens[i + 1] == ",":
        raise Refused("unexpected_argument", f"I don't understand '{tokens[i][:30]}' here.", "/whatif BTC 50000")
    symbol = symbol_word(tokens[i], "/whatif BTC 50000")
    if tokens[i + 1].endswith("%"):
        return teaching.ShockSpec(symbol=symbol, change=_percent(tokens[i + 1])), i + 2
    return teaching.ShockSpec(symbol=symbol, price=number(tokens[i + 1], "price", f"/whatif {symbol} 50000")), i + 2


def _scenario(allow_shock: bool) -> Callable[[list[str]], dict[str, Any]]:
    name = "whatif" if allow_shock else "compare"

    def parse(words: list[str]) -> dict[str, Any]:
        tokens = LEG_COMMA.sub(" , ", " ".join(words)).split()
        legs: list[teaching.Leg] = []
        shock: teaching.ShockSpec | None = None
        wallet: Decimal | None = None
        i = 0
        while i < len(tokens):
            word = tokens[i].lower()
            if word == ",":
                i += 1
            elif word in ("long", "short"):
                leg, i = _leg(tokens, i)
                legs.append(leg)
            elif word.startswith("wallet="):
                example = WHATIF_EXAMPLE + " wallet=5000"
                wallet, i = number(word[7:].removesuffix("usdt"), "wallet", example, grouped=True), i + 1
            elif allow_shock and shock is None:
                shock, i = _shock_at(tokens, i)
            else:
                raise Refused("unexpected_argument", f"I don't understand '{tokens[i][:30]}' here.",
                              "/whatif -20%" if allow_shock else f"/{name} {WHATIF_EXAMPLE.split(' ', 1)[1]}")
        return {"legs": tuple(legs), "shock": shock, "wallet": wallet}

    return parse


def _drill(words: list[str]) -> dict[str, Any]:
    if len(words) > 1:
        raise Refused("unexpected_argument", "/drill takes one drill name.", "/drill crash50")
    return {"name": words[0].lower() if words else None}


def _quiz(words: list[str]) -> dict[str, Any]:
    first = words[0].lower() if words else None
    if first in ("stats", "board") and len(words) == 1:
        return {"action": first, "topic": None}
    if first == "round" and len(words) <= 2:
        return {"action": "round", "topic": words[1].lower() if len(words) == 2 else None}
    if len(words) > 1:
        raise Refused("unexpected_argument", "/quiz takes a topic, or stats, board or round.", "/quiz isolated")
    return {"action": "ask", "topic": first}


def _answer(words: list[str]) -> dict[str, Any]:
    if not 1 <= len(words) <= 2 or words[0] not in ("1", "2", "3", "4"):
        raise Refused("bad_option", "Answer with the option's number, 1 to 4.", "/answer 2")
    if len(words) == 2 and not words[1].isdecimal():
        raise Refused("bad_option", f"'{words[1][:20]}' is not a question number.", "/answer 2")
    return {"option": int(words[0]) - 1, "ask_id": int(words[1][:12]) if len(words) == 2 else None}


def _chart(words: list[str]) -> dict[str, Any]:
    example = "/chart BTC"
    if not words:
        raise Refused("missing_argument", "/chart needs a symbol, 'account', or a position like long BTC 1000 10x.",
                      example)
    if words[0].lower() == "account" and len(words) == 1:
        return {"account": True}
    if words[0].lower() in ("long", "short"):
        leg, end = _leg(words, 0)
        if end != len(words):
            raise Refused("unexpected_argument", "/chart draws one position.", "/chart long BTC 1000 10x")
        return {"leg": leg}
    if len(words) > 1:
        raise Refused("unexpected_argument", "/chart takes one symbol.", example)
    return {"symbol": symbol_word(words[0], example)}


COMMANDS: dict[str, Spec] = {
    "learn": Spec("/learn [topic] [page]", "short lessons on isolated and cross margin", _learn),
    "advise": Spec("/advise [answers]", "isolated or cross? five questions, a recommendation with reasons", _words),
    "whatif": Spec("/whatif [SHOCK%|SYM PRICE|SYM SHOCK%|crash NAME] [long SYM MARGIN LEV, …]",
                   "your positions in isolated and in cross under shocks", _scenario(True)),
    "compare": Spec("/compare [long SYM MARGIN LEV, …]", "your positions in isolated and in cross, side by side",
                    _scenario(False)),
    "drill": Spec("/drill [NAME]", "replay a crash on a copy of your positions, or the article's stories", _drill),
    "quiz": Spec("/quiz [topic|stats|board|round]", "a quiz question; your stats; the group board and rounds",
                 _quiz),
    "answer": Spec("/answer N", "answer the last quiz question with option N (1–4)", _answer),
    "chart": Spec("/chart SYM|account", "PnL versus price with both liquidation points; equity over time", _chart),
}


# --- handlers ---------------------------------------------------------------------------------------


async def _learn_handler(core: Core, actor: Actor, p: Parsed) -> object:
    return teaching.learn(core, p.args["topic"], p.args["page"])


async def _advise_handler(core: Core, actor: Actor, p: Parsed) -> object:
    return teaching.advise(p.args["words"])


async def _whatif_handler(core: Core, actor: Actor, p: Parsed) -> object:
    a = p.args
    return await teaching.whatif(core, actor, a["legs"], a["shock"], p.name == "compare", a["wallet"])


async def _drill_handler(core: Core, actor: Actor, p: Parsed) -> object:
    return await teaching.drill(core, actor, p.args["name"])


async def _quiz_handler(core: Core, actor: Actor, p: Parsed) -> object:
    action, topic = p.args["action"], p.args["topic"]
    if action == "stats":
        return await quizzes.stats(core, actor)
    if action == "board":
        return await quizzes.board(core, actor)
    if action == "round":
        # the platform tells who administers the group; the bot's own admins may run rounds anywhere
        is_admin = actor.chat_admin or actor.key in core.settings.admins
        return await quizzes.start_round(core, actor, is_admin, topic)
    return await quizzes.next_question(core, actor, topic)


async def _answer_handler(core: Core, actor: Actor, p: Parsed) -> object:
    ask_id = p.args["ask_id"] or await quizzes.open_ask(core, actor)
    return await quizzes.answer(core, actor, ask_id, p.args["option"])


@dataclass(frozen=True)
class Drawn:
    """A chart with its picture, drawn in a worker thread so the event loop keeps serving other chats."""

    chart: charts.PositionChart | charts.AccountChart
    png: bytes


async def _chart_handler(core: Core, actor: Actor, p: Parsed) -> object:
    if p.args.get("account"):
        account = await charts.account_chart(core, actor)
        return Drawn(account, await asyncio.to_thread(_render_account, account))
    position = await charts.position_chart(core, actor, p.args.get("symbol"), p.args.get("leg"))
    return Drawn(position, await asyncio.to_thread(_render_position, position))


HANDLERS: dict[str, Handler] = {
    "learn": _learn_handler,
    "advise": _advise_handler,
    "whatif": _whatif_handler,
    "compare": _whatif_handler,
    "drill": _drill_handler,
    "quiz": _quiz_handler,
    "answer": _answer_handler,
    "chart": _chart_handler,
}


# --- replies ----------------------------------------------------------------------------------------


def _lesson_index(r: teaching.LessonIndex) -> Reply:
    lines = [f"• {title} — /learn {topic}" for topic, title, _ in r.topics]
    data = {"topics": [{"topic": t, "title": title, "pages": n} for t, title, n in r.topics]}
    buttons = tuple(Button(title, f"/learn {topic}") for topic, title, _ in r.topics)
    return Reply("learn", "Lessons:\n" + "\n".join(lines), data, buttons)


def _lesson_page(r: teaching.LessonPage) -> Reply:
    text = f"📘 {r.title} ({r.page}/{r.pages})\n\n{r.text}"
    if r.page < r.pages:
        buttons: tuple[Button, ...] = (Button("Next ▶", f"/learn {r.topic} {r.page + 1}"),)
    else:
        buttons = (Button("Quiz me ▶", f"/quiz {r.topic}"),)
        if r.next_topic:
            buttons += (Button("Next lesson ▶", f"/learn {r.next_topic}"),)
    return Reply("learn", text, to_data(r), buttons)


def _advice_step(r: teaching.AdviceStep) -> Reply:
    lines = [f"❓ {r.number}/{r.total} {r.question}", *(f"• {c.label} ({c.code})" for c in r.choices)]
    return Reply("advise", "\n".join(lines), to_data(r), tuple(Button(c.label, c.command) for c in r.choices))


def _advice_given(r: teaching.AdviceGiven) -> Reply:
    head = {"isolated": "Isolated margin", "cross": "Cross margin", "both": "Both: isolated and cross"}[r.mode]
    lines = [f"🧭 Recommendation: {head}", *(f"• {reason}" for reason in r.reasons), "", r.which]
    return Reply("advice", "\n".join(lines), to_data(r), (Button("Compare my positions", "/compare"),))


def _lp(value: Decimal | None, mark: Decimal) -> str:
    if value is None:
        return "none"
    return f"{price(value)} ({(value - mark) / mark * 100:+.1f} %)"


def _pair_lines(p: PositionPair) -> list[str]:
    side = "long" if p.side > 0 else "short"
    return [f"{p.symbol} {side} {plain(p.qty)} @ {price(p.entry_price)}, {p.leverage}x (now {p.actual_mode})",
            f" mark {price(p.mark)}, PnL {signed(p.unrealized_pnl)}",
            f" liq if all isolated {_lp(p.isolated_liquidation_price, p.mark)}",
            f" liq if all cross {_lp(p.cross_liquidation_price, p.mark)}"]


def _outcome_cell(o: ModeOutcome) -> str:
    amount = signed(-o.lost)
    liq = f", liq {', '.join(o.liquidated)}" if o.liquidated else ""
    return f"{amount}{liq}"


def _shock_lines(s: ShockOutcome) -> list[str]:
    return [f"{s.shock.label}:", f" isolated {_outcome_cell(s.isolated)}", f" cross {_outcome_cell(s.cross)}"]


def _pair_data(p: PositionPair) -> dict[str, Any]:
    return {
        "symbol": p.symbol, "side": "long" if p.side > 0 else "short", "qty": plain(p.qty),
        "entry_price": plain(p.entry_price), "mark_price": plain(p.mark), "leverage": p.leverage,
        "margin_mode": p.actual_mode, "maintenance_margin": plain(p.maintenance_margin),
        "unrealized_pnl": plain(p.unrealized_pnl),
        "isolated": {"margin": plain(p.isolated_margin), "liquidation_price": plain(p.isolated_liquidation_price),
                     "bankruptcy_price": plain(p.isolated_bankruptcy_price),
                     "margin_ratio": plain(p.isolated_margin_ratio)},
        "cross": {"liquidation_price": plain(p.cross_liquidation_price),
                  "bankruptcy_price": plain(p.cross_bankruptcy_price)},
    }


def _whatif(r: teaching.WhatIf) -> Reply:
    c = r.comparison
    whose = "your open positions" if r.source == "account" else "these positions"
    lines = [f"🔍 {whose.capitalize()} all in isolated, then all in cross (wallet {usdt(c.wallet)}):"]
    for p in c.positions:
        lines.extend(_pair_lines(p))
    lines.append(f"Cross margin ratio {ratio_pct(c.cross.margin_ratio)} (liquidated at 100 %)")
    if c.shocks:
        lines.append("If prices jump (wallet change):")
        for s in c.shocks:
            lines.extend(_shock_lines(s))
    lines.append(f"👉 {c.verdict}")
    data = {
        "source": r.source, "wallet": plain(c.wallet), "marks": to_data(r.marks),
        "positions": [_pair_data(p) for p in c.positions],
        "isolated": account_data(c.isolated), "cross": account_data(c.cross),
        "shocks": [{"label": s.shock.label, "marks": to_data(s.marks), "isolated": to_data(s.isolated),
                    "cross": to_data(s.cross), "verdict": s.verdict} for s in c.shocks],
        "verdict": c.verdict,
    }
    buttons = () if r.source == "inline" else (Button("-10 %", "/whatif -10%"), Button("-30 %", "/whatif -30%"),
                                              Button("Wick drill", "/drill wick30"))
    return Reply("compare" if r.compare_only else "whatif", "\n".join(lines), data, buttons)


def _drill_list(r: teaching.DrillList) -> Reply:
    lines = ["Drills (on a copy of your positions; the article stories bring their own):",
             *(f"• /drill {name} — {title}: {summary}" for name, title, summary in r.drills)]
    data = {"drills": [{"name": n, "title": t, "summary": s} for n, t, s in r.drills]}
    return Reply("drill", "\n".join(lines), data, tuple(Button(t, f"/drill {n}") for n, t, _ in r.drills))


def _run_line(run: DrillRun) -> str:
    return (f"{run.mode.capitalize()}: {run.events_text()}. End {signed(-run.outcome.lost)} USDT, lowest equity "
            f"{run.lowest_equity:,.2f}.")


def _drill_report(r: DrillReport) -> Reply:
    legs = ", ".join(f"{p.side_name} {plain(p.qty)} {p.symbol} @ {price(p.entry_price)} {p.leverage}x"
                     for p in r.positions)
    told = f" (the article tells it in {r.story_mode})" if r.story_mode else ""
    lines = [f"🧪 {r.title}: {r.summary}{told}.", f"Wallet {usdt(r.wallet)}; {legs}.",
             _run_line(r.isolated), _run_line(r.cross), f"👉 {r.verdict}"]
    return Reply("drill", "\n".join(lines), to_data(r))


def _quiz_asked(r: quizzes.QuizAsked) -> Reply:
    head = "🏁 Group round" if r.is_round else "❓ Quiz"
    lines = [f"{head} [{r.topic}]", r.text, *(f"{i}) {o}" for i, o in enumerate(r.options, start=1))]
    lines.append("Answer with /answer N." if not r.is_round else "Everyone: answer with /answer N.")
    data: dict[str, Any] = {"ask_id": r.ask_id, "question_id": r.question_id, "topic": r.topic, "question": r.text,
                            "options": list(r.options), "correct": r.correct, "explanation": r.explanation}
    if r.is_round:
        data["round"] = True
        return Reply("quiz", "\n".join(lines), data)
    buttons = tuple(Button(str(i), f"/answer {i} {r.ask_id}") for i in range(1, len(r.options) + 1))
    return Reply("quiz", "\n".join(lines), data, buttons)


def _quiz_answered(r: quizzes.QuizAnswered) -> Reply:
    if r.correct:
        head = f"✅ Right! +{r.points} points."
    else:
        head = f"❌ Not quite: the answer is {r.correct_option + 1}) {r.correct_text}"
    text = f"{head}\n{r.explanation}\nScore {r.score} · streak {r.streak} · answered {r.answered}"
    return Reply("quiz_answer", text, to_data(r), (Button("Next question ▶", "/quiz"),))


def _quiz_stats(r: quizzes.QuizStats) -> Reply:
    accuracy = "—" if r.accuracy is None else f"{r.accuracy:.0f} %"
    lines = [f"Score {r.score} · streak {r.streak} (best {r.best_streak}) · {r.correct}/{r.answered} right "
             f"({accuracy})"]
    for t in r.topics:
        if t.answered:
            due = "due now" if t.due_in == 0 else f"back in {t.due_in} question{'' if t.due_in == 1 else 's'}"
            lines.append(f"• {t.topic}: {t.correct}/{t.answered}, box {t.box}, {due}")
    lines.append(f"Next up: {r.next_topic} — /quiz")
    return Reply("quiz_stats", "\n".join(lines), to_data(r), (Button("Quiz me ▶", "/quiz"),))


def _quiz_board(r: quizzes.QuizBoard) -> Reply:
    title = "Quiz board of this group" if r.scope == "group" else "Quiz board"
    rows = [f"{i}. {row.name} {row.points} pts ({row.correct}/{row.answered})" for i, row in enumerate(r.rows, 1)]
    return Reply("quiz_board", "\n".join([title, *rows]) if rows else f"{title}: nobody has scored yet.", to_data(r))


def _drawn(r: Drawn) -> Reply:
    if isinstance(r.chart, charts.PositionChart):
        return _position_chart(r.chart, r.png)
    return _account_chart(r.chart, r.png)


def _position_chart(r: charts.PositionChart, png: bytes | None = None) -> Reply:
    side = "long" if r.side > 0 else "short"
    lines = [f"📈 {r.symbol} {side} {plain(r.qty)} @ {price(r.entry_price)}, {r.leverage}x, mark {price(r.mark)}.",
             f"Isolated: {_liq_at(r.isolated_liquidation_price)}; it can cost at most its "
             f"{usdt(r.isolated_margin)} margin.",
             f"Cross: {_liq_at(r.cross_liquidation_price)}; the chart's worst point is {signed(r.cross_worst)} USDT "
             f"(at {price(r.cross_worst_price)}), and a cross liquidation closes every cross position."]
    text = "\n".join(lines)
    return Reply("chart", text, to_data(r), photo=png or _render_position(r))


def _liq_at(value: Decimal | None) -> str:
    return "no liquidation price" if value is None else f"liquidated at {price(value)}"


def _account_chart(r: charts.AccountChart, png: bytes | None = None) -> Reply:
    text = (f"📈 Equity {usdt(r.equity)} (wallet {usdt(r.wallet)}, open PnL {signed(r.unrealized_pnl)}); "
            f"started with {usdt(r.starting_balance)}. {len(r.points) - 1} ledger entries.")
    return Reply("chart", text, to_data(r), photo=png or _render_account(r))


RENDERERS: dict[type, Callable[[Any], Reply]] = {
    teaching.LessonIndex: _lesson_index,
    teaching.LessonPage: _lesson_page,
    teaching.AdviceStep: _advice_step,
    teaching.AdviceGiven: _advice_given,
    teaching.WhatIf: _whatif,
    teaching.DrillList: _drill_list,
    DrillReport: _drill_report,
    quizzes.QuizAsked: _quiz_asked,
    quizzes.QuizAnswered: _quiz_answered,
    quizzes.QuizStats: _quiz_stats,
    quizzes.QuizBoard: _quiz_board,
    charts.PositionChart: _position_chart,
    charts.AccountChart: _account_chart,
    Drawn: _drawn,
}
