"""Effects of an intervention, measured against its counterfactual (docs/outputs.md, "Effects").

Every function here reads tables only (the treated run's and the counterfactual run's, in the
format ``run.py`` writes), so anyone can recompute the effects from a run folder and its
``counterfactual/`` subfolder. The counterfactual is the same configuration and seed without the
interventions; common random numbers make the two runs identical up to the start day ``t0``, so
a difference after ``t0`` is the intervention's effect and not noise of another draw.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.interventions.cohort import BEFORE_DAYS, SPEND_GROUPS
from sim.metrics import online_value
from sim.tables import DISPLACEMENT_KEYS

__all__ = [
    "DROP_DAYS",
    "RECOVERY_WINDOW",
    "RECOVERY_LEVEL",
    "DISPLACEMENT_KEYS",
    "drop",
    "days_to_recovery",
    "displacement",
    "trust_half_recovery",
    "vendor_slope_ratio",
    "pair_effects",
    "target_spending",
]

#: the drop compares the first 7 days from t0
DROP_DAYS = 7
#: recovery: from the first day whose 7-day windows over the next 30 days all reach 90% of the counterfactual's
RECOVERY_WINDOW, RECOVERY_LEVEL, SUSTAIN_DAYS = 7, 0.9, 30
#: trust loss is looked for in the 90 days from t0
TRUST_WINDOW = 90
#: changes in use and harm are measured over the year from t0 (or to the end of the run if sooner)
USE_WINDOW = 365
#: use and harm changes: effect key -> daily column (relative change, treated / counterfactual - 1)
USE_CHANGES = {
    "purchases_change": "purchases",
    "users_change": "users_active_30d",
    "harm_change": "harm",
}
#: every effect key, empty until computed (so every run's summary and interventions.csv have the same keys)
EMPTY_EFFECTS: dict = {
    "online_drop": None,
    "online_days_to_recovery": None,
    "online_recovery_censored": None,
    "target_drop": None,
    **{f"{d}_{w}d": dict.fromkeys(DISPLACEMENT_KEYS) for d in ("market_displacement", "displacement") for w in (30, 90)},
    "extra_arrests_vendors_90d": None,
    "extra_arrests_buyers_90d": None,
    "extra_escrow_lost_eur_90d": None,
    "extra_parcels_seized_90d": None,
    "vendor_slope_ratio": None,
    "cohort_buyers": None,
    "trust_half_recovery_days": None,
    "trust_half_recovery_censored": None,
    "migrant_trust_destination_30d": None,
    "migrant_trust_destination_90d": None,
    "deterrence_90d": None,
    **dict.fromkeys(USE_CHANGES),
    "online_share_change": None,
    "note": "",
}
#: extra counts over the counterfactual in the 90 days from t0 (name in effects: daily column)
EXTRA_COUNTS = {
    "extra_arrests_vendors_90d": "arrests_vendors",
    "extra_arrests_buyers_90d": "arrests_buyers",
    "extra_escrow_lost_eur_90d": "escrow_lost_eur",
    "extra_parcels_seized_90d": "parcels_seized",
}


def _window(series: pd.Series, start: int, days: int) -> pd.Series:
    return series.loc[start : start + days - 1]


def drop(treated: pd.Series, counterfactual: pd.Series, t0: int, days: int = DROP_DAYS) -> float:
    """1 - treated / counterfactual, each summed over the ``days`` days from ``t0`` (series indexed by day).

    NaN when the counterfactual is zero there.
    """
    cf = _window(counterfactual, t0, days).sum()
    return float(1.0 - _window(treated, t0, days).sum() / cf) if cf > 0 else float("nan")


def days_to_recovery(treated: pd.Series, counterfactual: pd.Series, t0: int) -> tuple[int, bool]:
    """Days from ``t0`` until online volume is back, and stays back, at 90% of the counterfactual's.

    The recovery day is the first day ``d >= t0`` such that every 7-day window starting in
    ``d .. d+29`` has a treated mean of at least 90% of the counterfactual's mean over the same
    days (so a fall that comes a few days late is not missed). A series that never fell below
    recovers on day 0. Returns ``(days, censored)``; censored means no such day with its 30 days
    of windows observed before the end of the run, and the days are then the days observed.
    """
    t = treated.rolling(RECOVERY_WINDOW).mean().shift(-(RECOVERY_WINDOW - 1))  # mean of days d .. d+6
    c = counterfactual.rolling(RECOVERY_WINDOW).mean().shift(-(RECOVERY_WINDOW - 1))
    ok = (t >= RECOVERY_LEVEL * c) & t.notna() & c.notna()
    # sustained: all of the SUSTAIN_DAYS windows from d on are ok (a forward-looking rolling minimum)
    sustained = ok.astype(float)[::-1].rolling(SUSTAIN_DAYS).min()[::-1] == 1.0
    after = sustained.loc[t0:]
    hit = after[after]
    if len(hit):
        return int(hit.index[0] - t0), False
    return int(treated.index.max() - t0), True


def displacement(treated: pd.DataFrame, counterfactual: pd.DataFrame, t0: int, days: int) -> dict[str, float] | None:
    """Where the target's volume went: shares of its daily volume before ``t0``, treated minus counterfactual.

    Both frames are indexed by day and have one column per group of :data:`SPEND_GROUPS` (EUR per
    day). ``before`` is the mean daily ``target`` volume over the 30 days before ``t0`` (equal in
    both runs); for each group, the mean daily difference over the ``days`` days from ``t0``
    divided by ``before``. ``target_lost`` is minus the target's own difference; ``nowhere`` is
    minus the difference of all groups together (demand that disappeared). So
    ``target_lost = other_cryptomarkets + webshop + decentralised + offline + nowhere``. Shares are
    not clipped: noise can make them negative. None when the target sold nothing before, or fewer
    than ``days`` days were observed after ``t0``.
    """
    before = treated["target"].loc[t0 - BEFORE_DAYS : t0 - 1].mean()
    t, c = treated.loc[t0 : t0 + days - 1], counterfactual.loc[t0 : t0 + days - 1]
    if not before > 0 or len(t) < days or len(c) < days:
        return None
    diff = (t[list(SPEND_GROUPS)] - c[list(SPEND_GROUPS)]).mean() / before
    out = {"target_lost": float(-diff["target"]) + 0.0}  # + 0.0: no "-0.0" where nothing changed
    for g in SPEND_GROUPS[1:]:
        out[g] = float(diff[g]) + 0.0
    out["nowhere"] = float(-diff.sum()) + 0.0
    return out


def trust_half_recovery(treated: pd.Series, counterfactual: pd.Series, t0: int) -> tuple[int | None, bool]:
    """Days from ``t0`` until the cohort's trust gap to the counterfactual is back to half its deepest.

    The gap is treated minus counterfactual (series indexed by day); its minimum over the 90 days
    from ``t0`` is the loss. Returns ``(None, False)`` when trust did not fall below the
    counterfactual; ``(days observed, True)`` when censored.
    """
    gap = (treated - counterfactual).loc[t0:].dropna()
    first = gap.loc[: t0 + TRUST_WINDOW - 1]
    if first.empty or not first.min() < 0:
        return None, False
    trough_day = int(first.idxmin())
    later = gap.loc[trough_day:]
    ok = later[later >= first.min() / 2]
    if len(ok):
        return int(ok.index[0] - t0), False
    return int(gap.index.max() - t0), True


def vendor_slope_ratio(active_vendors: pd.Series, t0: int, days: int = 90) -> float:
    """Slope (least squares) of active vendors over the ``days`` days after ``t0`` / over the ``days`` before.

    The after window starts the day after ``t0``, so the one-off cut of the takedown day is not
    a slope. NaN when the window is incomplete or the slope before is zero.
    """
    before = active_vendors.loc[t0 - days : t0 - 1]
    after = active_vendors.loc[t0 + 1 : t0 + days]
    if len(before) < days or len(after) < days:
        return float("nan")
    sb = np.polyfit(before.index.to_numpy(float), before.to_numpy(float), 1)[0]
    sa = np.polyfit(after.index.to_numpy(float), after.to_numpy(float), 1)[0]
    return float(sa / sb) if sb != 0 else float("nan")


def target_spending(daily: pd.DataFrame, markets: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    """All buyers' spending per day by :data:`SPEND_GROUPS`, the target being the named markets (EUR)."""
    d = daily.set_index("day")
    mk = markets[markets["market"].isin(targets)]
    tv = mk.groupby("day")["value_eur"].sum().reindex(d.index, fill_value=0.0)
    by_kind = mk.groupby(["day", "kind"])["value_eur"].sum().unstack(fill_value=0.0).reindex(d.index, fill_value=0.0)

    def other(channel: str) -> pd.Series:
        own = by_kind[channel] if channel in by_kind.columns else 0.0
        return d[f"value_{channel}_eur"] - own

    return pd.DataFrame(
        {
            "target": tv,
            "other_cryptomarkets": other("cryptomarket"),
            "webshop": other("webshop"),
            "decentralised": other("decentralised"),
            "offline": d["value_offline_eur"],
        }
    )


def purchases_by_channel(daily: pd.DataFrame) -> pd.DataFrame:
    """Purchases per day: all, and online (web shops, cryptomarkets, decentralised), indexed by day."""
    online = daily["sales_webshop"] + daily["sales_cryptomarket"] + daily["sales_decentralised"]
    return pd.DataFrame({"purchases": online + daily["sales_offline"], "online": online}).set_axis(daily["day"])


def use_changes(treated: pd.DataFrame, counterfactual: pd.DataFrame, t0: int, days: int = USE_WINDOW) -> dict:
    """Changes in use and harm over ``days`` days from ``t0``.

    Purchases, users active in the last 30 days and harm as treated / counterfactual - 1; the
    online share of purchases as a difference.
    """
    pt, pc = purchases_by_channel(treated), purchases_by_channel(counterfactual)
    cols = {"purchases": (pt["purchases"], pc["purchases"])}
    for name in ("users_active_30d", "harm"):
        cols[name] = (treated.set_index("day")[name], counterfactual.set_index("day")[name])
    out: dict = {}
    for key, col in USE_CHANGES.items():
        a, b = (_window(x, t0, days).sum() for x in cols[col])
        out[key] = float(a / b - 1.0) if b > 0 else None
    on_t, on_c = _window(pt["online"], t0, days).sum(), _window(pc["online"], t0, days).sum()
    all_t, all_c = _window(pt["purchases"], t0, days).sum(), _window(pc["purchases"], t0, days).sum()
    out["online_share_change"] = float(on_t / all_t - on_c / all_c) if all_t > 0 and all_c > 0 else None
    return out


def _cohort_frame(cohorts: pd.DataFrame | None, index: int) -> pd.DataFrame | None:
    if cohorts is None or not len(cohorts):
        return None
    c = cohorts[cohorts["intervention"] == index].set_index("day")
    if not len(c):
        return None
    return c.rename(columns={f"value_{g}_eur": g for g in SPEND_GROUPS})


def pair_effects(treated: dict[str, pd.DataFrame], counterfactual: dict[str, pd.DataFrame], record: dict) -> dict:
    """Effects of one fired intervention from the tables of its run and of its counterfactual.

    ``record`` is the intervention's record in ``summary.json`` (``index``, ``start_day``,
    ``targets`` ...). Population measures (drop, recovery, market displacement, extra arrests)
    need ``daily`` and ``markets``; cohort measures (displacement, trust, deterrence) need the
    ``cohorts`` tables of both runs, and are None without them.
    """
    out = {**dict(record), **EMPTY_EFFECTS}
    t0 = int(record["start_day"])
    dt, dc = treated["daily"].set_index("day"), counterfactual["daily"].set_index("day")
    if t0 - BEFORE_DAYS < dt.index.min():
        out["note"] = f"start_day {t0} leaves fewer than {BEFORE_DAYS} recorded days before it; effects not computed"
        return out
    on_t, on_c = online_value(treated["daily"]).set_axis(dt.index), online_value(counterfactual["daily"]).set_axis(dc.index)
    rec, censored = days_to_recovery(on_t, on_c, t0)
    out.update(online_drop=drop(on_t, on_c, t0), online_days_to_recovery=rec, online_recovery_censored=censored)
    targets = record.get("targets") or []
    if targets:
        st = target_spending(treated["daily"], treated["markets"], targets)
        sc = target_spending(counterfactual["daily"], counterfactual["markets"], targets)
        out["target_drop"] = drop(st["target"], sc["target"], t0)
        for w in (30, 90):
            out[f"market_displacement_{w}d"] = displacement(st, sc, t0, w) or dict.fromkeys(DISPLACEMENT_KEYS)
        if not st["target"].loc[t0 - BEFORE_DAYS : t0 - 1].sum() > 0:
            out["note"] = "the target markets sold nothing in the 30 days before the start: no displacement, empty cohort"
    for name, col in EXTRA_COUNTS.items():
        extra = _window(dt[col], t0, 90).sum() - _window(dc[col], t0, 90).sum()
        out[name] = float(extra) if "eur" in name else int(extra)
    out["vendor_slope_ratio"] = vendor_slope_ratio(dt["active_vendors"], t0)
    out.update(use_changes(treated["daily"], counterfactual["daily"], t0))
    ct, cc = _cohort_frame(treated.get("cohorts"), record["index"]), _cohort_frame(counterfactual.get("cohorts"), record["index"])
    if ct is None or cc is None:
        return out
    out["cohort_buyers"] = int(ct["cohort_buyers"].iloc[0])
    if targets:
        for w in (30, 90):
            out[f"displacement_{w}d"] = displacement(ct, cc, t0, w) or dict.fromkeys(DISPLACEMENT_KEYS)
    half, cens = trust_half_recovery(ct["cohort_trust"], cc["cohort_trust"], t0)
    out.update(trust_half_recovery_days=half, trust_half_recovery_censored=cens)
    for w in (30, 90):
        day = t0 + w - 1
        out[f"migrant_trust_destination_{w}d"] = float(ct["migrant_trust_destination"].get(day, math.nan))
    day = t0 + 89
    if day in ct.index and day in cc.index and ct.loc[day, "hidden_buyers"] > 0:
        stopped_t = 1 - ct.loc[day, "hidden_bought_again"] / ct.loc[day, "hidden_buyers"]
        stopped_c = 1 - cc.loc[day, "hidden_bought_again"] / cc.loc[day, "hidden_buyers"]
        out["deterrence_90d"] = float(stopped_t - stopped_c)
    return out
