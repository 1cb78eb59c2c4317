"""The one error a user can see: what was wrong and how to write it instead."""

from __future__ import annotations


class Refused(Exception):
    """A command refused by the core. Nothing was changed. `code` is stable (transcript `data.code`)."""

    def __init__(self, code: str, message: str, example: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.example = example

    def __str__(self) -> str:
        return f"{self.message} Example: {self.example}" if self.example else self.message
