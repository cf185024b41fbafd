"""Collect the runs of a sweep into tidy tables and comparison figures.

Runs automatically at the end of every multirun (the Hydra callback :class:`CollectRuns`) and on
demand on an existing sweep folder::

    python -m sim.report outputs/experiments/takedown_recovery

Writes ``<sweep>/collected/``: ``runs_daily.parquet`` (every run's daily figures, with the swept
values as columns), ``runs_summary.csv`` / ``.parquet`` (one row per run: headline figures and
the first intervention's effects), ``jobs.csv`` (every job with its status and error),
``scenario_means.csv`` (mean, sd, n and 95% interval per swept setting), ``paired_differences.csv``
(each scenario minus the baseline at the same seed: common random numbers), and ``figures/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.agents.marketplace import CHANNEL_NAMES

DISPLACEMENT_KEYS = ("target", "other_cryptomarkets", "webshop", "decentralised", "offline", "nowhere")


class ReportError(ValueError):
    """The folder holds no runs, or the runs cannot be compared."""


# ----------------------------------------------------------------------------- discovery
def find_jobs(sweep: Path) -> pd.DataFrame:
    """One row per job folder (those with ``.hydra/overrides.yaml``): overrides, status, error."""
    rows = []
    for ov in sorted(sweep.glob("**/.hydra/overrides.yaml")):
        job = ov.parent.parent
        if "collected" in job.relative_to(sweep).parts:
            continue
        overrides = yaml.safe_load(ov.read_text()) or []
        row: dict[str, Any] = {"job": str(job.relative_to(sweep))}
        for o in overrides:
            key, _, value = o.lstrip("+").partition("=")
            if key.startswith("hydra.") or key in ("run.progress",):
                continue
            row[key] = _parse(value)
        if (job / "summary.json").exists():
            row["status"], row["error"] = "finished", ""
        elif (job / "error.txt").exists():
            row["status"] = "failed"
            row["error"] = (job / "error.txt").read_text().splitlines()[0]
        else:
            row["status"], row["error"] = "incomplete", ""
        rows.append(row)
    if not rows:
        raise ReportError(f"{sweep}: holds no runs (no job folder with .hydra/overrides.yaml below it)")
    return pd.DataFrame(rows)


def _parse(value: str):
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def swept_keys(jobs: pd.DataFrame) -> list[str]:
    """Override keys that vary across jobs (plus ``scenario`` and ``seed`` when present)."""
    keys = [c for c in jobs.columns if c not in ("job", "status", "error")]
    return [k for k in keys if k in ("scenario", "seed") or jobs[k].astype(str).nunique() > 1]


# ----------------------------------------------------------------------------- tables
def summary_row(summary: dict) -> dict:
    """Flatten a run's summary.json into one row (headline figures + first intervention)."""
    h = summary["run"]
    row = {k: v for k, v in h.items() if not isinstance(v, dict)}
    for k, v in h.get("online_share_of_purchases", {}).items():
        row[f"online_share_{k}"] = v
    effects = summary.get("interventions") or []
    if effects:
        e = effects[0]
        for k in (
            "online_drop",
            "online_days_to_recovery",
            "online_recovery_censored",
            "target_drop",
            "trust_half_recovery_days",
            "arrests_vendors_90d",
            "arrests_buyers_90d",
            "escrow_lost_eur_90d",
        ):
            row[k] = e.get(k)
        for w in ("30d", "90d"):
            shares = e.get(f"displacement_{w}") or {}
            for k in DISPLACEMENT_KEYS:
                row[f"displacement_{w}_{k}"] = shares.get(k)
    return row


def collect(sweep: Path) -> dict[str, pd.DataFrame]:
    """Read every finished run below ``sweep`` into the collected tables."""
    jobs = find_jobs(sweep)
    keys = swept_keys(jobs)
    daily, summaries = [], []
    for _, job in jobs[jobs.status == "finished"].iterrows():
        folder = sweep / job["job"]
        d = pd.read_parquet(folder / "daily.parquet")
        d.insert(1, "online_value_eur", d[[f"value_{c}_eur" for c in CHANNEL_NAMES[1:]]].sum(axis=1))
        row = summary_row(json.loads((folder / "summary.json").read_text()))
        for k in keys:
            d[k] = job.get(k)
            row[k] = job.get(k)
        row["job"] = job["job"]
        daily.append(d)
        summaries.append(row)
    if not summaries:
        raise ReportError(f"{sweep}: no run finished; failed jobs: {jobs[jobs.status == 'failed']['job'].tolist()}")
    runs_daily = pd.concat(daily, ignore_index=True)
    runs_summary = pd.DataFrame(summaries)
    return {"jobs": jobs, "runs_daily": runs_daily, "runs_summary": runs_summary, "keys": keys}


def interval(x: pd.Series) -> pd.Series:
    """Mean, sd, n and the 95% t-interval of the mean."""
    from scipy import stats

    x = pd.to_numeric(x, errors="coerce").dropna()
    n = len(x)
    mean = x.mean() if n else np.nan
    sd = x.std(ddof=1) if n > 1 else np.nan
    half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
    return pd.Series({"mean": mean, "sd": sd, "n": n, "ci95_low": mean - half, "ci95_high": mean + half})


def scenario_means(runs_summary: pd.DataFrame, keys: list[str], metrics: list[str]) -> pd.DataFrame:
    """Per setting of the swept keys (seeds pooled): mean and 95% interval of each metric."""
    group = [k for k in keys if k != "seed"]
    cols = [m for m in metrics if m in runs_summary.columns]
    out = []
    for name, g in runs_summary.groupby(group, dropna=False) if group else [((), runs_summary)]:
        for m in cols:
            r = interval(g[m])
            r["metric"] = m
            for k, v in zip(group, name if isinstance(name, tuple) else (name,), strict=True):
                r[k] = v
            out.append(r)
    df = pd.DataFrame(out)
    if len(df):
        df = df[df["n"] > 0]  # e.g. intervention effects in the baseline: nothing to report
    return df[[*group, "metric", "mean", "sd", "n", "ci95_low", "ci95_high"]] if len(df) else df


def paired_differences(runs_summary: pd.DataFrame, keys: list[str], metrics: list[str], baseline: str) -> pd.DataFrame:
    """Each scenario minus the baseline at the same seed (and same other settings)."""
    if "scenario" not in runs_summary or "seed" not in runs_summary or baseline not in set(runs_summary["scenario"]):
        return pd.DataFrame()
    other = [k for k in keys if k not in ("scenario", "seed")]
    base = runs_summary[runs_summary.scenario == baseline]
    out = []
    for scen, g in runs_summary[runs_summary.scenario != baseline].groupby("scenario"):
        merged = g.merge(base, on=["seed", *other], suffixes=("", "_base"))
        for sub_name, sub in merged.groupby(other) if other else [((), merged)]:
            for m in metrics:
                if m not in merged.columns or f"{m}_base" not in merged.columns:
                    continue
                diff = pd.to_numeric(sub[m], errors="coerce") - pd.to_numeric(sub[f"{m}_base"], errors="coerce")
                r = interval(diff)
                r["scenario"], r["versus"], r["metric"] = scen, baseline, m
                for k, v in zip(other, sub_name if isinstance(sub_name, tuple) else (sub_name,), strict=True):
                    r[k] = v
                out.append(r)
    df = pd.DataFrame(out)
    if len(df):
        df = df[df["n"] > 0]
    return df[["scenario", "versus", *other, "metric", "mean", "sd", "n", "ci95_low", "ci95_high"]] if len(df) else df


# ----------------------------------------------------------------------------- writing
def write_report(sweep: Path, report_cfg: dict | None = None) -> Path:
    """Collect ``sweep`` and write ``collected/`` (staged, then moved into place)."""
    sweep = Path(sweep)
    if not sweep.is_dir():
        raise ReportError(f"{sweep}: no such folder")
    rc = {
        "metrics": ["online_value_eur", "mean_trust_online", "harm"],
        "summary": ["online_volume_eur_per_day", "harm_per_day", "online_drop", "online_days_to_recovery"],
        "baseline": "baseline",
        "smooth_days": 7,
    }
    rc.update(report_cfg or _report_cfg_of(sweep))
    c = collect(sweep)
    keys, rs = c["keys"], c["runs_summary"]
    summary_metrics = list(dict.fromkeys([*rc["summary"], *[f"displacement_30d_{k}" for k in DISPLACEMENT_KEYS]]))
    means = scenario_means(rs, keys, summary_metrics)
    paired = paired_differences(rs, keys, rc["summary"], rc["baseline"])
    stage = sweep / "collected.partial"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    c["runs_daily"].to_parquet(stage / "runs_daily.parquet", index=False)
    rs.to_parquet(stage / "runs_summary.parquet", index=False)
    rs.to_csv(stage / "runs_summary.csv", index=False)
    c["jobs"].to_csv(stage / "jobs.csv", index=False)
    means.to_csv(stage / "scenario_means.csv", index=False)
    paired.to_csv(stage / "paired_differences.csv", index=False)
    from sim.figures import sweep_figures

    sweep_figures(c["runs_daily"], rs, keys, rc, stage / "figures", events=_events(sweep, c["jobs"]))
    final = sweep / "collected"
    shutil.rmtree(final, ignore_errors=True)
    stage.rename(final)
    return final


def _report_cfg_of(sweep: Path) -> dict:
    """The ``report`` section of the first job's composed config (set by the experiment file)."""
    for cfg_file in sorted(sweep.glob("**/.hydra/config.yaml")):
        cfg = yaml.safe_load(cfg_file.read_text()) or {}
        return cfg.get("report") or {}
    return {}


def _events(sweep: Path, jobs: pd.DataFrame) -> list[int]:
    """Days on which interventions started in any finished run (to mark on figures)."""
    days: set[int] = set()
    for job in jobs[jobs.status == "finished"]["job"]:
        ev = pd.read_parquet(sweep / job / "events.parquet")
        days.update(ev[ev.event.str.startswith("intervention")]["day"].tolist())
    return sorted(days)


def print_status(jobs: pd.DataFrame, out: Path) -> None:
    n, done = len(jobs), int((jobs.status == "finished").sum())
    print(f"collected {done} of {n} jobs into {out}")
    for _, j in jobs[jobs.status != "finished"].iterrows():
        print(f"  {j['status']}: {j['job']}: {j['error']}", file=sys.stderr)


# ----------------------------------------------------------------------------- Hydra callback
try:
    from hydra.experimental.callback import Callback
except ImportError:  # pragma: no cover
    Callback = object  # type: ignore[misc,assignment]


class CollectRuns(Callback):
    """Hydra callback: count jobs done of total as they end; collect the sweep when it ends.

    The total is written to ``<sweep>/.total_jobs`` at the start and jobs are counted from the
    folders that hold a finished or failed run, so the count is right with parallel launchers too.
    """

    def on_multirun_start(self, config, **kwargs) -> None:
        sweep = Path(config.hydra.sweep.dir)
        sweep.mkdir(parents=True, exist_ok=True)
        total = count_jobs(list(config.hydra.overrides.task), dict(config.hydra.sweeper.get("params") or {}))
        (sweep / ".total_jobs").write_text(str(total))

    def on_job_end(self, config, job_return, **kwargs) -> None:
        sweep = Path(config.hydra.sweep.dir)
        done = len({p.parent for p in sweep.glob("*/manifest.json")} | {p.parent for p in sweep.glob("*/error.txt")})
        total_file = sweep / ".total_jobs"
        total = total_file.read_text().strip() if total_file.exists() else "?"
        print(f"[sweep] {done} of {total} jobs done (last: {config.hydra.job.override_dirname})", file=sys.stderr)

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep = Path(config.hydra.sweep.dir)
        try:
            out = write_report(sweep, dict(config.get("report") or {}))
            print_status(find_jobs(sweep), out)
        except ReportError as err:
            print(f"collection: {err}", file=sys.stderr)


def count_jobs(task_overrides: list[str], sweeper_params: dict) -> int:
    """Number of jobs of a sweep: product of the sizes of its sweep overrides (CLI wins over params)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    by_key: dict[str, str] = {f"{k}": f"{k}={v}" for k, v in sweeper_params.items()}
    for o in task_overrides:
        by_key[o.split("=", 1)[0].lstrip("+~")] = o
    total = 1
    for o in parser.parse_overrides(list(by_key.values())):
        if o.is_sweep_override():
            total *= len(list(o.sweep_string_iterator()))
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.report", description="Collect the runs of a sweep folder into tables and figures."
    )
    parser.add_argument("sweep", type=Path, help="sweep folder (hydra.sweep.dir), e.g. outputs/experiments/takedown_recovery")
    args = parser.parse_args(argv)
    try:
        out = write_report(args.sweep)
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print_status(find_jobs(args.sweep), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
