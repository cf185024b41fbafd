"""Global sensitivity analysis: ``python -m sim.sensitivity`` (SALib; docs/sensitivity.md).

Two stages in one command, each a sweep of design points through ``run.py`` (:mod:`sim.design`,
any Hydra launcher):

1. **Morris screening** over every uncertain parameter of ``sim/data/parameters.yaml``:
   ``--trajectories`` one-at-a-time trajectories on a ``--levels`` grid of each range (SALib's
   ``morris.sample``), so (parameters + 1) x trajectories points. For each headline outcome
   (:data:`sim.design.OUTCOMES`), mu* (mean absolute elementary effect, per full range of the
   parameter, with its 95% bootstrap interval) and sigma (spread: interactions, non-linearity).
2. **Sobol indices** for the ``--top`` parameters with the largest mu* (each outcome's mu*
   scaled by its largest; a parameter's score is its largest scaled mu* over outcomes), the
   others at their defaults: Saltelli's scheme (``sobol.sample``, ``--n`` base points, a power of
   two), first-order and total indices with 95% bootstrap intervals (``sobol.analyze``).

Every point is a takedown of the largest cryptomarket on day 365 with its counterfactual, at the
same seeds for every point (common random numbers), so the outcomes are the intervention's
effects as well as the counterfactual's online volume. The values are sampled on [0, 1] and mapped
onto each range (log scale where the file says so): indices are per full range.

A rerun into the same folder with the same settings skips the jobs that finished; a failed job
is recorded, the other jobs run, an outcome with missing points is reported as not analysed,
and the command exits 1.
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

from sim.design import (
    OUTCOMES,
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
    point_means,
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
RECORD = "sensitivity.json"
OWN = {RECORD, "points", "morris", "sobol", "morris.csv", "sobol.csv", "morris_runs.csv", "sobol_runs.csv"}
OWN |= {"sensitivity.md", "figures"}


def problem_of(params: list[Parameter]) -> dict:
    """SALib's problem on the unit cube (values are mapped onto the ranges by :meth:`Parameter.from_unit`)."""
    return {"num_vars": len(params), "names": [p.key for p in params], "bounds": [[0.0, 1.0]] * len(params)}


def to_points(prefix: str, unit: np.ndarray, params: list[Parameter], fixed: dict[str, float] | None = None):
    """Design points named ``<prefix>NNNN`` from rows of unit-cube samples."""
    points = {}
    for i, row in enumerate(unit):
        values = dict(fixed or {})
        values.update({p.key: p.from_unit(float(u)) for p, u in zip(params, row)})
        points[f"{prefix}{i:04d}"] = values
    return points


def run_stage(out: Path, stage: str, points: dict[str, dict[str, float]], args) -> tuple[pd.DataFrame, int]:
    """Run one stage's points (takedown + counterfactual, ``--seeds`` seeds); the runs' outcomes and failed jobs."""
    points_dir = write_points(out, points)
    base = ["scenario=takedown", f"model.n_buyers={args.buyers}", f"run.days={args.days}"]
    code = run_points(out / stage, points_dir, list(points), args.seeds, base, args.launcher, args.jobs, args.launcher_arg)
    if code == 2:
        raise DesignError(f"the sweep into {out / stage} was refused (message above)")
    runs, jobs = read_point_runs(out / stage)
    return outcome_table(runs, points), int((jobs.status != "finished").sum())


def analyse_morris(
    problem: dict, unit: np.ndarray, means: pd.DataFrame, levels: int, seed: int
) -> tuple[pd.DataFrame, list[str]]:
    """mu, mu*, its 95% interval and sigma per outcome and parameter; notes on outcomes not analysed."""
    from SALib.analyze import morris

    rows, notes = [], []
    steps = problem["num_vars"] + 1  # points per trajectory
    for outcome in OUTCOMES:
        y = means[outcome].to_numpy(dtype=float)
        # a trajectory with a point without a value (a failed job) is left out as a whole:
        # trajectories are independent, so the others still estimate the elementary effects
        complete = ~np.isnan(y.reshape(-1, steps)).any(axis=1)
        if complete.sum() < 2:
            notes.append(f"{outcome}: not analysed, {int(complete.sum())} complete trajectories of {len(complete)}")
            continue
        if not complete.all():
            notes.append(f"{outcome}: {int((~complete).sum())} of {len(complete)} trajectories left out (points without a value)")
        keep = np.repeat(complete, steps)
        si = morris.analyze(problem, unit[keep], y[keep], num_levels=levels, conf_level=0.95, num_resamples=1000, seed=seed)
        for j, name in enumerate(problem["names"]):
            rows.append(
                {
                    "outcome": outcome,
                    "parameter": name,
                    "mu": float(si["mu"][j]),
                    "mu_star": float(si["mu_star"][j]),
                    "mu_star_conf": float(si["mu_star_conf"][j]),
                    "sigma": float(si["sigma"][j]),
                }
            )
    return pd.DataFrame(rows, columns=["outcome", "parameter", "mu", "mu_star", "mu_star_conf", "sigma"]), notes


def top_parameters(morris_table: pd.DataFrame, k: int) -> list[str]:
    """The ``k`` parameters with the largest mu* relative to each outcome's largest, over outcomes."""
    t = morris_table.copy()
    t["scaled"] = t["mu_star"] / t.groupby("outcome")["mu_star"].transform("max").replace(0, np.nan)
    score = t.groupby("parameter")["scaled"].max().fillna(0.0)
    return list(score.sort_values(ascending=False, kind="stable").index[:k])


def analyse_sobol(problem: dict, means: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """S1 and ST with their 95% intervals per outcome and parameter; notes on outcomes not analysed."""
    from SALib.analyze import sobol

    rows, notes = [], []
    for outcome in OUTCOMES:
        y = means[outcome].to_numpy(dtype=float)
        if np.isnan(y).any():
            notes.append(f"{outcome}: not analysed, {int(np.isnan(y).sum())} of {len(y)} points without a value")
            continue
        if np.var(y) == 0:
            notes.append(f"{outcome}: not analysed, the same value at every point")
            continue
        si = sobol.analyze(problem, y, calc_second_order=False, conf_level=0.95, num_resamples=1000, seed=seed)
        for j, name in enumerate(problem["names"]):
            rows.append(
                {
                    "outcome": outcome,
                    "parameter": name,
                    "S1": float(si["S1"][j]),
                    "S1_conf": float(si["S1_conf"][j]),
                    "ST": float(si["ST"][j]),
                    "ST_conf": float(si["ST_conf"][j]),
                }
            )
    return pd.DataFrame(rows, columns=["outcome", "parameter", "S1", "S1_conf", "ST", "ST_conf"]), notes


# ----------------------------------------------------------------------------- command
def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked (argparse exits 2 with a message on bad values)."""
    p = argparse.ArgumentParser(
        prog="python -m sim.sensitivity",
        description="Morris screening of every uncertain parameter, then Sobol indices of the most influential (SALib).",
    )
    p.add_argument("--trajectories", type=int, default=10, help="Morris trajectories (default 10)")
    p.add_argument("--levels", type=int, default=4, help="Morris grid levels (default 4)")
    p.add_argument("--top", type=int, default=4, help="parameters carried into the Sobol stage (default 4)")
    p.add_argument("--n", type=int, default=128, help="Sobol base points, a power of two (default 128)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per point, the same for every point (default 1)")
    p.add_argument("--buyers", type=int, default=10000, help="buyers in the population (default 10000)")
    p.add_argument("--days", type=int, default=730, help="days simulated; the takedown is on day 365 (default 730)")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of the samples and bootstrap intervals (default 0)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default outputs/sensitivity/<date>_<time>)")
    add_launcher_args(p)
    p.add_argument(
        "--parameters", default="", help="comma-separated keys to screen (default: every parameter of sim/data/parameters.yaml)"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a tiny analysis to try the command (3 parameters, 3 trajectories, n 4, 2,000 buyers)",
    )
    args = p.parse_args(argv)
    if args.quick:
        apply_quick(
            p,
            args,
            {
                "trajectories": 3,
                "top": 2,
                "n": 4,
                "seeds": 1,
                "buyers": 2000,
                "days": 460,
                "parameters": "model.choice.conv_cryptomarket,model.buyers.tech_skill_share,model.buyers.trust_loss",
            },
        )
    problems = launcher_problems(args) + seed_problems("--sample-seed", args.sample_seed)
    for name, least in (("trajectories", 2), ("levels", 2), ("top", 1), ("n", 2), ("seeds", 1), ("buyers", 500)):
        if getattr(args, name) < least:
            problems.append(f"--{name} {getattr(args, name)}: at least {least}")
    if args.n & (args.n - 1):
        problems.append(f"--n {args.n}: must be a power of two (Sobol sequences)")
    if args.days < MIN_DAYS:
        problems.append(
            f"--days {args.days}: at least {MIN_DAYS} (the takedown is on day 365; recovery needs 36 days, displacement 90)"
        )
    if problems:
        p.error("; ".join(problems))
    if args.out is None:
        args.out = ROOT / "outputs" / "sensitivity" / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) both stages and write the report; exit 1 if a job failed, 2 on bad input."""
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    from sim.runner import code_hash, git_revision

    args = parse(argv)
    out = args.out.resolve()
    existed = out.exists()
    try:
        try:
            params = load_parameters([k.strip() for k in args.parameters.split(",") if k.strip()] or None)
        except DesignError as err:
            raise DesignError(f"--parameters {args.parameters}: {err}") from None
        settings = {k: getattr(args, k) for k in ("trajectories", "levels", "top", "n", "seeds", "buyers", "days", "sample_seed")}
        settings["parameters"] = [[p.key, p.low, p.high, p.log] for p in params]
        check_out(out, OWN)
        check_record(out, RECORD, settings)
        problem = problem_of(params)
        unit_m = morris_sample.sample(problem, N=args.trajectories, num_levels=args.levels, seed=args.sample_seed)
        morris_points = to_points("m", unit_m, params)
        morris_runs, failed = run_stage(out, "morris", morris_points, args)
        morris_table, notes = analyse_morris(
            problem, unit_m, point_means(morris_runs, list(morris_points)), args.levels, args.sample_seed
        )
        morris_runs.to_csv(out / "morris_runs.csv", index=False)
        morris_table.to_csv(out / "morris.csv", index=False)
        top = [p for p in params if p.key in top_parameters(morris_table, args.top)] if len(morris_table) else []
        sobol_points: dict[str, dict[str, float]] = {}
        sobol_table, failed_s = pd.DataFrame(columns=["outcome", "parameter", "S1", "S1_conf", "ST", "ST_conf"]), 0
        if top:
            fixed = {p.key: p.default for p in params if p not in top}
            sub = problem_of(top)
            unit_s = sobol_sample.sample(sub, args.n, calc_second_order=False, seed=args.sample_seed)
            sobol_points = to_points("s", unit_s, top, fixed)
            sobol_runs, failed_s = run_stage(out, "sobol", sobol_points, args)
            sobol_table, notes_s = analyse_sobol(sub, point_means(sobol_runs, list(sobol_points)), args.sample_seed)
            sobol_runs.to_csv(out / "sobol_runs.csv", index=False)
            notes += notes_s
        else:
            notes.append("no outcome could be screened, so no Sobol stage: see morris/collected/jobs.csv")
        sobol_table.to_csv(out / "sobol.csv", index=False)
    except DesignError as err:
        print(f"error: {err}", file=sys.stderr)
        remove_if_new(out, existed)
        return 2
    except OSError as err:
        print(f"error: --out {out}: cannot be written ({err.strerror}); give a writable folder", file=sys.stderr)
        return 2
    info: dict[str, Any] = {
        "command": "python -m sim.sensitivity " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": dt.date.today().isoformat(),
        "git_revision": git_revision(),
        "code_hash": code_hash(),
        "morris_points": len(morris_points),
        "sobol_points": len(sobol_points),
        "sobol_parameters": [p.key for p in top],
        "failed_jobs": failed + failed_s,
        "notes": notes,
    }
    update_record(out, RECORD, **info)
    write_report(out / "sensitivity.md", morris_table, sobol_table, params, info, args)
    sensitivity_figures(morris_table, sobol_table, out / "figures", info, args)
    for note in info["notes"]:
        print(f"note: {note}", file=sys.stderr)
    print(f"Sobol stage on {', '.join(info['sobol_parameters'])}; report: {out / 'sensitivity.md'}")
    if info["failed_jobs"] or not top:
        print(f"{info['failed_jobs']} job(s) did not finish (see {out}/*/collected/jobs.csv)", file=sys.stderr)
        return 1
    return 0


def write_report(path: Path, morris_table: pd.DataFrame, sobol_table: pd.DataFrame, params, info, args) -> None:
    """sensitivity.md: the Morris ranking per outcome and the Sobol indices with their intervals."""
    lines = [
        "# Global sensitivity analysis",
        "",
        f"Made by `{info['command']}` on {info['date']} at commit `{info['git_revision']}`. Every point is a "
        f"takedown on day 365 with its counterfactual, {args.buyers} buyers, {args.days} days, {args.seeds} seed(s) per point "
        f"(the same for every point). Morris: {len(params)} parameters, {args.trajectories} trajectories, "
        f"{info['morris_points']} points. Sobol: {len(info['sobol_parameters'])} parameters, N = {args.n}, "
        f"{info['sobol_points']} points. Failed jobs: {info['failed_jobs']}.",
        "",
    ]
    for note in info["notes"]:
        lines.append(f"- {note}")
    lines += ["", "## Morris screening (mu*: mean absolute effect of moving the parameter across its range)", ""]
    for outcome, g in morris_table.groupby("outcome", sort=False):
        lines += [
            f"### {outcome}: {OUTCOMES[outcome]}",
            "",
            "| parameter | mu* (95% interval) | mu | sigma |",
            "|---|---|---|---|",
        ]
        for _, r in g.sort_values("mu_star", ascending=False).iterrows():
            lo, hi = r["mu_star"] - r["mu_star_conf"], r["mu_star"] + r["mu_star_conf"]
            lines.append(
                f"| {r['parameter']} | {fmt(r['mu_star'])} ({fmt(lo)}, {fmt(hi)}) | {fmt(r['mu'])} | {fmt(r['sigma'])} |"
            )
        lines.append("")
    lines += ["## Sobol indices (first order S1 and total ST, 95% bootstrap intervals)", ""]
    for outcome, g in sobol_table.groupby("outcome", sort=False):
        lines += [f"### {outcome}", "", "| parameter | S1 (95% interval) | ST (95% interval) |", "|---|---|---|"]
        for _, r in g.sort_values("ST", ascending=False).iterrows():
            lines.append(
                f"| {r['parameter']} | {fmt(r['S1'])} ({fmt(r['S1'] - r['S1_conf'])}, {fmt(r['S1'] + r['S1_conf'])}) | "
                f"{fmt(r['ST'])} ({fmt(r['ST'] - r['ST_conf'])}, {fmt(r['ST'] + r['ST_conf'])}) |"
            )
        lines.append("")
    path.write_text("\n".join(lines) + "\n")


def sensitivity_figures(morris_table: pd.DataFrame, sobol_table: pd.DataFrame, folder: Path, info, args) -> None:
    """morris.png (mu* with intervals per outcome) and sobol.png (S1 and ST with intervals); PNG and PDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    outcomes = list(dict.fromkeys(morris_table["outcome"]))
    if outcomes:
        ncol = min(3, len(outcomes))
        nrow = math.ceil(len(outcomes) / ncol)
        fig, axes = plt.subplots(
            nrow, ncol, figsize=(4.6 * ncol, 0.28 * morris_table["parameter"].nunique() * nrow + 1.2), squeeze=False
        )
        for ax, outcome in zip(axes.flat, outcomes):
            g = morris_table[morris_table.outcome == outcome].sort_values("mu_star")
            ax.barh(g["parameter"].str.removeprefix("model."), g["mu_star"], xerr=g["mu_star_conf"], color="C0", ecolor="0.3")
            ax.set_title(outcome, fontsize=9)
            ax.set_xlabel("mu* (outcome units per full range)", fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in list(axes.flat)[len(outcomes) :]:
            ax.axis("off")
        fig.suptitle(
            f"Morris screening: {info['morris_points']} points ({args.trajectories} trajectories), 95% bootstrap intervals",
            fontsize=10,
        )
        fig.tight_layout()
        for ext in ("png", "pdf"):
            fig.savefig(folder / f"morris.{ext}", dpi=150)
        plt.close(fig)
    outcomes = list(dict.fromkeys(sobol_table["outcome"]))
    if outcomes:
        ncol = min(3, len(outcomes))
        nrow = math.ceil(len(outcomes) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 2.8 * nrow), squeeze=False)
        for ax, outcome in zip(axes.flat, outcomes):
            g = sobol_table[sobol_table.outcome == outcome]
            x = np.arange(len(g))
            ax.bar(x - 0.2, g["S1"], 0.4, yerr=g["S1_conf"], label="first order S1", color="C0", ecolor="0.3")
            ax.bar(x + 0.2, g["ST"], 0.4, yerr=g["ST_conf"], label="total ST", color="C1", ecolor="0.3")
            ax.set_xticks(
                x, [p.removeprefix("model.").split(".")[-1] for p in g["parameter"]], rotation=30, ha="right", fontsize=7
            )
            ax.set_title(outcome, fontsize=9)
            ax.set_ylabel("share of variance", fontsize=8)
            ax.axhline(0, color="0.5", lw=0.5)
        axes.flat[0].legend(frameon=False, fontsize=7)
        for ax in list(axes.flat)[len(outcomes) :]:
            ax.axis("off")
        fig.suptitle(f"Sobol indices: {info['sobol_points']} points (N = {args.n}), 95% bootstrap intervals", fontsize=10)
        fig.tight_layout()
        for ext in ("png", "pdf"):
            fig.savefig(folder / f"sobol.{ext}", dpi=150)
        plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
