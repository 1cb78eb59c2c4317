"""Teaching slash commands: lessons, advice, what-if, compare, drills, quizzes and charts (twin of
bot/features/teaching.py)."""

from __future__ import annotations

from typing import Any

from discord import app_commands

from bot.discord.commands import SHARE, Choice, Interaction, run_line, starting_with
from bot.discord.interactions import core_of, line
from core.domain.drills import NAMES as DRILLS
from core.domain.lessons import TOPICS

QUIZ_ACTIONS = ("stats", "board", "round")
LEGS = "Hypothetical positions instead of yours, e.g. long BTC 1000 10x, short ETH 500 5x"


async def topic_autocomplete(interaction: Interaction, current: str) -> list[Choice[str]]:
    return starting_with(current, TOPICS)


async def quiz_autocomplete(interaction: Interaction, current: str) -> list[Choice[str]]:
    return starting_with(current, (*TOPICS, *QUIZ_ACTIONS))


async def drill_autocomplete(interaction: Interaction, current: str) -> list[Choice[str]]:
    return starting_with(current, DRILLS)


async def chart_autocomplete(interaction: Interaction, current: str) -> list[Choice[str]]:
    return starting_with(current, (*core_of(interaction).catalog.symbols, "account"))


@app_commands.command(name="learn", description="Short lessons on isolated and cross margin")
@app_commands.describe(topic="A lesson topic (default: the list)", page="Page of the lesson")
@app_commands.autocomplete(topic=topic_autocomplete)
async def learn(interaction: Interaction, topic: str | None = None,
                page: app_commands.Range[int, 1, 99] | None = None) -> None:
    await run_line(interaction, line("/learn", topic, page if topic else None))


@app_commands.command(name="advise", description="Isolated or cross? A few questions, a recommendation")
@app_commands.describe(answers="Optional: your answers at once, e.g. new several-mixed no daily per-trade")
async def advise(interaction: Interaction, answers: str | None = None) -> None:
    await run_line(interaction, line("/advise", answers))


@app_commands.command(name="whatif", description="Your positions after a price shock, in isolated and in cross")
@app_commands.describe(shock="A move of every mark, or of the symbol's (-10%); or a crash (crash wick30)",
                       symbol="Only this symbol moves…", price="…to this price (instead of a shock)", positions=LEGS,
                       share=SHARE)
async def whatif(interaction: Interaction, shock: str | None = None, symbol: str | None = None,
                 price: str | None = None, positions: str | None = None, share: bool = False) -> None:
    await run_line(interaction, line("/whatif", symbol, shock, price, positions), share=share)


@app_commands.command(name="compare", description="The same positions in isolated and in cross, side by side")
@app_commands.describe(positions=LEGS, share=SHARE)
async def compare(interaction: Interaction, positions: str | None = None, share: bool = False) -> None:
    await run_line(interaction, line("/compare", positions), share=share)


@app_commands.command(name="drill", description="Replay a crash on a copy of your positions")
@app_commands.describe(name="The drill (default: the list)", share=SHARE)
@app_commands.autocomplete(name=drill_autocomplete)
async def drill(interaction: Interaction, name: str | None = None, share: bool = False) -> None:
    await run_line(interaction, line("/drill", name), share=share)


@app_commands.command(name="quiz", description="A quiz question; or your stats, the board, a group round")
@app_commands.describe(topic="A lesson topic, or stats, board, round (default: the topic that is due)")
@app_commands.autocomplete(topic=quiz_autocomplete)
async def quiz(interaction: Interaction, topic: str | None = None) -> None:
    await run_line(interaction, line("/quiz", topic))


@app_commands.command(name="answer", description="Answer the last quiz question (the buttons do the same)")
@app_commands.describe(option="The option's number")
async def answer(interaction: Interaction, option: app_commands.Range[int, 1, 4]) -> None:
    await run_line(interaction, line("/answer", option))


@app_commands.command(name="chart", description="PnL versus price with the liquidation points")
@app_commands.describe(symbol="Symbol of your position, or 'account' for equity over time", share=SHARE)
@app_commands.autocomplete(symbol=chart_autocomplete)
async def chart(interaction: Interaction, symbol: str, share: bool = False) -> None:
    await run_line(interaction, line("/chart", symbol), share=share)


COMMANDS: tuple[Any, ...] = (learn, advise, whatif, compare, drill, quiz, answer, chart)
