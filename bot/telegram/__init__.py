"""Telegram adapter (python-telegram-bot 22): commands, buttons, quiz polls and pushes; no business rule here."""

import os

# Opt in to Bot API durations as timedelta: without it, PTB 22.8 emits a deprecation warning whenever it
# builds a RetryAfter (any 429), which pytest's filterwarnings=error turns into a crash. Production needs
# the same opt-in, so the adapter package sets it before any of its modules imports telegram.
os.environ.setdefault("PTB_TIMEDELTA", "true")
