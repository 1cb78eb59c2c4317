"""Who is speaking, in which chat: a Telegram update as a core Actor (platform facts only, no rule)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Chat, Message, Update, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.commands import ALIASES
from core.results import Actor
from core.services import buttons as button_tokens
from core.services.core import Core

log = logging.getLogger(__name__)

PLATFORM = "telegram"
# Commands whose core use case asks whether the speaker administers the group: only these look it up.
ADMIN_AWARE = frozenset({"settings", "quiz"})
ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})
MEMBER_STATUSES = ADMIN_STATUSES | {ChatMemberStatus.MEMBER}


@dataclass(frozen=True)
class Incoming:
    """A command message worth answering: the actor, where to answer and how to address them."""

    actor: Actor
    message: Message
    user: User

    @property
    def chat_id(self) -> int:
        return self.message.chat_id

    @property
    def in_group(self) -> bool:
        return self.actor.chat_kind == "group"

    @property
    def thread(self) -> int | None:
        """The forum topic of the command, where the answer belongs."""
        return self.message.message_thread_id if self.message.is_topic_message else None

    @property
    def mention(self) -> str:
        """In groups, replies name the person they answer."""
        return self.user.mention_html(self.user.first_name) if self.in_group else ""


def chat_kind(chat: Chat) -> str:
    return "private" if chat.type == ChatType.PRIVATE else "group"


def command_name(text: str) -> str:
    """`/Long@DojoBot BTC …` → `long` (aliases resolved), the way the shared grammar reads it."""
    head = text.split(maxsplit=1)[0][1:].partition("@")[0].lower() if text.strip() else ""
    return ALIASES.get(head, head)


def actor_of(user: User, chat: Chat, admin: bool = False) -> Actor:
    return Actor(PLATFORM, str(user.id), user.first_name, chat_id=str(chat.id), chat_kind=chat_kind(chat),
                 chat_admin=admin)


async def is_chat_admin(context: ContextTypes.DEFAULT_TYPE, chat_id: int, user_id: int) -> bool:
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.info("chat admin lookup failed in %s: %s", chat_id, exc)
        return False
    return member.status in ADMIN_STATUSES


async def is_chat_member(context: ContextTypes.DEFAULT_TYPE, chat_id: int, user_id: int) -> bool:
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.info("chat member lookup failed in %s: %s", chat_id, exc)
        return False
    return member.status in MEMBER_STATUSES or bool(getattr(member, "is_member", False))


async def first_time(core: Core, update: Update) -> bool:
    """Each Telegram update is applied once, even when Telegram delivers it again after a restart."""
    return await button_tokens.first_time(core, PLATFORM, str(update.update_id))


async def incoming(core: Core, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Incoming | None:
    """The command message of an update from a person, seen for the first time; None otherwise."""
    message, user, chat = update.message, update.effective_user, update.effective_chat
    if message is None or message.text is None or user is None or chat is None or user.is_bot:
        return None
    if not await first_time(core, update):
        return None
    admin = False
    if chat.type != ChatType.PRIVATE and command_name(message.text) in ADMIN_AWARE:
        admin = await is_chat_admin(context, chat.id, user.id)
    return Incoming(actor_of(user, chat, admin), message, user)
