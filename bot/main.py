"""Composition root: configuration → storage, feed, core services, scheduler and the configured adapters."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from bot.config import Config, ConfigError, load_config
from bot.feeds import FeedSpecError, build_feed
from bot.logs import configure_logging
from core.clock import VirtualClock
from core.domain.instruments import InstrumentsError, load_catalog
from core.ports import Clock
from core.services.core import Core, Settings
from core.services.risk_index import RiskIndex
from core.storage import marks as marks_store
from core.storage.db import Database

log = logging.getLogger("margin_dojo")


class StartupError(Exception):
    """Something in the configuration stops the bot from starting; the message says what."""


@asynccontextmanager
async def open_core(config: Config, clock: Clock) -> AsyncIterator[Core]:
    try:
        catalog = load_catalog(config.instruments_file or None)
    except InstrumentsError as exc:
        raise StartupError(f"INSTRUMENTS_FILE refused: {exc}") from exc
    db = Database(config.database_path)
    try:
        await db.open()
    except Exception as exc:
        raise StartupError(f"DATABASE_PATH {config.database_path}: {exc}") from exc
    try:
        async with db.transaction() as tx:
            saved = await marks_store.load_marks(tx)
        try:
            feed = build_feed(config.price_feed, catalog, clock.now(), saved)
        except (FeedSpecError, ValueError, OSError, ImportError) as exc:
            raise StartupError(f"PRICE_FEED refused: {exc}") from exc
        settings = Settings(starting_balance=config.starting_balance, admins=config.admins)
        core = Core(db=db, catalog=catalog, feed=feed, clock=clock, settings=settings)
        core.risk_index = RiskIndex(catalog)
        await core.risk_index.rebuild(core)
        try:
            yield core
        finally:
            await feed.close()
    finally:
        await db.close()


async def console_json(config: Config) -> int:
    from bot.console.app import run_json

    clock = VirtualClock()
    async with open_core(config, clock) as core:
        return await run_json(core, clock, sys.stdin, sys.stdout)


async def run_bot(config: Config) -> int:
    """Every adapter whose token is set, in one event loop; with none, the interactive console."""
    from bot.runtime import run

    return await run(config, open_core)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="margin-dojo", description="Learn isolated vs cross margin with paper money.")
    sub = parser.add_subparsers(dest="command")
    console = sub.add_parser("console", help="the console chat")
    console.add_argument("--json", action="store_true", help="transcript mode: one JSON object per reply or push")
    history = sub.add_parser("history", help="download candles into a replay CSV (needs network)")
    history.add_argument("args", nargs=argparse.REMAINDER)
    backup = sub.add_parser("backup", help="online backup of the database into PATH")
    backup.add_argument("path")
    discord = sub.add_parser("discord", help="Discord maintenance")
    discord.add_argument("action", choices=["sync"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"margin-dojo: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level, [config.telegram_token, config.discord_token, config.webhook_secret])
    try:
        return asyncio.run(_dispatch(args, config))
    except StartupError as exc:
        print(f"margin-dojo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


async def _dispatch(args: argparse.Namespace, config: Config) -> int:
    if args.command == "console" and args.json:
        return await console_json(config)
    if args.command == "history":
        try:
            from bot.history import main as history_main
        except ImportError:
            print("margin-dojo: history needs ccxt: install the live extra (pip install -e '.[live]')", file=sys.stderr)
            return 2
        return history_main(args.args)
    if args.command == "backup":
        return await backup(config, args.path)
    if args.command == "discord":
        from bot.discord.app import sync_commands

        return await sync_commands(config)
    if args.command == "console":
        config = Config(**{**config.__dict__, "telegram_token": "", "discord_token": ""})
    return await run_bot(config)


async def backup(config: Config, path: str) -> int:
    db = Database(config.database_path)
    await db.open()
    try:
        await db.backup(path)
    finally:
        await db.close()
    print(f"backup written to {path} at {datetime.now().isoformat(timespec='seconds')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
