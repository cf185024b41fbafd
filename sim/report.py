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

import pandas as pd
import yaml
from hydra.experimental.callback import Callback

from sim.domain import CHANNEL_NAMES
from sim.errors import ReportError
from sim.output import COUNTERFACTUAL_DIR
from sim.preflight import GROUPS, POINT_GROUP
from sim.rundir import SWEEP_FILE, new_token, read_status
from sim.stats import CENSORED_BY, SUMMARY_COLUMNS, summarise_metric, summarise_paired
from sim.tables import DISPLACEMENT_KEYS, DISPLACEMENTS, EFFECT_COLUMNS, HEADLINE_SCALARS

__all__ = ["ReportError", "collect", "write_report", "main"]
#: marks a collected/ folder as this program's own (only such a folder is ever replaced)
COLLECTION_MARK = "collection.json"


# ----------------------------------------------------------------------------- discovery
def find_jobs(sweep: Path) -> pd.DataFrame:
    """One row per job folder (those with ``.hydra/config.yaml``): folder, status, error.

    Raises:
        ReportError: ``sweep`` is a single run's folder, or holds no runs.
    """
    sweep = Path(sweep)
    if (sweep / ".hydra").is_dir() or (sweep / "summary.json").exists():
        raise ReportError(
            f"{sweep}: is the folder of a single run, not of a sweep; collect the folder given as hydra.sweep.dir of a -m run"
        )
    rows = []
    for cfg_file in sorted(sweep.glob("*/.hydra/config.yaml")):
        job = cfg_file.parent.parent
        status = read_status(job)
        state = status["status"]
        if state == "missing":  # made before status files existed: finished if its summary is there
            state = "finished" if (job / "summary.json").exists() else "incomplete"
        elif state == "running":
            state = "incomplete"
        rows.append({"job": job.name, "status": state, "error": status.get("error", "")})
    from sim.callbacks import read_sweep

    present = {r["job"] for r in rows}
    for job in read_sweep(sweep).get("all_jobs", []):  # jobs of the sweep that never started (interrupted sweep)
        if job not in present:
            rows.append({"job": job, "status": "not started", "error": ""})
    if not rows:
        raise ReportError(f"{sweep}: holds no runs (no job folder with .hydra/config.yaml in it); give the folder of a sweep")
    return pd.DataFrame(rows)


def job_settings(folder: Path) -> dict[str, str]:
    """The settings that determine a job's results, read from its composed config (``.hydra/config.yaml``)."""
    from sim.runner import result_settings

    cfg = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text()) or {}
    settings = result_settings(cfg)
    try:  # the option chosen in each config group (``scenario=takedown``) identifies the group as a whole
        hydra_cfg = yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text()) or {}
        choices = hydra_cfg["hydra"]["runtime"]["choices"]
        settings.update({g: json.dumps(choices[g]) for g in (*GROUPS, POINT_GROUP) if g in choices})
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        pass
    try:
        settings["code_hash"] = json.dumps(json.loads((folder / "manifest.json").read_text()).get("code_hash"))
    except (OSError, ValueError):
        pass
    return settings


def compare_settings(settings: dict[str, dict[str, str]], swept: list[str] | None) -> tuple[list[str], list[str]]:
    """Keys whose values differ across jobs: those under a swept key, and the others.

    Values are compared as canonical JSON text, so NaN equals NaN and 1 differs from "1".
    With ``swept`` None (no sweep record) every differing key counts as swept.
    """
    keys = sorted(set().union(*settings.values())) if settings else []
    differing = [k for k in keys if len({s.get(k, "<unset>") for s in settings.values()}) > 1]
    if swept is None:
        return differing, []

    def under(k: str) -> bool:
        return any(k == s or k.startswith(s + ".") for s in swept)

    # a design point (+point=NAME, sim/design.py) sets model parameters: keys that differ only
    # between points, never within one, are its settings and count as swept
    by_point: dict[str, list[dict[str, str]]] = {}
    if POINT_GROUP in swept:
        for s in settings.values():
            by_point.setdefault(s.get(POINT_GROUP, "<unset>"), []).append(s)

    def set_by_point(k: str) -> bool:
        return bool(by_point) and all(len({s.get(k, "<unset>") for s in group}) == 1 for group in by_point.values())

    return [k for k in differing if under(k)], [k for k in differing if not under(k) and not set_by_point(k)]


def group_columns(swept: list[str] | None, differing: list[str]) -> list[str]:
    """Columns that identify a setting: the swept keys (a config group by the option chosen), ``seed`` last.

    Without a sweep record, the keys that differ; keys inside a config group whose choice differs
    are explained by that choice and left out.
    """
    if swept is not None:
        cols = list(swept)
    else:
        cols = [k for k in differing if not any(k.startswith(g + ".") for g in GROUPS if g in differing)]
    return sorted(cols, key=lambda c: (c != "scenario", c == "seed", c))


def _value(settings: dict[str, str], col: str):
    text = settings.get(col)
    if text is None:
        sub = {k[len(col) + 1 :]: v for k, v in settings.items() if k.startswith(col + ".")}
        return json.dumps(sub, sort_keys=True) if sub else None
    value = json.loads(text)
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


def swept_keys(jobs: pd.DataFrame) -> list[str]:
    """Columns of ``jobs`` that identify a setting (everything but job, status and error)."""
    return [c for c in jobs.columns if c not in ("job", "status", "error")]


# ----------------------------------------------------------------------------- tables
def summary_row(summary: dict, intervention: str = "") -> dict:
    """Flatten a run's summary.json into one row: headline figures and one intervention's effects.

    ``intervention`` (``report.intervention``) names the intervention whose effects are tabulated
    (the first of that name; empty: the first intervention); the ``intervention`` column says
    which (name and start day).
    """
    h = summary["run"]
    row = {k: h.get(k) for k in HEADLINE_SCALARS}
    for k, v in h.get("online_share_of_purchases", {}).items():
        row[f"online_share_{k}"] = v
    effects = chosen_effects(summary, intervention)
    if effects is not None:
        e = effects
        row["intervention"] = f"{e.get('name')} (day {e.get('start_day')})"
        for k in EFFECT_COLUMNS:
            row[k] = e.get(k)
        for d in DISPLACEMENTS:
            for w in ("30d", "90d"):
                shares = e.get(f"{d}_{w}") or {}
                for k in DISPLACEMENT_KEYS:
                    row[f"{d}_{w}_{k}"] = shares.get(k)
    return row


def chosen_effects(summary: dict, intervention: str = "") -> dict | None:
    """The effects of the intervention named ``intervention`` (the first one if empty), or None."""
    for e in summary.get("interventions") or []:
        if not intervention or e.get("name") == intervention:
            return e
    return None


def collect(sweep: Path, intervention: str = "") -> dict[str, Any]:
    """Read every finished run below ``sweep`` into the collected tables.

    Runs are pooled only where their composed configurations differ in the swept keys alone (from
    the sweep record ``sweep.json``; without one, every key that differs is treated as swept).
    Runs that differ in another key, or ran other code, are kept apart as separate settings, and
    ``notes`` says so.
    """
    from sim.callbacks import read_sweep

    jobs = find_jobs(sweep)
    record = read_sweep(sweep)
    swept = record.get("swept_keys")
    finished = jobs[jobs.status == "finished"]
    every = {job: job_settings(sweep / job) if (sweep / job / ".hydra").is_dir() else {} for job in jobs["job"]}
    settings = {job: every[job] for job in finished["job"]}
    if not settings:
        counts = ", ".join(f"{n} {s}" for s, n in jobs["status"].value_counts().sort_index().items())
        raise ReportError(f"{sweep}: no run finished ({counts}); {_unfinished_hint(jobs, sweep)}")
    in_swept, other = compare_settings(settings, swept)
    notes = []
    if swept is None:
        notes.append(
            f"no sweep record ({SWEEP_FILE}) in the folder: runs are grouped by every key in which they differ "
            f"({', '.join(in_swept) or 'none'}), never pooled across them"
        )
    if other:
        shown = ", ".join(f"{k} ({', '.join(sorted({settings[j].get(k, 'unset') for j in settings}))[:80]})" for k in other[:4])
        notes.append(
            f"runs differ in keys that were not swept: {shown}{' ...' if len(other) > 4 else ''}; "
            "they are kept apart as separate settings, never pooled"
        )
    keys = group_columns(swept, in_swept)
    keys += [k for k in other if k not in keys]
    for k in keys:
        jobs[k] = [_value(every[j], k) for j in jobs["job"]]
    daily, summaries = [], []
    for _, job in finished.iterrows():
        folder = sweep / job["job"]
        row = summary_row(json.loads((folder / "summary.json").read_text()), intervention)
        for arm, sub in (("treated", folder), ("counterfactual", folder / COUNTERFACTUAL_DIR)):
            if not (sub / "daily.parquet").exists():
                continue
            d = pd.read_parquet(sub / "daily.parquet")
            d.insert(1, "online_value_eur", d[[f"value_{c}_eur" for c in CHANNEL_NAMES[1:]]].sum(axis=1))
            d.insert(1, "arm", arm)
            for k in keys:
                d[k] = _value(settings[job["job"]], k)
            d["job"] = job["job"]
            daily.append(d)
        for k in keys:
            row[k] = _value(settings[job["job"]], k)
        row["job"] = job["job"]
        summaries.append(row)
    runs_daily = pd.concat(daily, ignore_index=True)
    runs_summary = pd.DataFrame(summaries)
    paired = pair_with_baseline_arm(sweep, runs_summary, keys, intervention=intervention)
    if paired:
        notes.append(
            f"{paired} runs have no counterfactual of their own (run.counterfactual=false): their effects are "
            "measured against the baseline arm's run at the same seed and settings"
        )
    current = set(record.get("all_jobs", jobs["job"]))
    strays = sorted(set(jobs["job"]) - current)
    if strays:
        notes.append(f"{len(strays)} job folders are not in the sweep record (copied in by hand?): {strays[:3]}")
    return {
        "jobs": jobs,
        "runs_daily": runs_daily,
        "runs_summary": runs_summary,
        "keys": keys,
        "notes": notes,
    }


def pair_with_baseline_arm(
    sweep: Path, runs_summary: pd.DataFrame, keys: list[str], baseline: str = "baseline", intervention: str = ""
) -> int:
    """Fill the effects of runs without their own counterfactual from the baseline arm at the same seed.

    Used for sweeps run with ``run.counterfactual=false`` that hold a ``baseline`` scenario: the
    baseline run with the same seed and the same other settings plays the counterfactual (common
    random numbers make the pair identical up to the start day). Cohort measures need the
    counterfactual's own cohort table and stay empty. Returns how many runs were paired.
    """
    from sim.effects import pair_effects

    if "scenario" not in runs_summary or "seed" not in runs_summary:
        return 0
    other = [k for k in keys if k not in ("scenario", "seed")]
    base = runs_summary[runs_summary["scenario"] == baseline]
    index = {tuple(r[k] for k in ["seed", *other]): r["job"] for _, r in base.iterrows()}
    paired = 0
    for i, r in runs_summary.iterrows():
        folder = sweep / r["job"]
        summary = json.loads((folder / "summary.json").read_text())
        if summary.get("counterfactual", True) or not summary.get("interventions"):
            continue
        partner = index.get(tuple(r[k] for k in ["seed", *other]))
        if partner is None:
            continue
        treated, cf = _tables(folder), _tables(sweep / partner)
        record = chosen_effects(summary, intervention)
        if record is None:
            continue
        e = pair_effects(treated, cf, record)
        flat = summary_row({"run": {}, "interventions": [e]})
        for k, v in flat.items():
            if k in EFFECT_COLUMNS or any(k.startswith(d + "_") for d in DISPLACEMENTS):
                if k not in runs_summary.columns or runs_summary[k].dtype != object:
                    runs_summary[k] = runs_summary.get(k, pd.Series(None, index=runs_summary.index)).astype(object)
                runs_summary.at[i, k] = v
        paired += 1
    return paired


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(folder / f"{name}.parquet") for name in ("daily", "markets")}


def scenario_means(runs_summary: pd.DataFrame, keys: list[str], metrics: list[str]) -> pd.DataFrame:
    """Per setting of the swept keys (seeds pooled): mean and 95% interval of each metric."""
    group = [k for k in keys if k != "seed"]
    cols = [m for m in metrics if m in runs_summary.columns]
    out = []
    for name, g in runs_summary.groupby(group, dropna=False) if group else [((), runs_summary)]:
        for m in cols:
            r = summarise_metric(g, m)
            r["metric"] = m
            for k, v in zip(group, name if isinstance(name, tuple) else (name,), strict=True):
                r[k] = v
            out.append(r)
    df = pd.DataFrame(out)
    if len(df):
        df = df[df["n"] > 0]  # e.g. intervention effects in the baseline: nothing to report
    return df[[*group, "metric", *SUMMARY_COLUMNS]] if len(df) else df


def paired_differences(runs_summary: pd.DataFrame, keys: list[str], metrics: list[str], baseline: str) -> pd.DataFrame:
    """Each scenario minus the baseline at the same seed (and same other settings).

    Without a swept scenario, seeds or the baseline scenario there is nothing to pair: the table
    then has its columns and no row.
    """
    other = [k for k in keys if k not in ("scenario", "seed")]
    columns = ["scenario", "versus", *other, "metric", *SUMMARY_COLUMNS]
    if "scenario" not in runs_summary or "seed" not in runs_summary or baseline not in set(runs_summary["scenario"]):
        return pd.DataFrame(columns=columns)
    base = runs_summary[runs_summary.scenario == baseline]
    out = []
    for scen, g in runs_summary[runs_summary.scenario != baseline].groupby("scenario"):
        merged = g.merge(base, on=["seed", *other], suffixes=("", "_base"))
        for sub_name, sub in merged.groupby(other) if other else [((), merged)]:
            for m in metrics:
                if m not in merged.columns or f"{m}_base" not in merged.columns:
                    continue
                diff = pd.to_numeric(sub[m], errors="coerce") - pd.to_numeric(sub[f"{m}_base"], errors="coerce")
                flag = CENSORED_BY.get(m)
                if flag and flag in sub and f"{flag}_base" in sub:
                    r = summarise_paired(diff, sub[flag], sub[f"{flag}_base"])
                else:
                    r = summarise_metric(pd.DataFrame({m: diff}), m)
                r["scenario"], r["versus"], r["metric"] = scen, baseline, m
                for k, v in zip(other, sub_name if isinstance(sub_name, tuple) else (sub_name,), strict=True):
                    r[k] = v
                out.append(r)
    df = pd.DataFrame(out)
    if len(df):
        df = df[df["n"] > 0]
    return df[columns] if len(df) else pd.DataFrame(columns=columns)


# ----------------------------------------------------------------------------- writing
def write_report(sweep: Path, report_cfg: dict | None = None, *, own_lock: str | None = None) -> Path:
    """Collect ``sweep`` and write ``collected/``: staged in a folder of this invocation, then swapped in.

    A ``collected/`` folder is replaced only if this program wrote it (it holds ``collection.json``).

    Raises:
        ReportError: not a sweep folder, no finished run, a sweep still running into it, or a
            ``collected/`` folder that is not this program's.
    """
    from sim.rundir import lock_holder

    sweep = Path(sweep)
    if sweep.is_file():
        raise ReportError(f"{sweep}: is a file; give the folder of a sweep")
    if not sweep.is_dir():
        raise ReportError(f"{sweep}: no such folder")
    holder = lock_holder(sweep)
    if holder and holder.get("token") != own_lock:
        raise ReportError(f"{sweep}: a sweep is still running into it (process {holder.get('pid')}); collect it when it ends")
    final = sweep / "collected"
    if final.exists() and not (final / COLLECTION_MARK).exists():
        raise ReportError(f"{final}: exists and was not written by this program; move it away first")
    rc: dict[str, Any] = {
        "metrics": ["online_value_eur", "mean_trust_online", "harm"],
        "summary": ["online_volume_eur_per_day", "harm_per_day", "online_drop", "online_days_to_recovery"],
        "baseline": "baseline",
        "smooth_days": 7,
    }
    rc.update(report_cfg or _report_cfg_of(sweep))
    c = collect(sweep, str(rc.get("intervention") or ""))
    keys, rs = c["keys"], c["runs_summary"]
    displacement = [f"{d}_{w}_{k}" for d in DISPLACEMENTS for w in ("30d", "90d") for k in DISPLACEMENT_KEYS]
    summary_metrics = list(dict.fromkeys([*rc["summary"], *displacement]))
    means = scenario_means(rs, keys, summary_metrics)
    paired = paired_differences(rs, keys, rc["summary"], rc["baseline"])
    if "scenario" in rs and rs["scenario"].nunique() > 1 and rc["baseline"] not in set(rs["scenario"]):
        c["notes"].append(
            f"report.baseline={rc['baseline']!r} is not among the scenarios {sorted(set(rs['scenario']))}: "
            "paired_differences.csv has no rows"
        )
    token = new_token()
    stage = sweep / f".collected-{token}"
    stage.mkdir()
    try:
        c["runs_daily"].to_parquet(stage / "runs_daily.parquet", index=False)
        rs.to_parquet(stage / "runs_summary.parquet", index=False)
        rs.to_csv(stage / "runs_summary.csv", index=False)
        c["jobs"].to_csv(stage / "jobs.csv", index=False)
        means.to_csv(stage / "scenario_means.csv", index=False)
        paired.to_csv(stage / "paired_differences.csv", index=False)
        from sim.figures import sweep_figures

        if rc.get("figures", True):
            sweep_figures(c["runs_daily"], rs, keys, rc, stage / "figures", events=_events(sweep, c["jobs"]))
        mark = {"keys": keys, "notes": c["notes"], "runs": int(len(rs)), "jobs": int(len(c["jobs"]))}
        (stage / COLLECTION_MARK).write_text(json.dumps(mark, indent=2))
        old = sweep / f".collected-old-{token}"
        if final.exists():
            final.rename(old)
        stage.rename(final)
        shutil.rmtree(old, ignore_errors=True)  # the previous collection (this program's, checked above)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    for note in c["notes"]:
        print(f"collection: {note}", file=sys.stderr)
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


def print_status(jobs: pd.DataFrame, out: Path, details: bool = True) -> None:
    """Say how many jobs were collected and, with ``details``, which did not finish (on standard error)."""
    n, done = len(jobs), int((jobs.status == "finished").sum())
    print(f"collected {done} of {n} jobs into {out}")
    for _, j in jobs[jobs.status != "finished"].iterrows() if details else []:
        print(f"  {j['status']}: {j['job']}: {j['error']}", file=sys.stderr)


# ----------------------------------------------------------------------------- Hydra callback
class CollectRuns(Callback):
    """Hydra callback: collect the sweep when it ends (progress and checks: :mod:`sim.callbacks`)."""

    def on_multirun_end(self, config, **kwargs) -> None:
        from sim.callbacks import read_sweep

        sweep = Path(config.hydra.sweep.dir)
        try:
            out = write_report(sweep, dict(config.get("report") or {}), own_lock=read_sweep(sweep).get("token"))
            print_status(find_jobs(sweep), out, details=False)  # the guard lists what did not finish
        except ReportError as err:
            print(f"collection: {err}", file=sys.stderr)
        except Exception as err:  # noqa: BLE001 - a bug: say so, and make the sweep exit 1 (sim.callbacks)
            import traceback

            from sim.callbacks import COLLECTION_ERRORS

            traceback.print_exc()
            COLLECTION_ERRORS.append(f"{type(err).__name__}: {err}; collect again with: python -m sim.report {sweep}")
            print(f"collection: FAILED: {COLLECTION_ERRORS[-1]}", file=sys.stderr)


def _unfinished_hint(jobs: pd.DataFrame, sweep: Path) -> str:
    """What to do about jobs that did not finish, by their states."""
    hints = []
    if (jobs.status == "failed").any() or (jobs.status == "interrupted").any():
        hints.append("a failed or interrupted run's error is in its folder's error.txt")
    if (jobs.status == "incomplete").any():
        hints.append(
            "incomplete runs may still be running (jobs on a cluster go on when the launching command stops): "
            f"collect again later with python -m sim.report {sweep}"
        )
    if (jobs.status == "not started").any():
        hints.append(
            "runs not started never began (the sweep stopped, or the launcher refused them); rerun the sweep into the same folder"
        )
    return "; ".join(hints) or "see jobs.csv"


def end_interrupted_sweep() -> None:
    """After Ctrl-C: release the sweep's lock and collect what finished (jobs.csv lists the rest)."""
    from sim.callbacks import CURRENT_SWEEP
    from sim.rundir import unlock_sweep

    if not CURRENT_SWEEP:
        print("interrupted", file=sys.stderr)
        return
    sweep, token = CURRENT_SWEEP[-1]
    try:
        out = write_report(sweep, own_lock=token)
        print(
            f"interrupted: what finished is collected into {out}; jobs.csv lists every job's status. Jobs submitted to a "
            f"cluster (SLURM, Ray) may go on running: collect them later with python -m sim.report {sweep}, or cancel "
            "them there (scancel)",
            file=sys.stderr,
        )
    except ReportError as err:
        print(
            f"interrupted: {err}. Jobs submitted to a cluster may go on running; cancel them there (scancel) if need be",
            file=sys.stderr,
        )
    finally:
        unlock_sweep(sweep, token)


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.report SWEEP``: collect a sweep folder again; exit 2 with a message if it cannot."""
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
    jobs = find_jobs(args.sweep)
    print_status(jobs, out)
    unfinished = int((jobs.status != "finished").sum())
    if unfinished:
        print(f"{unfinished} of {len(jobs)} jobs did not finish (see jobs.csv)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
