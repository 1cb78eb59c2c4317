"""PNG pictures for /chart, drawn from numbers core computed (core.services.charts). Presentation only.

Sized for a phone: 704×462 px, large type, two colours that stay apart for colour-blind readers.
"""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede any pyplot import anywhere in the process

from matplotlib.axes import Axes  # imported after the backend is chosen
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from core.domain.money import plain
from core.services.charts import AccountChart, PositionChart

SIZE = (6.4, 4.2)  # inches
DPI = 110
ISOLATED = "#1f6fb4"  # blue
CROSS = "#e07b00"  # orange
MARK = "#555555"
MIN_TIME_SPAN_SECONDS = 3600  # below this the x axis counts ledger entries instead of time
FONT: Any = {"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "legend.fontsize": 11,
        "xtick.labelsize": 10, "ytick.labelsize": 10}


def _thousands(value: float, _: object) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=SIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.grid(True, color="#dddddd", linewidth=0.8)
    axes.yaxis.set_major_formatter(FuncFormatter(_thousands))
    return figure, axes


def _png(figure: Figure) -> bytes:
    # fixed margins: tight_layout would draw the whole figure once more just to measure it
    figure.subplots_adjust(left=0.14, right=0.97, top=0.91, bottom=0.15)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _price_line(axes: Axes, price: Decimal | None, color: str, label: str, style: str, height: float) -> None:
    if price is None:
        return
    axes.axvline(float(price), color=color, linestyle=style, linewidth=1.6)
    axes.annotate(f"{label}\n{_thousands(float(price), None)}", xy=(float(price), height),
                  xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=10, color=color,
                  bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": color, "lw": 0.8})


def render_position(chart: PositionChart) -> bytes:
    """PnL of the position against its symbol's price, isolated and cross, liquidation points and mark."""
    with matplotlib.rc_context(FONT):
        figure, axes = _figure()
        prices = [float(p.price) for p in chart.points]
        axes.plot(prices, [float(p.isolated) for p in chart.points], color=ISOLATED, linewidth=2.6,
                  label=f"isolated (worst {chart.isolated_worst:,.0f})")
        axes.plot(prices, [float(p.cross) for p in chart.points], color=CROSS, linewidth=2.6, linestyle="--",
                  label=f"cross (worst {chart.cross_worst:,.0f})")
        axes.axhline(0, color="#999999", linewidth=1)
        _price_line(axes, chart.isolated_liquidation_price, ISOLATED, "iso liq", ":", 0.98)
        _price_line(axes, chart.cross_liquidation_price, CROSS, "cross liq", ":", 0.80)
        _price_line(axes, chart.mark, MARK, "mark", "-", 0.62)
        side = "long" if chart.side > 0 else "short"
        axes.set_title(f"{chart.symbol} {side} {plain(chart.qty)} @ {_thousands(float(chart.entry_price), None)}, "
                       f"{chart.leverage}x")
        axes.set_xlabel(f"{chart.symbol} price (USDT)")
        axes.set_ylabel("PnL (USDT)")
        axes.xaxis.set_major_formatter(FuncFormatter(_thousands))
        axes.legend(loc="lower right" if chart.side > 0 else "lower left", framealpha=0.9)
        return _png(figure)


def render_account(chart: AccountChart) -> bytes:
    """Wallet balance after every ledger entry, and today's equity (by time, or by entry when all is recent)."""
    with matplotlib.rc_context(FONT):
        figure, axes = _figure()
        times = [datetime.fromisoformat(p.at) for p in chart.points]
        values = [float(p.wallet) for p in chart.points]
        by_time = (max(times) - min(times)).total_seconds() >= MIN_TIME_SPAN_SECONDS
        xs: list[Any] = times if by_time else list(range(len(values)))
        wallet_line = [*values[:-1], float(chart.wallet)]  # the wallet holds its last value until now
        axes.plot(xs, wallet_line, drawstyle="steps-post", color=ISOLATED, linewidth=2.4, label="wallet")
        axes.plot(xs[-1:], values[-1:], marker="o", markersize=9, color=CROSS, linestyle="none",
                  label=f"equity now {chart.equity:,.2f}")
        start = float(chart.starting_balance)
        axes.axhline(start, color=MARK, linestyle=":", linewidth=1.4, label=f"start {chart.starting_balance:,.0f}")
        low, high = min([*values, start]), max([*values, start])
        pad = max((high - low) * 0.1, abs(start) * 0.01, 1.0)  # a 5 USDT fee must not look like a crash
        axes.set_ylim(low - pad, high + pad)
        axes.set_title("Account equity over time")
        axes.set_ylabel("USDT")
        if by_time:
            figure.autofmt_xdate()
        else:
            axes.set_xlabel("ledger entry")
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend(loc="best", framealpha=0.9)
        return _png(figure)


def warm_up() -> None:
    """Load fonts and caches once (the first picture of a process costs several times a later one);
    call at start-up so the first /chart answers as fast as the rest."""
    with matplotlib.rc_context(FONT):
        figure, axes = _figure()
        axes.plot([0.0, 1.0], [0.0, 1.0], label="warm")
        axes.set_title("warm")
        axes.legend()
        _png(figure)
