"""Pooled summaries that respect censoring (sim/stats.py) and the censored distribution figure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.stats import CENSORED_BY, SUMMARY_COLUMNS, km_summary, summarise_metric, t_interval

# Small example, by hand. Times 1, 3, 4+, 5, 7, 9+, 11 (+ = censored), n = 7.
#   t   at risk  events  S(t)                    sum d/(n(n-d)) (Greenwood)
#   1   7        1       6/7          = 0.857    1/42          = 0.02381
#   3   6        1       6/7*5/6      = 0.714    + 1/30        = 0.05714
#   4+  (leaves the risk set: 5 -> 4)
#   5   4        1       5/7*3/4      = 0.536    + 1/12        = 0.14048
#   7   3        1       15/28*2/3    = 0.357    + 1/6         = 0.30714
#   9+  (leaves: 2 -> 1)
#   11  1        1       0
# S first <= 0.5 at t = 7, so the median is 7 (treating 4 and 9 as observed gives the sample
# median of 1,3,4,5,7,9,11 = 5). Log-log band: S^exp(+-1.96 * sqrt(G) / |log S|).
#   t = 1: sqrt(0.02381)/0.15415 = 1.0010, exp(1.96*1.0010) = 7.10, lower = 0.857^7.10 = 0.334 <= 0.5
#     -> lower limit of the median = 1.
#   t = 7: sqrt(0.30714)/1.0296 = 0.5383, exp(1.96*0.5383) = 2.872, upper = 0.357^(1/2.872) = 0.699 > 0.5,
#     and at t = 11 (S = 0) the band is undefined -> upper limit not reached (NaN).
SMALL_T = [1, 3, 4, 5, 7, 9, 11]
SMALL_C = [False, False, True, False, False, True, False]

# Textbook: 6-MP arm of Freireich et al. (1963), weeks of remission (Klein & Moeschberger, Kleinbaum).
# KM: S(6)=0.857, S(7)=0.807, S(10)=0.753, S(13)=0.690, S(16)=0.627, S(22)=0.538, S(23)=0.448
# -> median 23 weeks; with the log-log band R's survfit gives 95% CI (13, NA).
SIX_MP_OBSERVED = [6, 6, 6, 7, 10, 13, 16, 22, 23]
SIX_MP_CENSORED = [6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35]


def test_km_median_equals_sample_median_without_censoring():
    rng = np.random.default_rng(3)
    for n in range(1, 14):
        x = rng.integers(1, 12, size=n).astype(float)  # small range: ties included
        km = km_summary(x, np.zeros(n, dtype=bool))
        assert km["median"] == pytest.approx(np.median(x)), f"n={n}, x={x}: KM {km['median']} != median {np.median(x)}"
        assert km["n"] == n and km["n_censored"] == 0, f"n={n}: counts {km['n']}, {km['n_censored']}"


def test_km_small_example_by_hand():
    km = km_summary(SMALL_T, SMALL_C)
    assert km["estimator"] == "kaplan-meier median", f"estimator {km['estimator']}"
    assert km["median"] == 7, f"median {km['median']} (hand: 7)"
    assert km["ci95_low"] == 1, f"ci95_low {km['ci95_low']} (hand: 1)"
    assert math.isnan(km["ci95_high"]), f"ci95_high {km['ci95_high']} (hand: not reached)"
    assert (km["n"], km["n_censored"]) == (7, 2), f"counts {km['n']}, {km['n_censored']}"
    assert km["note"] == "censored in 2 of 7", f"note {km['note']!r}"


def test_km_textbook_six_mp():
    t = SIX_MP_OBSERVED + SIX_MP_CENSORED
    c = [False] * len(SIX_MP_OBSERVED) + [True] * len(SIX_MP_CENSORED)
    km = km_summary(t, c)
    assert km["median"] == 23, f"median {km['median']} (textbook: 23)"
    assert km["ci95_low"] == 13 and math.isnan(km["ci95_high"]), f"CI ({km['ci95_low']}, {km['ci95_high']}) != (13, NA)"
    assert km["ci95_low"] <= km["median"], "interval must contain the median"


def test_km_all_censored_median_not_reached():
    km = km_summary([30, 34, 34, np.nan], [True, True, True, None])
    assert math.isnan(km["median"]), f"median {km['median']} should be NaN (not reached)"
    assert km["n"] == 3 and km["n_censored"] == km["n"], f"n {km['n']}, n_censored {km['n_censored']} (NaN dropped)"
    assert math.isnan(km["ci95_low"]) and math.isnan(km["ci95_high"]), "no interval when all censored"
    assert "not reached" in km["note"], f"note {km['note']!r}"


def test_km_empty():
    km = km_summary([], [])
    assert km["n"] == 0 and math.isnan(km["median"]), f"empty: {km.to_dict()}"


def test_censoring_never_lowers_the_median():
    km = km_summary(SMALL_T, SMALL_C)
    wrong = km_summary(SMALL_T, [False] * len(SMALL_T))
    assert km["median"] > wrong["median"], f"censored median {km['median']} should exceed naive {wrong['median']}"
    # S = 0.5 from day 2 to the end of follow-up (day 4): midpoint of the flat, as R's survival (naive: 3 too)
    flat = km_summary([2, 4], [False, True])["median"]
    assert flat == 3, f"flat-at-0.5 median {flat} (expected (2 + 4) / 2 = 3)"
    rng = np.random.default_rng(7)
    for trial in range(200):
        n = int(rng.integers(1, 15))
        t = rng.integers(1, 40, size=n).astype(float)
        c = rng.random(n) < 0.4
        honest, naive = km_summary(t, c)["median"], km_summary(t, np.zeros(n, dtype=bool))["median"]
        assert math.isnan(honest) or honest >= naive, f"trial {trial}: t={t}, c={c}: {honest} < naive {naive}"


def test_t_interval_matches_report_behaviour():
    r = t_interval(pd.Series([1.0, 2.0, 3.0, None]))
    assert list(r.index) == ["mean", "sd", "n", "ci95_low", "ci95_high"], f"index {list(r.index)}"
    assert r["mean"] == 2 and r["n"] == 3 and r["sd"] == pytest.approx(1.0), f"{r.to_dict()}"
    assert r["ci95_high"] - r["mean"] == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6), (
        f"half-width {r['ci95_high'] - r['mean']}"
    )
    one, none = t_interval([5.0]), t_interval([])
    assert one["mean"] == 5 and math.isnan(one["ci95_low"]), f"n=1: {one.to_dict()}"
    assert none["n"] == 0 and math.isnan(none["mean"]), f"n=0: {none.to_dict()}"


def test_summarise_metric_both_kinds():
    df = pd.DataFrame(
        {
            "online_days_to_recovery": SMALL_T,
            "online_recovery_censored": SMALL_C,
            "online_drop": [0.1, 0.2, 0.3, 0.4, 0.5, None, 0.6],
        }
    )
    cens = summarise_metric(df, "online_days_to_recovery")
    assert list(cens.index) == SUMMARY_COLUMNS, f"columns {list(cens.index)}"
    assert cens["estimator"] == "kaplan-meier median", f"estimator {cens['estimator']}"
    assert math.isnan(cens["mean"]) and math.isnan(cens["sd"]), "mean/sd of censored durations must be NaN"
    assert (cens["median"], cens["ci95_low"], cens["n"], cens["n_censored"]) == (7, 1, 7, 2), f"{cens.to_dict()}"
    plain = summarise_metric(df, "online_drop")
    assert list(plain.index) == SUMMARY_COLUMNS, f"columns {list(plain.index)}"
    assert plain["estimator"] == "t-mean" and plain["n_censored"] == 0, f"{plain.to_dict()}"
    assert plain["mean"] == pytest.approx(0.35) and plain["median"] == pytest.approx(0.35) and plain["n"] == 6, (
        f"{plain.to_dict()}"
    )
    t = t_interval(df["online_drop"])
    assert plain["ci95_low"] == pytest.approx(t["ci95_low"]), "ordinary interval is the t-interval"
    assert set(CENSORED_BY) == {"online_days_to_recovery", "trust_half_recovery_days"}, f"{CENSORED_BY}"


def test_distribution_figure_with_censored_runs(tmp_path):
    from sim.figures import sweep_figures

    runs_summary = pd.DataFrame(
        {
            "scenario": ["baseline"] * 3 + ["takedown"] * 4 + ["raid"] * 2,
            "seed": [1, 2, 3, 1, 2, 3, 4, 1, 2],
            "online_drop": [None, None, None, 0.3, 0.4, 0.2, 0.5, 0.1, 0.2],
            "online_days_to_recovery": [None, None, None, 20, 34, 25, 34, 34, 34],
            "online_recovery_censored": [None, None, None, False, True, False, True, True, True],
        }
    )
    runs_daily = pd.DataFrame({"scenario": ["baseline", "takedown"], "seed": [1, 1], "day": [0, 0]})
    out = sweep_figures(runs_daily, runs_summary, ["scenario", "seed"], {"metrics": []}, tmp_path)
    for metric in ("online_drop", "online_days_to_recovery"):
        png, pdf = tmp_path / f"distribution_{metric}.png", tmp_path / f"distribution_{metric}.pdf"
        assert png in out, f"{png.name} not among returned figures {out}"
        assert png.stat().st_size > 0 and pdf.exists(), f"{png.name} / .pdf not written"
