"""Buttons: owner-bound command tokens, dismissals and quiz answers, all resolved after a restart.

Every custom id is parsed by a `DynamicItem` registered once in `setup_hook`, so no view object has to
survive in memory: `dojo:b:<token>` (a command stored by `core.services.buttons`), `dojo:x[:n]` (dismiss)
and `dojo:q:<ask_id>:<option>` (quiz answer).
"""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import ui

from bot import registry
from bot.discord import render
from bot.discord.interactions import actor_of, core_of, first_time
from bot.dispatch import SILENT, handle
from bot.replies import Reply
from core.errors import Refused
from core.results import Actor
from core.services import buttons
from core.services.core import Core

SLOW_COMMANDS = frozenset({"chart", "whatif", "compare", "drill"})  # may pass Discord's 3 s: always defer
BUTTONS_PER_MESSAGE = 25  # Discord: 5 rows of 5
Interaction = discord.Interaction[Any]


def is_slow(command: str) -> bool:
    words = command.split(maxsplit=1)
    return bool(words) and words[0].lstrip("/").lower() in SLOW_COMMANDS


class CommandButton(ui.DynamicItem[ui.Button[Any]], template=r"dojo:b:(?P<token>[A-Za-z0-9_-]{1,64})"):
    """Runs the command behind its token for the token's owner, then edits the message with the answer."""

    def __init__(self, token: str, label: str = "…", style: discord.ButtonStyle = discord.ButtonStyle.primary):
        super().__init__(ui.Button(label=render.clip(label, 80), style=style, custom_id=f"dojo:b:{token}"))
        self.token = token

    @classmethod
    async def from_custom_id(cls, interaction: Interaction, item: ui.Item[Any], match: re.Match[str], /
                             ) -> CommandButton:
        return cls(match["token"], getattr(item, "label", None) or "…")

    async def callback(self, interaction: Interaction) -> None:
        if await first_time(interaction):
            await press_command(interaction, self.token)


class DismissButton(ui.DynamicItem[ui.Button[Any]], template=r"dojo:x(?::(?P<n>\d{1,2}))?"):
    """Removes the buttons (a "No" to a confirmation); only the person the message answered may."""

    def __init__(self, n: int = 0, label: str = "✖ No") -> None:
        custom_id = "dojo:x" if n == 0 else f"dojo:x:{n}"
        super().__init__(ui.Button(label=render.clip(label, 80), style=discord.ButtonStyle.secondary,
                                   custom_id=custom_id))

    @classmethod
    async def from_custom_id(cls, interaction: Interaction, item: ui.Item[Any], match: re.Match[str], /
                             ) -> DismissButton:
        return cls(int(match["n"] or 0), getattr(item, "label", None) or "✖")

    async def callback(self, interaction: Interaction) -> None:
        if not await first_time(interaction):
            return
        owner = _message_owner(interaction)
        if owner is not None and owner.id != interaction.user.id:
            await interaction.response.send_message(f"This button belongs to {owner.display_name}.", ephemeral=True)
            return
        content = interaction.message.content if interaction.message else ""
        await interaction.response.edit_message(content=f"{content}\n✖ Dismissed.".strip(), view=None)


class QuizButton(ui.DynamicItem[ui.Button[Any]], template=r"dojo:q:(?P<ask>\d{1,18}):(?P<option>\d{1,2})"):
    """One answer of a quiz question; the core checks whose question it is and that it is answered once."""

    def __init__(self, ask_id: int, option: int, label: str = "…") -> None:
        super().__init__(ui.Button(label=render.clip(label, 80), style=discord.ButtonStyle.primary,
                                   custom_id=f"dojo:q:{ask_id}:{option}"))
        self.ask_id = ask_id
        self.option = option

    @classmethod
    async def from_custom_id(cls, interaction: Interaction, item: ui.Item[Any], match: re.Match[str], /
                             ) -> QuizButton:
        return cls(int(match["ask"]), int(match["option"]), getattr(item, "label", None) or "…")

    async def callback(self, interaction: Interaction) -> None:
        if await first_time(interaction):
            await answer_quiz(interaction, self.ask_id, self.option)


DYNAMIC_ITEMS: tuple[type[ui.DynamicItem[Any]], ...] = (CommandButton, DismissButton, QuizButton)


def register(client: discord.Client) -> None:
    """Make every `dojo:` button work, including on messages sent before a restart."""
    client.add_dynamic_items(*DYNAMIC_ITEMS)


def _message_owner(interaction: Interaction) -> discord.User | discord.Member | None:
    metadata = interaction.message.interaction_metadata if interaction.message else None
    return metadata.user if metadata is not None else None


async def view_for(core: Core, actor: Actor, reply: Reply) -> ui.View | None:
    """The reply's buttons, bound to `actor`. Build it inside the running loop (discord.py binds views to it)."""
    if reply.type == "quiz" and "ask_id" in reply.data:
        return quiz_view(reply.data)
    wanted = reply.buttons[:BUTTONS_PER_MESSAGE]
    if not wanted:
        return None
    commands = [b.command for b in wanted if b.command is not None]
    tokens = iter(await buttons.issue(core, actor, commands) if commands else [])
    view = ui.View(timeout=None)
    dismissals = 0
    for b in wanted:
        if b.command is None:
            view.add_item(DismissButton(dismissals, b.label))
            dismissals += 1
            continue
        style = discord.ButtonStyle.danger if reply.type == "confirm" else discord.ButtonStyle.primary
        view.add_item(CommandButton(next(tokens), b.label, style))
    return view


def quiz_view(data: dict[str, Any]) -> ui.View:
    view = ui.View(timeout=None)
    for index, option in enumerate(data["options"]):
        view.add_item(QuizButton(int(data["ask_id"]), index, render.quiz_label(index, str(option))))
    return view


async def press_command(interaction: Interaction, token: str) -> None:
    core = core_of(interaction)
    actor = actor_of(interaction)
    try:
        command = await buttons.press(core, actor, token)
    except Refused as exc:  # a stranger's press, or an expired token: nothing changes
        await interaction.response.send_message(exc.message, ephemeral=True)
        return
    slow = is_slow(command)
    if slow:
        await interaction.response.defer()
    reply = await handle(core, actor, command)
    if reply.type == SILENT.type:  # throttled: acknowledge without a word
        if not slow:
            await interaction.response.defer()
        return
    if reply.type == "error":  # keep the message (and its buttons) as it was
        send = interaction.followup.send if slow else interaction.response.send_message
        await send(reply.text, ephemeral=True)
        return
    fields = render.edit(reply, await view_for(core, actor, reply))
    if slow:
        await interaction.edit_original_response(**fields)
    else:
        await interaction.response.edit_message(**fields)


async def answer_quiz(interaction: Interaction, ask_id: int, option: int) -> None:
    try:
        from core.services import quizzes
    except ImportError:  # the quiz feature is not installed in this build
        await interaction.response.send_message("Quizzes are not available yet.", ephemeral=True)
        return
    core = core_of(interaction)
    actor = actor_of(interaction)
    try:
        result = await quizzes.answer(core, actor, ask_id, option)
    except Refused as exc:  # someone else's question, or answered already: nothing changes
        await interaction.response.send_message(exc.message, ephemeral=True)
        return
    reply = _feedback(result)
    fields = render.message(reply)
    view = await view_for(core, actor, reply)
    if view is not None:
        fields["view"] = view
    if _personal_question(interaction):  # show the answer on the question itself, then the feedback
        await interaction.response.edit_message(view=_answered_view(interaction, option, result.correct_option))
        await interaction.followup.send(**fields, ephemeral=True)
    else:  # a group round stays open for everyone else
        await interaction.response.send_message(**fields, ephemeral=True)


def _personal_question(interaction: Interaction) -> bool:
    message = interaction.message
    return interaction.guild_id is None or (message is not None and message.flags.ephemeral)


def _feedback(result: Any) -> Reply:
    if type(result) in registry.RENDERERS:
        return registry.describe(result)
    text = render.quiz_feedback(result.correct, result.correct_option, result.explanation, result.score,
                                result.streak, result.answered)
    return Reply("quiz_answer", text, {"ask_id": result.ask_id, "correct": result.correct})


def _answered_view(interaction: Interaction, chosen: int, correct: int) -> ui.View | None:
    """The question's buttons, disabled: the right answer green, a wrong pick red."""
    if interaction.message is None:
        return None
    view = ui.View.from_message(interaction.message, timeout=None)
    for item in view.children:
        if not isinstance(item, ui.Button):
            continue
        found = QuizButton.__discord_ui_compiled_template__.fullmatch(item.custom_id or "")
        index = int(found["option"]) if found else -1
        item.disabled = True
        if index == correct:
            item.style = discord.ButtonStyle.success
        elif index == chosen:
            item.style = discord.ButtonStyle.danger
        else:
            item.style = discord.ButtonStyle.secondary
    view.stop()  # nothing left to listen for
    return view
