"""Summaries of per-run figures pooled over seeds, honest about censored durations.

A duration such as days to recovery is *censored* when the run ended before the event: the
recorded value (the days observed) is then only a lower bound. Averaging it, or drawing it in a
box plot, as if it were observed biases the estimate towards quick recovery. For such metrics the
pooled estimate is the Kaplan-Meier median, with a 95% interval; the mean is not estimable from
right-censored data without a model and is reported as NaN.

Plain functions on numpy / pandas / scipy objects; nothing here imports the model.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

#: duration metric of a run summary -> its censoring flag column (True = the run ended before the event)
CENSORED_BY: dict[str, str] = {
    "online_days_to_recovery": "online_recovery_censored",
    "trust_half_recovery_days": "trust_half_recovery_censored",
}

KM_ESTIMATOR = "kaplan-meier median"
T_ESTIMATOR = "t-mean"
#: columns of :func:`summarise_metric` (and :func:`summarise_paired`), in order
SUMMARY_COLUMNS = ["estimator", "mean", "sd", "median", "n", "n_censored", "ci95_low", "ci95_high"]

_TOL = 1e-10  # survival "exactly 0.5" (products of fractions are not exact in floating point)


def t_interval(x) -> pd.Series:
    """Mean, sd, n and the 95% t-interval of the mean.

    Values that are not numbers are dropped. With n = 0 every figure but n is NaN; with n = 1 the
    mean is the value and sd and the interval are NaN.

    Returns:
        Series with index ``mean, sd, n, ci95_low, ci95_high``.
    """
    x = pd.to_numeric(pd.Series(x), errors="coerce").dropna()
    n = len(x)
    mean = x.mean() if n else np.nan
    sd = x.std(ddof=1) if n > 1 else np.nan
    half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
    return pd.Series({"mean": mean, "sd": sd, "n": n, "ci95_low": mean - half, "ci95_high": mean + half})


def _flag(v) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1")
    if v is None or pd.isna(v):
        return False
    return bool(v == 1)


def censoring_flags(flags) -> np.ndarray:
    """Censoring flags as a bool array: True/False, 1/0 and "true"/"false" (as read from CSV).

    A missing flag (None, NaN) counts as False, i.e. observed.
    """
    return np.array([_flag(v) for v in pd.Series(flags, dtype=object)], dtype=bool)


def _first_crossing(times: np.ndarray, probs: np.ndarray, level: float = 0.5) -> float:
    """First time at which a non-increasing step curve is <= ``level``; NaN if never.

    If the curve sits exactly at ``level`` there, the midpoint of that flat stretch is returned:
    halfway to the time of the next drop, or, when the curve never drops again, halfway to the
    last time in ``times`` (the largest duration, censored or not). This is the rule of R's
    ``survival::quantile.survfit``; without censoring it makes the Kaplan-Meier median equal the
    ordinary sample median. NaN points (where a confidence band is undefined) never count as a
    crossing.
    """
    ok = np.isfinite(probs)
    at_or_below = np.flatnonzero(ok & (probs <= level + _TOL))
    if not len(at_or_below):
        return float("nan")
    i = at_or_below[0]
    if abs(probs[i] - level) <= _TOL:
        below = np.flatnonzero(ok & (probs < level - _TOL))
        below = below[below > i]
        end = times[below[0]] if len(below) else times[-1]
        return float((times[i] + end) / 2)
    return float(times[i])


def km_summary(durations, censored) -> pd.Series:
    """Kaplan-Meier median of right-censored durations, with a 95% interval.

    Args:
        durations: days (or any time) per run; NaN / None entries (no value) are dropped.
        censored: per run, True if the run ended before the event (the duration is then the
            time observed, a lower bound). Missing flags count as observed.

    Method:
        The survival function S(t) is estimated with :func:`scipy.stats.ecdf` on
        :class:`scipy.stats.CensoredData` (Kaplan-Meier). The median is the first time at which
        S(t) <= 0.5; where S is exactly 0.5 the midpoint of that flat stretch (to the next drop,
        or to the largest duration if S never drops again), as R's ``survival`` does, so that with
        no censoring it is the ordinary sample median. NaN if S never falls to 0.5 ("median not
        reached").
        The 95% interval inverts the pointwise 95% confidence band of S (Greenwood variance,
        log-log transform) at 0.5, in the manner of Brookmeyer and Crowley (1982) as done by R's
        ``survfit``: the lower limit is the first time the band's lower bound is <= 0.5, the
        upper limit the first time its upper bound is <= 0.5. A limit is NaN where the band never
        crosses 0.5 (or is undefined there, e.g. where S = 0 or S = 1). With one run, or when
        every run is censored, the interval is NaN.

    Returns:
        Series with index ``estimator, median, ci95_low, ci95_high, n, n_censored, note``.
    """
    d = pd.to_numeric(pd.Series(durations), errors="coerce").to_numpy(dtype=float)
    flags = pd.Series(censored, dtype=object).reset_index(drop=True)
    if len(flags) != len(d):
        raise ValueError(f"durations ({len(d)}) and censored ({len(flags)}) differ in length")
    missing_flag = int((flags.isna().to_numpy() & np.isfinite(d)).sum())
    c = censoring_flags(flags)
    keep = np.isfinite(d)
    d, c = d[keep], c[keep]
    n, k = len(d), int(c.sum())
    median = low = high = float("nan")
    if n and k < n:
        data = stats.CensoredData(uncensored=d[~c], right=d[c])
        sf = stats.ecdf(data).sf
        median = _first_crossing(sf.quantiles, sf.probabilities)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "undefined at some observations" where S = 0 or 1
            band = sf.confidence_interval(confidence_level=0.95, method="log-log")
        low = _first_crossing(band.low.quantiles, band.low.probabilities)
        high = _first_crossing(band.high.quantiles, band.high.probabilities)
    note = f"censored in {k} of {n}"
    if n and np.isnan(median):
        note += "; median not reached"
    if missing_flag:
        note += f"; censoring flag missing for {missing_flag} (treated as observed)"
    return pd.Series(
        {"estimator": KM_ESTIMATOR, "median": median, "ci95_low": low, "ci95_high": high, "n": n, "n_censored": k, "note": note}
    )


def summarise_metric(df: pd.DataFrame, metric: str) -> pd.Series:
    """One uniform row for a metric of per-run summaries, censored or not.

    If ``metric`` has a censoring flag (:data:`CENSORED_BY`) and that column is in ``df``, the
    estimator is the Kaplan-Meier median (:func:`km_summary`): ``median`` and the interval are
    those of the median, ``mean`` and ``sd`` are NaN (not estimable from censored data). Otherwise
    (an ordinary metric, or the flag column is absent) the estimator is the t-mean
    (:func:`t_interval`), ``median`` is the sample median and ``n_censored`` is 0.

    Returns:
        Series with index :data:`SUMMARY_COLUMNS`:
        ``estimator, mean, sd, median, n, n_censored, ci95_low, ci95_high``.
    """
    flag = CENSORED_BY.get(metric)
    if flag is not None and flag in df.columns:
        km = km_summary(df[metric], df[flag])
        row = {
            "estimator": KM_ESTIMATOR,
            "mean": np.nan,
            "sd": np.nan,
            **km[["median", "n", "n_censored", "ci95_low", "ci95_high"]],
        }
        return pd.Series(row)[SUMMARY_COLUMNS]
    values = pd.to_numeric(df[metric], errors="coerce").dropna()
    t = t_interval(values)
    row = {"estimator": T_ESTIMATOR, **t, "median": values.median() if len(values) else np.nan, "n_censored": 0}
    row["n"] = int(row["n"])
    return pd.Series(row)[SUMMARY_COLUMNS]


def summarise_paired(diff, censored, censored_base) -> pd.Series:
    """Summary of paired differences (scenario minus baseline, same seed) of a duration.

    ``censored`` / ``censored_base``: flags of the scenario's and the baseline's duration per pair.

    * No pair censored: the t-mean of the differences (as :func:`summarise_metric` for an ordinary
      metric).
    * Only the scenario side censored: each such difference is a lower bound (right-censored), so
      the Kaplan-Meier median of the differences is given (mean and sd NaN).
    * Some baseline durations censored: those differences are upper bounds, so nothing is
      estimable without a model; every figure but ``n`` and ``n_censored`` is NaN and the
      estimator says why.

    ``n_censored`` counts pairs with either side censored. Pairs without a difference are dropped.
    Returns a Series with index :data:`SUMMARY_COLUMNS`.
    """
    d = pd.to_numeric(pd.Series(diff), errors="coerce").reset_index(drop=True)
    cs = censoring_flags(pd.Series(censored, dtype=object).reset_index(drop=True))
    cb = censoring_flags(pd.Series(censored_base, dtype=object).reset_index(drop=True))
    keep = d.notna().to_numpy()
    d, cs, cb = d[keep], cs[keep], cb[keep]
    either = int((cs | cb).sum())
    if either == 0:
        return summarise_metric(pd.DataFrame({"x": d}), "x")
    if cb.any():
        row: dict[str, object] = dict.fromkeys(SUMMARY_COLUMNS, np.nan)
        row.update(estimator="not estimable (baseline censored)", n=len(d), n_censored=either)
        return pd.Series(row)[SUMMARY_COLUMNS]
    km = km_summary(d, cs)
    row = {"estimator": KM_ESTIMATOR, "mean": np.nan, "sd": np.nan, **km[["median", "n", "n_censored", "ci95_low", "ci95_high"]]}
    return pd.Series(row)[SUMMARY_COLUMNS]
