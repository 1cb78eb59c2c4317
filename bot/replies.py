"""What a platform sends back: text for people, data for programs, buttons bound to their owner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Button:
    """Pressing it runs `command` for the reply's owner; `command` None only dismisses the question."""

    label: str
    command: str | None


@dataclass(frozen=True)
class Reply:
    type: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    buttons: tuple[Button, ...] = ()
    photo: bytes | None = None  # a PNG to send with the text (charts)
