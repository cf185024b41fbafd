"""Run one simulation from a composed config and write its folder (docs/outputs.md).

``run.py`` is a thin Hydra entry point around :func:`run_job`. Tests and notebooks use
:func:`compose` and :func:`simulate` directly.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from sim.config import Config, check_scenario_name, validate
from sim.errors import FolderError
from sim.rundir import OWN_NAMES, is_token, mark, publish, read_status

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
TABLES = ("daily", "markets", "substances", "events", "vendors")  # and cohorts.parquet when interventions ran


def compose(overrides: list[str] | None = None) -> Config:
    """Compose ``configs/config.yaml`` with Hydra overrides into a validated :class:`Config`.

    The composition is checked as ``run.py`` checks it (:func:`sim.hydra_guard.check_invocation`:
    files as data, Hydra's own settings, literal values), so a configuration a test or notebook
    composes is one the command line would run.
    """
    from sim.hydra_guard import check_invocation

    inv = check_invocation(list(overrides or []), validate=to_config)
    return to_config(inv.configs[0])


def to_config(dcfg: DictConfig) -> Config:
    """Turn a composed DictConfig into a validated :class:`Config` object.

    Raises:
        ConfigError: a key the schema does not have, a value of the wrong type or out of range.
    """
    from omegaconf.errors import OmegaConfBaseException

    from sim.errors import ConfigError

    try:
        d = task_container(dcfg)
        cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), d))
        assert isinstance(cfg, Config)
    except OmegaConfBaseException as err:
        from sim.preflight import allowed_type

        key = err.full_key or "?"
        first = str(err).splitlines()[0]
        raise ConfigError(f"{key}: {first}{allowed_type(first)}") from None
    validate_config(cfg)
    return cfg


def validate_config(cfg: Config) -> None:
    """Every check of a configuration object: the schema's (ranges, names) and the interventions'.

    Raises:
        ConfigError: naming the key, the value and what is allowed.
    """
    from sim.interventions import check_scenario

    validate(cfg)
    check_scenario(cfg)
    check_scenario_name(cfg)


def simulate(cfg: Config, progress: bool = False, probes: list | None = None, label: str = "simulating"):
    """Build and run the model; return ``(model, tables)``.

    ``probes`` (counterfactual runs): cohorts to follow, as :func:`sim.summary.run_facts` lists them.

    Floating-point overflow and undefined results (inf - inf, 0 / 0, a cast of inf or NaN to an
    integer) raise instead of passing infinities and NaN into the tables: every parameter's bounds
    are meant to rule them out (sim/params.py), so one that happens all the same is reported as a
    configuration problem. Code that expects such values says so with its own ``np.errstate``.

    Raises:
        ConfigError: the arithmetic overflowed or became undefined; the message names the day and
            the parameters set farthest from their defaults (:func:`sim.summary.overflow_message`).
    """
    import numpy as np

    from sim.errors import ConfigError
    from sim.model import CryptoMarketModel
    from sim.summary import overflow_message

    model = None
    try:
        with np.errstate(over="raise", invalid="raise"):
            model = CryptoMarketModel(cfg, probes=probes)
            model.run(progress=progress, label=label)
            tables = model.recorder.tables(model)
    except (FloatingPointError, OverflowError) as err:
        day = getattr(model, "day", None) if model is not None else None
        raise ConfigError(overflow_message(cfg, err, day)) from None
    return model, tables


def counterfactual_config(cfg: Config) -> Config:
    """The same configuration without the scenario's interventions (the scenario's name is kept)."""
    import copy

    cf = copy.deepcopy(cfg)
    cf.scenario.interventions = []
    return cf


def simulate_pair(cfg: Config, progress: bool = False):
    """Run ``cfg`` and, when interventions fired and ``run.counterfactual`` is on, its counterfactual.

    Returns ``(facts, tables, counterfactual)``, ``counterfactual`` being ``(facts, tables)`` of
    the run without interventions (same seed, so identical up to the first start day) or None.
    The treated model is freed before the counterfactual runs. A run too small for the figures it
    reports says so on stderr before it starts, with the size that would give them
    (:func:`sim.summary.population_warnings`).

    Raises:
        ConfigError: the arithmetic overflowed (:func:`simulate`).
    """
    from sim.summary import population_warnings, run_facts

    for line in population_warnings(cfg):
        print(f"warning: {line}", file=sys.stderr, flush=True)
    model, tables = simulate(cfg, progress=progress)
    facts = run_facts(model, tables)
    del model
    if not (cfg.run.counterfactual and facts["probes"]):
        return facts, tables, None
    cf_model, cf_tables = simulate(counterfactual_config(cfg), progress=progress, probes=facts["probes"], label="counterfactual")
    return facts, tables, (run_facts(cf_model, cf_tables), cf_tables)


def task_container(dcfg: DictConfig) -> dict:
    """The composed configuration as plain data, resolved, without Hydra's own settings."""
    return {
        str(k): OmegaConf.to_container(dcfg[k], resolve=True) if OmegaConf.is_config(dcfg[k]) else dcfg[k]
        for k in dcfg
        if k != "hydra"
    }


def flatten(d, prefix: str = "") -> dict[str, str]:
    """Nested mappings and lists as ``{"a.b.0.c": json-text}``; NaN compares equal to NaN as text."""
    out: dict[str, str] = {}
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else None
    if items is None:
        out[prefix] = json.dumps(d, sort_keys=True, default=str)
        return out
    if not d:
        out[prefix] = json.dumps(d)
    for k, v in items:
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def result_settings(dcfg: DictConfig | dict) -> dict[str, str]:
    """The settings that determine a run's results: the flattened config without presentation keys."""
    from sim.preflight import PRESENTATION_KEYS

    d = dcfg if isinstance(dcfg, dict) else task_container(dcfg)
    return {k: v for k, v in flatten(d).items() if not any(k == p or k.startswith(p + ".") for p in PRESENTATION_KEYS)}


def result_hash(dcfg: DictConfig | dict) -> str:
    """Fingerprint of what determines a run's results: its settings and the model's code."""
    text = json.dumps(result_settings(dcfg), sort_keys=True) + code_hash()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: files of ``sim/`` that only run sweeps, read their results or show runs (the explorer): they cannot change a run's results
ANALYSIS_FILES = frozenset(
    {
        "app.py",
        "calibrate.py",
        "design.py",
        "discover.py",
        "sensitivity.py",
        "validate.py",
        "data/parameters.yaml",
        "data/targets.yaml",
    }
)
#: folders of ``sim/`` left out of the code fingerprint for the same reason
ANALYSIS_FOLDERS = ("explore/",)


@functools.cache
def code_hash() -> str:
    """Fingerprint of the model's code and data files (``sim/``), so results of other code are never reused.

    The analysis commands and the explorer (:data:`ANALYSIS_FILES`, :data:`ANALYSIS_FOLDERS`) are left out: editing a report must not make
    finished runs look like runs of other code.
    """
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted([*root.rglob("*.py"), *root.rglob("*.yaml")]):
        name = p.relative_to(root).as_posix()
        if name in ANALYSIS_FILES or name.startswith(ANALYSIS_FOLDERS):
            continue
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def run_job(dcfg: DictConfig, out_dir: Path, token: str, skip_finished: bool = False) -> dict | None:
    """Validate, simulate, and write every output file into ``out_dir``.

    Tables are written into a staging folder of this invocation (``.staging-<token>``) and moved
    into place only when all are done; ``status.json`` records ``running`` and then ``finished``.
    A failed run leaves no table behind. With ``skip_finished`` (sweeps), a folder holding the
    finished run of the same settings and code is left as it is and None is returned.

    Raises:
        ConfigError: bad input, before anything is simulated or written.
        FolderError: the folder already holds results of another run.
    """
    from sim.output import write_outputs

    for name in ("MESA", "MESA.mesa.model"):  # Mesa logs every step at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    cfg = to_config(dcfg)  # raises ConfigError before anything runs
    digest = result_hash(dcfg)
    if skip_finished:
        status = read_status(out_dir)
        if status["status"] == "finished" and status.get("result_hash") == digest:
            return None
        # A sweep reruns this job while it holds the sweep's lock, so an earlier attempt recorded in
        # status.json is dead (killed before it could remove its staging folder): that folder is this
        # program's own scratch, named by the token the record gives, and nothing reads it
        stale = status.get("token")
        if status["status"] in ("running", "failed", "interrupted") and is_token(stale) and stale != token:
            shutil.rmtree(out_dir / f".staging-{stale}", ignore_errors=True)
    held = [p.name for p in out_dir.glob("*") if p.name not in OWN_NAMES and not p.name.startswith(".")]
    if held:
        raise FolderError(f"{out_dir}: already holds {sorted(held)[:5]}; results of another run are never overwritten")
    t0 = time.perf_counter()
    mark(out_dir, "running", token=token, result_hash=digest)
    (out_dir / "error.txt").unlink(missing_ok=True)  # a previous attempt's marker, superseded by this one
    progress = cfg.run.progress and sys.stderr.isatty()
    facts, tables, counterfactual = simulate_pair(cfg, progress=progress)
    wall = time.perf_counter() - t0
    staging = out_dir / f".staging-{token}"
    staging.mkdir()
    try:
        info = {**manifest(cfg, wall), "result_hash": digest, "code_hash": code_hash()}
        summary = write_outputs(facts, tables, staging, cfg, manifest=info, counterfactual=counterfactual)
        publish(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # this invocation's own staging folder
    mark(out_dir, "finished", token=token, result_hash=digest, wall_time_s=round(wall, 3))
    return summary


def manifest(cfg: Config, wall_s: float) -> dict:
    """Seed, versions, git revision, wall time."""
    versions: dict[str, str | None] = {}
    for pkg in ("mesa", "numpy", "pandas", "pyarrow", "hydra-core", "omegaconf", "matplotlib"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "seed": cfg.seed,
        "scenario": cfg.scenario.name,
        "days": cfg.run.days,
        "burn_in_days": cfg.run.burn_in_days,
        "n_buyers": cfg.model.n_buyers,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "git_revision": git_revision(),
        "wall_time_s": round(wall_s, 3),
    }


def git_revision() -> str | None:
    """Commit of the code that ran, with ``-dirty`` if the work tree had changes."""
    root = Path(__file__).resolve().parent.parent
    git = ["git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null"]
    try:
        rev = subprocess.run([*git, "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, env=tool_env())
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            env=tool_env(),
        )
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def tool_env() -> dict[str, str]:
    """The environment for tools this program runs (git): without ``GIT_*`` variables.

    git reads its configuration from ``GIT_CONFIG_*`` variables, and ``core.fsmonitor`` there
    names a command it runs; nothing in the environment may make recording a revision run code.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def record_failure(err: BaseException, out_dir: Path, token: str, status: str = "failed") -> None:
    """Mark a run ``failed`` (or ``interrupted``) and keep the error in ``error.txt``; remove its staging."""
    import traceback

    from sim.errors import UserError

    for p in out_dir.glob(f".staging-{token}"):
        shutil.rmtree(p, ignore_errors=True)
    message = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    if status == "interrupted":
        message = "interrupted (Ctrl-C or a termination signal) before the run finished"
    detail = "" if isinstance(err, UserError) or status == "interrupted" else "\n\n" + traceback.format_exc()
    try:
        (out_dir / "error.txt").write_text(message + detail + "\n")
        mark(out_dir, status, token=token, error=message)
    except OSError:
        pass
