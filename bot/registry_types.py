"""Types shared by the feature modules of the command registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.commands import Parsed
from core.results import Actor
from core.services.core import Core

Handler = Callable[[Core, Actor, Parsed], Awaitable[object]]
