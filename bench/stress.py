"""`make stress`: a scripted command session against `margin-dojo console --json`, killed with SIGKILL at
random moments and restarted each time; then every invariant is checked and printed as one JSON line.

Checks: PRAGMA integrity_check; the ledger sums to every wallet; no wallet is negative; every acknowledged
trade is in the database and no command is applied twice (trades counted against successful replies);
every outbox row is delivered, and pushes printed versus rows (a push can only double if the kill lands
between printing it and marking it delivered: counted and reported).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

USERS = ("ana", "ben", "cai", "dee", "eli")
SYMBOLS = {"BTC": Decimal(60000), "ETH": Decimal(3000), "SOL": Decimal(140)}


def script(count: int, rng: random.Random) -> list[str]:
    """A plausible session: users trading, margin moves, and the market moving (liquidations happen)."""
    marks = dict(SYMBOLS)
    lines = ["!price " + " ".join(f"{s} {p}" for s, p in marks.items())]
    while len(lines) < count:
        roll = rng.random()
        if roll < 0.12:
            symbol = rng.choice(list(marks))
            marks[symbol] = (marks[symbol] * Decimal(str(rng.uniform(0.9, 1.1)))).quantize(Decimal("0.01"))
            lines.append(f"!price {symbol} {marks[symbol]}")
            continue
        lines.append(f"!as {rng.choice(USERS)}")
        symbol = rng.choice(list(marks))
        if roll < 0.55:
            side = rng.choice(("long", "short"))
            mode = rng.choice(("isolated", "cross"))
            lines.append(f"/{side} {symbol} {rng.randint(20, 400)} {rng.choice((5, 10, 20, 50))}x {mode}")
        elif roll < 0.8:
            lines.append(f"/close {symbol} {rng.choice(('25%', '50%', '100%'))}")
        elif roll < 0.9:
            lines.append(f"/margin {symbol} add {rng.randint(5, 50)}")
        else:
            lines.append("/positions")
    return lines[:count]


@dataclass
class Run:
    acked: int = 0
    trades_ok: int = 0
    pushes: int = 0
    kills: int = 0
    inflight_applied: int = 0
    restarts: int = 0
    outputs: list[dict[str, object]] = field(default_factory=list)


def trade_count(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=10) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM trades WHERE kind != 'liquidation'").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def trade_rows(data: dict[str, object]) -> int:
    """Trade rows a trade reply stands for: one per fill, two for a flip (the close, then the open of the rest),
    one per position for /close all."""
    changes = data.get("changes")
    fills = changes if isinstance(changes, list) else [data]
    return sum(2 if isinstance(f, dict) and f.get("action") == "flipped" else 1 for f in fills)


def start(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.main", "console", "--json"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=cwd,
        bufsize=1,
    )


def read_reply(proc: subprocess.Popen[str], run: Run) -> dict[str, object]:
    """Read lines until the reply to the line just sent (pushes before it are counted)."""
    assert proc.stdout is not None
    while True:
        raw = proc.stdout.readline()
        if not raw:
            raise EOFError
        obj = json.loads(raw)
        if obj["kind"] == "push":
            run.pushes += 1
            continue
        return dict(obj)


def drive(lines: list[str], kills: set[int], env: dict[str, str], cwd: Path, db: Path, rng: random.Random) -> Run:
    run = Run()
    proc = start(env, cwd)
    context = "!as ana"
    index = 0
    while index < len(lines):
        line = lines[index]
        before = trade_count(db) if index in kills else 0
        assert proc.stdin is not None
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        if index in kills:
            time.sleep(rng.uniform(0, 0.012))  # before, during or just after the command's commit
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            run.kills += 1
            kills.discard(index)
            applied = trade_count(db) - before  # trade rows it committed (a flip writes two)
            proc = start(env, cwd)
            run.restarts += 1
            assert proc.stdin is not None
            proc.stdin.write(context + "\n")  # `!as` answers nothing
            proc.stdin.flush()
            if applied:  # committed before the kill, never acknowledged: must not be sent again
                run.inflight_applied += 1
                run.trades_ok += applied
                index += 1
            continue
        if line.startswith("!as"):
            context = line
            index += 1
            continue
        reply = read_reply(proc, run)
        run.acked += 1
        if reply["type"] == "trade":
            run.trades_ok += trade_rows(reply["data"])
        index += 1
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.stdout is not None
    for raw in proc.stdout:
        if json.loads(raw)["kind"] == "push":
            run.pushes += 1
    proc.wait()
    return run


def check(db: Path, run: Run) -> dict[str, object]:
    with sqlite3.connect(db) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        wallets = conn.execute("SELECT id, wallet_balance FROM accounts").fetchall()
        ledger: dict[int, Decimal] = {}
        for account_id, amount in conn.execute("SELECT account_id, amount FROM ledger"):
            ledger[account_id] = ledger.get(account_id, Decimal(0)) + Decimal(amount)
        trades = int(conn.execute("SELECT COUNT(*) FROM trades WHERE kind != 'liquidation'").fetchone()[0])
        outbox_rows = int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        undelivered = int(conn.execute("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0])
    mismatched = [a for a, w in wallets if ledger.get(a, Decimal(0)) != Decimal(w)]
    negative = [a for a, w in wallets if Decimal(w) < 0]
    return {
        "integrity_check": integrity,
        "accounts": len(wallets),
        "ledger_mismatches": len(mismatched),
        "negative_wallets": len(negative),
        "trades_in_db": trades,
        "trades_acknowledged_or_committed": run.trades_ok,
        "trades_lost_or_doubled": trades - run.trades_ok,
        "outbox_rows": outbox_rows,
        "outbox_undelivered": undelivered,
        "pushes_printed": run.pushes,
        "pushes_doubled": run.pushes - outbox_rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    lines = script(args.commands, rng)
    trade_lines = [i for i, line in enumerate(lines) if line.startswith(("/long", "/short", "/close"))]
    kills = set(rng.sample(trade_lines, min(args.kills, len(trade_lines))))
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        db = cwd / "stress.sqlite3"
        env = {**os.environ, "DATABASE_PATH": str(db), "PRICE_FEED": "manual", "LOG_LEVEL": "ERROR",
               "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        started = time.perf_counter()
        run = drive(lines, kills, env, cwd, db, rng)
        elapsed = time.perf_counter() - started
        result = {"commands": len(lines), "kills": run.kills, "restarts": run.restarts,
                  "inflight_committed_before_kill": run.inflight_applied, "seconds": round(elapsed, 1),
                  **check(db, run)}
    print(json.dumps(result))
    ok = (result["integrity_check"] == "ok" and result["ledger_mismatches"] == 0 and result["negative_wallets"] == 0
          and result["trades_lost_or_doubled"] == 0 and result["outbox_undelivered"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
