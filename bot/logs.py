"""Logging set-up: stderr only, and secrets (tokens, webhook secrets) never reach a log line.

Secrets are scrubbed when a record is created (a log record factory), so every handler, formatter and
library logger sees the redacted text, whatever was attached when.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterable
from typing import Any

REDACTED = "***"
_SECRETS: set[str] = set()
_base_factory = logging.getLogRecordFactory()


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def protect(secrets: Iterable[str]) -> None:
    """Never log these strings again, in this process (short strings are too common to hunt for)."""
    _SECRETS.update(s for s in secrets if s and len(s) >= 6)
    if logging.getLogRecordFactory() is not _scrubbing_factory:
        logging.setLogRecordFactory(_scrubbing_factory)


def _scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    if _SECRETS:
        _scrub(record)
    return record


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: keep the raw format string only
        message = str(record.msg)
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
        record.exc_info = None


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    protect(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level, logging.INFO))
    # httpx logs every request URL at INFO, and Telegram URLs carry the bot token: keep it quiet anyway
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
