"""Collect the runs of a sweep into tidy tables and comparison figures.

Runs automatically at the end of every multirun (the Hydra callback :class:`CollectRuns`) and on
demand on an existing sweep folder::

    python -m sim.report outputs/experiments/takedown_recovery

Writes ``<sweep>/collected/``: ``runs_daily.parquet`` (every run's daily figures, with the swept
values as columns), ``runs_summary.csv`` / ``.parquet`` (one row per run: headline figures and
the first intervention's effects), ``jobs.csv`` (every job with its status and error),
``scenario_means.csv`` (mean, sd, n and 95% interval per swept setting), ``paired_differences.csv``
(each scenario minus the baseline at the same seed: common random numbers), and ``figures/``.

A run whose files cannot be read, hold a value that is not a finite number where one belongs, or
changed after the run finished (against the digests in its ``status.json``) is listed as
``damaged`` in ``jobs.csv`` and left out of the tables; the others are collected. The collection
replaces only the files its previous collection recorded writing (``collection.json``); anything
else in ``collected/`` is never touched.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from hydra.experimental.callback import Callback

from sim.domain import CHANNEL_NAMES
from sim.errors import FolderError, ReportError
from sim.output import COUNTERFACTUAL_DIR
from sim.preflight import GROUPS, POINT_GROUP
from sim.rundir import (
    SWEEP_FILE,
    changed_outputs,
    lock_holder,
    lock_sweep,
    new_token,
    read_record,
    read_status,
    unlock_sweep,
    write_json_atomic,
)
from sim.stats import CENSORED_BY, SUMMARY_COLUMNS, summarise_metric, summarise_paired
from sim.tables import DISPLACEMENT_KEYS, DISPLACEMENTS, EFFECT_COLUMNS, HEADLINE_SCALARS

__all__ = ["Collected", "DamagedRun", "NothingCollected", "ReportError", "collect", "write_collection", "write_report", "main"]
#: the folder of a sweep that the collection writes into
COLLECTED = "collected"
#: marks a collected/ folder as this program's own and lists the files it wrote (only those are ever replaced)
COLLECTION_MARK = "collection.json"
#: errors that mean a run's files cannot be read as a run's (truncated, not JSON, another layout): the run is damaged
READ_ERRORS = (OSError, ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError, pa.ArrowException)
#: what to do about a damaged run (the skip of finished sweep jobs would keep it as it is)
REDO_DAMAGED = "to redo a damaged run, move its folder away and run the sweep again"


class DamagedRun(Exception):
    """A finished run's files cannot be pooled; the message says why (one line)."""


class NothingCollected(ReportError):
    """No run could be collected; ``jobs`` lists every job with its status and error (written to ``jobs.csv``)."""

    def __init__(self, message: str, jobs: pd.DataFrame, notes: list[str] | None = None) -> None:
        super().__init__(message)
        self.jobs = jobs
        self.notes = notes or []


@dataclass
class Collected:
    """What a collection wrote: its folder, every job with its status, and its notes."""

    folder: Path
    jobs: pd.DataFrame
    notes: list[str] = field(default_factory=list)


@dataclass
class RunFiles:
    """A finished run's files as the collection reads them (:func:`read_run`)."""

    summary: dict
    #: its row of runs_summary, without the setting columns
    row: dict
    #: its daily tables (treated, and counterfactual where there is one), with ``online_value_eur`` and ``arm``
    daily: list[pd.DataFrame]
    #: days on which interventions started
    events: list[int]


def _one_line(err: BaseException | str) -> str:
    text = err if isinstance(err, str) else (f"{type(err).__name__}: {err}" if str(err) else type(err).__name__)
    return " ".join(text.split())[:300]


# ----------------------------------------------------------------------------- discovery
def find_jobs(sweep: Path) -> pd.DataFrame:
    """One row per job folder (those with ``.hydra/config.yaml``): folder, status, error.

    A finished run whose output files changed after it finished (against the digests in its
    ``status.json``, :func:`sim.rundir.changed_outputs`) is ``damaged``, the change in ``error``.

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
        error = str(status.get("error", ""))
        if state == "finished":
            changed = changed_outputs(job, status)
            if changed:
                state, error = "damaged", "; ".join(changed[:3]) + (f"; ... {len(changed) - 3} more" if len(changed) > 3 else "")
        rows.append({"job": job.name, "status": state, "error": error})
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
    from sim.yamlfiles import read_limited

    cfg = read_limited(folder / ".hydra" / "config.yaml")[0] or {}  # within limits: a run folder may be damaged
    settings = result_settings(cfg)
    try:  # the option chosen in each config group (``scenario=takedown``) identifies the group as a whole
        hydra_cfg = yaml.safe_load(read_record(folder / ".hydra" / "hydra.yaml")) or {}
        choices = hydra_cfg["hydra"]["runtime"]["choices"]
        settings.update({g: json.dumps(choices[g]) for g in (*GROUPS, POINT_GROUP) if g in choices})
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        pass
    try:
        settings["code_hash"] = json.dumps(json.loads(read_record(folder / "manifest.json")).get("code_hash"))
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


def read_run(folder: Path, intervention: str = "") -> RunFiles:
    """Read a finished run's summary and tables for the collection, checking that they can be pooled.

    Raises:
        DamagedRun: a file cannot be read (missing, truncated, not JSON, another layout), or
            ``summary.json`` holds a value that is not a finite number where one belongs.
    """
    folder = Path(folder)
    try:
        summary = json.loads(read_record(folder / "summary.json"))
    except OSError as err:
        raise DamagedRun(f"summary.json cannot be read ({err.strerror or err})") from None
    except ValueError as err:
        raise DamagedRun(f"summary.json is not JSON ({_one_line(str(err))})") from None
    try:
        row = summary_row(summary, intervention)
    except (KeyError, TypeError, AttributeError) as err:
        raise DamagedRun(f"summary.json is not laid out as a run's summary ({_one_line(err)})") from None
    for k, v in row.items():
        # bool is an int: the censoring flags are true/false; json reads NaN and Infinity as floats
        if k != "intervention" and v is not None and not (isinstance(v, (int, float)) and math.isfinite(v)):
            raise DamagedRun(f"summary.json: {k} is {json.dumps(v)[:60]}, not a finite number")
    daily = []
    for arm, sub in (("treated", folder), ("counterfactual", folder / COUNTERFACTUAL_DIR)):
        path = sub / "daily.parquet"
        if arm == "counterfactual" and not path.exists():
            continue  # a run without interventions, or made with run.counterfactual=false
        d = _read_table(folder, path)
        try:
            d.insert(1, "online_value_eur", d[[f"value_{c}_eur" for c in CHANNEL_NAMES[1:]]].sum(axis=1))
        except READ_ERRORS as err:
            raise DamagedRun(
                f"{path.relative_to(folder).as_posix()} is not laid out as a daily table ({_one_line(err)})"
            ) from None
        d.insert(1, "arm", arm)
        daily.append(d)
    events = _read_table(folder, folder / "events.parquet")
    try:
        days = sorted(int(d) for d in events[events["event"].str.startswith("intervention")]["day"])
    except READ_ERRORS as err:
        raise DamagedRun(f"events.parquet is not laid out as an events table ({_one_line(err)})") from None
    for path in sorted([*folder.glob("*.parquet"), *(folder / COUNTERFACTUAL_DIR).glob("*.parquet")]):
        try:  # the tables read later (markets, for pairing) or by other programs: their footer at least is whole
            pq.read_metadata(path)
        except READ_ERRORS as err:
            raise DamagedRun(f"{path.relative_to(folder).as_posix()} cannot be read ({_one_line(err)})") from None
    return RunFiles(summary=summary, row=row, daily=daily, events=days)


def _read_table(folder: Path, path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except READ_ERRORS as err:
        raise DamagedRun(f"{path.relative_to(folder).as_posix()} cannot be read ({_one_line(err)})") from None


def _setting_column(values: list) -> Any:
    """A setting column: integers stay integers where some jobs have no value (pandas would make them floats)."""
    present = [v for v in values if v is not None]
    if len(present) < len(values) and present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.array(values, dtype="Int64")
    return values


def collect(sweep: Path, intervention: str = "", jobs: pd.DataFrame | None = None) -> dict[str, Any]:
    """Read every finished run below ``sweep`` into the collected tables.

    Runs are pooled only where their composed configurations differ in the swept keys alone (from
    the sweep record ``sweep.json``; without one, every key that differs is treated as swept).
    Runs that differ in another key, or ran other code, are kept apart as separate settings, and
    ``notes`` says so. A finished run that cannot be read, holds a value that is not a finite
    number, or changed after it finished is ``damaged`` in ``jobs`` (the reason in ``error``), left
    out of the tables, and named in ``notes``.

    Args:
        sweep: the sweep folder.
        intervention: the intervention whose effects are tabulated (empty: each run's first).
        jobs: the sweep's jobs as :func:`find_jobs` found them, if already found (changed in place).

    Returns:
        ``jobs``, ``runs_daily``, ``runs_summary``, ``keys`` (the setting columns), ``notes`` and
        ``events`` (days on which interventions started).

    Raises:
        NothingCollected: no run could be collected (``jobs`` still lists every job).
    """
    from sim.callbacks import read_sweep

    sweep = Path(sweep)
    jobs = find_jobs(sweep) if jobs is None else jobs
    record = read_sweep(sweep)
    swept = record.get("swept_keys")
    every: dict[str, dict[str, str]] = {}
    runs: dict[str, RunFiles] = {}
    damaged: dict[str, str] = {}
    for job, state in zip(jobs["job"], jobs["status"], strict=True):
        folder = sweep / job
        try:
            every[job] = job_settings(folder) if (folder / ".hydra").is_dir() else {}
        except READ_ERRORS as err:
            every[job] = {}
            if state == "finished":
                damaged[job] = f".hydra/config.yaml cannot be read ({_one_line(err)})"
            continue
        if state == "finished":
            try:
                runs[job] = read_run(folder, intervention)
            except DamagedRun as err:
                damaged[job] = str(err)
    notes: list[str] = []
    settings = {job: every[job] for job in runs}
    if not settings:
        raise _nothing_collected(sweep, jobs, damaged, every, swept, notes)
    in_swept, other = compare_settings(settings, swept)
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
    daily, summaries = [], []
    for job, run in runs.items():
        for d in run.daily:
            for k in keys:
                d[k] = _value(settings[job], k)
            d["job"] = job
            daily.append(d)
        row = dict(run.row)
        for k in keys:
            row[k] = _value(settings[job], k)
        row["job"] = job
        summaries.append(row)
    runs_daily = pd.concat(daily, ignore_index=True)
    runs_summary = pd.DataFrame(summaries)
    for k in keys:
        runs_summary[k] = _setting_column([_value(settings[j], k) for j in runs_summary["job"]])
    paired = pair_with_baseline_arm(
        sweep, runs_summary, keys, intervention=intervention, summaries={j: r.summary for j, r in runs.items()}, damaged=damaged
    )
    if damaged:  # found while pairing: a table read only then
        runs_summary = runs_summary[~runs_summary["job"].isin(damaged)].reset_index(drop=True)
        runs_daily = runs_daily[~runs_daily["job"].isin(damaged)].reset_index(drop=True)
        if not len(runs_summary):
            raise _nothing_collected(sweep, jobs, damaged, every, swept, notes)
    _mark_damaged(jobs, damaged)
    for k in keys:
        jobs[k] = _setting_column([_value(every[j], k) for j in jobs["job"]])
    if paired:
        notes.append(
            f"{paired} runs have no counterfactual of their own (run.counterfactual=false): their effects are "
            "measured against the baseline arm's run at the same seed and settings"
        )
    current = set(record.get("all_jobs", jobs["job"]))
    strays = sorted(set(jobs["job"]) - current)
    if strays:
        notes.append(f"{len(strays)} job folders are not in the sweep record (copied in by hand?): {strays[:3]}")
    notes += _damaged_notes(jobs)
    events = sorted({d for job, run in runs.items() if job not in damaged for d in run.events})
    return {
        "jobs": jobs,
        "runs_daily": runs_daily,
        "runs_summary": runs_summary,
        "keys": keys,
        "notes": notes,
        "events": events,
    }


def _mark_damaged(jobs: pd.DataFrame, damaged: dict[str, str]) -> None:
    for job, reason in damaged.items():
        jobs.loc[jobs["job"] == job, ["status", "error"]] = ["damaged", reason]


def _damaged_notes(jobs: pd.DataFrame) -> list[str]:
    """One note per damaged job (at most 10), and what to do about them."""
    bad = jobs[jobs["status"] == "damaged"]
    if not len(bad):
        return []
    notes = [f"{j['job']}: damaged, left out of the tables: {j['error']}" for _, j in bad.head(10).iterrows()]
    if len(bad) > 10:
        notes.append(f"... and {len(bad) - 10} more damaged runs (jobs.csv lists them)")
    notes.append(f"{len(bad)} of {len(jobs)} runs are damaged (status damaged in jobs.csv); {REDO_DAMAGED}")
    return notes


def _nothing_collected(
    sweep: Path,
    jobs: pd.DataFrame,
    damaged: dict[str, str],
    every: dict[str, dict[str, str]],
    swept: list[str] | None,
    notes: list[str],
) -> NothingCollected:
    """The error for a sweep of which no run can be collected, with ``jobs`` filled in for ``jobs.csv``."""
    _mark_damaged(jobs, damaged)
    known = {j: s for j, s in every.items() if s}
    keys = group_columns(swept, compare_settings(known, swept)[0]) if known else []
    for k in keys:
        jobs[k] = _setting_column([_value(every[j], k) for j in jobs["job"]])
    counts = ", ".join(f"{n} {s}" for s, n in jobs["status"].value_counts().sort_index().items())
    what = "no run could be collected" if (jobs["status"] == "damaged").any() else "no run finished"
    return NothingCollected(f"{sweep}: {what} ({counts}); {_unfinished_hint(jobs, sweep)}", jobs, [*notes, *_damaged_notes(jobs)])


def pair_with_baseline_arm(
    sweep: Path,
    runs_summary: pd.DataFrame,
    keys: list[str],
    baseline: str = "baseline",
    intervention: str = "",
    summaries: dict[str, dict] | None = None,
    damaged: dict[str, str] | None = None,
) -> int:
    """Fill the effects of runs without their own counterfactual from the baseline arm at the same seed.

    Used for sweeps run with ``run.counterfactual=false`` that hold a ``baseline`` scenario: the
    baseline run with the same seed and the same other settings plays the counterfactual (common
    random numbers make the pair identical up to the start day). Cohort measures need the
    counterfactual's own cohort table and stay empty.

    Args:
        sweep: the sweep folder.
        runs_summary: one row per run (with ``job`` and the setting columns); filled in place.
        keys: the setting columns.
        baseline: the scenario that plays the counterfactual.
        intervention: the intervention whose effects are tabulated (empty: the first).
        summaries: each job's summary.json as already read (read from the folder where absent).
        damaged: where given, a run whose tables cannot be read is added to it (job: reason) and
            not paired; without it, the error is raised.

    Returns:
        How many runs were paired.
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
        if summaries is not None and r["job"] in summaries:
            summary = summaries[r["job"]]
        else:
            summary = json.loads(read_record(folder / "summary.json"))
        if summary.get("counterfactual", True) or not summary.get("interventions"):
            continue
        partner = index.get(tuple(r[k] for k in ["seed", *other]))
        record = chosen_effects(summary, intervention)
        if partner is None or record is None or (damaged is not None and partner in damaged):
            continue
        try:
            treated = _tables(folder)
        except READ_ERRORS as err:
            if damaged is None:
                raise
            damaged[r["job"]] = f"its tables cannot be read ({_one_line(err)})"
            continue
        try:
            cf = _tables(sweep / partner)
        except READ_ERRORS as err:
            if damaged is None:
                raise
            damaged[partner] = f"its tables cannot be read ({_one_line(err)})"
            continue
        try:
            e = pair_effects(treated, cf, record)
        except READ_ERRORS as err:
            if damaged is None:
                raise
            damaged[r["job"]] = f"its intervention record in summary.json cannot be used ({_one_line(err)})"
            continue
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
def write_collection(sweep: Path, report_cfg: dict | None = None, *, own_lock: str | None = None) -> Collected:
    """Collect ``sweep`` into ``collected/``; return the folder, every job's status and the notes.

    The files are written into a staging folder of this invocation, then moved into ``collected/``
    one by one. Only files that the previous collection recorded writing (``collection.json``) are
    replaced or removed; any other file there is never touched, and one in the way of a file to be
    written stops the collection before anything is moved. When no run can be collected, only
    ``jobs.csv`` (and ``collection.json``) are written, so that the reason is on disk, and
    :class:`NothingCollected` is raised. A collection started on its own (``own_lock`` None) holds
    the sweep folder's lock while it writes.

    Args:
        sweep: the sweep folder (``hydra.sweep.dir``).
        report_cfg: the ``report`` settings (default: those of the sweep's first job).
        own_lock: the token of the sweep that holds the folder's lock and collects it.

    Raises:
        NothingCollected: no run could be collected (``jobs.csv`` says why).
        ReportError: not a sweep folder, a sweep still running into it, a ``collected/`` that is
            not this program's, or a file of someone else's where the collection writes one.
    """
    sweep = Path(sweep)
    if sweep.is_file():
        raise ReportError(f"{sweep}: is a file; give the folder of a sweep")
    if not sweep.is_dir():
        raise ReportError(f"{sweep}: no such folder")
    holder = lock_holder(sweep)
    if holder and holder.get("token") != own_lock:
        if holder.get("purpose") == "collection":
            raise ReportError(f"{sweep}: another collection of it is under way (process {holder.get('pid')}); wait for it")
        raise ReportError(f"{sweep}: a sweep is still running into it (process {holder.get('pid')}); collect it when it ends")
    jobs = find_jobs(sweep)  # refuses a run folder or a folder without runs before anything is written
    if not os.access(sweep, os.W_OK | os.X_OK):
        raise ReportError(f"{sweep}: the folder is not writable; the collection writes {COLLECTED}/ into it")
    token = new_token()
    if own_lock is None:
        try:
            lock_sweep(sweep, token, purpose="collection")
        except FolderError as err:
            raise ReportError(str(err)) from None
    try:
        return _write_collection(sweep, report_cfg, jobs)
    finally:
        if own_lock is None:
            unlock_sweep(sweep, token)


def write_report(sweep: Path, report_cfg: dict | None = None, *, own_lock: str | None = None) -> Path:
    """Collect ``sweep`` into ``collected/`` and return that folder (see :func:`write_collection`).

    Raises:
        ReportError: as :func:`write_collection` (:class:`NothingCollected` when no run could be collected).
    """
    return write_collection(sweep, report_cfg, own_lock=own_lock).folder


def _write_collection(sweep: Path, report_cfg: dict | None, jobs: pd.DataFrame) -> Collected:
    final = sweep / COLLECTED
    previous = own_files(final)
    rc: dict[str, Any] = {
        "metrics": ["online_value_eur", "mean_trust_online", "harm"],
        "summary": ["online_volume_eur_per_day", "harm_per_day", "online_drop", "online_days_to_recovery"],
        "baseline": "baseline",
        "smooth_days": 7,
    }
    rc.update(report_cfg or _report_cfg_of(sweep))
    try:
        c = collect(sweep, str(rc.get("intervention") or ""), jobs)
    except NothingCollected as err:
        listed = err.jobs

        def write_jobs(stage: Path) -> None:  # the reason, on disk: nothing else to collect
            listed.to_csv(stage / "jobs.csv", index=False)

        place_files(sweep, final, previous, write_jobs, {"keys": [], "notes": err.notes, "runs": 0, "jobs": int(len(listed))})
        _print_notes(err.notes)
        raise
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

    def write(stage: Path) -> None:
        c["runs_daily"].to_parquet(stage / "runs_daily.parquet", index=False)
        rs.to_parquet(stage / "runs_summary.parquet", index=False)
        rs.to_csv(stage / "runs_summary.csv", index=False)
        c["jobs"].to_csv(stage / "jobs.csv", index=False)
        means.to_csv(stage / "scenario_means.csv", index=False)
        paired.to_csv(stage / "paired_differences.csv", index=False)
        from sim.figures import sweep_figures

        if rc.get("figures", True):
            sweep_figures(c["runs_daily"], rs, keys, rc, stage / "figures", events=c["events"])

    damaged = int((c["jobs"]["status"] == "damaged").sum())
    mark = {"keys": keys, "notes": c["notes"], "runs": int(len(rs)), "jobs": int(len(c["jobs"])), "damaged": damaged}
    place_files(sweep, final, previous, write, mark)
    _print_notes(c["notes"])
    return Collected(folder=final, jobs=c["jobs"], notes=c["notes"])


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        print(f"collection: {note}", file=sys.stderr)


def own_files(final: Path) -> set[str]:
    """The files of ``collected/`` that the previous collection wrote (paths relative to it, ``/``-separated).

    Read from the list in ``collection.json``. A collection made before the list was kept replaced
    the whole folder, so its own files are those no newer than its ``collection.json`` (written
    last); files added later are the user's.

    Raises:
        ReportError: ``collected/`` is a file or a symbolic link, holds a symbolic link, holds files but
            no ``collection.json`` (not this program's), or its ``collection.json`` cannot be read or
            names files outside the folder.
    """
    if final.is_symlink():
        raise ReportError(
            f"{final}: is a symbolic link; the collection writes only into a folder of its own: remove the link first"
        )
    if not final.exists():
        return set()
    links = sorted(p.relative_to(final).as_posix() for p in final.rglob("*") if p.is_symlink()) if final.is_dir() else []
    if links:
        raise ReportError(
            f"{final}: holds a symbolic link ({links[0]}); the collection writes and removes only its own files in its "
            "own folder: remove the link first"
        )
    if not final.is_dir():
        raise ReportError(f"{final}: is a file, not a folder; move it away first")
    mark_file = final / COLLECTION_MARK
    if not mark_file.is_file():
        if any(final.iterdir()):
            raise ReportError(f"{final}: exists and was not written by this program (no {COLLECTION_MARK}); move it away first")
        return set()
    try:
        mark = json.loads(read_record(mark_file))
    except (OSError, ValueError) as err:
        raise ReportError(
            f"{mark_file}: cannot be read ({_one_line(err)}); which files of {final} are the collection's is unknown: "
            "move the folder away first"
        ) from None
    files = mark.get("files") if isinstance(mark, dict) else None
    if files is None:
        return _files_of_an_old_collection(final, mark_file)
    if not isinstance(files, list) or not all(isinstance(f, str) and _is_inside(f) for f in files):
        raise ReportError(f"{mark_file}: its list of files names paths outside {final}; move the folder away first")
    return {*files, COLLECTION_MARK}


def _files_of_an_old_collection(final: Path, mark_file: Path) -> set[str]:
    # such a collection wrote the whole folder and its mark last: a file whose content or inode
    # changed later (mtime, ctime: a copy keeps the first, not the second) was put there since
    written = mark_file.stat().st_mtime_ns
    own = {COLLECTION_MARK}
    for p in final.rglob("*"):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            if max(st.st_mtime_ns, st.st_ctime_ns) <= written:
                own.add(p.relative_to(final).as_posix())
    return own


def _is_inside(rel: str) -> bool:
    path = PurePosixPath(rel)
    return bool(path.parts) and not path.is_absolute() and ".." not in path.parts and "\\" not in rel


def place_files(sweep: Path, final: Path, previous: set[str], write: Any, mark: dict) -> list[str]:
    """Write files with ``write(stage)`` into a staging folder, then move them into ``final``.

    Only files in ``previous`` (the previous collection's own) are replaced, or removed when this
    collection does not write them again; a file of another name in the way stops everything
    before a file is moved. While files are moved, ``collection.json`` lists the old and the new
    own files, so an interrupted collection never leaves a file of its own unlisted. Returns the
    files written (relative paths), as ``collection.json`` lists them.

    Raises:
        ReportError: a file that is not the previous collection's is where one is to be written.
    """
    stage = sweep / f".{COLLECTED}-{new_token()}"
    stage.mkdir()
    try:
        write(stage)
        files = sorted({*(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file()), COLLECTION_MARK})
        for rel in files:
            _check_free(final, rel, previous)
        final.mkdir(exist_ok=True)
        write_json_atomic(final / COLLECTION_MARK, {**mark, "files": sorted(previous | set(files)), "state": "being replaced"})
        for rel in files:
            if rel != COLLECTION_MARK:
                target = final / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(stage / rel, target)
        for rel in sorted(previous - set(files)):
            _remove_own(final, rel)
        write_json_atomic(final / COLLECTION_MARK, {**mark, "files": files})
    finally:
        shutil.rmtree(stage, ignore_errors=True)  # this invocation's own staging folder
    return files


def _check_free(final: Path, rel: str, previous: set[str]) -> None:
    """Refuse when something that is not the previous collection's own file is where ``rel`` goes."""
    parts = PurePosixPath(rel).parts
    for i in range(1, len(parts)):
        folder = final.joinpath(*parts[:i])
        if (folder.exists() or folder.is_symlink()) and not folder.is_dir():
            raise ReportError(
                f"{folder}: is a file where the collection writes the folder {'/'.join(parts[:i])}; it is never "
                "overwritten: move it away, then collect again"
            )
    target = final.joinpath(*parts)
    if target.is_dir() and not target.is_symlink():
        raise ReportError(f"{target}: is a folder where the collection writes a file; move it away, then collect again")
    if rel not in previous and (target.exists() or target.is_symlink()):
        raise ReportError(
            f"{target}: is not a file of this program's collection, and the collection writes a file of that name; "
            "it is never overwritten: rename or move it, then collect again"
        )


def _remove_own(final: Path, rel: str) -> None:
    """Remove a file of the previous collection, and the folders it leaves empty (never a non-empty one)."""
    path = final.joinpath(*PurePosixPath(rel).parts)
    if path.is_symlink() or path.is_file():
        path.unlink()
    parent = path.parent
    while parent != final and final in parent.parents:
        try:
            parent.rmdir()  # only an empty folder
        except OSError:
            break
        parent = parent.parent


def _report_cfg_of(sweep: Path) -> dict:
    """The ``report`` section of the first readable job's composed config (set by the experiment file)."""
    for cfg_file in sorted(sweep.glob("*/.hydra/config.yaml")):  # job folders only: never a walk of the tree
        try:
            cfg = yaml.safe_load(read_record(cfg_file)) or {}
        except (OSError, ValueError, yaml.YAMLError):
            continue  # a damaged job: the collection lists it
        report = cfg.get("report") if isinstance(cfg, dict) else None
        return dict(report) if isinstance(report, dict) else {}
    return {}


def print_status(jobs: pd.DataFrame, out: Path, details: bool = True) -> None:
    """Say how many jobs were collected and, with ``details``, which did not finish (on standard error)."""
    n, done = len(jobs), int((jobs.status == "finished").sum())
    print(f"collected {done} of {n} jobs into {out}")
    for _, j in jobs[jobs.status != "finished"].iterrows() if details else []:
        print(f"  {j['status']}: {j['job']}: {j['error']}", file=sys.stderr)


# ----------------------------------------------------------------------------- Hydra callback
class CollectRuns(Callback):
    """Hydra callback: collect the sweep when it ends (progress and checks: :mod:`sim.callbacks`).

    A collection that fails, is refused, or leaves damaged runs out is recorded in
    :data:`sim.callbacks.COLLECTION_ERRORS`, which makes the sweep exit 1; a collection of which
    no run finished is not (the sweep lists its failed jobs and exits 1 for them).
    """

    def on_multirun_end(self, config, **kwargs) -> None:
        """Collect the sweep folder into ``collected/``."""
        from sim.callbacks import COLLECTION_ERRORS, read_sweep

        sweep = Path(config.hydra.sweep.dir)
        try:
            out = write_report(sweep, dict(config.get("report") or {}), own_lock=read_sweep(sweep).get("token"))
            jobs = pd.read_csv(out / "jobs.csv", dtype={"job": str, "status": str, "error": str}, keep_default_na=False)
            print_status(jobs, out, details=False)  # the guard lists what did not finish
        except NothingCollected as err:
            print(f"collection: {err}", file=sys.stderr)
            jobs = err.jobs
        except ReportError as err:
            print(f"collection: {err}", file=sys.stderr)
            COLLECTION_ERRORS.append(f"{err}; collect again with: python -m sim.report {sweep}")
            return
        except Exception as err:  # noqa: BLE001 - a bug: say so, and make the sweep exit 1 (sim.callbacks)
            import traceback

            traceback.print_exc()
            COLLECTION_ERRORS.append(f"{type(err).__name__}: {err}; collect again with: python -m sim.report {sweep}")
            print(f"collection: FAILED: {COLLECTION_ERRORS[-1]}", file=sys.stderr)
            return
        bad = jobs[jobs["status"] == "damaged"]
        if len(bad):  # their status.json says finished: the guard would not count them
            first = bad.iloc[0]
            COLLECTION_ERRORS.append(
                f"{len(bad)} damaged runs were left out of the collection (jobs.csv lists them; first: "
                f"{first['job']}: {first['error']}); {REDO_DAMAGED}"
            )


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
    if (jobs.status == "damaged").any():
        hints.append(f"jobs.csv gives each damaged run's reason; {REDO_DAMAGED}")
    hints.append(f"{sweep / COLLECTED / 'jobs.csv'} lists every job with its status and error")
    return "; ".join(hints)


def end_interrupted_sweep() -> None:
    """After Ctrl-C: release the sweep's lock and collect what finished (jobs.csv lists the rest)."""
    from sim.callbacks import CURRENT_SWEEP

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
        (sweep / f".progress-{token}").unlink(missing_ok=True)  # this invocation's own job counter
        unlock_sweep(sweep, token)


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.report SWEEP``: collect a sweep folder again.

    Returns:
        0 when every job is collected; 1 when some did not finish or are damaged (the others are
        collected), or none could be collected (``jobs.csv`` says why); 2 with a one-line message
        when the folder cannot be collected (bad input: nothing written).
    """
    parser = argparse.ArgumentParser(
        prog="python -m sim.report", description="Collect the runs of a sweep folder into tables and figures."
    )
    parser.add_argument("sweep", type=Path, help="sweep folder (hydra.sweep.dir), e.g. outputs/experiments/takedown_recovery")
    args = parser.parse_args(argv)
    try:
        done = write_collection(args.sweep)
    except NothingCollected as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except PermissionError as err:  # a folder this user may not read or write: bad input, one line
        print(f"error: {err.filename or args.sweep}: permission denied ({err.strerror})", file=sys.stderr)
        return 2
    except OSError as err:  # the disk, not the input (full, gone): one line, and not status 2
        print(f"error: {args.sweep}: the collection stopped: {err.strerror or err} ({err.filename or ''})", file=sys.stderr)
        return 1
    jobs = done.jobs
    print_status(jobs, done.folder)
    damaged = int((jobs.status == "damaged").sum())
    unfinished = int((jobs.status != "finished").sum()) - damaged
    if unfinished:
        print(f"{unfinished} of {len(jobs)} jobs did not finish (see jobs.csv)", file=sys.stderr)
    if damaged:
        print(f"{damaged} of {len(jobs)} jobs are damaged and were left out of the tables (see jobs.csv)", file=sys.stderr)
    return 1 if unfinished or damaged else 0


if __name__ == "__main__":
    sys.exit(main())
