"""Figures of one run: online volume by channel, market shares over time, mean trust.

Each figure is written as PNG (for a look) and PDF (for a paper), with labelled axes and units.
Intervention days from ``events.parquet`` are marked with dashed vertical lines.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.agents.marketplace import CHANNEL_NAMES

ROLL_DAYS = 7  #: smoothing window of daily series, days


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _mark_interventions(ax, events: pd.DataFrame) -> None:
    if events is None or events.empty:
        return
    iv = events[events["event"].str.startswith("intervention")]
    for day in sorted(set(iv["day"])):
        ax.axvline(day, color="0.3", ls="--", lw=0.8)


def _save(fig, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(folder / f"{name}.png", dpi=130)
    fig.savefig(folder / f"{name}.pdf")


def run_figures(tables: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    """Draw the single-run figures into ``folder``; return the PNG paths."""
    plt = _plt()
    daily, markets, events = tables["daily"], tables["markets"], tables.get("events")
    out = []
    # 1. online volume by channel
    fig, ax = plt.subplots(figsize=(7, 4))
    for c in CHANNEL_NAMES[1:]:
        ax.plot(daily["day"], daily[f"value_{c}_eur"].rolling(ROLL_DAYS, min_periods=1).mean(), label=c)
    ax.set_xlabel("day")
    ax.set_ylabel(f"sales value, EUR per day ({ROLL_DAYS}-day mean)")
    ax.set_title("Online volume by channel")
    ax.legend(frameon=False)
    _mark_interventions(ax, events)
    _save(fig, folder, "online_volume_by_channel")
    plt.close(fig)
    out.append(folder / "online_volume_by_channel.png")
    # 2. market shares (stacked area of online value)
    if not markets.empty:
        wide = markets.pivot_table(index="day", columns="market", values="value_eur", aggfunc="sum").fillna(0.0)
        wide = wide.rolling(ROLL_DAYS, min_periods=1).mean()
        tot = wide.sum(axis=1).replace(0, float("nan"))
        shares = wide.div(tot, axis=0).fillna(0.0)
        top = shares.mean().sort_values(ascending=False).index[:10]
        shown = shares[top].copy()
        shown["others"] = shares.drop(columns=top).sum(axis=1)
        fig, ax = plt.subplots(figsize=(7, 4))
        colors = [plt.cm.tab20(i % 20) for i in range(len(shown.columns) - 1)] + ["0.75"]  # "others" in grey
        ax.stackplot(shown.index, shown.T.values, labels=shown.columns, colors=colors)
        ax.set_xlabel("day")
        ax.set_ylabel(f"share of online sales value ({ROLL_DAYS}-day mean)")
        ax.set_ylim(0, 1)
        ax.set_title("Market shares over time")
        ax.legend(frameon=False, fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        _mark_interventions(ax, events)
        _save(fig, folder, "market_shares")
        plt.close(fig)
        out.append(folder / "market_shares.png")
    # 3. mean trust
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(daily["day"], daily["mean_trust_online"])
    ax.set_xlabel("day")
    ax.set_ylabel("mean trust in open online markets (0-1)")
    ax.set_ylim(0, 1)
    ax.set_title("Buyers' trust in online markets")
    _mark_interventions(ax, events)
    _save(fig, folder, "mean_trust")
    plt.close(fig)
    out.append(folder / "mean_trust.png")
    return out
