"""`/quiz` as Telegram's native quiz poll, in private chats; each answer scores and asks the next question.

A non-anonymous poll in a group shows everyone who voted what, so personal quizzes stay private.
A poll answer carries no chat: the poll id is stored with its question (core.storage.telegram_polls).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Literal, cast

from telegram import Bot, InlineKeyboardButton, Update
from telegram.constants import PollType
from telegram.ext import BaseHandler, CommandHandler, ContextTypes, PollAnswerHandler, filters

from bot import dispatch
from bot.registry import COMMANDS, describe
from bot.replies import Reply
from bot.telegram import render
from bot.telegram.actors import PLATFORM, first_time, incoming
from core.errors import Refused
from core.results import Actor
from core.services import quizzes
from core.services.core import Core
from core.storage import telegram_polls

log = logging.getLogger(__name__)

PollOptionIndex = Literal[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]

QUESTION_LIMIT = 300  # Telegram poll limits (characters)
OPTION_LIMIT = 100
EXPLANATION_LIMIT = 200
GROUP_NOTE = "Quizzes are personal: a quiz poll here would show everyone what you answered. Take it in private."
ANSWER_PROMPT = "Your answer?"


GROUP_ACTIONS = frozenset({"stats", "board", "round"})  # /quiz forms that belong in a group (text replies)


def handlers(core: Core) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    async def on_quiz(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        got = await incoming(core, update, context)
        if got is None:
            return
        text = got.message.text or "/quiz"
        words = text.split()
        if got.in_group and (len(words) < 2 or words[1].lower() not in GROUP_ACTIONS):
            link = f"https://t.me/{context.bot.username}?start=quiz"
            button = InlineKeyboardButton("Open a private quiz", url=link)
            await render.answer(core, context.bot, got, Reply("quiz_private", GROUP_NOTE), extra=[button])
            return
        if got.in_group:
            reply = await dispatch.handle(core, got.actor, text, context.bot.username)
            await render.answer(core, context.bot, got, reply)
            return
        await send_quiz(core, context.bot, got.actor, text)

    async def on_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        answer = update.poll_answer
        if answer is None or answer.user is None or not answer.option_ids or not await first_time(core, update):
            return
        async with core.db.transaction() as tx:
            sent = await telegram_polls.find_poll(tx, answer.poll_id)
        if sent is None or sent.answered or sent.platform_user_id != str(answer.user.id):
            return  # not ours, answered already, or a forwarded poll answered by someone else
        actor = Actor(PLATFORM, str(answer.user.id), answer.user.first_name, chat_id=sent.chat_id)
        await record_answer(core, context.bot, actor, sent, answer.option_ids[0])

    quiz: list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]] = [PollAnswerHandler(on_answer)]
    if "quiz" in COMMANDS:  # the quiz feature is registered
        quiz.append(CommandHandler("quiz", on_quiz, filters=filters.UpdateType.MESSAGE))
    return quiz


def is_personal_quiz(reply: Reply, actor: Actor) -> bool:
    """A question for one person in their private chat: asked as a native quiz poll."""
    return reply.type == "quiz" and not reply.data.get("round") and actor.chat_kind == "private"


async def send_quiz(core: Core, bot: Bot, actor: Actor, command: str) -> None:
    """Run a /quiz line in a private chat: a question becomes a quiz poll, anything else a message."""
    await deliver_quiz(core, bot, actor, await dispatch.handle(core, actor, command, bot.username), command)


async def deliver_quiz(core: Core, bot: Bot, actor: Actor, reply: Reply, command: str) -> None:
    chat_id = int(actor.chat_id)
    if not is_personal_quiz(reply, actor):
        await render.send_reply(bot, core, actor, chat_id, reply)
        return
    question, options, correct, explanation = poll_fields(reply.data)
    if question == ANSWER_PROMPT:  # too long for a poll: the full question goes first, as a message
        await render.send_reply(bot, core, actor, chat_id, Reply("quiz_question", str(reply.data["question"])))
    message = await bot.send_poll(
        chat_id, question, options, type=PollType.QUIZ, is_anonymous=False,
        correct_option_ids=[cast(PollOptionIndex, correct)], explanation=explanation or None,
    )
    assert message.poll is not None  # sendPoll answers with the poll it created
    sent = telegram_polls.SentPoll(
        message.poll.id, int(reply.data["ask_id"]), actor.user_id, actor.chat_id, message.message_id, command
    )
    async with core.db.transaction() as tx:
        await telegram_polls.save_poll(tx, sent, core.clock.now())


def poll_fields(data: dict[str, Any]) -> tuple[str, list[str], int, str]:
    """Question, options, correct option and explanation cut to Telegram's poll limits."""
    question = str(data["question"])
    if len(question) > QUESTION_LIMIT:
        question = ANSWER_PROMPT
    options = [_cut(str(option), OPTION_LIMIT) for option in data["options"]]
    return question, options, int(data["correct"]), _cut(str(data.get("explanation") or ""), EXPLANATION_LIMIT)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def record_answer(core: Core, bot: Bot, actor: Actor, sent: telegram_polls.SentPoll, option: int) -> None:
    """Score the answer in the core, say how it went, and ask the next question."""
    chat_id = int(sent.chat_id)
    try:
        result = await quizzes.answer(core, actor, sent.ask_id, option)
    except Refused as exc:
        await render.send_reply(bot, core, actor, chat_id, dispatch.error_reply(exc))
        return
    except Exception:
        log.exception("quiz answer failed")
        failed = Refused("internal", "Something went wrong on our side; nothing was changed.", "/quiz")
        await render.send_reply(bot, core, actor, chat_id, dispatch.error_reply(failed))
        return
    async with core.db.transaction() as tx:
        await telegram_polls.mark_answered(tx, sent.poll_id, core.clock.now())
    await render.send_reply(bot, core, actor, chat_id, answered_reply(result))
    await send_quiz(core, bot, actor, sent.command)


def answered_reply(result: quizzes.QuizAnswered) -> Reply:
    """The quiz feature's wording when registered (without its "next" button: the next poll follows)."""
    try:
        return replace(describe(result), buttons=())
    except TypeError:  # the quiz feature has no renderer registered
        pass
    head = "✅ Correct!" if result.correct else f"❌ Not quite: the answer was option {result.correct_option + 1}."
    text = f"{head}\n{result.explanation}\nScore {result.score} · streak {result.streak} · answered {result.answered}"
    return Reply("quiz_answer", text, {"correct": result.correct})
