"""The explorer's live figures (matplotlib ``Figure`` objects, no pyplot: the page draws them from threads).

Each function takes an :class:`~sim.explore.session.ExplorerModel` and returns a figure: the treated
run solid, the counterfactual (same seed, no interventions) dashed in the same colour, the days
interventions fired as vertical lines. Daily counts are shown as 7-day means; one run per seed is
shown, so there is no interval: the caption says so and gives the population size and seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.explore.session import market_shares

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.explore.session import ExplorerModel

#: days of the moving mean of daily figures
SMOOTH_DAYS = 7
MEANS = f"{SMOOTH_DAYS}-day means"
ONLINE = ("webshop", "cryptomarket", "decentralised")
COLOURS = {"offline": "#7f7f7f", "webshop": "#1f77b4", "cryptomarket": "#d62728", "decentralised": "#2ca02c"}


def _figure(rows: int = 1) -> tuple[Figure, list[Axes]]:
    # one size for every figure: they share SolaraViz's grid cells
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # days
    return fig, list(axes)


def _caption(ex: ExplorerModel, what: str, counterfactual_drawn: bool = False, smoothing: str | None = None) -> str:
    """Title, then n, seed and what the lines are: the counterfactual only where drawn, smoothing only where applied."""
    drawn = counterfactual_drawn and ex.counterfactual is not None
    parts = [f"n = {ex.cfg.model.n_buyers:,} buyers, seed {ex.cfg.seed}, one run (no interval)"]
    if smoothing:
        parts.append(smoothing)
    lines = [what, "; ".join(parts)]
    if drawn:
        lines.append("dashed: counterfactual (same seed, no interventions)")
    lines.append("dotted lines: interventions")
    return "\n".join(lines)


def _mark_interventions(ex: ExplorerModel, axes: list[Axes]) -> None:
    by_day: dict[int, list[str]] = {}
    for day, name in ex.intervention_days():
        by_day.setdefault(day, []).append(name)
    for day, names in by_day.items():
        for ax in axes:
            ax.axvline(day, color="black", lw=0.8, ls=":")
        label = "\n".join(dict.fromkeys(names))  # one label per day, names once each, side by side
        axes[0].annotate(label, (day, 1.0), xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right", fontsize=7)


def _smooth(frame: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    return frame.rolling(SMOOTH_DAYS, min_periods=1).mean()


def _empty(fig: Figure, ax: Axes) -> Figure:
    ax.text(0.5, 0.5, "no recorded day yet: press Step or play", ha="center", va="center", transform=ax.transAxes)
    return fig


def volume_figure(ex: ExplorerModel) -> Figure:
    """Online volume by channel, EUR per day; below it the difference from the counterfactual."""
    rows = 2 if ex.counterfactual is not None else 1
    fig, axes = _figure(rows)
    daily = ex.tables()["daily"]
    if daily.empty:
        return _empty(fig, axes[0])
    value = _value_by_channel(daily)
    for c in ONLINE:
        axes[0].plot(value.index, _smooth(value[c]), color=COLOURS[c], label=c)
    cf = ex.counterfactual_tables()
    if cf is not None:
        cf_value = _value_by_channel(cf["daily"])
        for c in ONLINE:
            axes[0].plot(cf_value.index, _smooth(cf_value[c]), color=COLOURS[c], ls="--", lw=1)
        diff = _smooth(value[list(ONLINE)].sum(axis=1) - cf_value[list(ONLINE)].sum(axis=1))
        axes[1].plot(diff.index, diff, color="black")
        axes[1].axhline(0, color="grey", lw=0.5)
        axes[1].set_ylabel("run - counterfactual\n(EUR per day)")
    axes[0].set_ylabel("online volume\n(EUR per day)")
    axes[0].legend(title="channel", fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[-1].set_xlabel("day")
    _mark_interventions(ex, axes)
    fig.suptitle(_caption(ex, "Online volume by channel", counterfactual_drawn=True, smoothing=MEANS), fontsize=9)
    return fig


def _value_by_channel(daily: pd.DataFrame) -> pd.DataFrame:
    return daily.set_index("day")[[f"value_{c}_eur" for c in (*ONLINE, "offline")]].rename(
        columns=lambda c: c.removeprefix("value_").removesuffix("_eur")
    )


def shares_figure(ex: ExplorerModel) -> Figure:
    """Each hidden market's share of hidden-market sales (stacked, the largest named)."""
    fig, axes = _figure(1)
    shares = market_shares(ex.tables()["markets"], window=SMOOTH_DAYS)
    if shares.empty:
        return _empty(fig, axes[0])
    axes[0].stackplot(shares.index, shares.fillna(0.0).T.to_numpy(), labels=list(shares.columns))
    axes[0].set_ylim(0, 1)
    axes[0].set_ylabel("share of hidden-market sales")
    axes[0].set_xlabel("day")
    axes[0].legend(title="market", fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _mark_interventions(ex, axes)
    fig.suptitle(
        _caption(ex, "Market shares (cryptomarkets and decentralised markets; treated run)", smoothing=MEANS), fontsize=9
    )
    return fig


def trust_figure(ex: ExplorerModel, top: int = 8) -> Figure:
    """Mean trust of online-capable buyers in each hidden market (0-1), the ``top`` markets by sales."""
    fig, axes = _figure(1)
    markets = ex.tables()["markets"]
    if markets.empty:
        return _empty(fig, axes[0])
    hidden = markets[markets["kind"].isin(["cryptomarket", "decentralised"])]
    if hidden.empty:
        return _empty(fig, axes[0])
    largest = hidden.groupby("market")["sales"].sum().sort_values(ascending=False).index[:top]
    for name in largest:
        rows = hidden[hidden["market"] == name]
        # a closed market's buyers keep their trust in it, but nobody can buy there: not drawn
        axes[0].plot(rows["day"], rows["trust"].where(rows["status"] == "active"), label=name)
    axes[0].set_ylim(0, 1)
    axes[0].set_ylabel("mean trust (0-1)")
    axes[0].set_xlabel("day")
    axes[0].legend(title="market", fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _mark_interventions(ex, axes)
    fig.suptitle(_caption(ex, "Trust per market (mean over online-capable buyers; treated run)"), fontsize=9)
    return fig


def price_purity_figure(ex: ExplorerModel, substance: str) -> Figure:
    """Median price per unit and mean purity of ``substance`` by channel (online channels and offline)."""
    fig, axes = _figure(2)
    subs = ex.tables()["substances"]
    rows = subs[subs["substance"] == substance] if not subs.empty else subs
    if rows.empty:
        return _empty(fig, axes[0])
    for channel, group in rows.groupby("channel"):
        if group["sales"].sum() == 0:
            continue  # a channel that does not sell the substance draws no line and has no legend entry
        g = group.set_index("day")
        colour, label = COLOURS[str(channel)], str(channel)
        axes[0].plot(g.index, g["median_price_eur"].rolling(SMOOTH_DAYS, min_periods=1).median(), color=colour, label=label)
        axes[1].plot(g.index, _smooth(g["mean_purity"]), color=colour, label=label)
    sold_online = rows[rows["channel"] != "offline"]["sales"].sum() > 0
    if not sold_online:
        axes[0].text(0.5, 0.9, f"no online sale of {substance} yet", ha="center", transform=axes[0].transAxes, fontsize=8)
    unit = ex.treated.subs.purity_unit[ex.treated.subs.names.index(substance)]
    axes[0].set_ylabel("median price\n(EUR per unit)")
    axes[1].set_ylabel(f"mean purity\n({unit})")
    axes[1].set_xlabel("day")
    axes[0].legend(title="channel", fontsize=8)
    _mark_interventions(ex, axes)
    fig.suptitle(
        _caption(
            ex,
            f"{substance}: price and purity, online vs offline (treated run)",
            smoothing=f"{SMOOTH_DAYS}-day medians of prices, means of purity",
        ),
        fontsize=9,
    )
    return fig


def users_harm_figure(ex: ExplorerModel) -> Figure:
    """Users active in the last 30 days and harm events per day."""
    fig, axes = _figure(2)
    daily = ex.tables()["daily"]
    if daily.empty:
        return _empty(fig, axes[0])
    cf = ex.counterfactual_tables()
    for ax, col, label in (
        (axes[0], "users_active_30d", "users active\nin 30 days"),
        (axes[1], "harm", "harm\n(harm units per day)"),
    ):
        ax.plot(daily["day"], _smooth(daily[col]), color="black", label="run")
        if cf is not None:
            ax.plot(cf["daily"]["day"], _smooth(cf["daily"][col]), color="black", ls="--", lw=1, label="counterfactual")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8)
    axes[1].set_xlabel("day")
    _mark_interventions(ex, axes)
    fig.suptitle(_caption(ex, "Users and harm", counterfactual_drawn=True, smoothing=MEANS), fontsize=9)
    return fig


def enforcement_figure(ex: ExplorerModel) -> Figure:
    """Cumulative arrests (vendors, buyers) and cumulative money lost to frozen or stolen escrow, EUR."""
    fig, axes = _figure(2)
    daily = ex.tables()["daily"]
    if daily.empty:
        return _empty(fig, axes[0])
    day = daily["day"]
    axes[0].plot(day, daily["arrests_vendors"].cumsum(), label="vendors", color="#9467bd")
    axes[0].plot(day, daily["arrests_buyers"].cumsum(), label="buyers", color="#8c564b")
    axes[0].set_ylabel("arrests\n(cumulative)")
    axes[0].yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].legend(fontsize=8)
    axes[1].plot(day, daily["escrow_lost_eur"].cumsum(), color="black")
    axes[1].set_ylabel("escrow lost, EUR\n(cumulative)")
    axes[1].set_xlabel("day")
    _mark_interventions(ex, axes)
    fig.suptitle(_caption(ex, "Arrests and money lost (treated run; cumulative)"), fontsize=9)
    return fig
