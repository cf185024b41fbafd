"""Scenario discovery: ``python -m sim.discover`` (PRIM from the EMA workbench; docs/scenario_discovery.md).

A policy analyst's question becomes a yes/no case per run ("did the takedown fail to keep online
trade down for more than 30 days?"). The command draws an ensemble of points over every uncertain
parameter of ``sim/data/parameters.yaml`` (a Latin hypercube, scipy's ``qmc``; log scale where the
file says so), runs each with the question's intervention and its counterfactual at the same seeds
(common random numbers; a sweep of design points through ``run.py``, :mod:`sim.design`, any
launcher), marks each run as a case of interest or not, and lets PRIM (Friedman & Fisher 1999, the
EMA workbench's ``prim``) find the box of parameter ranges where the cases concentrate.

The box reported is, on PRIM's peeling trajectory, the one of highest density among those that
cover at least ``--min-coverage`` of the cases (the least restricted one where several tie):

* coverage: share of all cases of interest that fall in the box;
* density: share of the runs in the box that are cases of interest;
* mass: share of all runs in the box;
* for each restricted parameter its range in the box and PRIM's quasi-p value (how likely a
  restriction this good is by chance).

A rerun with the same settings skips finished jobs; failed jobs are recorded, the rest run, the
runs without a value are left out of PRIM (and counted), and the command exits 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.design import (
    DesignError,
    Parameter,
    add_launcher_args,
    apply_quick,
    check_out,
    check_record,
    fmt,
    launcher_problems,
    load_parameters,
    outcome_table,
    read_point_runs,
    remove_if_new,
    run_points,
    seed_problems,
    update_record,
    write_points,
)
from sim.validate import ROOT

#: the interventions start on day 365; 90-day displacement needs 90 days after it, recovery 36
MIN_DAYS = 460
RECORD = "discover.json"
OWN = {RECORD, "points", "runs", "ensemble.csv", "peeling.csv", "box.csv", "scenario_discovery.md", "figures"}


@dataclass(frozen=True)
class Question:
    """A yes/no question about each run: the scenario it needs and the rule that marks a case."""

    scenario: str
    text: str
    case: str
    #: the outcome (sim.design.OUTCOMES) the rule reads: runs without it are left out
    outcome: str
    is_case: Callable[[pd.DataFrame], pd.Series]


QUESTIONS = {
    "takedown_fails": Question(
        "takedown",
        "Under which conditions does a takedown of the largest cryptomarket fail to bring online trade down for more than 30 days?",
        "online volume is back at 90% of the counterfactual's within 30 days and stays there (days_to_recovery <= 30)",
        "days_to_recovery",
        lambda t: t["days_to_recovery"] <= 30,
    ),
    "nps_ban_raises_harm": Question(
        "nps_ban",
        "When does a blanket NPS ban raise harm?",
        "harm over the year from the ban is above the counterfactual's (harm_change > 0)",
        "harm_change",
        lambda t: t["harm_change"] > 0,
    ),
}


def sample_points(params: list[Parameter], n: int, seed: int) -> dict[str, dict[str, float]]:
    """``n`` points of a Latin hypercube over the parameters' ranges, named ``d0000`` ..."""
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=len(params), seed=seed).random(n)
    return {f"d{i:04d}": {p.key: p.from_unit(float(u)) for p, u in zip(params, row)} for i, row in enumerate(unit)}


def find_box(x: pd.DataFrame, y: np.ndarray, min_coverage: float) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """PRIM's peeling trajectory, the step reported, and its box (each parameter: range and quasi-p).

    The densest box with at least ``min_coverage`` is chosen on the trajectory, then its
    restrictions that are not significant (quasi-p above :data:`QP_MAX`) are dropped one by one
    (PRIM's usual simplification; each drop adds a step to the trajectory), so the box names only
    the conditions that matter.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        box = prim.Prim(x, y, peel_alpha=0.05, paste_alpha=0.05, mass_min=0.05).find_box()
        trajectory = box.peeling_trajectory
        eligible = trajectory[trajectory.coverage >= min_coverage]
        best = eligible[eligible.density == eligible.density.max()]
        step = int(best["id"].iloc[0])
        limits = _limits(box, step)
        for name in limits.index[(limits["qp_value"] > QP_MAX).to_numpy()]:
            box.drop_restriction(name, i=step)
            step = len(box.peeling_trajectory) - 1
        limits = _limits(box, step)
        trajectory = box.peeling_trajectory.copy()
    rows = []
    for name, r in limits.iterrows():
        rows.append(
            {
                "parameter": name,
                "box_min": float(r["min"]),
                "box_max": float(r["max"]),
                "range_min": float(x[name].min()),
                "range_max": float(x[name].max()),
                "qp_value": float(r["qp_value"]),
            }
        )
    return trajectory, step, pd.DataFrame(rows)


#: restrictions of the box less significant than this quasi-p value are dropped
QP_MAX = 0.05


def _limits(box, step: int) -> pd.DataFrame:
    """The restricted parameters of a box on the trajectory: min, max and the smaller quasi-p value."""
    _stats, limits = box.inspect(step, style="data")[0]
    limits.columns = ["min", "max", "qp_low", "qp_high"]
    limits["qp_value"] = limits[["qp_low", "qp_high"]].min(axis=1)
    return limits


# ----------------------------------------------------------------------------- command
def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked (argparse exits 2 with a message on bad values)."""
    p = argparse.ArgumentParser(
        prog="python -m sim.discover",
        description="Scenario discovery: PRIM boxes of parameter ranges where a policy question's answer is yes.",
    )
    p.add_argument(
        "--question", choices=sorted(QUESTIONS), default="takedown_fails", help="the question (default takedown_fails)"
    )
    p.add_argument("--points", type=int, default=200, help="points of the Latin hypercube (default 200)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per point, the same for every point (default 1)")
    p.add_argument("--buyers", type=int, default=10000, help="buyers in the population (default 10000)")
    p.add_argument("--days", type=int, default=730, help="days simulated; the intervention is on day 365 (default 730)")
    p.add_argument("--min-coverage", type=float, default=0.5, help="least coverage of the box reported (default 0.5)")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of the Latin hypercube (default 0)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default outputs/discovery/<date>_<time>)")
    add_launcher_args(p)
    p.add_argument("--quick", action="store_true", help="a tiny ensemble to try the command (12 points, 2,000 buyers, 460 days)")
    args = p.parse_args(argv)
    if args.quick:
        apply_quick(p, args, {"points": 12, "seeds": 1, "buyers": 2000, "days": 460})
    problems = launcher_problems(args) + seed_problems("--sample-seed", args.sample_seed)
    for name, least in (("points", 10), ("seeds", 1), ("buyers", 500)):
        if getattr(args, name) < least:
            problems.append(f"--{name} {getattr(args, name)}: at least {least}")
    if args.days < MIN_DAYS:
        problems.append(
            f"--days {args.days}: at least {MIN_DAYS} (the intervention is on day 365; recovery needs 36 days, displacement 90)"
        )
    if not 0 < args.min_coverage <= 1:
        problems.append(f"--min-coverage {args.min_coverage}: a share in (0, 1]")
    if problems:
        p.error("; ".join(problems))
    if args.out is None:
        args.out = ROOT / "outputs" / "discovery" / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the ensemble, find the box and write the report; exit 1 if a job failed, 2 on bad input."""
    from sim.runner import code_hash, git_revision

    args = parse(argv)
    out = args.out.resolve()
    existed = out.exists()
    question = QUESTIONS[args.question]
    try:
        params = load_parameters()
        settings = {k: getattr(args, k) for k in ("question", "points", "seeds", "buyers", "days", "sample_seed")}
        settings["parameters"] = [[p.key, p.low, p.high, p.log] for p in params]
        check_out(out, OWN)
        check_record(out, RECORD, settings)
        points = sample_points(params, args.points, args.sample_seed)
        points_dir = write_points(out, points)
        base = [f"scenario={question.scenario}", f"model.n_buyers={args.buyers}", f"run.days={args.days}"]
        code = run_points(out / "runs", points_dir, list(points), args.seeds, base, args.launcher, args.jobs, args.launcher_arg)
        if code == 2:
            raise DesignError(f"the sweep into {out / 'runs'} was refused (message above)")
    except DesignError as err:
        print(f"error: {err}", file=sys.stderr)
        remove_if_new(out, existed)
        return 2
    except OSError as err:
        print(f"error: --out {out}: cannot be written ({err.strerror}); give a writable folder", file=sys.stderr)
        return 2
    runs, jobs = read_point_runs(out / "runs")
    failed = int((jobs.status != "finished").sum())
    table = outcome_table(runs, points)
    case = question.is_case(table)
    valid = table[question.outcome].notna()
    table["case"] = case.where(valid)
    table.to_csv(out / "ensemble.csv", index=False)
    used = table[valid]
    keys = [p.key for p in params]
    info: dict[str, Any] = {
        "command": "python -m sim.discover " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": dt.date.today().isoformat(),
        "git_revision": git_revision(),
        "code_hash": code_hash(),
        "question": question.text,
        "case": question.case,
        "runs": int(len(table)),
        "runs_used": int(len(used)),
        "cases": int(used["case"].sum()) if len(used) else 0,
        "failed_jobs": failed,
    }
    if len(used) < 10 or info["cases"] == 0 or info["cases"] == len(used):
        info["note"] = f"PRIM needs cases and non-cases: {info['cases']} cases of {len(used)} runs with a value; no box"
        update_record(out, RECORD, **info)
        write_report(out / "scenario_discovery.md", info, None, None, None, params, args)
        print(f"note: {info['note']}", file=sys.stderr)
        return 1
    x = used[keys].reset_index(drop=True)
    trajectory, step, box = find_box(x, used["case"].to_numpy(dtype=bool), args.min_coverage)
    chosen = trajectory[trajectory["id"] == step].iloc[0]
    info.update(box_step=step, coverage=float(chosen.coverage), density=float(chosen.density), mass=float(chosen.mass))
    info["base_rate"] = info["cases"] / info["runs_used"]
    trajectory.to_csv(out / "peeling.csv", index=False)
    box.to_csv(out / "box.csv", index=False)
    update_record(out, RECORD, **info)
    write_report(out / "scenario_discovery.md", info, trajectory, step, box, params, args)
    discovery_figure(trajectory, step, box, x, used["case"].to_numpy(dtype=bool), out / "figures", info)
    print(
        f"box at step {step}: coverage {info['coverage']:.2f}, density {info['density']:.2f} "
        f"(base rate {info['base_rate']:.2f}); report: {out / 'scenario_discovery.md'}"
    )
    if failed:
        print(f"{failed} jobs did not finish (see {out}/runs/collected/jobs.csv)", file=sys.stderr)
        return 1
    return 0


def restricted(box: pd.DataFrame) -> pd.DataFrame:
    """The parameters the box restricts (its range narrower than the ensemble's)."""
    tol = 1e-9 * (box["range_max"] - box["range_min"]).abs()
    return box[(box["box_min"] > box["range_min"] + tol) | (box["box_max"] < box["range_max"] - tol)]


def write_report(path: Path, info: dict, trajectory, step, box, params, args) -> None:
    """scenario_discovery.md: the question, the ensemble, the box with coverage, density and quasi-p values."""
    lines = [
        "# Scenario discovery",
        "",
        f"**Question**: {info['question']} A run is a case when {info['case']}.",
        "",
        f"Made by `{info['command']}` on {info['date']} at commit `{info['git_revision']}`: a Latin hypercube of "
        f"{args.points} points over the {len(params)} parameters of `sim/data/parameters.yaml`, {args.seeds} seed(s) per point "
        f"(the same for every point), {args.buyers} buyers, {args.days} days, intervention on day 365 with its counterfactual. "
        f"Runs that finished: {info['runs']} of {args.points * args.seeds}; with a value: {info['runs_used']}; cases: {info['cases']}; failed jobs: {info['failed_jobs']}.",
        "",
    ]
    if box is None:
        lines += [info.get("note", ""), ""]
        path.write_text("\n".join(lines) + "\n")
        return
    lines += [
        f"Base rate (share of runs that are cases): {fmt(info['base_rate'])}. The box (PRIM step {step}: the densest "
        f"with coverage at least {args.min_coverage}, then its restrictions with quasi-p above {QP_MAX} dropped): coverage {fmt(info['coverage'])}, density {fmt(info['density'])}, "
        f"mass {fmt(info['mass'])}.",
        "",
        "| parameter | box | ensemble range | quasi-p |",
        "|---|---|---|---|",
    ]
    for _, r in restricted(box).iterrows():
        lines.append(
            f"| {r['parameter']} | {fmt(r['box_min'])} to {fmt(r['box_max'])} | {fmt(r['range_min'])} to {fmt(r['range_max'])} | "
            f"{fmt(r['qp_value'], 2)} |"
        )
    lines += ["", "Every other parameter is unrestricted. The peeling trajectory is in `peeling.csv`.", ""]
    path.write_text("\n".join(lines) + "\n")


def discovery_figure(
    trajectory: pd.DataFrame, step: int, box: pd.DataFrame, x: pd.DataFrame, y: np.ndarray, folder: Path, info
) -> None:
    """Coverage against density along the peeling trajectory, and the runs in the two most restricted dimensions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2))
    sc = a.scatter(trajectory.coverage, trajectory.density, c=trajectory.res_dim, cmap="viridis", s=18)
    chosen = trajectory[trajectory["id"] == step].iloc[0]
    a.plot([chosen.coverage], [chosen.density], "o", mfc="none", mec="C3", ms=12, label=f"box reported (step {step})")
    a.axhline(info["base_rate"], color="0.5", ls=":", lw=1, label=f"base rate {info['base_rate']:.2f}")
    a.set_xlabel("coverage (share of cases in the box)")
    a.set_ylabel("density (share of the box's runs that are cases)")
    a.set_title("PRIM peeling trajectory", fontsize=10)
    a.legend(frameon=False, fontsize=8)
    cbar = fig.colorbar(sc, ax=a, label="parameters restricted")
    cbar.locator = matplotlib.ticker.MaxNLocator(integer=True)
    cbar.update_ticks()
    dims = restricted(box).sort_values("qp_value")["parameter"].tolist()[:2]
    if len(dims) == 2:
        px, py = dims
        b.scatter(x.loc[~y, px], x.loc[~y, py], s=10, color="0.6", label="not a case")
        b.scatter(x.loc[y, px], x.loc[y, py], s=10, color="C3", label="case")
        r = box.set_index("parameter")
        b.add_patch(
            plt.Rectangle(
                (r.at[px, "box_min"], r.at[py, "box_min"]),
                r.at[px, "box_max"] - r.at[px, "box_min"],
                r.at[py, "box_max"] - r.at[py, "box_min"],
                fill=False,
                ec="C3",
                lw=1.5,
            )
        )
        b.set_xlabel(px.removeprefix("model."))
        b.set_ylabel(py.removeprefix("model."))
        b.legend(frameon=False, fontsize=8)
        b.set_title(f"runs (n = {len(x)}) and the box in its two most significant dimensions", fontsize=9)
    elif len(dims) == 1:
        (px,) = dims
        r = box.set_index("parameter")
        bins = np.linspace(x[px].min(), x[px].max(), 13)
        b.hist([x.loc[~y, px], x.loc[y, px]], bins=bins, stacked=True, color=["0.6", "C3"], label=["not a case", "case"])
        for edge in (r.at[px, "box_min"], r.at[px, "box_max"]):
            b.axvline(edge, color="C3", lw=1.5, ls="--")
        b.set_xlabel(px.removeprefix("model."))
        b.set_ylabel("runs")
        b.legend(frameon=False, fontsize=8)
        b.set_title(f"runs (n = {len(x)}) along the box's one restriction (dashed: its limits)", fontsize=9)
    else:
        b.axis("off")
    fig.suptitle(info["question"], fontsize=9)
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(folder / f"scenario_discovery.{ext}", dpi=150)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
