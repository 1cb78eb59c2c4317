"""Pushes (liquidations, margin warnings, alerts…) to a Telegram user's private chat."""

from __future__ import annotations

from datetime import timedelta

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.telegram import render
from core.ports import DeliveryError, Outgoing

# Bad requests that mean the chat can never receive anything from the bot (it was deleted, or the user
# never opened a chat with it): pushes pause until the user writes again.
GONE = ("chat not found", "user is deactivated", "peer_id_invalid")


class TelegramNotifier:
    platform = "telegram"

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, message: Outgoing) -> None:
        """Raises DeliveryError: permanent when the user blocked the bot, with `retry_after` on flood control."""
        if not message.chat_id.lstrip("-").isdigit():
            raise DeliveryError(f"telegram: no chat id for user {message.user_id}", permanent=True)
        try:
            for chunk in render.push_chunks(message.kind, message.text):
                await self.bot.send_message(int(message.chat_id), chunk, parse_mode=ParseMode.HTML)
        except Forbidden as exc:
            raise DeliveryError(f"telegram: {exc.message}", permanent=True) from exc
        except RetryAfter as exc:
            raise DeliveryError(
                f"telegram: {exc.message}", permanent=False, retry_after=_seconds(exc.retry_after)
            ) from exc
        except BadRequest as exc:
            gone = any(reason in exc.message.lower() for reason in GONE)
            raise DeliveryError(f"telegram: {exc.message}", permanent=gone) from exc
        except TelegramError as exc:  # network trouble, timeouts, server errors: try again
            raise DeliveryError(f"telegram: {type(exc).__name__}: {exc}", permanent=False) from exc


def _seconds(value: timedelta | int | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
