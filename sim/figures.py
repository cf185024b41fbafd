"""Figures of one run: online volume by channel, market shares over time, mean trust.

Each figure is written as PNG (for a look) and PDF (for a paper), with labelled axes and units.
Intervention days from ``events.parquet`` are marked with dashed vertical lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.domain import CHANNEL_NAMES

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


def run_figures(tables: dict[str, pd.DataFrame], folder: Path, counterfactual: dict[str, pd.DataFrame] | None = None) -> list[Path]:
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


# ----------------------------------------------------------------------------- sweeps
LABELS = {
    "online_value_eur": "online sales value, EUR per day",
    "mean_trust_online": "mean trust in online markets (0-1)",
    "harm": "harm units per day",
    "hhi": "HHI of online market shares (0-1)",
    "active_markets": "open markets",
    "active_vendors": "active vendors",
    "arrests_vendors": "vendor arrests per day",
    "parcels_seized": "parcels seized per day",
}


def _group_label(keys: list[str]) -> list[str]:
    return [k for k in keys if k != "seed"]


def _t_band(values: pd.DataFrame):
    """Mean and 95% t-interval across columns (seeds), per row (day)."""
    import numpy as np
    from scipy import stats

    n = values.notna().sum(axis=1)
    mean = values.mean(axis=1)
    sd = values.std(axis=1, ddof=1)
    half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    return mean, mean - half, mean + half


def _label(k) -> str:
    return ", ".join(map(str, k)) if isinstance(k, tuple) else str(k)


def _jitter(i: int, count: int):
    return i + 0.08 * (pd.Series(range(count)) % 3 - 1)


def distribution_figure(runs_summary: pd.DataFrame, group: list[str], metric: str, ylabel: str, folder: Path) -> Path | None:
    """Per-run values of ``metric`` by setting of ``group``: ``distribution_{metric}.png/.pdf``.

    An ordinary metric is drawn as a box plot with the runs as dots. A duration with a censoring
    flag column in ``runs_summary`` (:data:`sim.stats.CENSORED_BY`) is not box-plotted (the box
    would treat censored values as observed): observed runs are filled dots, censored runs
    (the value is the days observed, a lower bound) hollow dots, and each setting gets its
    Kaplan-Meier median with 95% interval where estimable. Returns the PNG path, or None when
    there is nothing to draw.
    """
    from sim.stats import CENSORED_BY, censoring_flags, km_summary

    if metric not in runs_summary or not runs_summary[metric].notna().any() or not group:
        return None
    plt = _plt()
    flag = CENSORED_BY.get(metric)
    censored = flag is not None and flag in runs_summary
    data = []
    for k, g in runs_summary.groupby(group):
        v = pd.to_numeric(g[metric], errors="coerce")
        has = v.notna().to_numpy()
        c = censoring_flags(g[flag])[has] if censored else np.zeros(int(has.sum()), dtype=bool)
        data.append((_label(k), v[has].astype(float).to_numpy(), c))
    data = [d for d in data if len(d[1])]
    fig, ax = plt.subplots(figsize=(6, 4))
    if not censored:
        ax.boxplot([d[1] for d in data], tick_labels=[d[0] for d in data])
        for i, (_, v, _c) in enumerate(data, start=1):
            ax.scatter(_jitter(i, len(v)), v, s=10, color="0.2", zorder=3)
        ax.set_title(f"{ylabel}, per run")
    else:
        n_all = sum(len(v) for _, v, _c in data)
        k_all = sum(int(c.sum()) for _, _v, c in data)
        labels, km_shown = [], False
        for i, (name, v, c) in enumerate(data, start=1):
            x = _jitter(i, len(v)).to_numpy()
            ax.scatter(x[~c], v[~c], s=14, color="0.2", zorder=3, label="observed" if i == 1 else None)
            ax.scatter(
                x[c],
                v[c],
                s=22,
                facecolors="none",
                edgecolors="0.2",
                zorder=3,
                label="censored (run ended before recovery)" if i == 1 else None,
            )
            km = km_summary(v, c)
            if pd.notna(km["median"]):
                lo = km["median"] - km["ci95_low"] if pd.notna(km["ci95_low"]) else 0.0
                hi = km["ci95_high"] - km["median"] if pd.notna(km["ci95_high"]) else 0.0
                ax.errorbar(
                    i + 0.25,
                    km["median"],
                    yerr=[[lo], [hi]],
                    fmt="D",
                    color="C3",
                    ms=5,
                    capsize=3,
                    label=None if km_shown else "Kaplan-Meier median, 95% interval",
                )
                km_shown = True
                if pd.isna(km["ci95_high"]):
                    ax.annotate(
                        "upper limit\nnot reached",
                        (i + 0.25, km["median"]),
                        xytext=(0, 6),
                        textcoords="offset points",
                        fontsize=7,
                        color="C3",
                        ha="center",
                        va="bottom",
                    )
            reached = "" if pd.notna(km["median"]) else "\nmedian not reached"
            labels.append(f"{name}\ncensored {int(c.sum())} of {len(v)}{reached}")
        ax.set_xticks(range(1, len(data) + 1), labels)
        ax.set_xlim(0.5, len(data) + 0.5)
        ax.set_title(f"{ylabel}, per run (censored {k_all} of {n_all})")
        ax.legend(frameon=False, fontsize=8)
    ax.set_ylabel(ylabel)
    _save(fig, folder, f"distribution_{metric}")
    plt.close(fig)
    return folder / f"distribution_{metric}.png"


def sweep_figures(
    runs_daily: pd.DataFrame, runs_summary: pd.DataFrame, keys: list[str], rc: dict, folder: Path, events: list[int] | None = None
) -> list[Path]:
    """Comparison figures of a sweep, as PNG and PDF.

    Time series with 95% bands, displacement bars, effect distributions and, for a two-parameter
    sweep, a heat map.
    """
    plt = _plt()
    folder.mkdir(parents=True, exist_ok=True)
    group = _group_label(keys)
    out: list[Path] = []
    smooth = int(rc.get("smooth_days", ROLL_DAYS))
    groups = list(runs_daily.groupby(group)) if group else [("all runs", runs_daily)]
    for metric in rc.get("metrics", []):
        if metric not in runs_daily.columns:
            continue
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, g in groups:
            wide = (
                g.pivot_table(index="day", columns="seed" if "seed" in g else None, values=metric, aggfunc="first")
                if "seed" in g
                else g.set_index("day")[[metric]]
            )
            wide = wide.rolling(smooth, min_periods=1).mean()
            mean, lo, hi = _t_band(wide)
            label = ", ".join(map(str, name)) if isinstance(name, tuple) else str(name)
            (line,) = ax.plot(mean.index, mean, label=f"{label} (n={wide.shape[1]})")
            ax.fill_between(mean.index, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        for d in events or []:
            ax.axvline(d, color="0.3", ls="--", lw=0.8)
        ax.set_xlabel("day")
        ax.set_ylabel(f"{LABELS.get(metric, metric)} ({smooth}-day mean)")
        ax.set_title(f"{LABELS.get(metric, metric)}: mean and 95% band over seeds")
        ax.legend(frameon=False, fontsize=8)
        _save(fig, folder, f"timeseries_{metric}")
        plt.close(fig)
        out.append(folder / f"timeseries_{metric}.png")
    # displacement of the target's volume, 30 days
    cols = [c for c in runs_summary.columns if c.startswith("displacement_30d_")]
    if cols and runs_summary[cols].notna().any().any() and group:
        means = runs_summary.groupby(group)[cols].mean().dropna(how="all")
        if len(means):
            fig, ax = plt.subplots(figsize=(7, 4))
            bottom = None
            labels = [", ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in means.index]
            for c in cols:
                vals = means[c].fillna(0.0).to_numpy()
                ax.bar(labels, vals, bottom=bottom, label=c.removeprefix("displacement_30d_"))
                bottom = vals if bottom is None else bottom + vals
            ax.set_ylabel("share of the target's pre-intervention volume")
            ax.set_ylim(0, 1)
            ax.set_title("Where the target's trade went (30 days after; mean over seeds)")
            ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
            _save(fig, folder, "displacement_30d")
            plt.close(fig)
            out.append(folder / "displacement_30d.png")
    # distributions of drop and days to recovery
    for metric, ylabel in (
        ("online_drop", "drop of online volume (share)"),
        ("online_days_to_recovery", "days to recovery of online volume"),
    ):
        path = distribution_figure(runs_summary, group, metric, ylabel, folder)
        if path is not None:
            out.append(path)
    # heat map of a two-parameter sweep
    if len(group) == 2:
        metric = rc.get("summary", ["online_volume_eur_per_day"])[0]
        if metric in runs_summary:
            table = runs_summary.pivot_table(index=group[0], columns=group[1], values=metric, aggfunc="mean")
            fig, ax = plt.subplots(figsize=(6, 4.5))
            im = ax.imshow(table.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
            ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index])
            ax.set_xlabel(group[1])
            ax.set_ylabel(group[0])
            fig.colorbar(im, ax=ax, label=f"{metric} (mean over seeds)")
            ax.set_title(f"{metric} by {group[0]} and {group[1]}")
            _save(fig, folder, "heatmap")
            plt.close(fig)
            out.append(folder / "heatmap.png")
    return out
