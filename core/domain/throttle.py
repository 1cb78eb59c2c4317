"""Per-user command rate limit: about 20 commands per 10 s, then one polite notice, then silence until
the user's rate has cooled down below the limit again."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

LIMIT = 20
WINDOW_SECONDS = 10.0


class Verdict(Enum):
    OK = "ok"
    NOTICE = "notice"  # the first refused command: say why, once
    SILENT = "silent"  # further refused commands: no reply at all


@dataclass
class _User:
    times: deque[float] = field(default_factory=deque)
    noticed: bool = False


class CommandThrottle:
    """A sliding window of command times per user key, in memory (time is passed in)."""

    def __init__(self, limit: int = LIMIT, window: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._users: dict[str, _User] = {}

    def check(self, key: str, now: float) -> Verdict:
        user = self._users.setdefault(key, _User())
        while user.times and user.times[0] <= now - self.window:
            user.times.popleft()
        if len(user.times) < self.limit:
            user.times.append(now)
            user.noticed = False
            return Verdict.OK
        if user.noticed:
            return Verdict.SILENT
        user.noticed = True
        return Verdict.NOTICE

    def forget_idle(self, now: float) -> None:
        """Drop users with no command inside the window (bounded memory)."""
        idle = [key for key, user in self._users.items() if not user.times or user.times[-1] <= now - self.window]
        for key in idle:
            del self._users[key]

    def __len__(self) -> int:
        return len(self._users)
