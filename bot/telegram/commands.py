"""Every registry command as a Telegram command: the same words, parsed and answered by bot.dispatch.

`/cmd@ThisBot` works in groups and `/cmd@OtherBot` is left alone (CommandHandler). Edited messages are
ignored: editing "/long BTC 100" must not open a second position.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import replace

from telegram import InlineKeyboardButton, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, ContextTypes, filters

from bot import dispatch
from bot.commands import ALIASES
from bot.registry import COMMANDS
from bot.replies import Reply
from bot.telegram import render
from bot.telegram.actors import Incoming, first_time, incoming, is_chat_member
from bot.telegram.quizzes import send_quiz
from core.services import chats
from core.services.core import Core

JOIN_PAYLOAD = re.compile(r"^join-(-?\d{1,20})$")
SEPARATE = frozenset({"start", "quiz"})  # their own handlers: deep links, native quiz polls
ANONYMOUS = (
    "Commands sent as the group or a channel can't be tied to a paper account. "
    "Turn off “Remain anonymous” or write from your own account."
)


def command_names() -> list[str]:
    """Registry commands and their aliases handled by the generic handler."""
    names = {name for name in COMMANDS if name not in SEPARATE}
    names |= {alias for alias, target in ALIASES.items() if target in names}
    return sorted(names)


def handlers(core: Core) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        got = await incoming(core, update, context)
        if got is None:
            await _refuse_anonymous(core, update)
            return
        reply = await dispatch.handle(core, got.actor, got.message.text or "", context.bot.username)
        await answer(core, context, got, reply)

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        got = await incoming(core, update, context)
        if got is None:
            await _refuse_anonymous(core, update)
            return
        await start(core, context, got, context.args[0] if context.args else "")

    only_new = filters.UpdateType.MESSAGE
    return [
        CommandHandler("start", on_start, filters=only_new),
        CommandHandler(command_names(), on_command, filters=only_new),
    ]


async def answer(
    core: Core, context: ContextTypes.DEFAULT_TYPE, got: Incoming, reply: Reply, note: str = ""
) -> None:
    """The reply (and a note) in the command's chat; a group's leaderboard offers a link to join it."""
    if note:
        reply = replace(reply, text=f"{reply.text}\n\n{note}")
    extra = []
    if got.in_group and reply.type == "leaderboard" and context.bot.username:
        link = f"https://t.me/{context.bot.username}?start=join-{got.chat_id}"
        extra.append(InlineKeyboardButton("Join this board", url=link))
    await render.answer(core, context.bot, got, reply, extra=extra)


async def start(core: Core, context: ContextTypes.DEFAULT_TYPE, got: Incoming, payload: str) -> None:
    """`/start` with a deep-link payload: `join-<group id>` puts the user on that group's board.

    Membership is a platform fact: Telegram is asked whether the user is in that group before the core
    records them as a member (a forged link joins nothing).
    """
    joined = JOIN_PAYLOAD.match(payload) if not got.in_group else None
    if joined is None:
        reply = await dispatch.handle(core, got.actor, "/start", context.bot.username)
        await answer(core, context, got, reply)
        if payload == "quiz" and not got.in_group and "quiz" in COMMANDS:
            await send_quiz(core, context.bot, got.actor, "/quiz")
        return
    group_id = int(joined.group(1))
    if not await is_chat_member(context, group_id, got.user.id):
        reply = await dispatch.handle(core, got.actor, "/start", context.bot.username)
        await answer(core, context, got, reply, "I couldn't find you in that group, so you're not on its board.")
        return
    title = "that group"
    with contextlib.suppress(TelegramError):
        title = (await context.bot.get_chat(group_id)).title or title
    in_group = replace(got.actor, chat_id=str(group_id), chat_kind="group", chat_admin=False)
    reply = await dispatch.handle(core, in_group, "/start", context.bot.username)
    known = await chats.chats_of(core, in_group.platform, in_group.user_id)
    note = f"You're on the board of {title}: /leaderboard there." if str(group_id) in known else ""
    await answer(core, context, got, reply, note)


async def _refuse_anonymous(core: Core, update: Update) -> None:
    """A command from an anonymous group admin or a channel: say why nothing happens (once per update)."""
    message = update.message
    if message is None or message.sender_chat is None or message.chat.type == ChatType.PRIVATE:
        return
    if await first_time(core, update):
        await message.reply_text(ANONYMOUS)
