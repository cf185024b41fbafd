"""Design points: many parameter settings run as ordinary Hydra sweeps (any launcher), then read back.

Calibration (:mod:`sim.calibrate`), global sensitivity analysis (:mod:`sim.sensitivity`) and
scenario discovery (:mod:`sim.discover`) each need the model at many points of parameter space,
not on a grid. A point is written as a small config file, ``<out>/points/point/<name>.yaml``
(``# @package _global_`` and ``model:`` values only: data, checked like every config file), and a
batch of points runs as one sweep through ``run.py``::

    python run.py -m 'hydra.searchpath=[file://<out>/points]' +point=p0000,p0001,... 'seed=range(2)' ...

so every run has its own folder with its composed config, manifest and status, the sweep record
refuses to mix settings, a failed job is recorded while the others go on, a rerun skips the jobs
that finished, and the sweep is collected into the usual tables (``collected/``) with ``point`` as
the swept setting. Common random numbers: every point runs the same seeds.

The uncertain parameters and their ranges are data: ``sim/data/parameters.yaml``.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.errors import UserError
from sim.validate import ROOT, Run

PARAMETERS_FILE = Path(__file__).resolve().parent / "data" / "parameters.yaml"
POINTS_DIR = "points"
#: launchers a design command can hand its sweeps to (Hydra plugins; see the README)
LAUNCHERS = ("joblib", "basic", "submitit_local", "submitit_slurm", "ray")


class DesignError(UserError):
    """Bad arguments, a bad parameters file, or an output folder that is not the command's own."""


@dataclass(frozen=True)
class Parameter:
    """One uncertain parameter: its config key, range, default and why the range is what it is."""

    key: str
    low: float
    high: float
    default: float
    log: bool = False
    why: str = ""

    @property
    def name(self) -> str:
        """The key without ``model.`` (used in tables and figures)."""
        return self.key.removeprefix("model.")

    def from_unit(self, u: float) -> float:
        """The value at position ``u`` in [0, 1] of the range (on a log scale for ``log`` parameters)."""
        if self.log:
            return float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))
        return float(self.low + u * (self.high - self.low))


def _schema_value(key: str) -> Any:
    from sim.config import Config

    node: Any = Config()
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _default_of(key: str) -> float:
    return float(_schema_value(key))


def load_parameters(keys: list[str] | None = None, path: Path = PARAMETERS_FILE) -> list[Parameter]:
    """The uncertain parameters of ``parameters.yaml`` (all, or those of ``keys`` in that order).

    Raises:
        DesignError: a key the schema does not have, a range that is not low < high around a
            value the schema allows, or a key asked for that the file does not list.
    """
    from sim.preflight import check_key

    data = yaml.safe_load(path.read_text()) or {}
    out = {}
    for i, entry in enumerate(data.get("parameters") or []):
        key = str(entry.get("key", ""))
        where = f"{path.name}, parameters[{i}] ({key})"
        try:
            check_key(key)
            default = _default_of(key)
        except (UserError, AttributeError, TypeError, ValueError) as err:
            raise DesignError(f"{where}: not a numeric parameter of the model ({err})") from None
        low, high = (float(x) for x in entry["range"])
        if not low < high or (entry.get("log") and low <= 0):
            raise DesignError(f"{where}: range [{low}, {high}] must have low < high (and low > 0 on a log scale)")
        out[key] = Parameter(key, low, high, default, bool(entry.get("log", False)), str(entry.get("why", "")))
    if keys is None:
        return list(out.values())
    missing = [k for k in keys if k not in out]
    if missing:
        raise DesignError(f"{missing}: not in {path.name}; allowed: {sorted(out)}")
    return [out[k] for k in keys]


def calibration_spec(path: Path = PARAMETERS_FILE) -> tuple[list[Parameter], list[str]]:
    """The parameters the calibration searches and the patterns of its objective (``parameters.yaml``)."""
    data = yaml.safe_load(path.read_text()) or {}
    spec = data.get("calibration") or {}
    return load_parameters(list(spec.get("parameters") or []), path), list(spec.get("objective") or [])


# ----------------------------------------------------------------------------- points
def point_text(values: dict[str, float]) -> str:
    """The config file of a design point: ``# @package _global_`` and the values nested under ``model``."""
    tree: dict[str, Any] = {}
    for key, value in sorted(values.items()):
        node = tree
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        if isinstance(_schema_value(key), int):  # a count: sampled values are rounded to whole numbers
            node[leaf] = int(round(float(value)))
        else:  # six significant digits: exact in text, stable across runs
            node[leaf] = float(f"{float(value):.6g}")
    return "# @package _global_\n# a design point written by sim.design (data, not code)\n" + yaml.safe_dump(tree, sort_keys=True)


def write_points(out: Path, points: dict[str, dict[str, float]]) -> Path:
    """Write each point's file under ``<out>/points/point/``; return the search-path folder.

    A file that exists with other values is never overwritten (a rerun writes the same text).

    Raises:
        DesignError: a point file of the same name holds other values.
    """
    folder = out / POINTS_DIR / "point"
    folder.mkdir(parents=True, exist_ok=True)
    for name, values in points.items():
        path = folder / f"{name}.yaml"
        text = point_text(values)
        if path.exists():
            if path.read_text() != text:
                raise DesignError(f"{path}: holds other values than this run's point {name}; give a new --out")
            continue
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return out / POINTS_DIR


def read_point(path: Path) -> dict[str, float]:
    """The values of a point file, as ``{config key: value}``."""

    def walk(node: Any, prefix: str) -> dict[str, float]:
        if isinstance(node, dict):
            out: dict[str, float] = {}
            for k, v in node.items():
                out.update(walk(v, f"{prefix}.{k}" if prefix else str(k)))
            return out
        return {prefix: float(node)}

    return walk(yaml.safe_load(path.read_text()) or {}, "")


def launcher_args(launcher: str, jobs: int) -> list[str]:
    """Hydra overrides that pick the launcher (and its parallel jobs where it has them)."""
    args = [f"hydra/launcher={launcher}"]
    if launcher == "joblib":
        args.append(f"hydra.launcher.n_jobs={jobs}")
    elif launcher == "ray":
        # a Ray of the sweep's own: without address=local, Ray joins a cluster started on this machine
        # before (ray start), which refuses num_cpus
        args += ["hydra.launcher.ray.init.address=local", f"+hydra.launcher.ray.init.num_cpus={jobs}"]
    return args


def add_launcher_args(p) -> None:
    """The launcher options shared by the design commands (``--launcher``, ``--jobs``, ``--launcher-arg``)."""
    p.add_argument("--launcher", choices=LAUNCHERS, default="joblib", help="Hydra launcher of the sweeps (default joblib)")
    p.add_argument("--jobs", type=int, default=2, help="parallel jobs of the joblib/Ray launcher (default 2)")
    p.add_argument(
        "--launcher-arg",
        action="append",
        default=[],
        metavar="hydra.launcher.KEY=VALUE",
        help="a setting of the launcher, passed to every sweep (repeat it), e.g. hydra.launcher.partition=short",
    )


#: largest seed the samplers take (numpy's legacy seeds, which Optuna and SALib use, are 32-bit)
MAX_SEED = 2**32 - 1


def seed_problems(flag: str, value: int) -> list[str]:
    """A message when a sampler's seed is outside [0, 2^32 - 1] (refused before a folder is made)."""
    return [] if 0 <= value <= MAX_SEED else [f"{flag} {value}: a seed in [0, {MAX_SEED}]"]


def launcher_problems(args) -> list[str]:
    """What is wrong with the launcher options (one message each)."""
    problems = [f"--jobs {args.jobs}: at least 1"] if args.jobs < 1 else []
    for a in args.launcher_arg:
        if not a.startswith("hydra.launcher.") or "=" not in a:
            problems.append(f"--launcher-arg {a}: must be hydra.launcher.KEY=VALUE")
    return problems


def run_points(
    sweep: Path,
    points_dir: Path,
    names: list[str],
    seeds: int,
    overrides: list[str],
    launcher: str,
    jobs: int,
    launcher_settings: list[str] | None = None,
) -> int:
    """Run the named points, each at seeds ``0 .. seeds-1``, as one sweep into ``sweep``; its exit code.

    0: every job finished; 1: some failed (recorded in their folders, the rest ran); 2: refused.
    """
    cmd = [
        sys.executable,
        str(ROOT / "run.py"),
        "-m",
        f"hydra.searchpath=[file://{points_dir.resolve()}]",
        f"+point={','.join(names)}",
        f"seed=range({seeds})",
        *overrides,
        f"hydra.sweep.dir={sweep}",
        "run.figures=false",
        "run.progress=false",
        "report.figures=false",  # a setting per point: the collection's comparison figures would be unreadable
        *launcher_args(launcher, jobs),
        *(launcher_settings or []),
    ]
    print(f"running {len(names)} points x {seeds} seeds into {sweep}", file=sys.stderr)
    code = subprocess.run(cmd, cwd=ROOT).returncode
    if code != 0 and not (sweep / "sweep.json").exists():
        return 2  # refused before any job started (Hydra or the sweep's checks said why)
    return code


@dataclass
class PointRun:
    """A finished run of a design point."""

    point: str
    run: Run


def read_point_runs(sweep: Path) -> tuple[list[PointRun], pd.DataFrame]:
    """The finished runs of a design sweep (with the point each ran) and every job's status."""
    from sim.report import find_jobs

    if not sweep.is_dir():
        return [], pd.DataFrame(columns=["job", "status", "error"])
    jobs = find_jobs(sweep)
    out = []
    for job in jobs[jobs.status == "finished"]["job"]:
        folder = sweep / job
        cfg = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())
        choices = (yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text()) or {})["hydra"]["runtime"]["choices"]
        run = Run(
            folder=folder,
            scenario=cfg["scenario"]["name"],
            seed=int(cfg["seed"]),
            n_buyers=int(cfg["model"]["n_buyers"]),
            summary=json.loads((folder / "summary.json").read_text()),
        )
        out.append(PointRun(str(choices.get("point")), run))
    return out, jobs


# ----------------------------------------------------------------------------- outcomes
#: the headline outcomes of a run with an intervention against its counterfactual (the effects of
#: its first intervention, docs/outputs.md) and of the counterfactual itself
OUTCOMES = {
    "online_volume_per_1000": "online trade in the counterfactual (no intervention), EUR per day per 1,000 buyers",
    "online_drop": "fall of online volume after the intervention, share of the counterfactual's",
    "days_to_recovery": "days until online volume is back at 90% of the counterfactual's (censored: the days observed)",
    "displacement_offline_90d": "share of the target's buyers' spending that moved offline, 90 days after",
    "users_change": "change in the number of users over the year from the intervention, share",
    "harm_change": "change in harm over the year from the intervention, share",
}


def headline_outcomes(run: Run) -> dict[str, float]:
    """The :data:`OUTCOMES` of one run with an intervention (NaN where the run gives none)."""

    def num(v: Any) -> float:
        return math.nan if v is None else float(v)

    cf_file = run.folder / "counterfactual" / "summary.json"
    cf = json.loads(cf_file.read_text()).get("run", {}) if cf_file.exists() else run.summary.get("run", {})
    e = run.effect()
    return {
        "online_volume_per_1000": num(cf.get("online_volume_eur_per_day")) * 1000.0 / run.n_buyers,
        "online_drop": num(e.get("online_drop")),
        "days_to_recovery": num(e.get("online_days_to_recovery")),
        "displacement_offline_90d": num((e.get("displacement_90d") or {}).get("offline")),
        "users_change": num(e.get("users_change")),
        "harm_change": num(e.get("harm_change")),
    }


def outcome_table(runs: list[PointRun], points: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One row per point and seed: the point's parameter values and the run's headline outcomes."""
    rows = []
    for pr in runs:
        if pr.point not in points:
            continue
        rows.append({"point": pr.point, "seed": pr.run.seed, **points[pr.point], **headline_outcomes(pr.run)})
    cols = ["point", "seed", *next(iter(points.values()), {}).keys(), *OUTCOMES]
    return pd.DataFrame(rows, columns=cols).sort_values(["point", "seed"]).reset_index(drop=True)


def point_means(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Outcomes averaged over seeds, one row per point in the order of ``names`` (NaN for a point without runs)."""
    means = table.groupby("point")[list(OUTCOMES)].mean()
    return means.reindex(names)


# ----------------------------------------------------------------------------- command lines
def apply_quick(parser, args, values: dict[str, Any]) -> None:
    """``--quick``: set ``values`` for the options the user did not give (explicit options win)."""
    for name, value in values.items():
        if getattr(args, name) == parser.get_default(name):
            setattr(args, name, value)


def remove_if_new(out: Path, existed: bool) -> None:
    """Remove ``out`` after a refusal if this invocation made it (a rerun's folder is kept)."""
    if not existed and out.is_dir():
        shutil.rmtree(out, ignore_errors=True)


# ----------------------------------------------------------------------------- folders and records
def check_out(out: Path, own: set[str]) -> None:
    """Refuse an output folder that holds anything the command did not write."""
    if out.exists() and not out.is_dir():
        raise DesignError(f"--out {out}: is a file; give a folder")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in own and not p.name.startswith("."))
        if foreign:
            raise DesignError(f"--out {out}: holds {foreign[:5]}, which this command did not write; give a new folder")


def check_record(out: Path, record_name: str, settings: dict) -> None:
    """Write the command's settings into ``<out>/<record_name>``, or refuse a folder made with others.

    Raises:
        DesignError: the folder was made by the same command with other settings (a rerun must
            use the same settings, so that finished runs are reused and nothing is mixed).
    """
    path = out / record_name
    if path.exists():
        old = json.loads(path.read_text()).get("settings", {})
        diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        if diff:
            shown = "; ".join(f"{k}: {old.get(k)} there, {settings.get(k)} now" for k in diff[:4])
            raise DesignError(
                f"--out {out}: was made with other settings ({shown}); rerun with the same ones or give a new --out"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"settings": settings}, indent=2))


def update_record(out: Path, record_name: str, **info: Any) -> None:
    """Add what was run (commit, date, jobs) to the record written by :func:`check_record`."""
    path = out / record_name
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(info)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


def fmt(x: Any, digits: int = 3) -> str:
    """A number for a Markdown table (``-`` for NaN)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.{digits}g}"
