"""Buttons bound to their owner: a token stands for a command that only its owner may run."""

from __future__ import annotations

import secrets
from datetime import timedelta

from core.errors import Refused
from core.results import Actor
from core.services.core import Core, ensure_user
from core.storage import buttons as store

TOKEN_BYTES = 9  # 12 url-safe characters: fits Telegram's 64-byte callback data with room to spare


async def issue(core: Core, actor: Actor, commands: list[str]) -> list[str]:
    """One token per command, owned by the actor."""
    async with core.db.transaction() as tx:
        user, _, _ = await ensure_user(core, tx, actor)
        tokens = []
        for command in commands:
            token = secrets.token_urlsafe(TOKEN_BYTES)
            await store.save_button(tx, token, user.id, command, core.clock.now())
            tokens.append(token)
        return tokens


async def press(core: Core, actor: Actor, token: str) -> str:
    """The command behind a token, if the presser owns it; refused otherwise (nothing changes)."""
    async with core.db.transaction() as tx:
        found = await store.find_button(tx, token[:64])
        if found is None:
            raise Refused("unknown_button", "That button has expired. Send the command again.", "/positions")
        owner_id, owner_name, command = found
        user, _, _ = await ensure_user(core, tx, actor)
        if user.id != owner_id:
            raise Refused("not_your_button", f"This button belongs to {owner_name}.", "/positions")
        return command


async def first_time(core: Core, platform: str, update_id: str) -> bool:
    """True the first time a platform update is seen; redeliveries are ignored."""
    async with core.db.transaction() as tx:
        return await store.first_time(tx, platform, update_id, core.clock.now())


BUTTONS_KEPT = timedelta(days=30)  # a button older than this answers "expired"
UPDATES_KEPT = timedelta(days=2)  # platforms redeliver within hours, not days


async def prune(core: Core) -> tuple[int, int]:
    """Daily housekeeping: the tables of button tokens and processed update ids stay bounded."""
    now = core.clock.now()
    async with core.db.transaction() as tx:
        return await store.prune(tx, now - BUTTONS_KEPT, now - UPDATES_KEPT)
