"""Pattern-oriented validation: ``python -m sim.validate`` checks every published pattern.

It runs, as ordinary Hydra sweeps through ``run.py`` (any launcher), what the patterns of
``sim/data/targets.yaml`` need over several seeds:

* ``<out>/patterns``: the baseline, a takedown of the largest cryptomarket, a blanket NPS ban,
  Operation Bayonet (honeypot plus takedown) and a 10% rise of every price, each with its
  counterfactual, for ``--days`` days;
* ``<out>/sizes``: the baseline and the takedown at two population sizes (``--buyers`` and
  ``--large-buyers``), to check that outputs per 1,000 buyers do not depend on the size.

Then it computes each pattern's simulated analogue per seed (functions ``analogue_*`` below, each
on one run's tables), its mean and 95% interval over seeds, and writes ``validation.csv``,
``validation_details.csv`` (every seed's value), ``size_invariance.csv``, ``validation.md`` and
``figures/validation.png``. A pattern whose mechanism the model does not have yet is reported
as "not modelled yet" with ``holds = False`` (its value shown where the model gives one); no
pattern is skipped. A failed job is recorded by the sweep; the report is written from what
finished and the command exits 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.errors import UserError
from sim.stats import summarise_metric

ROOT = Path(__file__).resolve().parent.parent
TARGETS_FILE = Path(__file__).resolve().parent / "data" / "targets.yaml"
#: the uncertain parameters and the calibration's objective patterns (sim/calibrate.py)
PARAMETERS_FILE = Path(__file__).resolve().parent / "data" / "parameters.yaml"
#: the scenarios the patterns need (configs/scenario/*.yaml)
PATTERN_SCENARIOS = ("baseline", "takedown", "nps_ban", "bayonet", "price_rise")
SIZE_SCENARIOS = ("baseline", "takedown")
#: shortest pattern runs (NPS ban on day 365 followed up 182 days later) and size runs (takedown + 90 days)
MIN_DAYS, MIN_SIZE_DAYS = 550, 460
#: what this command writes into its output folder (anything else there makes it refuse)
OWN = {"patterns", "sizes", "validation.md", "validation.csv", "validation_details.csv", "size_invariance.csv", "figures"}
OWN |= {"validate.json"}
#: columns of validation.csv, in order (docs/validation.md)
VALIDATION_COLUMNS = (
    "pattern",
    "part",
    "kind",
    "calibration",
    "low",
    "high",
    "mean",
    "ci_low",
    "ci_high",
    "n",
    "estimator",
    "holds",
    "status",
    "note",
    "source",
)


class ValidationError(UserError):
    """Bad arguments or an output folder that is not this command's."""


# ----------------------------------------------------------------------------- runs
@dataclass
class Run:
    """One finished run of a validation sweep: its settings, summary.json and tables (read on demand)."""

    folder: Path
    scenario: str
    seed: int
    n_buyers: int
    summary: dict
    _tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def table(self, name: str, counterfactual: bool = False) -> pd.DataFrame:
        """``<name>.parquet`` of the run (or of its counterfactual)."""
        key = f"cf/{name}" if counterfactual else name
        if key not in self._tables:
            path = self.folder / ("counterfactual" if counterfactual else "") / f"{name}.parquet"
            self._tables[key] = pd.read_parquet(path)
        return self._tables[key]

    def effect(self, name: str | None = None) -> dict:
        """The effects of the intervention called ``name`` (the first one if None), {} if none fired."""
        for e in self.summary.get("interventions") or []:
            if name is None or e.get("name") == name:
                return e
        return {}


def read_runs(sweep: Path) -> tuple[list[Run], pd.DataFrame]:
    """The finished runs below ``sweep`` and the table of every job's status."""
    from sim.report import find_jobs

    jobs = find_jobs(sweep)
    runs = []
    for job in jobs[jobs.status == "finished"]["job"]:
        folder = sweep / job
        cfg = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())
        runs.append(
            Run(
                folder=folder,
                scenario=cfg["scenario"]["name"],
                seed=int(cfg["seed"]),
                n_buyers=int(cfg["model"]["n_buyers"]),
                summary=json.loads((folder / "summary.json").read_text()),
            )
        )
    return runs, jobs


# ----------------------------------------------------------------------------- analogues
# Each analogue takes one run and returns {part: value} ("" for a pattern with one value).
def analogue_migration_concentration(run: Run) -> dict[str, float]:
    """Share of a closed market's migrants whose next online purchase is on the top destination (mean over closures)."""
    return {"": _num(run.summary["run"].get("migration_concentration"))}


def analogue_takedown_recovery(run: Run) -> dict[str, float]:
    """Days to recovery of online volume against the counterfactual (censored: never, within the run)."""
    e = run.effect("takedown")
    return {"": _num(e.get("online_days_to_recovery")), "censored": float(bool(e.get("online_recovery_censored")))}


def analogue_vendor_shock_growth(run: Run) -> dict[str, float]:
    """Slope of active vendors over the 90 days after the takedown / over the 90 days before."""
    return {"": _num(run.effect("takedown").get("vendor_slope_ratio"))}


def analogue_delivery_reliability(run: Run) -> dict[str, float]:
    """Share of online orders delivered as described."""
    return {"": _num(run.summary["run"].get("delivery_success_rate"))}


def analogue_online_price_premium(run: Run) -> dict[str, float]:
    """Sales-weighted median online price / median street price, per substance."""
    return {k: _num(v) for k, v in run.summary["run"].get("price_premium", {}).items()}


def analogue_online_share_of_samples(run: Run) -> dict[str, float]:
    """Online share of purchases, classic drugs and NPS."""
    share = run.summary["run"].get("online_share_of_purchases", {})
    return {"classic": _num(share.get("classic")), "nps": _num(share.get("nps"))}


def analogue_purity_online_vs_offline(run: Run) -> dict[str, float]:
    """Mean purity online minus offline, per substance (in its purity unit)."""
    return {k: _num(v) for k, v in run.summary["run"].get("purity_difference", {}).items()}


def analogue_vendor_concentration(run: Run) -> dict[str, float]:
    """Share of orders made by the top 1% of vendors."""
    return {"": _num(run.summary["run"].get("top1pct_vendor_share"))}


def analogue_market_lifespan(run: Run) -> dict[str, float]:
    """Mean lifespan in days of the cryptomarkets that closed during the run."""
    return {"": _num(run.summary["run"].get("market_lifespan_mean_days"))}


def analogue_nps_ban_webshops(run: Run) -> dict[str, float]:
    """Share of the domestic web shops selling NPS at a blanket ban that still sell NPS 182 days later."""
    return {"": _num(run.effect("substance_ban").get("domestic_shop_share_selling_182d"))}


def analogue_price_elasticity(run: Run) -> dict[str, float]:
    """Relative change in purchases per relative change in prices.

    Every price +10% from day 365; purchases over the next year (or to the end of a shorter run)
    against the same seed's counterfactual.
    """
    e = run.effect("price_change")
    change, factor = e.get("purchases_change"), e.get("factor")
    if change is None or not factor or factor == 1:
        return {"": math.nan}
    return {"": float(change) / (float(factor) - 1.0)}


def analogue_online_adoption_growth(run: Run) -> dict[str, float]:
    """Online share of purchases in the third simulated year / in the first (NaN with fewer than 3 years)."""
    d = run.table("daily")
    if d["day"].max() < 3 * 365 - 1:
        return {"": math.nan}
    online = d[[c for c in d.columns if c.startswith("sales_") and c != "sales_offline"]].sum(axis=1)
    total = online + d["sales_offline"]
    year = d["day"] // 365

    def share(y: int) -> float:
        sel = year == y
        return float(online[sel].sum() / total[sel].sum()) if total[sel].sum() else math.nan

    return {"": share(2) / share(0) if share(0) else math.nan}


def analogue_deterrence_after_operation(run: Run) -> dict[str, float]:
    """Share of recent hidden-market buyers who stop buying there, minus the counterfactual's share.

    Among buyers with a hidden-market purchase in the 90 days before Operation Bayonet's takedown,
    the share with none in the 90 days after.
    """
    return {"": _num(run.effect("takedown").get("deterrence_90d"))}


def analogue_wholesale_share(run: Run) -> dict[str, float]:
    """Wholesale-sized purchases on hidden markets (dealers' lots, suppliers' largest orders) / all their trade, by value.

    From the vendor panel: vendors other than web-shop sellers (the share is about cryptomarket revenue).
    """
    from sim.metrics import wholesale_share

    return {"": wholesale_share(run.table("vendors"))}


def analogue_market_coexistence(run: Run) -> dict[str, float]:
    """The largest cryptomarket's share of sales in its most concentrated year; the fewest markets above 10%.

    Per full simulated year: the largest cryptomarket's share of cryptomarket sales value, and how
    many markets hold more than 10% of it.
    """
    mk = run.table("markets")
    mk = mk[mk["kind"] == "cryptomarket"]
    year = mk["day"] // 365
    tops, above = [], []
    for _, g in mk.groupby(year):
        by_market = g.groupby("market")["value_eur"].sum()
        total = by_market.sum()
        if total > 0 and g["day"].nunique() >= 300:  # full years only
            shares = by_market / total
            tops.append(float(shares.max()))
            above.append(float((shares > 0.10).sum()))
    if not tops:
        return {"largest_share": math.nan, "markets_above_10pct": math.nan}
    return {"largest_share": max(tops), "markets_above_10pct": min(above)}


def analogue_buyer_concentration(run: Run) -> dict[str, float]:
    """Share of online purchases made by the top 10% of online buyers over the last year."""
    return {"": _num(run.summary["run"].get("top10pct_buyer_share"))}


def analogue_multi_homing(run: Run) -> dict[str, float]:
    """Share of cryptomarket buyers with orders on two or more cryptomarkets within the same 30 days."""
    return {"": _num(run.summary["run"].get("multi_homing_share"))}


#: pattern id -> (scenario whose runs it reads, analogue)
ANALOGUES: dict[str, tuple[str, Callable[[Run], dict[str, float]]]] = {
    "migration_concentration": ("baseline", analogue_migration_concentration),
    "takedown_recovery": ("takedown", analogue_takedown_recovery),
    "vendor_shock_growth": ("takedown", analogue_vendor_shock_growth),
    "delivery_reliability": ("baseline", analogue_delivery_reliability),
    "online_price_premium": ("baseline", analogue_online_price_premium),
    "online_share_of_samples": ("baseline", analogue_online_share_of_samples),
    "purity_online_vs_offline": ("baseline", analogue_purity_online_vs_offline),
    "vendor_concentration": ("baseline", analogue_vendor_concentration),
    "market_lifespan": ("baseline", analogue_market_lifespan),
    "nps_ban_webshops": ("nps_ban", analogue_nps_ban_webshops),
    "price_elasticity": ("price_rise", analogue_price_elasticity),
    "online_adoption_growth": ("baseline", analogue_online_adoption_growth),
    "deterrence_after_operation": ("bayonet", analogue_deterrence_after_operation),
    "wholesale_share": ("baseline", analogue_wholesale_share),
    "market_coexistence": ("baseline", analogue_market_coexistence),
    "buyer_concentration": ("baseline", analogue_buyer_concentration),
    "multi_homing": ("baseline", analogue_multi_homing),
}


def calibration_objective() -> list[str]:
    """The patterns the calibration's objective uses (``parameters.yaml``); the others are held out."""
    data = yaml.safe_load(PARAMETERS_FILE.read_text()) or {}
    return list((data.get("calibration") or {}).get("objective") or [])


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def band_of(target: dict, part: str, units: dict[str, str] | None = None) -> tuple[float, float]:
    """The acceptance band of one part of a pattern (``targets.yaml``)."""
    tid = target["id"]
    band: Any = target.get("band")
    if tid == "purity_online_vs_offline":
        obs = target["observed_difference"].get(part)
        if obs is None:
            return math.nan, math.nan
        tol = target["tolerance"][(units or {}).get(part, "fraction")]
        return obs - tol, obs + tol
    if tid == "market_coexistence" and part == "markets_above_10pct":
        return 2.0, math.inf
    if isinstance(band, dict):
        low, high = band.get(part, (math.nan, math.nan))
        return float(low), float(high)
    if not isinstance(band, list) or len(band) != 2:
        return math.nan, math.nan
    return float(band[0]), float(band[1])


# ----------------------------------------------------------------------------- the report
def pattern_table(runs: list[Run], targets: list[dict], units: dict[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(validation table, per-seed details) from the runs of the patterns sweep.

    Every pattern of ``targets`` gets at least one row; a pattern without a value (no run, or
    not modelled) has NaN values and ``holds = False``.
    """
    rows, details = [], []
    objective = set(calibration_objective())
    for target in targets:
        tid = target["id"]
        scenario, fn = ANALOGUES[tid]
        per_seed = []
        for run in sorted((r for r in runs if r.scenario == scenario), key=lambda r: r.seed):
            values = fn(run)
            per_seed.append(values)
            for part, v in values.items():
                if part != "censored":
                    details.append({"pattern": tid, "part": part, "scenario": scenario, "seed": run.seed, "value": v})
        parts = sorted({p for v in per_seed for p in v if p != "censored"}) or [""]
        if tid == "purity_online_vs_offline":
            parts = list(target["observed_difference"])
        for part in parts:
            values = pd.DataFrame({"x": [v.get(part, math.nan) for v in per_seed]})
            if tid == "takedown_recovery":
                values["online_days_to_recovery"] = values["x"]
                values["online_recovery_censored"] = [bool(v.get("censored")) for v in per_seed]
                s = summarise_metric(values, "online_days_to_recovery")
                mean = s["median"]
            else:
                s = summarise_metric(values, "x")
                mean = s["mean"]
            low, high = band_of(target, part, units)
            why_not = target.get("status")  # a pattern whose mechanism the model does not have yet
            modelled = why_not is None
            value_ok = bool(pd.notna(mean) and low <= mean <= high)
            if modelled:
                status = "holds" if value_ok else ("no value" if pd.isna(mean) else "fails")
                note = "" if pd.notna(mean) else "no run gave a value (too short a run, or nothing to measure)"
            else:
                status, note = "not modelled yet", str(why_not).removeprefix("not modelled yet: ")
            rows.append(
                {
                    "pattern": tid,
                    "part": part,
                    "kind": target["kind"],
                    "calibration": "objective" if tid in objective else "held out",
                    "low": low,
                    "high": high,
                    "mean": mean,
                    "ci_low": s["ci95_low"],
                    "ci_high": s["ci95_high"],
                    "n": int(s["n"]),
                    "estimator": s["estimator"],
                    "holds": bool(modelled and value_ok),
                    "status": status,
                    "note": note,
                    "source": target.get("source", ""),
                }
            )
    table = pd.DataFrame(rows, columns=list(VALIDATION_COLUMNS))
    return table, pd.DataFrame(details, columns=["pattern", "part", "scenario", "seed", "value"])


#: outputs compared across population sizes, per 1,000 buyers where they are counts
def size_metrics(run: Run) -> dict[str, float]:
    """Outputs of one run that must not depend on the population size (rates per 1,000 buyers, shares)."""
    d = run.table("daily")
    per_k = 1000.0 / run.n_buyers
    out = {f"{c}_per_1000_buyers": float(d[f"sales_{c}"].sum() * per_k) for c in ("webshop", "cryptomarket", "decentralised")}
    out["hhi_mean"] = _num(run.summary["run"].get("hhi_mean"))
    out["active_markets_mean"] = _num(run.summary["run"].get("active_markets_mean"))
    e = run.effect("takedown")
    if e:
        out["takedown_online_drop"] = _num(e.get("online_drop"))
        for k in ("other_cryptomarkets", "decentralised", "offline", "nowhere"):
            out[f"takedown_market_displacement_90d_{k}"] = _num((e.get("market_displacement_90d") or {}).get(k))
    return out


def size_table(runs: list[Run]) -> pd.DataFrame:
    """Per scenario and metric: mean and 95% interval at each size, and the difference (Welch interval)."""
    from scipy import stats

    rows = []
    recs = [{"scenario": r.scenario, "n_buyers": r.n_buyers, "seed": r.seed, **size_metrics(r)} for r in runs]
    if not recs:
        return pd.DataFrame()
    df = pd.DataFrame(recs)
    sizes = sorted(df["n_buyers"].unique())
    metrics = [c for c in df.columns if c not in ("scenario", "n_buyers", "seed")]
    for scen, g in df.groupby("scenario"):
        for m in metrics:
            a = g[g.n_buyers == sizes[0]][m].dropna()
            b = g[g.n_buyers == sizes[-1]][m].dropna()
            if len(a) == 0 and len(b) == 0:
                continue
            row: dict[str, Any] = {"scenario": scen, "metric": m, "small_buyers": sizes[0], "large_buyers": sizes[-1]}
            for label, x in (("small", a), ("large", b)):
                s = summarise_metric(pd.DataFrame({"x": x}), "x")
                row.update({f"{label}_mean": s["mean"], f"{label}_ci_low": s["ci95_low"], f"{label}_ci_high": s["ci95_high"]})
                row[f"{label}_n"] = int(s["n"])
            if len(a) >= 2 and len(b) >= 2 and (a.var() + b.var()) > 0:
                diff = b.mean() - a.mean()
                se = math.sqrt(a.var() / len(a) + b.var() / len(b))
                dof = se**4 / ((a.var() / len(a)) ** 2 / (len(a) - 1) + (b.var() / len(b)) ** 2 / (len(b) - 1))
                q = stats.t.ppf(0.975, dof)
                row.update(difference=diff, difference_ci_low=diff - q * se, difference_ci_high=diff + q * se)
                row["agrees"] = bool(diff - q * se <= 0 <= diff + q * se)
            else:
                row.update(difference=b.mean() - a.mean() if len(a) and len(b) else math.nan)
                row.update(difference_ci_low=math.nan, difference_ci_high=math.nan, agrees=None)
            rows.append(row)
    return pd.DataFrame(rows)


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "inf" if isinstance(x, float) and x == math.inf else "-"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.{digits}g}"


def write_markdown(path: Path, table: pd.DataFrame, sizes: pd.DataFrame, info: dict) -> None:
    """validation.md: one row per pattern part, then the size comparison."""
    lines = [
        "# Validation of the default configuration",
        "",
        f"Made by `{info['command']}` on {info['date']} at commit `{info['git_revision']}`; "
        f"{info['seeds']} seeds, {info['buyers']} buyers, {info['days']} days. Jobs: {info['jobs']}.",
        "",
        "`kind`: *input* means parameters were set from this figure (matching it is calibration, not "
        "validation); *emergent* means it follows from the mechanisms. `calibration`: *objective* means the "
        "pattern is in the calibration's objective (docs/calibration.md), *held out* that it was not used to set "
        "any parameter (an out-of-sample check). `holds`: the simulated mean (the "
        "Kaplan-Meier median for censored recovery times) lies in the observed band. The interval is the "
        "95% interval over seeds.",
        "",
        "| pattern | part | kind | calibration | observed band | simulated (95% interval) | n | holds | status | note | source |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        lines.append(
            f"| {r['pattern']} | {r['part'] or ''} | {r['kind']} | {r['calibration']} | {_fmt(r['low'])} - {_fmt(r['high'])} | "
            f"{_fmt(r['mean'])} ({_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}) | {r['n']} | {_fmt(r['holds'])} | "
            f"{r['status']} | {r['note']} | {r['source']} |"
        )
    held = table.groupby("pattern")["holds"].all()
    lines += ["", f"Patterns holding in every part: {int(held.sum())} of {len(held)}.", ""]
    if len(sizes):
        lines += [
            "## Does the answer depend on the population size?",
            "",
            f"Outputs per 1,000 buyers (counts) or shares, at {int(sizes['small_buyers'].iloc[0])} and "
            f"{int(sizes['large_buyers'].iloc[0])} buyers, same seeds; the difference with its Welch 95% interval. "
            "`agrees`: the interval of the difference contains zero"
            + (f" (with {info['seeds']} seeds the intervals are wide, so agreement means little)." if info["seeds"] < 5 else "."),
            "",
            "| scenario | metric | small (95% interval) | large (95% interval) | difference (95% interval) | agrees |",
            "|---|---|---|---|---|---|",
        ]
        for _, r in sizes.iterrows():
            lines.append(
                f"| {r['scenario']} | {r['metric']} | {_fmt(r['small_mean'])} ({_fmt(r['small_ci_low'])}, "
                f"{_fmt(r['small_ci_high'])}) | {_fmt(r['large_mean'])} ({_fmt(r['large_ci_low'])}, "
                f"{_fmt(r['large_ci_high'])}) | {_fmt(r['difference'])} ({_fmt(r['difference_ci_low'])}, "
                f"{_fmt(r['difference_ci_high'])}) | {_fmt(r['agrees'])} |"
            )
    path.write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- command
def sweep(out: Path, overrides: list[str], args: argparse.Namespace) -> int:
    """Run one Hydra multirun through ``run.py`` into ``out``; return its exit code."""
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", *overrides, f"hydra.sweep.dir={out}", "run.figures=false"]
    cmd += [f"hydra/launcher={args.launcher}"]
    if args.launcher == "joblib":
        cmd += [f"hydra.launcher.n_jobs={args.jobs}"]
    print("running:", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, cwd=ROOT).returncode


def check_out(out: Path) -> None:
    """Refuse an output folder holding anything this command did not write."""
    if out.exists() and not out.is_dir():
        raise ValidationError(f"--out {out}: is a file; give a folder")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OWN and not p.name.startswith("."))
        if foreign:
            raise ValidationError(f"--out {out}: holds {foreign[:5]}, which this command did not write; give a new folder")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked (argparse exits 2 with a message on bad values)."""
    p = argparse.ArgumentParser(
        prog="python -m sim.validate",
        description="Check the model against every published pattern in sim/data/targets.yaml, over several seeds.",
    )
    p.add_argument("--seeds", type=int, default=5, help="seeds per scenario (at least 2; default 5)")
    p.add_argument("--buyers", type=int, default=20000, help="buyers in the population (default 20000)")
    p.add_argument("--large-buyers", type=int, default=None, help="second size for the size check (default 5 x --buyers)")
    p.add_argument("--days", type=int, default=1095, help="days of the pattern runs (default 1095: three years)")
    p.add_argument("--size-days", type=int, default=730, help="days of the size-check runs (default 730)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default outputs/validation/<date>_<time>)")
    p.add_argument("--launcher", choices=["joblib", "basic", "submitit_local", "submitit_slurm"], default="joblib")
    p.add_argument("--jobs", type=int, default=2, help="parallel jobs of the joblib launcher (default 2)")
    p.add_argument("--no-sizes", action="store_true", help="skip the population-size check")
    args = p.parse_args(argv)
    problems = []
    if args.seeds < 2:
        problems.append(f"--seeds {args.seeds}: at least 2 (an interval over seeds needs two)")
    if args.buyers < 500:
        problems.append(f"--buyers {args.buyers}: at least 500")
    if args.days < MIN_DAYS:
        problems.append(
            f"--days {args.days}: at least {MIN_DAYS} (the interventions start on day 365; the NPS-ban follow-up is 182 days later)"
        )
    if args.size_days < MIN_SIZE_DAYS:
        problems.append(
            f"--size-days {args.size_days}: at least {MIN_SIZE_DAYS} (the takedown on day 365 is followed for 90 days)"
        )
    if args.jobs < 1:
        problems.append(f"--jobs {args.jobs}: at least 1")
    if args.large_buyers is None:
        args.large_buyers = 5 * max(args.buyers, 1)
    elif args.large_buyers <= args.buyers:
        problems.append(f"--large-buyers {args.large_buyers}: must exceed --buyers {args.buyers}")
    if problems:
        p.error("; ".join(problems))
    if args.out is None:
        args.out = ROOT / "outputs" / "validation" / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the validation sweeps and write the report; exit 1 if a job failed, 2 on bad input."""
    from sim.figures import validation_figure
    from sim.runner import git_revision

    args = parse(argv)
    out = args.out.resolve()
    try:
        check_out(out)
        out.mkdir(parents=True, exist_ok=True)
    except ValidationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: --out {out}: cannot be made ({err.strerror}); give a writable folder", file=sys.stderr)
        return 2
    seeds = f"seed=range({args.seeds})"
    codes = [
        sweep(
            out / "patterns",
            [f"scenario={','.join(PATTERN_SCENARIOS)}", seeds, f"model.n_buyers={args.buyers}", f"run.days={args.days}"],
            args,
        )
    ]
    if codes[0] != 2 and not args.no_sizes:
        codes.append(
            sweep(
                out / "sizes",
                [
                    f"scenario={','.join(SIZE_SCENARIOS)}",
                    seeds,
                    f"model.n_buyers={args.buyers},{args.large_buyers}",
                    f"run.days={args.size_days}",
                ],
                args,
            )
        )
    if any(c == 2 for c in codes):
        print(
            f"error: a validation sweep was refused (message above); give a new --out (or rerun {out} with the same settings)",
            file=sys.stderr,
        )
        return 2
    targets = yaml.safe_load(TARGETS_FILE.read_text())
    runs, jobs = read_runs(out / "patterns")
    units = _purity_units()
    table, details = pattern_table(runs, targets, units)
    size_runs, size_jobs = read_runs(out / "sizes") if not args.no_sizes else ([], pd.DataFrame())
    sizes = size_table(size_runs)
    all_jobs = pd.concat([jobs, size_jobs], ignore_index=True)
    failed = int((all_jobs["status"] != "finished").sum())
    info = {
        "command": "python -m sim.validate " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": dt.date.today().isoformat(),
        "git_revision": git_revision(),
        "seeds": args.seeds,
        "buyers": args.buyers,
        "days": args.days,
        "jobs": f"{len(all_jobs) - failed} of {len(all_jobs)} finished",
    }
    table.to_csv(out / "validation.csv", index=False)
    details.to_csv(out / "validation_details.csv", index=False)
    sizes.to_csv(out / "size_invariance.csv", index=False)
    write_markdown(out / "validation.md", table, sizes, info)
    validation_figure(table, out / "figures")
    (out / "validate.json").write_text(json.dumps(info, indent=2))
    held = table.groupby("pattern")["holds"].all()
    print(f"{int(held.sum())} of {len(held)} patterns hold; report: {out / 'validation.md'}")
    if failed:
        print(f"{failed} jobs did not finish (see {out}/*/collected/jobs.csv)", file=sys.stderr)
        return 1
    return 0


def _purity_units() -> dict[str, str]:
    from sim.runner import compose

    cfg = compose([])
    return {s.name: s.purity_unit for s in cfg.substances}


if __name__ == "__main__":
    sys.exit(main())
