"""The Telegram adapter: python-telegram-bot's Application started by hand inside the shared process.

Long polling by default; a webhook server when TELEGRAM_WEBHOOK_URL is set. The Application's JobQueue
scheduler is the process's one APScheduler (bot.runtime installs the core's jobs on it).
"""

from __future__ import annotations

import logging
import secrets
import traceback
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

from bot.config import Config
from bot.logs import protect, redact
from bot.registry import COMMANDS
from bot.telegram import buttons, commands, quizzes
from bot.telegram.notifier import TelegramNotifier
from core.services.core import Core

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query", "poll_answer"]
GROUP_MENU_HIDDEN = frozenset({"start", "quiz"})  # private-only: the account tour and personal quizzes
ADMIN_MENU = frozenset({"setprice"})  # listed only in the admins' own chats
POLL_TIMEOUT = timedelta(seconds=30)
KEPT_ERRORS = 100

TelegramApp = Application[Any, Any, Any, Any, Any, Any]


def api_urls(base: str) -> tuple[str, str]:
    """TELEGRAM_API_BASE_URL (`http://host:8081` or `…/bot`) as PTB's base_url and base_file_url."""
    root = base.rstrip("/").removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"


class TelegramAdapter:
    """bot.runtime.Adapter for Telegram. Tests pass `builder` (a prepared ApplicationBuilder)."""

    name = "telegram"

    def __init__(
        self,
        core: Core,
        config: Config,
        builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] | None = None,
        *,
        poll_timeout: timedelta = POLL_TIMEOUT,
    ) -> None:
        self.core = core
        self.config = config
        self.poll_timeout = poll_timeout
        self.errors: list[BaseException] = []  # what the error handler saw (tests assert it stays empty)
        if builder is None:
            builder = ApplicationBuilder().token(config.telegram_token)
            if config.telegram_api_base_url:
                base_url, file_url = api_urls(config.telegram_api_base_url)
                builder = builder.base_url(base_url).base_file_url(file_url)
        protect([config.telegram_token, config.webhook_secret])  # before PTB logs its URLs at build
        self.app: TelegramApp = builder.rate_limiter(AIORateLimiter()).build()
        protect([self.app.bot.token])
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        self.notifier = TelegramNotifier(self.app.bot)
        for handler in (*quizzes.handlers(core), *commands.handlers(core), *buttons.handlers(core)):
            self.app.add_handler(handler)
        self.app.add_error_handler(self.on_error)

    def scheduler(self) -> AsyncIOScheduler | None:
        job_queue = self.app.job_queue
        return job_queue.scheduler if job_queue is not None else None

    async def start(self) -> None:
        """Connect (getMe), set the menus, start the handlers, then poll or listen for the webhook."""
        try:
            await self.app.initialize()
            await self.set_menus()
            await self.app.start()
            await self._receive()
        except BaseException:
            await self.stop()  # the runtime only stops adapters that started: release the HTTP clients here
            raise

    async def _receive(self) -> None:
        updater = self.app.updater
        if updater is None:
            raise RuntimeError("the Telegram application was built without an updater")
        if self.config.telegram_webhook_url:
            url = self.config.telegram_webhook_url
            await updater.start_webhook(
                listen="0.0.0.0", port=self.config.port, url_path=urlsplit(url).path.lstrip("/"),
                webhook_url=url, secret_token=self.config.webhook_secret or secrets.token_urlsafe(32),
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info("telegram: webhook on port %d", self.config.port)
        else:
            await updater.start_polling(
                poll_interval=0.0, timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES,
                error_callback=self._polling_error,
            )
            log.info("telegram: polling as @%s", self.app.bot.username)

    async def stop(self) -> None:
        """Stop taking updates, finish what is running, close the HTTP clients."""
        updater = self.app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        # after a failed initialize() (bad token, no network) shutdown() skips the bot: close its client here
        await self.app.bot.request.shutdown()

    async def set_menus(self) -> None:
        """Command menus: everything but admin commands in private chats, the shared ones in groups, and the
        full list in each configured admin's private chat."""
        every = [BotCommand(name, spec.summary[:256]) for name, spec in COMMANDS.items()][:100]
        private = [c for c in every if c.command not in ADMIN_MENU]
        group = [c for c in private if c.command not in GROUP_MENU_HIDDEN]
        menus: list[tuple[list[BotCommand], BotCommandScope]] = [
            (private, BotCommandScopeAllPrivateChats()), (group, BotCommandScopeAllGroupChats())
        ]
        menus += [(every, BotCommandScopeChat(int(key.split(":", 1)[1]))) for key in sorted(self.core.settings.admins)
                  if key.startswith("telegram:") and key.split(":", 1)[1].isdigit()]
        for listed, scope in menus:
            try:
                await self.app.bot.set_my_commands(listed, scope=scope)
            except TelegramError as exc:  # a menu is a convenience: never a reason not to start
                log.warning("telegram: %s command menu not set: %s", scope.type, redact(str(exc)))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every exception a handler (or polling) raised: logged without the token, kept for tests."""
        error = context.error
        if error is None:
            return
        self.errors.append(error)
        del self.errors[:-KEPT_ERRORS]
        kind = type(update).__name__ if update is not None else "polling"
        details = "".join(traceback.format_exception(error)).rstrip()
        log.error("telegram: %s failed: %s", kind, redact(details))

    def _polling_error(self, error: TelegramError) -> None:
        self.app.create_task(self.app.process_error(update=None, error=error))
