"""Replies as Discord messages: the shared words restyled (embeds, attachments), never reworded."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import discord

from bot.replies import Reply
from core.domain.alerts import ratio_pct
from core.ports import Outgoing
from core.text import price, usdt

CONTENT_LIMIT = 2000  # Discord: message content
DESCRIPTION_LIMIT = 4096  # Discord: embed description
FIELD_LIMIT = 25  # Discord: fields per embed
CHART_FILENAME = "chart.png"
PUBLIC_TYPES = frozenset({"price", "leaderboard", "help", "setprice", "learn", "lesson"})
GREEN = discord.Colour.green()
RED = discord.Colour.red()

DM_CLOSED_LINE = "I couldn't DM you — open your DMs to get alerts privately."


def is_private(reply: Reply, in_guild: bool, share: bool) -> bool:
    """Personal data stays with its owner in a server unless they chose to share it; DMs are private anyway.

    A group quiz round (`data.round`) is asked to everyone, so it is public too.
    """
    public = reply.type in PUBLIC_TYPES or bool(reply.data.get("round"))
    return in_guild and not share and not public


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message(reply: Reply) -> dict[str, Any]:
    """Keyword arguments for `send_message` / `followup.send`."""
    embed = embed_of(reply)
    out: dict[str, Any] = {}
    if embed is not None:
        out["embed"] = embed
    else:
        out["content"] = text_of(reply)
    if reply.photo is not None:
        out["file"] = chart_file(reply.photo)
    return out


def edit(reply: Reply, view: discord.ui.View | None) -> dict[str, Any]:
    """Keyword arguments for `edit_message`: replaces content, embeds, attachments and buttons alike."""
    embed = embed_of(reply)
    return {
        "content": None if embed is not None else text_of(reply),
        "embeds": [embed] if embed is not None else [],
        "attachments": [chart_file(reply.photo)] if reply.photo is not None else [],
        "view": view,
    }


def text_of(reply: Reply) -> str:
    return clip(reply.text, CONTENT_LIMIT)


def embed_of(reply: Reply) -> discord.Embed | None:
    if reply.type == "positions" and "account" in reply.data:
        return portfolio_embed(reply.data)
    if len(reply.text) > CONTENT_LIMIT:  # long help pages: an embed holds twice as much
        return discord.Embed(description=clip(reply.text, DESCRIPTION_LIMIT))
    return None


def chart_file(png: bytes) -> discord.File:
    return discord.File(io.BytesIO(png), filename=CHART_FILENAME)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def portfolio_embed(data: dict[str, Any]) -> discord.Embed:
    """`/positions` as an embed: the account on top, one field per position (same words as the plain text)."""
    account = data["account"]
    positions = data.get("positions", [])
    lines = [f"Wallet {usdt(Decimal(account['wallet_balance']))}",
             f"Available {usdt(Decimal(account['available_balance']))}"]
    if any(p["margin_mode"] == "cross" for p in positions):
        lines.append(f"Cross margin ratio {ratio_pct(_dec(account['margin_ratio']))} (liquidated at 100 %)")
    if not positions:
        lines.append("No open positions. Try /long BTC 100 10x")
    total = sum((Decimal(p["unrealized_pnl"]) for p in positions), Decimal(0))
    embed = discord.Embed(title="Positions", description="\n".join(lines), colour=GREEN if total >= 0 else RED)
    for p in positions[:FIELD_LIMIT]:
        embed.add_field(name=f"{p['symbol']} {p['side']} {p['leverage']}x {p['margin_mode']}", value=_position_lines(p))
    return embed


def _position_lines(p: dict[str, Any]) -> str:
    return "\n".join((
        f"qty {p['qty']} @ {price(_dec(p['entry_price']))}",
        f"mark {price(_dec(p['mark_price']))} PnL {Decimal(p['unrealized_pnl']):+,.2f}",
        f"margin {Decimal(p['margin']):,.2f} MM {Decimal(p['maintenance_margin']):,.2f}",
        f"liq {price(_dec(p['liquidation_price']))}",
    ))


def quiz_label(index: int, option: str) -> str:
    """Numbered like the shared text ("2) …", `/answer 2`); Discord button labels hold 80 characters."""
    return clip(f"{index + 1}) {option}", 80)


def quiz_feedback(correct: bool, correct_option: int, explanation: str, score: int, streak: int,
                  answered: int) -> str:
    """Only used while no feature renders quiz answers (bot.features.teaching does)."""
    head = "✅ Right!" if correct else f"❌ Not quite: the answer is {correct_option + 1})."
    return f"{head}\n{explanation}\nScore {score} · streak {streak} · answered {answered}"


def push_text(message: Outgoing) -> str:
    return clip(message.text, CONTENT_LIMIT)


def fallback_text(user_id: int, message: Outgoing, explain: bool) -> str:
    """A push posted in a server's alerts channel: the mention first, the one-time reason last."""
    tail = f"\n{DM_CLOSED_LINE}" if explain else ""
    head = f"<@{user_id}> "
    return head + clip(message.text, CONTENT_LIMIT - len(head) - len(tail)) + tail
