"""Calibration: ``python -m sim.calibrate`` searches the free parameters with Optuna.

What it does (docs/calibration.md):

* The parameters searched and their ranges, and the published patterns of the objective, are in
  ``sim/data/parameters.yaml`` (``calibration``). Every other pattern of ``sim/data/targets.yaml``
  is held out of the objective and is an out-of-sample check in the validation report.
* **Objective** of a trial (a point in parameter space): the baseline is run at the same seeds for
  every trial (common random numbers); each objective pattern's simulated analogue is averaged
  over seeds (``sim.validate``: mean, Kaplan-Meier median where censored), and its distance from
  the published band is ``max(0, low - x, x - high) / (high - low)`` (0 inside the band; 1 where
  the run gives no value). The objective is the mean of the patterns' distances (a pattern with
  several parts, e.g. one price premium per substance, counts once, as the mean of its parts).
* **Search**: Optuna's TPE sampler (multivariate, constant liar for parallel batches, seeded), with
  the current defaults as the first trial. Trials are asked in batches; a batch runs as one Hydra
  sweep through ``run.py`` (:mod:`sim.design`), so the launcher is any of the sweeps' (joblib on
  one machine, Submitit/SLURM or Ray on a cluster).
* **Resumable**: the study lives in the output folder (``optuna.log``, Optuna's journal storage); a
  rerun into the same folder with the same settings continues it: finished trials are kept,
  trials of an interrupted batch are rerun (their finished jobs are skipped by the sweep).
* A trial whose every job failed is told to Optuna as failed; the others go on; the command exits 1
  if any job failed.

Outputs: ``trials.csv`` (every trial: parameters, objective, each pattern's distance and value),
``best.yaml`` (the best trial as a design-point file), ``calibration.md`` and
``figures/calibration.png``, plus each batch's sweep (``runs/batch_NNN``) with its collection.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.design import (
    DesignError,
    Parameter,
    PointRun,
    add_launcher_args,
    apply_quick,
    calibration_spec,
    check_out,
    check_record,
    fmt,
    launcher_problems,
    point_text,
    read_point_runs,
    remove_if_new,
    run_points,
    seed_problems,
    update_record,
    write_points,
)
from sim.validate import ROOT, TARGETS_FILE, _purity_units, pattern_table

RECORD = "calibrate.json"
OWN = {RECORD, "optuna.log", "points", "runs", "trials.csv", "best.yaml", "calibration.md", "figures"}
STUDY = "calibration"


# ----------------------------------------------------------------------------- objective
def band_distance(x: float, low: float, high: float) -> float:
    """Distance of ``x`` from the band [low, high], in band widths (0 inside; 1 for no value).

    A band open above (``high`` infinite) is measured in units of ``max(|low|, 1)``.
    """
    if x is None or not math.isfinite(x):
        return 1.0
    width = high - low if math.isfinite(high) else max(abs(low), 1.0)
    return float(max(0.0, low - x, x - high) / width)


def pattern_distances(table: pd.DataFrame, objective: list[str]) -> dict[str, float]:
    """Each objective pattern's distance: the mean over its parts of :func:`band_distance`."""
    out = {}
    for pid in objective:
        rows = table[table.pattern == pid]
        out[pid] = (
            float(np.mean([band_distance(r["mean"], r["low"], r["high"]) for _, r in rows.iterrows()])) if len(rows) else 1.0
        )
    return out


def objective_value(distances: dict[str, float]) -> float:
    """The objective: the mean distance over the objective's patterns."""
    return float(np.mean(list(distances.values())))


def evaluate(runs: list[PointRun], point: str, targets: list[dict], objective: list[str], units: dict[str, str]):
    """(objective, distances, pattern means) of one point from its finished runs; None without runs."""
    mine = [pr.run for pr in runs if pr.point == point]
    if not mine:
        return None
    table, _ = pattern_table(mine, [t for t in targets if t["id"] in objective], units)
    distances = pattern_distances(table, objective)
    means = {f"{r['pattern']}{'.' + r['part'] if r['part'] else ''}": r["mean"] for _, r in table.iterrows()}
    return objective_value(distances), distances, means


# ----------------------------------------------------------------------------- the study
def make_study(out: Path, params: list[Parameter], seed: int):
    """The Optuna study stored in ``out/optuna.log`` (created, or loaded to resume)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(out / "optuna.log")))
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True, n_startup_trials=10)
    study = optuna.create_study(study_name=STUDY, storage=storage, sampler=sampler, direction="minimize", load_if_exists=True)
    if not study.trials:  # the current defaults first: the best found is never worse than them
        study.enqueue_trial({p.key: p.default for p in params})
    return study


def distributions(params: list[Parameter]) -> dict:
    """Optuna's search space: a float range per parameter (log scale where the file says so)."""
    from optuna.distributions import FloatDistribution

    return {p.key: FloatDistribution(p.low, p.high, log=p.log) for p in params}


def next_batch(study, params: list[Parameter], batch: int, n_trials: int) -> list[tuple[int, dict[str, float]]]:
    """Trials to run now: those of an interrupted batch first, else up to ``batch`` new ones."""
    from optuna.trial import TrialState

    running = [(t.number, t.params) for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
    if running:
        return running
    done = sum(t.state in (TrialState.COMPLETE, TrialState.FAIL) for t in study.get_trials(deepcopy=False))
    space = distributions(params)
    out = []
    for _ in range(min(batch, n_trials - done)):
        trial = study.ask(space)
        out.append((trial.number, {p.key: trial.params[p.key] for p in params}))
    return out


def trial_name(number: int) -> str:
    """The design-point name of a trial."""
    return f"t{number:04d}"


# ----------------------------------------------------------------------------- command
def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked (argparse exits 2 with a message on bad values)."""
    p = argparse.ArgumentParser(
        prog="python -m sim.calibrate",
        description="Calibrate the free parameters (sim/data/parameters.yaml) against the published patterns with Optuna.",
    )
    p.add_argument("--trials", type=int, default=48, help="trials in all, the defaults' included (default 48)")
    p.add_argument("--batch", type=int, default=8, help="trials asked and run together as one sweep (default 8)")
    p.add_argument("--seeds", type=int, default=2, help="seeds per trial, the same for every trial (default 2)")
    p.add_argument("--buyers", type=int, default=10000, help="buyers in the population (default 10000)")
    p.add_argument("--days", type=int, default=1095, help="days simulated (default 1095: the adoption pattern needs three years)")
    p.add_argument("--sampler-seed", type=int, default=0, help="seed of Optuna's sampler (default 0)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default outputs/calibration/<date>_<time>)")
    add_launcher_args(p)
    p.add_argument(
        "--quick", action="store_true", help="a tiny study to try the command (4 trials, 1 seed, 1,000 buyers, 200 days)"
    )
    args = p.parse_args(argv)
    if args.quick:
        apply_quick(p, args, {"trials": 4, "batch": 2, "seeds": 1, "buyers": 1000, "days": 200})
    problems = launcher_problems(args) + seed_problems("--sampler-seed", args.sampler_seed)
    for name, least in (("trials", 1), ("batch", 1), ("seeds", 1), ("buyers", 500), ("days", 100)):
        if getattr(args, name) < least:
            problems.append(f"--{name} {getattr(args, name)}: at least {least}")
    if problems:
        p.error("; ".join(problems))
    if args.out is None:
        args.out = ROOT / "outputs" / "calibration" / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the study and write its report; exit 1 if a job failed, 2 on bad input."""
    from optuna.trial import TrialState

    from sim.runner import code_hash, git_revision

    args = parse(argv)
    out = args.out.resolve()
    existed = out.exists()
    try:
        params, objective = calibration_spec()
        settings = {
            "parameters": [[p.key, p.low, p.high, p.log] for p in params],
            "objective": objective,
            # not --trials: a rerun with more trials extends the same study
            "batch": args.batch,
            "seeds": args.seeds,
            "buyers": args.buyers,
            "days": args.days,
            "sampler_seed": args.sampler_seed,
        }
        check_out(out, OWN)
        check_record(out, RECORD, settings)
    except DesignError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: --out {out}: cannot be made ({err.strerror}); give a writable folder", file=sys.stderr)
        return 2
    targets = yaml.safe_load(TARGETS_FILE.read_text())
    units = _purity_units()
    study = make_study(out, params, args.sampler_seed)
    base = ["scenario=baseline", f"model.n_buyers={args.buyers}", f"run.days={args.days}"]
    failed_jobs = 0
    while True:
        trials = next_batch(study, params, args.batch, args.trials)
        if not trials:
            break
        batch_id = min(n for n, _ in trials) // args.batch
        names = {trial_name(n): values for n, values in trials}
        try:
            points_dir = write_points(out, names)
        except DesignError as err:
            print(f"error: {err}", file=sys.stderr)
            remove_if_new(out, existed)
            return 2
        sweep = out / "runs" / f"batch_{batch_id:03d}"
        done = sum(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
        print(f"[calibrate] trials {min(names)}..{max(names)} ({done} of {args.trials} done before)", file=sys.stderr)
        code = run_points(sweep, points_dir, list(names), args.seeds, base, args.launcher, args.jobs, args.launcher_arg)
        if code == 2:
            print(f"error: the sweep into {sweep} was refused (message above); nothing ran", file=sys.stderr)
            remove_if_new(out, existed)  # a first attempt leaves nothing; a resumed study keeps its trials
            return 2
        runs, jobs = read_point_runs(sweep)
        failed_jobs += int((jobs.status != "finished").sum()) if len(jobs) else 0
        for number, _values in trials:
            got = evaluate(runs, trial_name(number), targets, objective, units)
            if got is None:
                study.tell(number, state=TrialState.FAIL)
                continue
            study.tell(number, got[0])
    all_runs = [pr for sweep in sorted((out / "runs").glob("batch_*")) for pr in read_point_runs(sweep)[0]]
    trials_df = trial_table(study, params, all_runs, targets, objective, units)
    trials_df.to_csv(out / "trials.csv", index=False)
    complete = trials_df[trials_df.state == "COMPLETE"]
    if complete.empty:
        print("error: no trial finished (see runs/*/collected/jobs.csv)", file=sys.stderr)
        return 1
    best = complete.loc[complete.objective.idxmin()]
    best_text = point_text({p.key: float(best[p.key]) for p in params})
    (out / "best.yaml").write_text(best_text)
    (out / "points" / "point" / "best.yaml").write_text(best_text)  # +point=best on the study's search path
    info = {
        "command": "python -m sim.calibrate " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": dt.date.today().isoformat(),
        "git_revision": git_revision(),
        "code_hash": code_hash(),
        "trials_complete": int(len(complete)),
        "trials_failed": int((trials_df.state == "FAIL").sum()),
        "best_trial": int(best["number"]),
        "best_objective": float(best["objective"]),
        "defaults_objective": float(trials_df.loc[trials_df.number == 0, "objective"].iloc[0])
        if (trials_df.number == 0).any()
        else math.nan,
    }
    update_record(out, RECORD, **info)
    write_report(out / "calibration.md", trials_df, params, objective, targets, info, args)
    calibration_figure(trials_df, params, out / "figures")
    print(
        f"best trial {info['best_trial']}: objective {info['best_objective']:.4f} "
        f"(defaults: {info['defaults_objective']:.4f}); report: {out / 'calibration.md'}"
    )
    if failed_jobs:
        print(f"{failed_jobs} jobs did not finish (see {out}/runs/*/collected/jobs.csv)", file=sys.stderr)
        return 1
    return 0


def trial_table(study, params: list[Parameter], runs: list[PointRun], targets, objective, units) -> pd.DataFrame:
    """Every trial: number, state, parameters, objective, and each pattern's distance and value (from its runs)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"number": t.number, "state": t.state.name, "objective": t.value}
        row.update({p.key: t.params.get(p.key) for p in params})
        got = evaluate(runs, trial_name(t.number), targets, objective, units) if t.state.name == "COMPLETE" else None
        if got is not None:
            row.update({f"distance.{k}": v for k, v in got[1].items()})
            row.update({f"value.{k}": v for k, v in got[2].items()})
        rows.append(row)
    return pd.DataFrame(rows).sort_values("number").reset_index(drop=True)


def write_report(path: Path, trials: pd.DataFrame, params: list[Parameter], objective: list[str], targets, info, args) -> None:
    """calibration.md: the study's record, the best point against the defaults, the patterns."""
    complete = trials[trials.state == "COMPLETE"]
    best = complete.loc[complete.objective.idxmin()]
    default = trials[trials.number == 0].iloc[0] if (trials.number == 0).any() else None
    held_out = [t["id"] for t in targets if t["id"] not in objective]
    lines = [
        "# Calibration",
        "",
        f"Made by `{info['command']}` on {info['date']} at commit `{info['git_revision']}`: {info['trials_complete']} trials "
        f"complete, {info['trials_failed']} failed; {args.seeds} seed(s) per trial (the same for every trial), "
        f"{args.buyers} buyers, {args.days} days, baseline scenario. Best trial {info['best_trial']}, objective "
        f"{fmt(info['best_objective'])} (the defaults, trial 0: {fmt(info['defaults_objective'])}).",
        "",
        "## Parameters",
        "",
        "| parameter | range | default (trial 0) | best |",
        "|---|---|---|---|",
    ]
    for p in params:
        scale = ", log scale" if p.log else ""
        lines.append(f"| {p.key} | {fmt(p.low)} to {fmt(p.high)}{scale} | {fmt(p.default)} | {fmt(best[p.key], 4)} |")
    lines += [
        "",
        "## Patterns of the objective (distance from the band, in band widths; 0 = inside; 1 also where the runs gave no value)",
        "",
        "| pattern | distance, defaults | distance, best |",
        "|---|---|---|",
    ]
    for pid in objective:
        d0 = default.get(f"distance.{pid}") if default is not None else math.nan
        lines.append(f"| {pid} | {fmt(d0)} | {fmt(best.get(f'distance.{pid}'))} |")
    lines += ["", f"Held out of the objective (out-of-sample checks in the validation report): {', '.join(held_out)}.", ""]
    path.write_text("\n".join(lines) + "\n")


def calibration_figure(trials: pd.DataFrame, params: list[Parameter], folder: Path) -> None:
    """The objective by trial (with the running best) and against each parameter; PNG and PDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    done = trials[trials.state == "COMPLETE"]
    ncol = 4
    nrow = 1 + math.ceil(len(params) / ncol)
    fig = plt.figure(figsize=(3.2 * ncol, 2.6 * nrow))
    ax = fig.add_subplot(nrow, 1, 1)
    ax.plot(done.number, done.objective, "o", ms=3, color="0.5", label="trial")
    ax.plot(done.number, done.objective.cummin(), "-", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("objective (mean distance\nfrom the bands, band widths)")
    ax.set_title(f"Calibration: {len(done)} trials")
    ax.legend(frameon=False, fontsize=8)
    best = done.loc[done.objective.idxmin()]
    for i, p in enumerate(params):
        a = fig.add_subplot(nrow, ncol, ncol + 1 + i)
        a.plot(done[p.key], done.objective, "o", ms=3, color="0.5")
        a.axvline(p.default, color="C0", lw=1, label="default")
        a.axvline(best[p.key], color="C3", lw=1, ls="--", label="best")
        if p.log:
            a.set_xscale("log")
        a.set_xlabel(p.name, fontsize=8)
        a.tick_params(labelsize=7)
        if i % ncol == 0:
            a.set_ylabel("objective")
        if i == 0:
            a.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(folder / f"calibration.{ext}", dpi=150)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
