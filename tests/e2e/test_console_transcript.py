"""`margin-dojo console --json` as a subprocess (DESIGN §5): Binance's worked examples end to end, the shared
transcript example, pushes and errors. Every run has its own database, a manual feed and its own instruments file;
nothing here reads ../shared at run time (the example is copied below)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BINANCE_2021_TOML, FAQ_2019_TOML

D = Decimal
REPO = Path(__file__).resolve().parents[2]
SETTINGS = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "TELEGRAM_WEBHOOK_URL", "DISCORD_BOT_TOKEN",
            "DISCORD_GUILD_IDS", "DATABASE_PATH", "PRICE_FEED", "INSTRUMENTS_FILE", "ADMINS", "STARTING_BALANCE",
            "LOG_LEVEL", "PORT")
ACCOUNT_FIELDS = {"wallet_balance", "cross_wallet_balance", "margin_balance", "maintenance_margin", "margin_ratio",
                  "available_balance", "effective_leverage"}
POSITION_FIELDS = {"symbol", "side", "qty", "entry_price", "mark_price", "leverage", "margin_mode", "margin",
                   "maintenance_margin", "unrealized_pnl", "liquidation_price", "bankruptcy_price"}

# ../shared/examples/binance-cross.chat: Binance's published cross-margin example (FAQ b3c689c1…), verbatim
BINANCE_CROSS_CHAT = """\
!as alice
/reset 1535443.01 confirm
!price BTC 32481.98 ETH 1456.84
/mode BTC cross
/long BTC 109.488btc 20x cross
/mode ETH cross
/long ETH 3683.979eth 4x cross
!price BTC 31967.27 ETH 1335.18
/positions
"""


@dataclass(frozen=True)
class Transcript:
    returncode: int
    objects: list[dict[str, Any]]
    stderr: str

    def replies(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == "reply" and o["type"] == kind]

    def pushes(self, kind: str = "liquidation") -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == "push" and o["type"] == kind]

    def last_positions(self) -> dict[str, dict[str, Any]]:
        return {p["symbol"]: p for p in self.replies("positions")[-1]["data"]["positions"]}


def console(directory: Path, chat: str, instruments: str | None = None) -> Transcript:
    """Run `margin-dojo console --json` on `chat`, in `directory`, as a user would from a shell."""
    directory.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS}
    env.update(DATABASE_PATH=str(directory / "dojo.sqlite3"), PRICE_FEED="manual", LOG_LEVEL="WARNING",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p))
    if instruments is not None:
        path = directory / "instruments.toml"
        path.write_text(instruments, encoding="utf-8")
        env["INSTRUMENTS_FILE"] = str(path)
    done = subprocess.run(
        [sys.executable, "-m", "bot.main", "console", "--json"],
        input=chat, capture_output=True, text=True, cwd=directory, env=env, timeout=120, check=False,
    )
    objects = [json.loads(line) for line in done.stdout.splitlines()]  # every line must be one JSON object
    for obj in objects:
        assert set(obj) >= {"chat", "user", "kind", "type", "text", "data"}, obj
    return Transcript(done.returncode, objects, done.stderr)


def cents(value: str | None) -> Decimal:
    assert value is not None
    return D(value).quantize(D("0.01"), rounding=ROUND_HALF_UP)


def just_above(value: str) -> str:
    """A price a hair above `value` that still fits the 30-character limit of a number."""
    return str(D(value).quantize(D("1e-20"), rounding=ROUND_CEILING))


@pytest.fixture(scope="module")
def binance_example(tmp_path_factory: pytest.TempPathFactory) -> Transcript:
    return console(tmp_path_factory.mktemp("binance-cross"), BINANCE_CROSS_CHAT, BINANCE_2021_TOML)


def test_the_shared_binance_cross_transcript_gives_binances_liquidation_prices(binance_example: Transcript) -> None:
    """B1/B2 end to end (../shared/examples/binance-cross.chat, Binance FAQ b3c689c1…): the last object is alice's
    positions with ETH LP 1153.26, BTC LP 26316.89 and a margin ratio ≈ 0.4149; exit status 0 at EOF."""
    assert binance_example.returncode == 0, binance_example.stderr
    last = binance_example.objects[-1]
    assert (last["kind"], last["type"], last["user"], last["chat"]) == ("reply", "positions", "alice", "private:alice")
    held = binance_example.last_positions()
    assert cents(held["ETH"]["liquidation_price"]) == D("1153.26")
    assert cents(held["BTC"]["liquidation_price"]) == D("26316.89")
    assert D(last["data"]["account"]["margin_ratio"]).quantize(D("0.0001")) == D("0.4149")
    assert all(o["type"] != "error" for o in binance_example.objects)


def test_the_positions_object_carries_every_field_of_the_transcript_contract(binance_example: Transcript) -> None:
    """DESIGN §5: `account` and each position carry the listed fields; numbers are decimal strings at full
    precision; the example's inputs come back exactly."""
    data = binance_example.objects[-1]["data"]
    assert set(data["account"]) >= ACCOUNT_FIELDS
    held = binance_example.last_positions()
    for position in held.values():
        assert set(position) >= POSITION_FIELDS
        assert (position["side"], position["margin_mode"]) == ("long", "cross")
        for field in ("qty", "entry_price", "mark_price", "margin", "maintenance_margin", "unrealized_pnl"):
            assert isinstance(position[field], str)
            D(position[field])
    assert (held["ETH"]["qty"], held["ETH"]["entry_price"], held["ETH"]["leverage"]) == ("3683.979", "1456.84", 4)
    assert (held["BTC"]["qty"], held["BTC"]["mark_price"], held["BTC"]["leverage"]) == ("109.488", "31967.27", 20)
    assert data["account"]["wallet_balance"] == "1535443.01"
    assert D(held["BTC"]["maintenance_margin"]) == D("71200.811444")
    assert D(held["ETH"]["unrealized_pnl"]) == D("-448192.88514")


def test_b1c_b2c_at_the_reported_liquidation_price_the_margin_ratio_is_100_percent(
    binance_example: Transcript, tmp_path: Path
) -> None:
    """B1c/B2c end to end: with ETH (then BTC) marked a hair above the LP the console reported, alice's margin ratio
    is 1 within 1e-9 and nothing is liquidated; a cent below BTC's LP the whole cross account is liquidated."""
    held = binance_example.last_positions()
    eth_lp, btc_lp = held["ETH"]["liquidation_price"], held["BTC"]["liquidation_price"]
    chat = BINANCE_CROSS_CHAT + (
        f"!price ETH {just_above(eth_lp)}\n/positions\n"
        f"!price ETH 1335.18 BTC {just_above(btc_lp)}\n/positions\n"
        f"!price BTC {cents(btc_lp) - D('0.01')}\n/positions\n"
    )
    run = console(tmp_path, chat, BINANCE_2021_TOML)
    assert run.returncode == 0, run.stderr
    at_eth_lp, at_btc_lp, after = run.replies("positions")[-3:]
    for at_lp in (at_eth_lp, at_btc_lp):
        assert abs(D(at_lp["data"]["account"]["margin_ratio"]) - 1) <= D("1e-9")
        assert len(at_lp["data"]["positions"]) == 2
    [push] = run.pushes()
    assert (push["type"], push["user"], push["data"]["mode"]) == ("liquidation", "alice", "cross")
    assert sorted(p["symbol"] for p in push["data"]["positions"]) == ["BTC", "ETH"]
    assert after["data"]["positions"] == []


def test_b3_b4_the_faq_account_end_to_end(tmp_path: Path) -> None:
    """B3/B4 (Binance FAQ 2019–20, Qenv copy): wallet 10.72, short 0.005 BTC @ 9,451.53 and long 1 ETH @ 199.53 in
    cross, marks BTC 9,462.81 / ETH 200 (so TMM1 1.3, UPNL1 0.47 for BTC; 0.189256, −0.0564 for ETH) → BTC LP
    11,383.99 and ETH LP 190.29."""
    chat = (
        "!as ann\n/reset 10.72 confirm\n!price BTC 9451.53 ETH 199.53\n"
        "/mode BTC cross\n/short BTC 0.005btc 50x cross\n/mode ETH cross\n/long ETH 1eth 50x cross\n"
        "!price BTC 9462.81 ETH 200\n/positions\n"
    )
    run = console(tmp_path, chat, FAQ_2019_TOML)
    assert run.returncode == 0, run.stderr
    assert all(o["type"] != "error" for o in run.objects), run.objects
    held = run.last_positions()
    assert run.replies("positions")[-1]["data"]["account"]["wallet_balance"] == "10.72"
    assert (D(held["BTC"]["maintenance_margin"]), D(held["BTC"]["unrealized_pnl"])) == (D("0.1892562"), D("-0.0564"))
    assert (D(held["ETH"]["maintenance_margin"]), D(held["ETH"]["unrealized_pnl"])) == (D("1.3"), D("0.47"))
    assert cents(held["BTC"]["liquidation_price"]) == D("11383.99")
    assert cents(held["ETH"]["liquidation_price"]) == D("190.29")


def test_b9a_a_single_cross_long_end_to_end(tmp_path: Path) -> None:
    """B9a (Binance FAQ 25edcd7f…): cross 500 USDT, long 0.02 BTC @ 50,000 at 20x, mmr 0.4 %, cum 0 → 25,100.40."""
    chat = "!as ben\n/reset 500 confirm\n!price BTC 50000\n/mode BTC cross\n/long BTC 0.02btc 20x cross\n/positions\n"
    run = console(tmp_path, chat, BINANCE_2021_TOML)
    assert run.returncode == 0, run.stderr
    btc = run.last_positions()["BTC"]
    assert (btc["margin_mode"], btc["qty"]) == ("cross", "0.02")
    assert cents(btc["liquidation_price"]) == D("25100.40")


def test_b7a_b7b_isolated_variants_end_to_end(tmp_path: Path) -> None:
    """B7a/b (freqtrade tests): the example's positions isolated, each with PM 1,535,443.01 (IM plus added margin)
    → ETH LP 1,114.78 and BTC LP 18,778.73, whatever the marks."""
    chat = (
        "!as cleo\n/reset 4000000 confirm\n!price BTC 32481.98 ETH 1456.84\n"
        "/long ETH 3683.979eth 4x isolated\n/margin ETH add 193701.01841\n"
        "/long BTC 109.488btc 20x isolated\n/margin BTC add 1357623.658688\n"
        "!price BTC 31967.27 ETH 1335.18\n/positions\n"
    )
    run = console(tmp_path, chat, BINANCE_2021_TOML)
    assert run.returncode == 0, run.stderr
    assert all(o["type"] != "error" for o in run.objects), run.objects
    held = run.last_positions()
    assert D(held["ETH"]["margin"]) == D(held["BTC"]["margin"]) == D("1535443.01")
    assert cents(held["ETH"]["liquidation_price"]) == D("1114.78")
    assert cents(held["BTC"]["liquidation_price"]) == D("18778.73")


def test_b5_an_instruments_file_off_the_continuity_rule_stops_the_console(tmp_path: Path) -> None:
    """B5a–c: Binance's amounts 1,300 / 16,300 / 141,300 load (see the example run); an amount of 16,000 instead of
    16,300 is refused at start-up with the symbol, the bracket and the continuous amount named, exit status 2."""
    run = console(tmp_path, "/positions\n", BINANCE_2021_TOML.replace('"16300"]', '"16000"]'))
    assert run.returncode == 2
    assert run.objects == []
    assert "INSTRUMENTS_FILE refused" in run.stderr
    assert "symbol BTC bracket 4" in run.stderr and "continuous would be 16300" in run.stderr


def test_a_liquidation_is_pushed_to_its_owner_and_names_what_was_lost(tmp_path: Path) -> None:
    """DESIGN §5: pushed liquidations have kind `push`, type `liquidation`, `user` the recipient. Isolated ETH
    (PM 300) loses exactly 300; then the cross BTC position takes the rest of the wallet, 695.50."""
    chat = (
        "!as bob\n/reset 1000 confirm\n!price BTC 60000 ETH 3000\n/long ETH 1eth 10x\n"
        "/mode BTC cross\n/long BTC 0.1btc 10x\n!price ETH 2000\n!price BTC 40000\n/positions\n"
    )
    run = console(tmp_path, chat)
    assert run.returncode == 0, run.stderr
    isolated, cross = run.pushes()
    for push in (isolated, cross):
        assert (push["type"], push["user"], push["chat"]) == ("liquidation", "bob", "private:bob")
    assert (isolated["data"]["mode"], isolated["data"]["lost"]) == ("isolated", "300")
    assert "300.00 USDT" in isolated["text"] and "ETH" in isolated["text"]
    assert (cross["data"]["mode"], cross["data"]["lost"]) == ("cross", "695.5")
    assert "695.50 USDT" in cross["text"] and "BTC" in cross["text"]
    assert run.replies("positions")[-1]["data"]["account"]["wallet_balance"] == "0"
    assert [o["data"]["liquidations"] for o in run.replies("setprice")][-2:] == [1, 1]


def test_every_bad_line_gets_one_error_object_with_a_code(tmp_path: Path) -> None:
    """DESIGN §5: errors have type `error` and `data.code`; one reply per bad line; exit status 0 at EOF."""
    bad = {
        "/frobnicate": "unknown_command",
        "/long BTC 0.5eth": "wrong_unit",
        "/long FOO 100": "unknown_symbol",
        "/long BTC nan": "bad_number",
        "/setprice BTC 1": "not_admin",
        "!bogus": "bad_directive",
    }
    run = console(tmp_path, "\n".join(bad) + "\n")
    assert run.returncode == 0, run.stderr
    assert len(run.objects) == len(bad)
    for obj, code in zip(run.objects, bad.values(), strict=True):
        assert (obj["kind"], obj["type"], obj["data"]["code"]) == ("reply", "error", code)
        assert "Example:" in obj["text"]


def test_the_console_survives_an_absurd_price_in_exponent_notation(tmp_path: Path) -> None:
    run = console(tmp_path, "!price BTC 60000\n/long BTC 0.01btc\n!price BTC 1e50\n/positions\n")
    assert run.returncode == 0, run.stderr
    assert len(run.objects) == 4


def test_price_says_how_far_back_its_change_reaches(tmp_path: Path) -> None:
    """The change is called 24 h only once the feed has a day of marks; before that it names its span."""
    run = console(tmp_path, "!price BTC 100\n/price BTC\n!advance 2h\n!price BTC 105\n/price BTC\n"
                            "!advance 23h\n!price BTC 110\n/price BTC\n/price BTC DOGE\n")
    assert run.returncode == 0, run.stderr
    first, young, day, asked = run.replies("price")
    assert first["text"] == "BTC 100.00"  # one mark: no change to speak of
    assert young["text"] == "BTC 105.00 (+5.00 % in 2h 00m)" and young["data"]["change_minutes"] == 120
    assert day["text"] == "BTC 110.00 (+10.00 % 24h)"  # 24 h before, BTC was still at 100
    assert day["data"]["change_minutes"] == 1440
    assert asked["text"].endswith("\nDOGE: no price yet")  # asked for and unpriced: said, not left out
