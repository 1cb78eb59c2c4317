"""The real process: `margin-dojo` with a Telegram token runs the composition root, the runtime, the shared
scheduler, the delivery worker and the Telegram adapter against a Bot API stand-in, and stops cleanly on
SIGTERM without a traceback or the token on stderr."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.fakes.bot_api import BotApiStandIn

ALICE = 4242


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    async with BotApiStandIn() as standin:
        yield standin


async def test_the_bot_process_serves_telegram_and_stops_cleanly_on_sigterm(api: BotApiStandIn, tmp_path: Path):
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.default_token,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
        "PRICE_FEED": "manual",
        "ADMINS": f"telegram:{ALICE}",
        "LOG_LEVEL": "DEBUG",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.main", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await api.wait_for("deleteWebhook", timeout=30)  # polling starts right after
        api.push_message(ALICE, "/setprice BTC 60000", first_name="Alice")
        api.push_message(ALICE, "/long BTC 100 10x", first_name="Alice")
        opened = await api.wait_for("sendMessage", lambda c: "bought" in str(c.params.get("text")), timeout=30)
        assert opened.params["chat_id"] == ALICE
        api.push_message(ALICE, "/setprice BTC 50000", first_name="Alice")  # the admin crashes the market
        pushed = await api.wait_for("sendMessage", lambda c: "Liquidated" in str(c.params.get("text")), timeout=30)
        assert pushed.params["chat_id"] == ALICE  # the delivery worker pushed it to the owner's chat
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log[-2000:]
    assert "Traceback" not in log
    assert api.default_token not in log and api.default_token.split(":")[1] not in log
