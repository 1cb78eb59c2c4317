"""Group chat settings: read by anyone, changed only by the chat's admins (the platform tells who)."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import Refused
from core.results import Actor
from core.services.core import Core
from core.storage import chats

GROUP_SETTINGS = {
    "quiz_rounds": ("on", "off"),  # whether quiz rounds may run in this group
    "alerts_channel": None,  # Discord: a channel id for pushes when DMs are closed
}


@dataclass(frozen=True)
class ChatSetting:
    chat_id: str
    key: str
    value: str


async def set_chat_setting(core: Core, actor: Actor, key: str, value: str) -> ChatSetting:
    if actor.chat_kind != "group":
        raise Refused("not_in_group", "Group settings are changed inside the group.", "/settings quiz_rounds off")
    if not actor.chat_admin:
        raise Refused("not_group_admin", "Only this group's admins can change its settings.", "/leaderboard")
    if key not in GROUP_SETTINGS:
        raise Refused("bad_setting", f"There is no group setting '{key[:30]}'.", "/settings quiz_rounds off")
    allowed = GROUP_SETTINGS[key]
    if allowed is not None and value not in allowed:
        raise Refused("bad_setting", f"{key} is {' or '.join(allowed)}.", f"/settings {key} {allowed[0]}")
    async with core.db.transaction() as tx:
        await chats.set_setting(tx, actor.platform, actor.chat_id, key, value[:100])
    return ChatSetting(actor.chat_id, key, value[:100])


async def chat_setting(core: Core, platform: str, chat_id: str, key: str) -> str | None:
    async with core.db.transaction() as tx:
        return await chats.get_setting(tx, platform, chat_id, key)


async def chats_of(core: Core, platform: str, platform_user_id: str) -> list[str]:
    """The group chats (Discord guilds, Telegram groups) a user has written in."""
    async with core.db.transaction() as tx:
        return await chats.chats_of(tx, platform, platform_user_id)


async def remember_once(core: Core, platform: str, chat_id: str, key: str) -> bool:
    """True the first time `key` is remembered for a chat (e.g. "told user X why DMs fell back")."""
    async with core.db.transaction() as tx:
        if await chats.get_setting(tx, platform, chat_id, key) is not None:
            return False
        await chats.set_setting(tx, platform, chat_id, key, "1")
        return True
