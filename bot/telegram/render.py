"""Replies as Telegram messages: HTML, a phone-sized portfolio table, split long texts, owner-bound buttons.

Restyling only: the words come from the shared renderer (bot.render) through `Reply.text`.
"""

from __future__ import annotations

import html
import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.replies import Button, Reply
from bot.telegram.actors import Incoming
from core.results import Actor
from core.services import buttons as button_tokens
from core.services.core import Core

TEXT_LIMIT = 4000  # Telegram allows 4,096 UTF-16 units per message; keep room for the mention
CAPTION_LIMIT = 1000  # 1,024 for a photo caption
PRE_WIDTH = 36  # a monospace block that fits a phone without wrapping
LONG_LINE = 500  # an overlong plain line is cut into pieces of this many characters
DISMISS = "x"  # callback data of a button that only closes the question
ROW_SIZE = 3

PUSH_ICONS = {
    "liquidation": "🚨",
    "margin_danger": "🟥",
    "margin_warning": "🟧",
    "order_filled": "✅",
    "price_alert": "🔔",
    "funding": "💸",
    "digest": "📰",
}


@dataclass(frozen=True)
class Line:
    """One line of a message; `pre` lines go into a monospace block."""

    text: str
    pre: bool = False


def units(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits."""
    return len(text.encode("utf-16-le")) // 2


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def reply_lines(reply: Reply) -> list[Line]:
    """The reply's text as lines; the portfolio table of `/positions` becomes a monospace block."""
    lines = reply.text.split("\n")
    start = _table_start(reply, lines)
    if start is None:
        return [Line(line) for line in lines]
    table = [piece for line in lines[start:] for piece in _wrap_pre(line)]
    return [Line(line) for line in lines[:start]] + [Line(piece, pre=True) for piece in table]


def _table_start(reply: Reply, lines: list[str]) -> int | None:
    if reply.type != "positions" or not reply.data.get("positions"):
        return None
    first = reply.data["positions"][0]
    head = f"{first['symbol']} {first['side']}"
    return next((i for i, line in enumerate(lines) if line.startswith(head)), None)


def _wrap_pre(line: str) -> list[str]:
    if len(line) <= PRE_WIDTH:
        return [line]
    return textwrap.wrap(line, PRE_WIDTH, subsequent_indent=" ", break_long_words=True) or [line[:PRE_WIDTH]]


def _split_long(lines: Sequence[Line]) -> list[Line]:
    out: list[Line] = []
    for line in lines:
        if line.pre or len(line.text) <= LONG_LINE:
            out.append(line)
            continue
        out.extend(Line(line.text[i : i + LONG_LINE]) for i in range(0, len(line.text), LONG_LINE))
    return out


def to_html(lines: Sequence[Line]) -> str:
    """Consecutive `pre` lines share one <pre> block; everything is escaped."""
    parts: list[str] = []
    block: list[str] = []
    for line in lines:
        if line.pre:
            block.append(esc(line.text))
            continue
        if block:
            parts.append("<pre>" + "\n".join(block) + "</pre>")
            block = []
        parts.append(esc(line.text))
    if block:
        parts.append("<pre>" + "\n".join(block) + "</pre>")
    return "\n".join(parts)


def html_chunks(lines: Sequence[Line], prefix: str = "", limit: int = TEXT_LIMIT) -> list[str]:
    """HTML messages under `limit` units, split between lines (a table block is closed and reopened)."""
    chunks: list[str] = []
    current: list[Line] = []
    for line in _split_long(lines):
        candidate = [*current, line]
        if current and units(_render(prefix, candidate, first=not chunks)) > limit:
            chunks.append(_render(prefix, current, first=not chunks))
            current = [line]
        else:
            current = candidate
    chunks.append(_render(prefix, current, first=not chunks))
    return [chunk if chunk.strip() else "…" for chunk in chunks]


def _render(prefix: str, lines: Sequence[Line], first: bool) -> str:
    body = to_html(lines)
    return f"{prefix}{body}" if first else body


def reply_chunks(reply: Reply, mention: str = "") -> list[str]:
    """The reply as HTML messages; `mention` (already HTML) starts the first one in group chats."""
    return html_chunks(reply_lines(reply), f"{mention}\n" if mention else "")


def push_chunks(kind: str, text: str) -> list[str]:
    icon = PUSH_ICONS.get(kind)
    lines = [Line(line) for line in text.split("\n")]
    return html_chunks(lines, f"{icon} " if icon else "")


async def keyboard(
    core: Core, actor: Actor, buttons: Sequence[Button], extra: Sequence[InlineKeyboardButton] = ()
) -> InlineKeyboardMarkup | None:
    """Buttons bound to `actor`: callback data is a short token stored in the database (survives restarts).

    A dismiss button carries "x:" and the token of another button of the same keyboard, so only the
    owner can close the question; alone it is a bare "x".
    """
    commands = [b.command for b in buttons if b.command is not None]
    tokens = iter(await button_tokens.issue(core, actor, commands)) if commands else iter(())
    datas: list[str] = [next(tokens) if b.command is not None else "" for b in buttons]
    owner_token = next((d for d in datas if d), "")
    datas = [d or (f"{DISMISS}:{owner_token}" if owner_token else DISMISS) for d in datas]
    rows = _rows(buttons, datas)
    if extra:
        rows.append(list(extra))
    return InlineKeyboardMarkup(rows) if rows else None


def _rows(buttons: Sequence[Button], datas: Sequence[str]) -> list[list[InlineKeyboardButton]]:
    """One row per subject (the command's symbol), at most ROW_SIZE buttons; dismiss joins its row."""
    rows: list[list[InlineKeyboardButton]] = []
    subject: str | None = None
    for button, data in zip(buttons, datas, strict=True):
        item = InlineKeyboardButton(button.label, callback_data=data)
        words = (button.command or "").split()
        here = words[1] if len(words) > 1 else None
        if rows and len(rows[-1]) < ROW_SIZE and (button.command is None or here == subject):
            rows[-1].append(item)
        else:
            rows.append([item])
        subject = here if button.command is not None else subject
    return rows


async def send_reply(
    bot: Bot,
    core: Core,
    actor: Actor,
    chat_id: int,
    reply: Reply,
    *,
    mention: str = "",
    reply_to: int | None = None,
    thread: int | None = None,
    extra: Sequence[InlineKeyboardButton] = (),
) -> Message:
    """Send a reply (the picture first when it has one); the buttons go with the last message.

    `thread` keeps the answer in the forum topic the command came from.
    """
    chunks = reply_chunks(reply, mention)
    markup = await keyboard(core, actor, reply.buttons, extra)
    quote = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    if reply.photo is not None:
        caption = chunks[0] if len(chunks) == 1 and units(chunks[0]) <= CAPTION_LIMIT else None
        sent = await bot.send_photo(
            chat_id, photo=io.BytesIO(reply.photo), filename=f"{reply.type}.png", caption=caption,
            parse_mode=ParseMode.HTML if caption else None, reply_markup=markup if caption else None,
            reply_parameters=quote, message_thread_id=thread,
        )
        if caption is not None:
            return sent
        quote = None
    for chunk in chunks[:-1]:
        await bot.send_message(
            chat_id, chunk, parse_mode=ParseMode.HTML, reply_parameters=quote, message_thread_id=thread
        )
        quote = None
    return await bot.send_message(
        chat_id, chunks[-1], parse_mode=ParseMode.HTML, reply_markup=markup, reply_parameters=quote,
        message_thread_id=thread,
    )


async def answer(
    core: Core, bot: Bot, got: Incoming, reply: Reply, *, extra: Sequence[InlineKeyboardButton] = ()
) -> Message:
    """Answer a command in its chat; in groups the answer quotes the command and names its sender."""
    return await send_reply(
        bot, core, got.actor, got.chat_id, reply, mention=got.mention,
        reply_to=got.message.message_id if got.in_group else None, thread=got.thread, extra=extra,
    )


async def edit_reply(
    bot: Bot, core: Core, actor: Actor, message: Message, reply: Reply, *, mention: str = ""
) -> None:
    """Show a button's result in place of the message that carried the button.

    Results that are pictures or too long for one message are sent as new messages instead, and the
    old message loses its buttons.
    """
    chunks = reply_chunks(reply, mention)
    if reply.photo is not None or len(chunks) > 1 or message.text is None:
        await drop_buttons(message)
        thread = message.message_thread_id if message.is_topic_message else None
        await send_reply(bot, core, actor, message.chat_id, reply, mention=mention, thread=thread)
        return
    markup = await keyboard(core, actor, reply.buttons)
    try:
        await message.edit_text(chunks[0], parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


async def drop_buttons(message: Message) -> None:
    if message.reply_markup is None:
        return
    try:
        await message.edit_reply_markup(None)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise
