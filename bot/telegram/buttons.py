"""Inline buttons: a press runs the owner's command and shows the result in place of the message."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, ContextTypes

from bot import dispatch
from bot.telegram import render
from bot.telegram.actors import actor_of, first_time
from bot.telegram.quizzes import deliver_quiz, is_personal_quiz
from core.errors import Refused
from core.results import Actor
from core.services import buttons as button_tokens
from core.services.core import Core


def handlers(core: Core) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or not await first_time(core, update):
            return
        message = query.message
        if not isinstance(message, Message):  # too old: Telegram no longer shows it to the bot
            await query.answer("This message is too old; send the command again.", show_alert=True)
            return
        actor = actor_of(query.from_user, message.chat)
        data = query.data or ""
        dismiss = data == render.DISMISS or data.startswith(f"{render.DISMISS}:")
        token = data.partition(":")[2] if dismiss else data
        try:
            command = await button_tokens.press(core, actor, token) if token else None
        except Refused as exc:
            # a stranger's press (or an expired token) changes nothing; only the presser sees why
            await query.answer(exc.message[:200], show_alert=True)
            return
        await query.answer()
        if dismiss or command is None:
            await message.edit_reply_markup(None)
            return
        await run(core, context, actor, message, command, query.from_user.mention_html(query.from_user.first_name))

    return [CallbackQueryHandler(on_press)]


async def run(
    core: Core, context: ContextTypes.DEFAULT_TYPE, actor: Actor, message: Message, command: str, mention: str
) -> None:
    reply = await dispatch.handle(core, actor, command, context.bot.username)
    if is_personal_quiz(reply, actor):  # "Quiz me ▶" in a private chat: a native quiz poll
        await render.drop_buttons(message)
        await deliver_quiz(core, context.bot, actor, reply, command)
        return
    await render.edit_reply(
        context.bot, core, actor, message, reply, mention=mention if actor.chat_kind == "group" else ""
    )
