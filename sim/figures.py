"""Figures of one run, of a sweep and of the pattern validation, as PNG (150 dpi) and PDF.

Every figure has a title in words, axes with units, a caption (the legend's title, below the axes)
saying what the lines, bands and points are, and a legend outside the data. Colours come from the
Okabe-Ito palette (safe for colour-blind readers) and never repeat within a figure: after seven
settings the line style (and marker) changes too.

Intervals (docs/outputs.md, "Figures"):

* level of a quantity over seeds: 95% bootstrap percentile interval of the mean, resampling whole
  runs; it stays within the range of the data, so it never goes below zero for a non-negative
  quantity (sales, counts, trust). A quantity that can be negative gets a 95% t-interval.
* effect (treated minus its own counterfactual, same seed): 95% t-interval of the mean difference.
* time series with fewer than :data:`MIN_RUNS_FOR_INTERVAL` runs: the single runs are drawn
  instead of a band (an interval from 2-4 runs is either huge or too narrow).
* censored durations (days to recovery): the Kaplan-Meier median with its 95% interval
  (:mod:`sim.stats`); censored runs are hollow markers with an arrow (the value is a lower bound).

The single-run figures are :func:`run_figures`, the sweep's :func:`sweep_figures`, the patterns'
:func:`validation_figure`. ``draw_*`` functions return the unsaved figure (for tests and notebooks).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.domain import CHANNEL_NAMES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ROLL_DAYS = 7  #: smoothing window of daily series, days
DPI = 150  #: resolution of the PNG files
#: time series: fewer runs than this in a setting and the single runs are drawn instead of a band
MIN_RUNS_FOR_INTERVAL = 5
#: point summaries (displacement, distributions): fewer runs than this and no error bar is drawn
MIN_RUNS_FOR_ERRORBAR = 3
#: settings drawn together in one panel; with more, one panel per setting (small multiples)
MAX_OVERLAID = 4
BOOTSTRAP_RESAMPLES = 2000  #: resamples of the bootstrap percentile interval
BOOTSTRAP_SEED = 20240601  #: fixed, so the same data give the same figure

#: Okabe-Ito colours (Okabe & Ito 2008), black kept for references (baseline, counterfactual)
OKABE_ITO = {
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "black": "#000000",
}
#: colours of settings, in order (yellow last: weak on white)
PALETTE = [OKABE_ITO[c] for c in ("blue", "orange", "bluish green", "vermillion", "reddish purple", "sky blue", "yellow")]
LINESTYLES = ["-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
REFERENCE = "#000000"  #: colour of the baseline / counterfactual
#: a fixed colour per channel, the same in every figure
CHANNEL_COLORS = {
    "offline": OKABE_ITO["vermillion"],
    "webshop": OKABE_ITO["orange"],
    "cryptomarket": OKABE_ITO["blue"],
    "decentralised": OKABE_ITO["bluish green"],
}
CHANNEL_WORDS = {
    "offline": "on the street (offline)",
    "webshop": "in web shops",
    "cryptomarket": "on cryptomarkets",
    "decentralised": "on decentralised markets",
}


def style(i: int) -> dict[str, Any]:
    """Colour, line style and marker of the ``i``-th setting: colours first, then line styles and markers."""
    return {
        "color": PALETTE[i % len(PALETTE)],
        "ls": LINESTYLES[(i // len(PALETTE)) % len(LINESTYLES)],
        "marker": MARKERS[(i // len(PALETTE)) % len(MARKERS)] if i >= len(PALETTE) else "o",
    }


# ----------------------------------------------------------------------------- words
#: column -> (name in words, unit); docs/outputs.md defines each column
METRICS: dict[str, tuple[str, str]] = {
    "day": ("Day", "model day"),
    "online_value_eur": ("Online sales", "EUR per day"),
    "active_markets": ("Open markets", "count"),
    "active_vendors": ("Active vendors", "count"),
    "active_buyers_online": ("Buyers active online in the last 30 days", "count"),
    "mean_trust_online": ("Mean trust in open online markets", "0-1"),
    "hhi": ("Concentration of online market shares (HHI)", "0-1"),
    "escrow_held_eur": ("Money held in escrow", "EUR"),
    "arrests_vendors": ("Vendor arrests", "per day"),
    "arrests_buyers": ("Buyer arrests", "per day"),
    "parcels_seized": ("Parcels seized", "per day"),
    "escrow_lost_eur": ("Escrow lost to exit scams and seizures", "EUR per day"),
    "harm": ("Harm", "harm units per day"),
    "order_outcomes": ("Online orders with a known outcome", "per day"),
    "orders_delivered_ok": ("Orders delivered as described", "per day"),
    "refunds": ("Refunded disputes", "per day"),
    "unmet_purchases": ("Unmet purchases", "per day"),
    "money_paid_eur": ("Online payments, cumulative", "EUR"),
    "money_imbalance_eur": ("Money imbalance (0 = conserved)", "EUR"),
    # headline figures of a run
    "days": ("Days recorded", "days"),
    "online_volume_eur_per_day": ("Online sales", "EUR per day, mean over the run"),
    "offline_volume_eur_per_day": ("Street sales", "EUR per day, mean over the run"),
    "active_markets_mean": ("Open markets", "mean over the run"),
    "active_markets_end": ("Open markets at the end", "count"),
    "active_cryptomarkets_end": ("Open cryptomarkets at the end", "count"),
    "active_vendors_mean": ("Active vendors", "mean over the run"),
    "delivery_success_rate": ("Orders delivered as described", "share"),
    "mean_trust_online_mean": ("Mean trust in online markets", "0-1, mean over the run"),
    "hhi_mean": ("Concentration of online market shares (HHI)", "0-1, mean over the run"),
    "harm_per_day": ("Harm", "harm units per day"),
    "market_closures": ("Market closures", "count"),
    "market_lifespan_mean_days": ("Market lifespan", "days, mean"),
    "migration_concentration": ("Concentration of migration after closures", "share"),
    "top1pct_vendor_share": ("Sales of the top 1% of vendors", "share"),
    "top10pct_buyer_share": ("Purchases of the top 10% of buyers", "share"),
    "multi_homing_share": ("Buyers ordering on two or more cryptomarkets within 30 days", "share"),
    "wholesale_share": ("Wholesale share of hidden-market trade", "share of value"),
    "online_share_all": ("Online share of purchases", "share"),
    "online_share_classic": ("Online share of purchases, classic drugs", "share"),
    "online_share_nps": ("Online share of purchases, new psychoactive substances", "share"),
    # effects of the first intervention, against the counterfactual
    "online_drop": ("Drop of online sales in the 7 days after the intervention", "share of the counterfactual's"),
    "online_days_to_recovery": ("Days until online sales recover to 90% of the counterfactual", "days"),
    "target_drop": ("Drop of the target's sales in the 7 days after", "share of the counterfactual's"),
    "trust_half_recovery_days": ("Days until the cohort's trust loss has halved", "days"),
    "migrant_trust_destination_30d": ("Migrants' trust in their new market after 30 days", "0-1"),
    "migrant_trust_destination_90d": ("Migrants' trust in their new market after 90 days", "0-1"),
    "deterrence_90d": ("Deterrence of the target's buyers over 90 days", "share"),
    "vendor_slope_ratio": ("Trend of active vendors after / before", "ratio"),
    "extra_arrests_vendors_90d": ("Extra vendor arrests in 90 days", "count"),
    "extra_arrests_buyers_90d": ("Extra buyer arrests in 90 days", "count"),
    "extra_escrow_lost_eur_90d": ("Extra escrow lost in 90 days", "EUR"),
    "extra_parcels_seized_90d": ("Extra parcels seized in 90 days", "count"),
    "cohort_buyers": ("Buyers of the target before the intervention (cohort)", "count"),
}
for _c in CHANNEL_NAMES:
    METRICS[f"sales_{_c}"] = (f"Purchases {CHANNEL_WORDS[_c]}", "per day")
    METRICS[f"value_{_c}_eur"] = (f"Sales {CHANNEL_WORDS[_c]}", "EUR per day")
#: quantities that cannot be negative (their levels get a bootstrap interval; any other column
#: gets one too when all its values are >= 0)
NONNEGATIVE = frozenset(
    m for m in METRICS if m not in ("money_imbalance_eur", "vendor_slope_ratio") and not m.startswith("extra_")
)
#: destinations of the target's trade (sim/effects.py, displacement), in words
DISPLACEMENT_WORDS = {
    "target_lost": "lost by the target (sum of the five to the right)",
    "other_cryptomarkets": "to other cryptomarkets",
    "webshop": "to web shops",
    "decentralised": "to decentralised markets",
    "offline": "to the street (offline)",
    "nowhere": "nowhere (demand that disappeared)",
}
#: the same, short (axis ticks)
DISPLACEMENT_TICKS = {
    "target_lost": "lost by target\n(sum of the\nfive right)",
    "other_cryptomarkets": "other\ncrypto-\nmarkets",
    "webshop": "web\nshops",
    "decentralised": "decen-\ntralised\nmarkets",
    "offline": "street\n(offline)",
    "nowhere": "nowhere\n(demand\nlost)",
}
#: displacement measures: column prefix -> whose trade
DISPLACEMENT_MEASURES = {
    "displacement": "the target's buyers (cohort)",
    "market_displacement": "all buyers",
}
#: swept keys -> words (legends, axis labels); intervention parameters in :data:`PARAM_WORDS`
KEY_WORDS = {
    "scenario": "scenario",
    "seed": "seed",
    "experiment": "experiment",
    "model.n_buyers": "buyers",
    "run.days": "days simulated",
    "model.markets.initial_cryptomarkets": "cryptomarkets at start",
    "model.markets.initial_decentralised": "decentralised markets at start",
    "model.markets.initial_webshops": "web shops at start",
    "model.markets.new_cryptomarkets_per_year": "new cryptomarkets per year",
    "model.markets.new_decentralised_per_year": "new decentralised markets per year",
}
#: intervention parameters (``scenario.interventions.<i>.params.<name>``) -> words
PARAM_WORDS = {
    "block_share": "share of buyers blocked",
    "mirror_rate": "new mirrors per day",
    "workaround_rate": "share learning a workaround per day",
    "tor_bypass": "Tor users bypass blocks",
    "share": "share of buyers given drug checking",
    "reach": "share reached by the alert",
    "compliance": "share complying with the alert",
    "operate_days": "days the honeypot runs",
    "inspection_rate": "parcel inspection rate",
    "controlled_delivery_prob": "chance of a controlled delivery",
    "vendor_trace_prob": "chance a parcel traces the vendor",
    "friction": "payment friction (logit units)",
    "skilled_share": "friction for skilled buyers (share)",
    "privacy_coin_share": "skilled buyers moving to privacy coins",
    "privacy_coin_cost": "privacy-coin cost (logit units)",
    "cashout_cost_share": "vendors' cash-out cost (share of revenue)",
    "pgp_protection": "protection of PGP users in seized records",
    "backend_seizure_prob": "chance of usable server records",
    "vendor_arrest_scale": "vendor arrest probability",
    "buyer_arrest_prob": "buyer arrest probability",
    "publicity_risk": "publicity risk",
    "publicity_half_life_days": "publicity half-life (days)",
    "publicity_interest": "publicity interest (per month)",
    "security_effect": "effect of market security",
    "domestic_compliance": "domestic web shops delisting",
    "foreign_compliance": "foreign web shops delisting",
    "risk_premium": "price risk premium",
}


def metric_words(col: str) -> tuple[str, str]:
    """Name in words and unit of a column; an unknown column gets its name with spaces and no unit."""
    if col in METRICS:
        return METRICS[col]
    for d, whose in DISPLACEMENT_MEASURES.items():
        for w in ("30d", "90d"):
            prefix = f"{d}_{w}_"
            if col.startswith(prefix) and col[len(prefix) :] in DISPLACEMENT_WORDS:
                words = DISPLACEMENT_WORDS[col[len(prefix) :]].split(" (")[0]
                return f"Trade {words}, {whose}, {w[:-1]} days", "share of the target's sales before"
    return col.replace("_", " ").capitalize(), ""


def metric_label(col: str) -> str:
    """``"Online sales, EUR per day"``: name and unit of a column."""
    name, unit = metric_words(col)
    return f"{name}, {unit}" if unit else name


def key_label(key: str) -> str:
    """A swept key in words: ``scenario.interventions.0.params.block_share`` -> ``share of buyers blocked``.

    Unknown keys fall back to their last dotted component with underscores as spaces.
    """
    if key in KEY_WORDS:
        return KEY_WORDS[key]
    parts = key.split(".")
    if len(parts) >= 3 and parts[0] == "scenario" and parts[1] == "interventions" and parts[2].isdigit():
        which = int(parts[2])
        rest = parts[3:]
        name = PARAM_WORDS.get(rest[-1], rest[-1].replace("_", " ")) if rest else "intervention"
        if rest == ["start_day"]:
            name = "intervention start day"
        return name if which == 0 else f"{name} (intervention {which + 1})"
    return parts[-1].replace("_", " ")


def value_text(v: Any) -> str:
    """A setting's value as short text: numbers without trailing zeros, missing as ``unset``."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "unset"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return f"{float(v):g}" if isinstance(v, (float, np.floating)) else str(v)
    s = str(v)
    return s if len(s) <= 40 else s[:37] + "..."


def setting_label(keys: list[str], values: tuple | list, n: int | None = None, note: str = "") -> str:
    """``"scenario = takedown, share of buyers blocked = 0.5 (n = 5)"``."""
    text = ", ".join(f"{key_label(k)} = {value_text(v)}" for k, v in zip(keys, values)) or "all runs"
    extra = ", ".join(x for x in (note, f"n = {n}" if n is not None else "") if x)
    return f"{text} ({extra})" if extra else text


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(p, width) for p in text.split("\n"))


# ----------------------------------------------------------------------------- intervals
def is_nonnegative(metric: str, values: pd.DataFrame | pd.Series | np.ndarray | None = None) -> bool:
    """Whether ``metric`` cannot be negative: a known non-negative column, or all its values >= 0."""
    if metric in NONNEGATIVE:
        return True
    if values is None:
        return False
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(len(v)) and bool((v >= 0).all())


def interval_of_mean(wide: pd.DataFrame, method: str = "t", resamples: int = BOOTSTRAP_RESAMPLES) -> pd.DataFrame:
    """Mean over the columns (runs) of each row (day) with a 95% interval of that mean.

    Args:
        wide: one row per day, one column per run; NaN = no value.
        method: ``"t"`` (t-interval, n - 1 degrees of freedom) or ``"bootstrap"`` (percentile
            interval of the mean, resampling whole runs with a fixed seed; the same resamples
            for every day). A bootstrap interval lies within the range of the data, so it never
            goes below zero for a non-negative quantity.
        resamples: bootstrap resamples.

    Returns:
        Frame with the index of ``wide`` and columns ``mean, low, high, n`` (runs with a value);
        ``low`` and ``high`` are NaN where n < 2.
    """
    from scipy import stats

    x = wide.to_numpy(dtype=float)
    ok = np.isfinite(x)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.where(ok, x, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan)
        if method == "t":
            dev = np.where(ok, x - mean[:, None], 0.0)
            sd = np.sqrt((dev**2).sum(axis=1) / np.maximum(n - 1, 1))
            half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(np.maximum(n, 1))
            low, high = mean - half, mean + half
        elif method == "bootstrap":
            runs = x.shape[1]
            rng = np.random.default_rng(BOOTSTRAP_SEED)
            draws = rng.integers(0, runs, size=(resamples, runs)) if runs else np.zeros((resamples, 0), int)
            weights = np.zeros((resamples, runs))
            np.add.at(weights, (np.repeat(np.arange(resamples), runs), draws.ravel()), 1.0)
            num = np.where(ok, x, 0.0) @ weights.T
            den = ok.astype(float) @ weights.T
            boot = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
            if np.isfinite(boot).any():
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
                    low, high = np.nanpercentile(boot, [2.5, 97.5], axis=1)
            else:
                low = high = np.full(len(x), np.nan)
        else:
            raise ValueError(f"method={method!r}: 't' or 'bootstrap'")
    low = np.where(n >= 2, low, np.nan)
    high = np.where(n >= 2, high, np.nan)
    return pd.DataFrame({"mean": mean, "low": low, "high": high, "n": n}, index=wide.index)


def _t_point(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t-interval of a 1-D sample (NaN bounds for n < 2)."""
    r = interval_of_mean(pd.DataFrame([values]), "t").iloc[0]
    return float(r["mean"]), float(r["low"]), float(r["high"])


# ----------------------------------------------------------------------------- plumbing
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, folder: Path, name: str) -> Path:
    """Write ``name.png`` (150 dpi) and ``name.pdf`` into ``folder``, close the figure, return the PNG path."""
    plt = _plt()
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / f"{name}.png", dpi=DPI, bbox_inches="tight", pad_inches=0.08)
    fig.savefig(folder / f"{name}.pdf", bbox_inches="tight", pad_inches=0.08)
    plt.close(fig)
    return folder / f"{name}.png"


def _figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kw):
    plt = _plt()
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", squeeze=False, **kw)
    return fig, axes


def _legend(fig: Figure, handles: list, labels: list[str], caption: str = "", ncols: int | None = None):
    """The figure's legend below the axes (outside the data), with the caption as its title."""
    width = fig.get_figwidth()
    if ncols is None:
        longest = max((len(s.split("\n")[0]) for s in labels), default=1)
        ncols = max(1, min(len(labels), int(width * 13 // max(longest + 6, 1))))
    chars = int(width * 14)
    return fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=ncols,
        frameon=False,
        fontsize=8,
        title=_wrap(caption, chars) if caption else None,
        title_fontsize=8,
        alignment="left",
    )


def _title(fig: Figure, title: str) -> None:
    fig.suptitle(_wrap(title, int(fig.get_figwidth() * 11)), fontsize=12, fontweight="bold")


def _event_handle(days: list[int]):
    from matplotlib.lines import Line2D

    handle = Line2D([], [], color="0.35", ls=":", lw=1.0)
    shown = ", ".join(str(d) for d in days[:6]) + (" ..." if len(days) > 6 else "")
    return handle, f"intervention start (day {shown})" if len(days) == 1 else f"intervention starts (days {shown})"


def _vlines(ax: Axes, days: list[int]) -> None:
    for d in days:
        ax.axvline(d, color="0.35", ls=":", lw=1.0, zorder=1)


# ----------------------------------------------------------------------------- sweep data
@dataclass
class _Setting:
    """The runs of one setting of the swept keys (seeds pooled), for one daily metric."""

    values: tuple
    reference: bool  #: the baseline scenario (no intervention)
    treated: pd.DataFrame  #: day x run
    counterfactual: pd.DataFrame | None = None  #: day x run, the same runs' counterfactuals
    paired_with: str = ""  #: "" (own counterfactual) or "baseline" (baseline run at the same seed)
    index: int = 0  #: colour index among the non-reference settings


def _group(keys: list[str], frame: pd.DataFrame) -> list[str]:
    return [k for k in keys if k != "seed" and k in frame.columns]


def _groups(frame: pd.DataFrame, group: list[str]):
    if not group:
        return [((), frame)]
    out = []
    for name, g in frame.groupby(group, dropna=False, sort=True):
        out.append((name if isinstance(name, tuple) else (name,), g))
    return out


def _is_baseline(group: list[str], values: tuple, baseline: str) -> bool:
    return "scenario" in group and values[group.index("scenario")] == baseline


def _sweep_settings(runs_daily: pd.DataFrame, group: list[str], metric: str, baseline: str) -> list[_Setting]:
    """Per setting: treated and counterfactual runs of ``metric`` as day x run tables.

    Runs are the seeds (or the job folders when seed was not swept). A run without a
    counterfactual of its own is paired with the baseline scenario's run at the same seed and the
    same other settings, if the sweep has one (common random numbers make them equal up to the
    intervention).
    """
    rd = runs_daily
    run_col = "seed" if "seed" in rd.columns else ("job" if "job" in rd.columns else None)
    arm = rd["arm"] if "arm" in rd.columns else pd.Series("treated", index=rd.index)

    def wide(df: pd.DataFrame) -> pd.DataFrame | None:
        if df.empty:
            return None
        values = pd.to_numeric(df[metric], errors="coerce")
        if run_col is None:
            return values.groupby(df["day"]).mean().to_frame("run")
        out = values.groupby([df["day"], df[run_col]]).first().unstack(run_col)
        return out.sort_index()

    settings = []
    for values, g in _groups(rd, group):
        a = arm.loc[g.index]
        t = wide(g[a == "treated"])
        if t is None:
            continue
        settings.append(_Setting(values, _is_baseline(group, values, baseline), t, wide(g[a == "counterfactual"])))
    others = [i for i, k in enumerate(group) if k != "scenario"]
    refs = {tuple(s.values[i] for i in others): s for s in settings if s.reference}
    k = 0
    for s in settings:
        if s.reference:
            continue
        s.index, k = k, k + 1
        if s.counterfactual is None and tuple(s.values[i] for i in others) in refs:
            base = refs[tuple(s.values[i] for i in others)].treated
            common = [c for c in s.treated.columns if c in base.columns]
            if common:
                s.counterfactual, s.paired_with = base[common], "baseline"
        if s.counterfactual is not None:
            common = [c for c in s.treated.columns if c in s.counterfactual.columns]
            s.counterfactual = s.counterfactual[common] if common else None
    return settings


def _runs(wide: pd.DataFrame) -> int:
    return int(wide.notna().any().sum())


def _curve(
    ax: Axes, wide: pd.DataFrame, method: str, color: str, ls: str = "-", lw: float = 1.8, zorder: float = 3.0, band: bool = True
):
    """Mean over runs; a band (n >= MIN_RUNS_FOR_INTERVAL) or the single runs (fewer).

    Returns the mean's line and what was drawn around it: ``"band"``, ``"runs"`` or ``""``.
    """
    iv = interval_of_mean(wide, method)
    n = _runs(wide)
    drew = ""
    if band and n >= MIN_RUNS_FOR_INTERVAL:
        drew = "band"
        ax.fill_between(iv.index, iv["low"], iv["high"], color=color, alpha=0.16, lw=0, zorder=zorder - 1, gid="interval")
        for b in ("low", "high"):  # thin edges keep overlapping bands apart
            ax.plot(iv.index, iv[b], color=color, lw=0.5, alpha=0.7, ls=ls, zorder=zorder - 0.5)
    elif band and n > 1:
        drew = "runs"
        for c in wide.columns:
            ax.plot(wide.index, wide[c], color=color, lw=0.6, alpha=0.35, ls=ls, zorder=zorder - 1, gid="single run")
    (line,) = ax.plot(iv.index, iv["mean"], color=color, ls=ls, lw=lw, zorder=zorder)
    return line, drew


def _same_curve(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    ma, mb = a.mean(axis=1), b.mean(axis=1)
    ma, mb = ma.align(mb, join="inner")
    return len(ma) > 0 and bool(np.allclose(ma.to_numpy(), mb.to_numpy(), rtol=1e-9, atol=1e-9, equal_nan=True))


def _smooth(wide: pd.DataFrame, days: int) -> pd.DataFrame:
    return wide.rolling(max(1, days), min_periods=1).mean()


def _interval_words(method: str) -> str:
    return (
        "95% bootstrap percentile interval of the mean (whole runs resampled; stays within the data, never below zero)"
        if method == "bootstrap"
        else "95% t-interval of the mean"
    )


def _divergence(s: _Setting) -> Any:
    """First day on which a setting's runs differ from their counterfactuals (None: never, or no counterfactual)."""
    if s.counterfactual is None:
        return None
    t, c = s.treated[s.counterfactual.columns].align(s.counterfactual, join="inner")
    differs = ((t - c).abs() > 1e-9 * (1.0 + c.abs())) | (t.isna() != c.isna())
    days = differs.index[differs.any(axis=1).to_numpy()]
    return days[0] if len(days) else None


def _paired_difference(s: _Setting) -> pd.DataFrame:
    """Each run minus its own counterfactual (same seed), day x run."""
    assert s.counterfactual is not None
    return s.treated[s.counterfactual.columns] - s.counterfactual


def _from_day(wide: pd.DataFrame, day: Any) -> pd.DataFrame:
    """The rows from the day before ``day`` on (so the line joins the reference), all rows for None."""
    if day is None:
        return wide
    pos = max(int(wide.index.searchsorted(day)) - 1, 0)
    return wide.iloc[pos:]


def draw_timeseries(
    runs_daily: pd.DataFrame,
    keys: list[str],
    metric: str,
    rc: dict | None = None,
    events: list[int] | None = None,
    effect: bool = False,
) -> Figure | None:
    """Level (``effect=False``) or effect (treated minus its own counterfactual) of a daily metric.

    Level: each setting's mean over seeds with a 95% interval (bootstrap percentile for
    non-negative quantities, else t). The reference without intervention is black: the baseline
    scenario, or the counterfactual when all settings share it (else each setting's counterfactual
    is dashed in its colour). Before a setting's runs first differ from their counterfactuals
    (common random numbers make them identical up to the intervention) only the reference is drawn,
    so identical curves do not hide it. Effect: per run the daily difference to its counterfactual
    (same seed), smoothed, then the mean with a 95% t-interval; zero line black. More than
    :data:`MAX_OVERLAID` settings: one panel per setting with its reference. None when there is
    nothing to draw.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rc = rc or {}
    if metric not in runs_daily.columns:
        return None
    group = _group(keys, runs_daily)
    smooth = int(rc.get("smooth_days", ROLL_DAYS))
    settings = _sweep_settings(runs_daily, group, metric, rc.get("baseline", "baseline"))
    days = sorted(set(events or []))
    name, unit = metric_words(metric)
    starts: list = []
    if effect:
        shown = [s for s in settings if not s.reference and s.counterfactual is not None]
        curves = [(s, _smooth(_paired_difference(s), smooth)) for s in shown]
        method = "t"
        starts = [d for d in (_divergence(s) for s in shown) if d is not None]
    else:
        shown = [s for s in settings if not s.reference]
        curves = [(s, _from_day(_smooth(s.treated, smooth), _divergence(s))) for s in shown]
        method = "bootstrap" if is_nonnegative(metric, runs_daily[metric]) else "t"
    # references without intervention: the baseline scenario, then counterfactuals not equal to it
    refs: list[tuple[str, pd.DataFrame, _Setting | None]] = []
    if not effect:
        for s in settings:
            if s.reference:
                refs.append((setting_label(group, s.values, _runs(s.treated), "no intervention"), _smooth(s.treated, smooth), s))
    own_cf = []
    if not effect:
        for s in shown:
            if s.counterfactual is not None and s.paired_with != "baseline":
                cf = _smooth(s.counterfactual, smooth)
                if not any(_same_curve(cf, r) for _, r, _ in refs):
                    own_cf.append((s, cf))
    shared_cf = bool(own_cf) and not refs and all(_same_curve(own_cf[0][1], c) for _, c in own_cf[1:])
    if shared_cf:
        refs.append(
            (
                f"without intervention: the counterfactual, the same for every setting (n = {_runs(own_cf[0][1])})",
                own_cf[0][1],
                None,
            )
        )
        own_cf = []
    if not curves and not refs:
        return None
    facet = len(curves) > MAX_OVERLAID
    ncols = min(3, len(curves)) if facet else 1
    nrows = math.ceil(len(curves) / ncols) if facet else 1
    fig, axes = _figure(
        4.0 * ncols if facet else 8.0, (2.6 * nrows + 1.6) if facet else 4.6, nrows, ncols, sharex=True, sharey=True
    )
    handles: list = []
    labels: list[str] = []
    drawn: set[str] = set()
    ylabel = f"{'difference in ' + name[0].lower() + name[1:] if effect else name}, {unit}"

    def reference(ax: Axes, wide: pd.DataFrame):
        line, drew = _curve(ax, wide, method, "0.45", lw=1.0, zorder=5)
        line.set_color(REFERENCE)
        drawn.add(drew)
        return line

    if not facet:
        ax = axes[0, 0]
        if effect:
            ax.axhline(0, color=REFERENCE, lw=1.0, zorder=2)
        for label, wide, _ in refs:
            handles.append(reference(ax, wide))
            labels.append(label)
        for s, w in curves:
            st = style(s.index)
            line, drew = _curve(ax, w, method, st["color"], st["ls"], lw=2.4, zorder=3)
            drawn.add(drew)
            handles.append(line)
            labels.append(setting_label(group, s.values, _runs(w)))
        for s, cf in own_cf:
            st = style(s.index)
            (line,) = ax.plot(cf.index, cf.mean(axis=1), color=st["color"], ls=(0, (4, 2)), lw=1.0, zorder=4)
            handles.append(line)
            labels.append(f"{setting_label(group, s.values)}: without intervention (counterfactual, mean)")
        ax.set_ylabel(_wrap(ylabel, 40) + f"\n({smooth}-day mean)")
        ax.set_xlabel("day")
        _vlines(ax, days)
    else:
        others = [j for j, k in enumerate(group) if k != "scenario"]
        for i, (s, w) in enumerate(curves):
            ax = axes.flat[i]
            st = style(s.index)
            if effect:
                ax.axhline(0, color=REFERENCE, lw=1.0, zorder=2)
            else:
                ref = _smooth(s.counterfactual, smooth) if s.counterfactual is not None else None
                if ref is None:
                    match = [r for _, r, rs in refs if rs is not None and all(rs.values[j] == s.values[j] for j in others)]
                    ref = match[0] if match else None
                if ref is not None:
                    reference(ax, ref)
            drawn.add(_curve(ax, w, method, st["color"], st["ls"], lw=2.2, zorder=3)[1])
            ax.set_title(_wrap(setting_label(group, s.values, _runs(w)), 52), fontsize=8.5)
            _vlines(ax, days)
        for ax in axes.flat[len(curves) :]:
            ax.set_visible(False)
        for ax in axes[-1, :]:
            ax.set_xlabel("day")
        fig.supylabel(_wrap(ylabel, 60) + f"\n({smooth}-day mean)", fontsize=10)
        handles.append(Line2D([], [], color=PALETTE[0], lw=2.2))
        labels.append(
            ("effect" if effect else "with intervention") + ": mean over seeds (colour: setting, as in the other figures)"
        )
        handles.append(Line2D([], [], color=REFERENCE, lw=1.0))
        labels.append(
            "zero: no effect"
            if effect
            else "without intervention: the setting's counterfactual (or the baseline at the same seeds)"
        )
    if "band" in drawn:
        handles.append(Patch(color="0.5", alpha=0.3))
        labels.append(f"band: {_interval_words(method)}")
    if "runs" in drawn:
        handles.append(Line2D([], [], color="0.5", lw=0.6, alpha=0.6))
        labels.append(f"thin lines: single runs (settings with fewer than {MIN_RUNS_FOR_INTERVAL} runs get no band)")
    if days:
        h, lab = _event_handle(days)
        handles.append(h)
        labels.append(lab)
    if effect and starts and curves:
        first, last = min(starts), max(w.index.max() for _, w in curves)
        pad = max(30, 0.1 * (last - first))
        if first - pad > min(w.index.min() for _, w in curves):
            axes[0, 0].set_xlim(first - pad, last + 0.02 * (last - first + pad))
    if effect:
        title = f"{name}: effect of the intervention (with minus without)"
        caption = (
            f"Each run minus its own counterfactual (same configuration and seed without the intervention; "
            f"identical before it, so the difference is zero there and the days before are cut), {smooth}-day "
            "trailing mean; line: mean over seeds (n per setting in brackets)."
        )
        if any(s.paired_with == "baseline" for s in shown):
            caption += " Runs without a counterfactual of their own are paired with the baseline run at the same seed."
    else:
        title = f"{name} by setting" if group else f"{name}: mean over runs"
        caption = f"{smooth}-day trailing mean; line: mean over seeds (n per setting in brackets)."
        if any(_divergence(s) is not None for s in shown):
            caption += (
                " Up to the intervention a setting's runs equal their counterfactual (common random numbers): only the "
                "reference without intervention is drawn there."
            )
    _title(fig, title)
    _legend(fig, handles, labels, caption, ncols=1 if max(len(x) for x in labels) > 60 else 2)
    return fig


# ----------------------------------------------------------------------------- displacement
def draw_displacement(runs_summary: pd.DataFrame, keys: list[str], baseline: str = "baseline") -> Figure | None:
    """Where the target's trade went, 30 and 90 days after: shares per setting with 95% t-intervals over seeds.

    One panel per measure (the target's buyers, ``displacement_``; all buyers,
    ``market_displacement_``) and window. Points: mean over seeds; error bars: 95% t-interval (n >=
    :data:`MIN_RUNS_FOR_ERRORBAR`); small dots: single runs. Shares are not clipped (noise can make
    them negative). None when no displacement column has a value.
    """
    from matplotlib.lines import Line2D

    group = _group(keys, runs_summary)
    panels = []
    for d in DISPLACEMENT_MEASURES:
        for w in ("30d", "90d"):
            cols = [f"{d}_{w}_{k}" for k in DISPLACEMENT_WORDS]
            if any(c in runs_summary.columns and pd.to_numeric(runs_summary[c], errors="coerce").notna().any() for c in cols):
                panels.append((d, w, cols))
    if not panels:
        return None
    all_cols = [c for _, _, cols in panels for c in cols if c in runs_summary.columns]
    rows = runs_summary[runs_summary[all_cols].apply(pd.to_numeric, errors="coerce").notna().any(axis=1)]
    settings = [(v, g) for v, g in _groups(rows, group) if not _is_baseline(group, v, baseline)]
    order = _colour_order(runs_summary, group, baseline)
    measures = list(dict.fromkeys(d for d, _, _ in panels))
    windows = list(dict.fromkeys(w for _, w, _ in panels))
    fig, axes = _figure(
        11.0 if len(windows) > 1 else 8.5, 3.6 * len(measures) + 1.6, len(measures), len(windows), sharey=True, sharex=True
    )
    cats = list(DISPLACEMENT_WORDS)
    k = len(settings)
    step = min(0.8 / max(k, 1), 0.22)
    few = False
    for d, w, cols in panels:
        ax = axes[measures.index(d), windows.index(w)]
        ax.axhline(0, color=REFERENCE, lw=0.9, zorder=1)
        ax.axvline(0.5, color="0.6", lw=0.8, ls=":", zorder=1)
        for j, (values, g) in enumerate(settings):
            st = style(order.get(values, j))
            dots_x, dots_y, pts = [], [], []  # one artist per kind and setting (fast to draw)
            for c_i, c in enumerate(cols):
                if c not in g.columns:
                    continue
                v = pd.to_numeric(g[c], errors="coerce").dropna().to_numpy(dtype=float)
                if not len(v):
                    continue
                x = c_i + (j - (k - 1) / 2) * step
                dots_x += [x - min(0.35 * step, 0.06)] * len(v)
                dots_y += v.tolist()
                pts.append((x, *_t_point(v), len(v)))
            if not pts:
                continue
            ax.scatter(dots_x, dots_y, s=9, color=st["color"], alpha=0.5, lw=0, zorder=2, gid="single run")
            px, mean, lo, hi, n = (np.array(a, dtype=float) for a in zip(*pts))
            bar = n >= MIN_RUNS_FOR_ERRORBAR
            few |= bool((~bar).any())
            if bar.any():
                ax.errorbar(
                    px[bar],
                    mean[bar],
                    yerr=[mean[bar] - lo[bar], hi[bar] - mean[bar]],
                    fmt="none",
                    ecolor=st["color"],
                    elinewidth=1.3,
                    capsize=2.5,
                    zorder=3,
                )
            ax.scatter(px, mean, s=34, marker=st["marker"], color=st["color"], edgecolor="white", lw=0.5, zorder=4, gid="mean")
        ax.set_title(f"{DISPLACEMENT_MEASURES[d].capitalize()}, {w[:-1]} days after", fontsize=10)
        ax.set_xticks(range(len(cats)), [DISPLACEMENT_TICKS[c] for c in cats], fontsize=7.5)
        ax.set_xlim(-0.5, len(cats) - 0.5)
        ax.grid(axis="y", color="0.9", lw=0.6, zorder=0)
    for ax in axes[:, 0]:
        ax.set_ylabel(_wrap("share of the target's daily sales before the intervention", 34))
    handles, labels = [], []
    for j, (values, g) in enumerate(settings):
        st = style(order.get(values, j))
        n_by = [_runs_with_values(g, cols) for _, _, cols in panels]
        n_text = str(max(n_by)) if len(set(n_by)) == 1 else f"{min(n_by)}-{max(n_by)} by panel"
        handles.append(Line2D([], [], color=st["color"], marker=st["marker"], ls="none", ms=6))
        labels.append(setting_label(group, values, note=f"n = {n_text}"))
    handles.append(Line2D([], [], color="0.4", marker="o", ls="none", ms=3, alpha=0.5))
    labels.append("single run (drawn beside its setting's mean)")
    caption = (
        "Treated minus counterfactual, mean daily difference over the window, as a share of the target's mean daily sales "
        "in the 30 days before. Large marker: mean over seeds; error bar: 95% t-interval"
        + (f" (not drawn for fewer than {MIN_RUNS_FOR_ERRORBAR} runs)" if few else "")
        + "; shares are not clipped: noise can make them negative, and they can exceed 1."
    )
    _title(fig, "Where the target's trade went after the intervention")
    _legend(fig, handles, labels, caption, ncols=1 if max(len(x) for x in labels) > 70 else 2)
    return fig


def _runs_with_values(frame: pd.DataFrame, cols: list[str]) -> int:
    present = [c for c in cols if c in frame.columns]
    return int(frame[present].apply(pd.to_numeric, errors="coerce").notna().any(axis=1).sum()) if present else 0


def _colour_order(runs_summary: pd.DataFrame, group: list[str], baseline: str) -> dict[tuple, int]:
    """Colour index of each non-baseline setting, in sorted order (as in the time series)."""
    out: dict[tuple, int] = {}
    for values, _ in _groups(runs_summary, group):
        if not _is_baseline(group, values, baseline):
            out[values] = len(out)
    return out


# ----------------------------------------------------------------------------- distributions
#: distribution figures: metric -> what a censored value means
CENSORED_WORDS = {
    "online_days_to_recovery": "censored: did not recover by the end of the run (value = days observed, a lower bound)",
    "trust_half_recovery_days": "censored: trust did not recover halfway by the end of the run (value = days observed, a lower bound)",
}


def draw_distribution(
    runs_summary: pd.DataFrame, group: list[str], metric: str, ylabel: str | None = None, baseline: str = "baseline"
) -> Figure | None:
    """Per-run values of ``metric`` by setting: one row per setting, one point per seed.

    Censored durations (a flag column of :data:`sim.stats.CENSORED_BY`) are hollow markers with an
    arrow to the right (the true value is larger; artist gid ``"censored"``), observed ones filled
    (gid ``"observed"``). Summary per setting: the Kaplan-Meier median with its 95% interval for
    censored durations, else the mean with a 95% t-interval. None when there is nothing to draw.
    """
    from sim.stats import CENSORED_BY, censoring_flags, km_summary

    if metric not in runs_summary.columns or not pd.to_numeric(runs_summary[metric], errors="coerce").notna().any():
        return None
    from matplotlib.lines import Line2D

    group = [k for k in group if k != "seed" and k in runs_summary.columns]
    flag = CENSORED_BY.get(metric)
    durations = flag is not None and flag in runs_summary.columns
    order = _colour_order(runs_summary, group, baseline)
    data = []
    for values, g in _groups(runs_summary, group):
        v = pd.to_numeric(g[metric], errors="coerce")
        has = v.notna().to_numpy()
        c = censoring_flags(g[flag])[has] if durations else np.zeros(int(has.sum()), dtype=bool)
        if has.any():
            data.append((values, v[has].to_numpy(dtype=float), c))
    if not data:
        return None
    name, unit = metric_words(metric)
    axis_label = ylabel or (f"{name}, {unit}" if unit else name)
    summaries = []
    few = False
    for _values, v, c in data:
        note = ""
        if durations:
            km = km_summary(v, c)
            mid, lo, hi = float(km["median"]), float(km["ci95_low"]), float(km["ci95_high"])
            if math.isnan(mid):
                note = "; median not reached"
            elif math.isnan(hi):
                note = "; upper limit not reached"
        else:
            mid, lo, hi = _t_point(v)
            if len(v) < MIN_RUNS_FOR_ERRORBAR:
                lo = hi = float("nan")
                few = True
        summaries.append((mid, lo, hi, note))
    xs = np.concatenate([v for _, v, _ in data] + [np.array([m, lo, hi]) for m, lo, hi, _ in summaries])
    xs = xs[np.isfinite(xs)]
    lo_all, hi_all = float(xs.min()), float(xs.max())
    span = (hi_all - lo_all) or max(abs(hi_all), 1.0)
    fig, axes = _figure(8.0, 1.2 + 0.75 * len(data) + 1.2)
    ax = axes[0, 0]
    ticks = []
    any_censored = any(c.any() for _, _, c in data)
    summary_label = "Kaplan-Meier median, 95% interval" if durations else "mean over seeds, 95% t-interval"
    for row, ((values, v, c), (mid, lo, hi, note)) in enumerate(zip(data, summaries)):
        y = len(data) - 1 - row
        st = style(order[values]) if values in order else {"color": REFERENCE, "marker": "o"}
        jitter = y + 0.22 * (((np.arange(len(v)) * 0.618) % 1.0) - 0.5)
        ax.scatter(v[~c], jitter[~c], s=26, color=st["color"], zorder=3, gid="observed")
        if c.any():
            ax.scatter(v[c], jitter[c], s=34, facecolors="none", edgecolors=st["color"], lw=1.3, zorder=3, gid="censored")
            for xv, yv in zip(v[c], jitter[c]):
                ax.annotate(
                    "",
                    xy=(xv + 0.06 * span, yv),
                    xytext=(xv, yv),
                    arrowprops={"arrowstyle": "->", "color": st["color"], "lw": 1.0, "shrinkA": 4, "shrinkB": 0},
                    zorder=3,
                )
        if not math.isnan(mid):
            left = mid - lo if not math.isnan(lo) else 0.0
            right = hi - mid if not math.isnan(hi) else 0.0
            ax.errorbar(mid, y + 0.33, xerr=[[left], [right]], fmt="D", color=REFERENCE, ms=5, capsize=3, lw=1.2, zorder=4)
            if durations and math.isnan(hi):  # the interval is open to the right
                ax.annotate(
                    "",
                    xy=(mid + 0.12 * span, y + 0.33),
                    xytext=(mid, y + 0.33),
                    arrowprops={"arrowstyle": "->", "color": REFERENCE, "lw": 1.0},
                )
        cens = f", censored {int(c.sum())}" if durations else ""
        lines = [_wrap(f"{key_label(k)} = {value_text(x)}", 48) for k, x in zip(group, values)] or ["all runs"]
        ticks.append("\n".join(lines) + f"\n(n = {len(v)}{cens}{note})")
    ax.set_yticks(range(len(data) - 1, -1, -1), ticks, fontsize=8)
    ax.set_ylim(-0.6, len(data) - 0.3)
    ax.set_xlim(lo_all - 0.08 * span, hi_all + 0.16 * span)
    if not durations and lo_all < 0 < hi_all:
        ax.axvline(0, color="0.6", lw=0.8, zorder=1)
    ax.set_xlabel(_wrap(axis_label, 80))
    ax.grid(axis="x", color="0.9", lw=0.6, zorder=0)
    handles, labels = [], []
    if any((~c).any() for _, _, c in data):
        handles.append(Line2D([], [], color="0.3", marker="o", ls="none", ms=5))
        labels.append("single run (seed)" + (": observed" if durations else ""))
    if any_censored:
        handles.append(Line2D([], [], color="0.3", marker="o", mfc="none", ls="-", lw=0.8, ms=6))
        labels.append(CENSORED_WORDS.get(metric, "censored: the event did not happen by the end of the run (a lower bound)"))
        labels[-1] += "; the arrow points to where the true value lies"
    if any(not math.isnan(m) for m, _, _, _ in summaries):
        handles.append(Line2D([], [], color=REFERENCE, marker="D", ls="-", ms=5, lw=1.2))
        labels.append(summary_label + (f" (no interval for fewer than {MIN_RUNS_FOR_ERRORBAR} runs)" if few else ""))
        if durations and any(math.isnan(h) for m, _, h, _ in summaries if not math.isnan(m)):
            labels[-1] += "; an arrow: the interval is open to the right (upper limit not reached)"
    n_all = sum(len(v) for _, v, _ in data)
    k_all = sum(int(c.sum()) for _, _, c in data)
    caption = (
        f"{n_all} run{'s' if n_all != 1 else ''}"
        + (f", {k_all} censored" if durations else "")
        + "; one row per setting, seeds pooled."
    )
    if durations:
        caption += " The median and its interval account for censoring (Kaplan-Meier; Brookmeyer-Crowley interval)."
    _title(fig, f"{name}: runs by setting")
    _legend(fig, handles, labels, caption, ncols=1)
    return fig


def distribution_figure(
    runs_summary: pd.DataFrame, group: list[str], metric: str, ylabel: str | None = None, folder: Path | None = None
) -> Path | None:
    """Draw :func:`draw_distribution` into ``folder`` as ``distribution_{metric}.png/.pdf``; the PNG path or None."""
    if folder is None:
        raise ValueError("distribution_figure: give the folder to write into")
    fig = draw_distribution(runs_summary, group, metric, ylabel)
    return None if fig is None else _save(fig, Path(folder), f"distribution_{metric}")


# ----------------------------------------------------------------------------- heat map
def draw_heatmap(runs_summary: pd.DataFrame, keys: list[str], metric: str) -> Figure | None:
    """Mean over seeds of ``metric`` over a two-parameter sweep; each cell annotated with value and n.

    With three swept keys, one heat map per value of the first (e.g. per scenario, at most 6).
    Censored durations show the Kaplan-Meier median. None unless 2 or 3 keys besides the seed.
    """
    from sim.stats import CENSORED_BY, censoring_flags, km_summary

    group = _group(keys, runs_summary)
    if len(group) not in (2, 3) or metric not in runs_summary.columns:
        return None
    values_all = pd.to_numeric(runs_summary[metric], errors="coerce")
    if not values_all.notna().any():
        return None
    flag = CENSORED_BY.get(metric)
    durations = flag is not None and flag in runs_summary.columns
    panel_key = group[0] if len(group) == 3 else None
    ykey, xkey = group[-2], group[-1]
    panels = _groups(runs_summary, [panel_key]) if panel_key else [((), runs_summary)]
    panels = [(v, g) for v, g in panels if pd.to_numeric(g[metric], errors="coerce").notna().any()][:6]
    if not panels:
        return None
    ys = sorted(runs_summary[ykey].dropna().unique(), key=_sort_key)
    xs = sorted(runs_summary[xkey].dropna().unique(), key=_sort_key)
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    cell_w = max(0.9, min(1.6, 7.0 / max(len(xs), 1)))
    fig, axes = _figure(max(5.5, cell_w * len(xs) * ncols + 2.5), max(3.2, 0.55 * len(ys) * nrows + 2.2), nrows, ncols)
    plt = _plt()
    cmap = plt.get_cmap("cividis")
    grids = []
    for _, g in panels:
        mean = np.full((len(ys), len(xs)), np.nan)
        count = np.zeros((len(ys), len(xs)), dtype=int)
        cens = np.zeros((len(ys), len(xs)), dtype=int)
        for (yv, xv), cell in g.groupby([ykey, xkey]):
            v = pd.to_numeric(cell[metric], errors="coerce")
            has = v.notna().to_numpy()
            i, j = ys.index(yv), xs.index(xv)
            count[i, j] = int(has.sum())
            if not has.any():
                continue
            if durations:
                c = censoring_flags(cell[flag])[has]
                cens[i, j] = int(c.sum())
                mean[i, j] = km_summary(v[has], c)["median"]
            else:
                mean[i, j] = v[has].mean()
        grids.append((mean, count, cens))
    finite = np.concatenate([m[np.isfinite(m)] for m, _, _ in grids]) if grids else np.array([])
    vmin, vmax = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    if vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    im = None
    for p, ((pv, _), (mean, count, cens)) in enumerate(zip(panels, grids)):
        ax = axes.flat[p]
        im = ax.imshow(np.ma.masked_invalid(mean), origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_facecolor("0.85")
        for i in range(len(ys)):
            for j in range(len(xs)):
                if np.isfinite(mean[i, j]):
                    shade = (mean[i, j] - vmin) / (vmax - vmin)
                    text = f"{mean[i, j]:.3g}\nn = {count[i, j]}" + (f", {cens[i, j]} cens." if cens[i, j] else "")
                    ax.text(j, i, text, ha="center", va="center", fontsize=7.5, color="black" if shade > 0.55 else "white")
                else:
                    ax.text(
                        j,
                        i,
                        "no value" if count[i, j] == 0 else "median\nnot reached",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="0.25",
                    )
        ax.set_xticks(range(len(xs)), [value_text(x) for x in xs], fontsize=8)
        ax.set_yticks(range(len(ys)), [value_text(y) for y in ys], fontsize=8)
        ax.set_xlabel(key_label(xkey))
        ax.set_ylabel(key_label(ykey))
        if panel_key:
            ax.set_title(f"{key_label(panel_key)} = {value_text(next(iter(pv), None))}", fontsize=9)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    name, unit = metric_words(metric)
    stat = "Kaplan-Meier median over seeds" if durations else "mean over seeds"
    if im is not None:
        fig.colorbar(im, ax=axes[:, -1].tolist(), label=_wrap(f"{unit} ({stat})" if unit else stat, 36), shrink=0.9)
    _title(fig, f"{name}: {stat} by setting")
    return fig


def _sort_key(v: Any):
    return (
        (0, float(v), "")
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        else (1, 0.0, str(v))
    )


# ----------------------------------------------------------------------------- sweeps
def sweep_figures(
    runs_daily: pd.DataFrame, runs_summary: pd.DataFrame, keys: list[str], rc: dict, folder: Path, events: list[int] | None = None
) -> list[Path]:
    """Comparison figures of a sweep, as PNG and PDF; returns the PNG paths.

    Per daily metric of ``rc["metrics"]``: ``timeseries_<metric>`` (levels by setting) and
    ``effect_<metric>`` (treated minus its own counterfactual). Then ``displacement`` (where the
    target's trade went), ``distribution_<metric>`` for the drop, the days to recovery and the
    trust's half recovery, and for a sweep of two (or three) keys besides the seed
    ``heatmap_<metric>`` per metric of ``rc["summary"]``. docs/outputs.md lists every file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    baseline = rc.get("baseline", "baseline")
    group = _group(keys, runs_summary) if len(runs_summary) else _group(keys, runs_daily)
    out: list[Path] = []
    for metric in rc.get("metrics", []):
        for effect, prefix in ((False, "timeseries"), (True, "effect")):
            fig = draw_timeseries(runs_daily, keys, metric, rc, events, effect=effect)
            if fig is not None:
                out.append(_save(fig, folder, f"{prefix}_{metric}"))
    fig = draw_displacement(runs_summary, keys, baseline)
    if fig is not None:
        out.append(_save(fig, folder, "displacement"))
    for metric in ("online_drop", "online_days_to_recovery", "trust_half_recovery_days"):
        fig = draw_distribution(runs_summary, group, metric, baseline=baseline)
        if fig is not None:
            out.append(_save(fig, folder, f"distribution_{metric}"))
    if len(group) in (2, 3):
        for metric in rc.get("summary", ["online_volume_eur_per_day"]):
            fig = draw_heatmap(runs_summary, keys, metric)
            if fig is not None:
                out.append(_save(fig, folder, f"heatmap_{metric}"))
    return out


# ----------------------------------------------------------------------------- one run
def _online(daily: pd.DataFrame) -> pd.Series:
    return daily[[f"value_{c}_eur" for c in CHANNEL_NAMES[1:]]].sum(axis=1)


def _run_events(events: pd.DataFrame | None) -> list[tuple[int, str]]:
    """(day, words) of each intervention event: ``takedown (crypto_1)``."""
    if events is None or events.empty:
        return []
    iv = events[events["event"].astype(str).str.startswith("intervention")].sort_values("day")
    out = []
    for _, e in iv.iterrows():
        what = (
            str(e["event"]).removeprefix("intervention_").removeprefix("intervention").replace("_", " ").strip() or "intervention"
        )
        target = e.get("target")
        shown = isinstance(target, str) and target and target != "system"  # whole-system interventions name no market
        out.append((int(e["day"]), f"{what} ({target})" if shown else what))
    return out


def _mark_run_events(axes: list, marks: list[tuple[int, str]]) -> tuple[list, list[str]]:
    """Dotted lines at the intervention days, numbered above the top axes; legend entries explaining the numbers."""
    from matplotlib.lines import Line2D

    if not marks:
        return [], []
    for ax in axes:
        _vlines(ax, [d for d, _ in marks])
    top = axes[0]
    lo, hi = top.get_xlim()
    level, last = 0, None
    for i, (d, _) in enumerate(marks, start=1):
        level = level + 1 if last is not None and d - last < 0.035 * (hi - lo) else 0
        last = d
        top.annotate(
            str(i),
            xy=(d, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 2 + 9 * level),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            color="0.25",
        )
    text = "\n".join(f"{i}: day {d}, {w}" for i, (d, w) in enumerate(marks, start=1))
    return [Line2D([], [], color="0.35", ls=":", lw=1.0)], [f"interventions (numbered above the plot):\n{text}"]


def run_figures(
    tables: dict[str, pd.DataFrame], folder: Path, counterfactual: dict[str, pd.DataFrame] | None = None
) -> list[Path]:
    """Draw the single-run figures into ``folder``; return the PNG paths.

    ``online_volume_by_channel``: sales per online channel (7-day mean); with ``counterfactual``
    also its sales dashed in the same colour, and a lower panel with the run's online sales minus
    the counterfactual's. ``market_shares``: shares of online sales of the largest markets.
    ``mean_trust``: buyers' trust in online markets (counterfactual dashed). Intervention days are
    dotted lines, numbered, and listed in the legend.
    """
    from matplotlib.lines import Line2D

    folder = Path(folder)
    daily, markets, events = tables["daily"], tables["markets"], tables.get("events")
    cf = counterfactual["daily"] if counterfactual is not None and "daily" in counterfactual else None
    marks = _run_events(events)
    out = []

    def roll(s: pd.Series) -> pd.Series:
        return s.rolling(ROLL_DAYS, min_periods=1).mean()

    # 1. online volume by channel
    fig, axes = _figure(
        8.5,
        6.2 if cf is not None else 4.4,
        2 if cf is not None else 1,
        1,
        sharex=True,
        **({"height_ratios": [2, 1]} if cf is not None else {}),
    )
    ax = axes[0, 0]
    handles, labels = [], []
    for c in CHANNEL_NAMES[1:]:
        (line,) = ax.plot(daily["day"], roll(daily[f"value_{c}_eur"]), color=CHANNEL_COLORS[c], lw=1.6)
        handles.append(line)
        labels.append(f"sales {CHANNEL_WORDS[c]}")
        if cf is not None:
            ax.plot(cf["day"], roll(cf[f"value_{c}_eur"]), color=CHANNEL_COLORS[c], lw=1.0, ls=(0, (4, 2)), alpha=0.9)
    ax.set_ylabel(f"sales, EUR per day\n({ROLL_DAYS}-day mean)")
    if cf is not None:
        handles.append(Line2D([], [], color="0.3", lw=1.0, ls=(0, (4, 2))))
        labels.append("same channel without the interventions (counterfactual)")
        bx = axes[1, 0]
        diff = (_online(daily).set_axis(daily["day"]) - _online(cf).set_axis(cf["day"])).dropna()  # matched by day
        bx.plot(diff.index, roll(diff), color=OKABE_ITO["reddish purple"], lw=1.6)
        bx.axhline(0, color=REFERENCE, lw=0.9)
        bx.set_ylabel(f"difference,\nEUR per day\n({ROLL_DAYS}-day mean)")
        bx.set_title("Effect on online sales (this run minus its counterfactual, same seed)", fontsize=9, loc="left")
        bx.set_xlabel("day")
    else:
        ax.set_xlabel("day")
    h, lab = _mark_run_events(list(axes[:, 0]), marks)
    _title(fig, "Online sales by channel")
    caption = f"{ROLL_DAYS}-day trailing mean of each channel's daily sales value."
    if cf is not None:
        caption += " The counterfactual is the same configuration and seed without the interventions, identical before the first."
    _legend(fig, handles + h, labels + lab, caption, ncols=2)
    out.append(_save(fig, folder, "online_volume_by_channel"))
    # 2. market shares (stacked area of online value)
    if not markets.empty:
        wide = markets.pivot_table(index="day", columns="market", values="value_eur", aggfunc="sum").fillna(0.0)
        wide = wide.rolling(ROLL_DAYS, min_periods=1).mean()
        tot = wide.sum(axis=1).replace(0, float("nan"))
        shares = wide.div(tot, axis=0)
        top = shares.mean().sort_values(ascending=False).index[: len(PALETTE)]
        shown = shares[top].copy()
        shown["other markets"] = shares.drop(columns=top).sum(axis=1, min_count=1)
        shown = shown.fillna(0.0)
        kinds = markets.drop_duplicates("market").set_index("market")["kind"].to_dict() if "kind" in markets else {}
        fig, axes = _figure(8.5, 4.4)
        ax = axes[0, 0]
        colors = [*PALETTE[: len(top)], "0.8"]
        names = [f"{m} ({kinds[m]})" if m in kinds else str(m) for m in top] + ["other markets"]
        polys = ax.stackplot(shown.index, shown.T.values, colors=colors, lw=0)
        hatches = ["", "//", "..", "xx", "\\\\", "++", "oo"]
        for p, hatch in zip(polys, hatches):  # hatching helps where colours are hard to tell apart
            p.set_hatch(hatch)
            p.set_edgecolor("white")
        ax.set_xlabel("day")
        ax.set_ylabel(f"share of online sales value\n({ROLL_DAYS}-day mean)")
        ax.set_ylim(0, 1)
        ax.set_xlim(shown.index.min(), shown.index.max())
        h, lab = _mark_run_events([ax], marks)
        _title(fig, "Market shares of online sales")
        _legend(
            fig,
            list(polys)[::-1] + h,
            names[::-1] + lab,
            f"Largest {len(top)} markets by mean share; white gaps: days without online sales.",
            ncols=2,
        )
        out.append(_save(fig, folder, "market_shares"))
    # 3. mean trust
    fig, axes = _figure(8.5, 4.2)
    ax = axes[0, 0]
    (line,) = ax.plot(daily["day"], daily["mean_trust_online"], color=OKABE_ITO["blue"], lw=1.5)
    handles, labels = [line], ["this run"]
    if cf is not None:
        (line,) = ax.plot(cf["day"], cf["mean_trust_online"], color=OKABE_ITO["blue"], lw=1.0, ls=(0, (4, 2)))
        handles.append(line)
        labels.append("without the interventions (counterfactual)")
    ax.set_xlabel("day")
    ax.set_ylabel(_wrap("mean trust in open online markets (0-1)", 30))
    ax.set_ylim(0, 1)
    h, lab = _mark_run_events([ax], marks)
    _title(fig, "Buyers' trust in online markets")
    _legend(
        fig,
        handles + h,
        labels + lab,
        "Mean over the buyers who know each open market; gaps: no open market known.",
        ncols=2,
    )
    out.append(_save(fig, folder, "mean_trust"))
    return out


# ----------------------------------------------------------------------------- validation
#: colour and marker of a pattern's status
STATUS_STYLE = {
    "holds": (OKABE_ITO["blue"], "o"),
    "fails": (OKABE_ITO["vermillion"], "X"),
}


def _pattern_words(pattern: str) -> str:
    return str(pattern).replace("_", " ").replace(".", ": ")


def draw_validation(table: pd.DataFrame) -> Figure:
    """One small panel per pattern, each with its own x-scale: observed band shaded, simulated mean with 95% interval.

    Columns of ``table``: ``pattern, kind, low, high, mean, ci_low, ci_high, holds, status`` (and
    optionally ``part``, ``n``, ``estimator``, shown when present); any
    number may be NaN (a pattern without a value is labelled, not drawn). Input patterns (calibrated
    to their band) have a grey background; the right column says input or emergent and the status.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows = table.reset_index(drop=True)
    plt = _plt()
    n = max(len(rows), 1)
    fig = plt.figure(figsize=(9.0, 0.62 * n + 2.0), layout="constrained")
    gs = fig.add_gridspec(n, 2, width_ratios=[3.4, 1.2])
    band_color = OKABE_ITO["bluish green"]

    def num(r, c) -> float:
        try:
            v = float(r.get(c))
        except (TypeError, ValueError):
            return float("nan")
        return v

    if rows.empty:
        ax = fig.add_subplot(gs[0, :])
        ax.axis("off")
        ax.text(0.5, 0.5, "no patterns to show", ha="center", va="center")
    for i, r in rows.iterrows():
        ax = fig.add_subplot(gs[i, 0])
        tx = fig.add_subplot(gs[i, 1])
        tx.axis("off")
        low, high, mean, cl, ch = (num(r, c) for c in ("low", "high", "mean", "ci_low", "ci_high"))
        status = str(r.get("status")) if pd.notna(r.get("status")) else ("holds" if r.get("holds") is True else "no value")
        kind = str(r.get("kind", ""))
        finite = [v for v in (low, high, mean, cl, ch) if np.isfinite(v)]
        ax.set_yticks([])
        ax.set_ylim(-1, 1)
        name = _pattern_words(r.get("pattern", ""))
        part = r.get("part")
        if isinstance(part, str) and part:
            name += f": {part.replace('_', ' ')}"
        ax.set_ylabel(_wrap(name, 30), rotation=0, ha="right", va="center", fontsize=8.5)
        if kind == "input":
            ax.set_facecolor("0.93")
        if not finite:
            ax.set_xticks([])
            ax.text(0.5, 0.5, "no value to show", transform=ax.transAxes, ha="center", va="center", fontsize=8, color="0.35")
        else:
            lo_x, hi_x = min(finite), max(finite)
            pad = 0.15 * (hi_x - lo_x) if hi_x > lo_x else max(0.1 * abs(hi_x), 0.05)
            ax.set_xlim(lo_x - pad, hi_x + pad)
            if np.isfinite(low) or np.isfinite(high):
                a = low if np.isfinite(low) else lo_x - pad
                b = high if np.isfinite(high) else hi_x + pad
                ax.axvspan(a, b, color=band_color, alpha=0.28, lw=0, gid="band")
                for edge in (low, high):
                    if np.isfinite(edge):
                        ax.axvline(edge, color=band_color, lw=1.0)
            if np.isfinite(mean):
                color, marker = STATUS_STYLE.get(status, ("0.3", "o"))
                err = [[mean - cl if np.isfinite(cl) else 0.0], [ch - mean if np.isfinite(ch) else 0.0]]
                ax.errorbar(mean, 0, xerr=err, fmt=marker, color=color, ms=6, capsize=3, lw=1.3, zorder=3, gid="simulated")
            else:
                ax.text(
                    0.5, 0.5, "no simulated value", transform=ax.transAxes, ha="center", va="center", fontsize=8, color="0.35"
                )
            ax.xaxis.set_major_locator(plt.MaxNLocator(5))
            ax.tick_params(axis="x", labelsize=7.5, length=2, pad=1)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        kind_words = {"input": "input (calibrated)", "emergent": "emergent (a test)"}.get(kind, kind or "kind not given")
        if str(r.get("calibration", "")) == "held out":  # not in the calibration's objective (docs/calibration.md)
            kind_words += ", held out"
        color = STATUS_STYLE.get(status, ("0.35", ""))[0]
        tx.text(
            0.0,
            0.8,
            kind_words,
            ha="left",
            va="center",
            fontsize=8.5,
            color="0.15",
            style="italic" if kind == "input" else "normal",
        )
        tx.text(
            0.0,
            0.45,
            status,
            ha="left",
            va="center",
            fontsize=8.5,
            color=color,
            fontweight="bold" if status == "fails" else "normal",
            gid="status",
        )
        n = r.get("n")
        notes = [f"n = {int(n)}"] if isinstance(n, (int, float, np.integer, np.floating)) and np.isfinite(n) else []
        if "median" in str(r.get("estimator", "")):
            notes.append("KM median")
        if notes:
            tx.text(0.0, 0.1, ", ".join(notes), ha="left", va="center", fontsize=7.5, color="0.35")
    handles = [
        Patch(color=band_color, alpha=0.35),
        Line2D([], [], color=STATUS_STYLE["holds"][0], marker="o", ls="-", ms=6),
        Line2D([], [], color=STATUS_STYLE["fails"][0], marker="X", ls="-", ms=6),
        Patch(facecolor="0.93", edgecolor="0.7"),
    ]
    labels = [
        "observed band (published figures)",
        "simulated mean over seeds, 95% interval: within the band",
        "simulated mean over seeds, 95% interval: outside the band",
        "input pattern: calibrated to its band, so not a test of the model",
    ]
    caption = (
        "Each row has its own x-scale in the pattern's own unit (the units differ). Emergent patterns are "
        "not calibrated: they test the model. Rows without a value are labelled at the right (e.g. not modelled yet); "
        "KM median: the point is the Kaplan-Meier median of a censored duration."
    )
    _title(fig, "Simulated patterns against observations")
    _legend(fig, handles, labels, caption, ncols=2)
    return fig


def validation_figure(table: pd.DataFrame, folder: Path) -> Path:
    """Write ``validation.png`` and ``validation.pdf`` (:func:`draw_validation`) into ``folder``; return the PNG path."""
    return _save(draw_validation(table), Path(folder), "validation")
