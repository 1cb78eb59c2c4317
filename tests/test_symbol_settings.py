"""`/leverage SYM` and `/mode [SYM]` without a value show what the next order would use."""

from __future__ import annotations

from collections.abc import Callable

from bot.dispatch import handle
from core.results import Actor
from core.services.core import Core
from tests.conftest import table_snapshot

ActorFactory = Callable[..., Actor]


async def test_leverage_without_a_value_shows_the_default_then_the_choice(core: Core, actor: ActorFactory) -> None:
    alice = actor("alice")
    before = await handle(core, alice, "/leverage btc")
    assert before.type == "symbol_settings"
    assert before.text.startswith("BTC: isolated, 20x (defaults: never chosen)")
    [row] = before.data["rows"]
    assert (row["leverage"], row["chosen"], row["locked"]) == (20, False, False)
    await handle(core, alice, "/long BTC 1000 10x")
    tables = await table_snapshot(core)
    after = await handle(core, alice, "/leverage BTC")
    assert after.text.startswith("BTC: isolated, 10x; up to ")
    assert "mode kept by an open position" in after.text and after.data["rows"][0]["locked"] is True
    assert after.text.endswith("Change: /leverage BTC 5")  # no /mode offered while it is locked
    assert await table_snapshot(core) == tables  # showing changes nothing


async def test_mode_without_a_value_lists_every_symbol(core: Core, actor: ActorFactory) -> None:
    alice = actor("alice")
    await handle(core, alice, "/mode ETH cross")
    shown = await handle(core, alice, "/mode")
    assert [r["symbol"] for r in shown.data["rows"]] == list(core.catalog.symbols)
    assert "ETH: cross, 20x;" in shown.text
    one = await handle(core, alice, "/mode ETH")
    assert one.text.endswith("/mode ETH isolated")  # the example switches to the other mode
