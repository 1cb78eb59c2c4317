"""Configuration from the environment and an optional `.env` file (DESIGN §6)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from core.domain.money import BadNumber, parse_decimal


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class Config:
    telegram_token: str = ""
    telegram_api_base_url: str = ""
    telegram_webhook_url: str = ""
    port: int = 8443
    discord_token: str = ""
    discord_guild_ids: tuple[int, ...] = ()
    database_path: str = "data/margin-dojo.sqlite3"
    price_feed: str = "sim"
    instruments_file: str = ""
    admins: frozenset[str] = frozenset()
    starting_balance: Decimal = Decimal(10_000)
    log_level: str = "INFO"
    webhook_secret: str = ""


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments ignored; optional quotes stripped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def load_config(env: dict[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Config:
    """The environment wins over `.env`."""
    merged = read_dotenv(dotenv) if dotenv else {}
    merged.update(os.environ if env is None else env)

    def get(key: str, default: str = "") -> str:
        return merged.get(key, default).strip()

    try:
        balance = parse_decimal(get("STARTING_BALANCE", "10000"))
    except BadNumber as exc:
        raise ConfigError(f"STARTING_BALANCE: {exc}") from exc
    if balance <= 0:
        raise ConfigError("STARTING_BALANCE must be more than zero")
    port = get("PORT", "8443")
    if not port.isdigit():
        raise ConfigError(f"PORT must be a number, got '{port}'")
    guilds = [g.strip() for g in get("DISCORD_GUILD_IDS").split(",") if g.strip()]
    if not all(g.isdigit() for g in guilds):
        raise ConfigError("DISCORD_GUILD_IDS must be comma-separated numbers")
    admins = [a.strip() for a in get("ADMINS").split(",") if a.strip()]
    if any(":" not in a for a in admins):
        raise ConfigError("ADMINS entries look like telegram:123 or discord:456")
    return Config(
        telegram_token=get("TELEGRAM_BOT_TOKEN"),
        telegram_api_base_url=get("TELEGRAM_API_BASE_URL"),
        telegram_webhook_url=get("TELEGRAM_WEBHOOK_URL"),
        port=int(port),
        discord_token=get("DISCORD_BOT_TOKEN"),
        discord_guild_ids=tuple(int(g) for g in guilds),
        database_path=get("DATABASE_PATH", "data/margin-dojo.sqlite3"),
        price_feed=get("PRICE_FEED", "sim") or "sim",
        instruments_file=get("INSTRUMENTS_FILE"),
        admins=frozenset(admins),
        starting_balance=balance,
        log_level=get("LOG_LEVEL", "INFO").upper() or "INFO",
        webhook_secret=get("TELEGRAM_WEBHOOK_SECRET"),
    )
