"""Run one simulation from a composed config and write its folder (DESIGN.md section 6).

``run.py`` is a thin Hydra entry point around :func:`run_job`. Tests and notebooks use
:func:`compose` and :func:`simulate` directly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from sim.config import Config, register_configs, validate

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
TABLES = ("daily", "markets", "substances", "events")


def compose(overrides: list[str] | None = None) -> Config:
    """Compose ``configs/config.yaml`` with Hydra overrides into a validated :class:`Config`."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        dcfg = hydra_compose(config_name="config", overrides=list(overrides or []))
    return to_config(dcfg)


def to_config(dcfg: DictConfig) -> Config:
    """Turn a composed DictConfig into a validated :class:`Config` object."""
    d = OmegaConf.to_container(dcfg, resolve=True)
    d.pop("hydra", None)
    cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), d))
    validate(cfg)
    return cfg


def simulate(cfg: Config, progress: bool = False):
    """Build and run the model; return ``(model, tables)``."""
    from sim.collect import Recorder
    from sim.model import CryptoMarketModel

    model = CryptoMarketModel(cfg)
    model.recorder = Recorder()
    model.run(progress=progress)
    return model, model.recorder.tables(model)


def config_hash(dcfg: DictConfig) -> str:
    """Fingerprint of the job's configuration (without Hydra's own settings)."""
    d = OmegaConf.to_container(dcfg, resolve=True)
    d.pop("hydra", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_job(dcfg: DictConfig, out_dir: Path, skip_finished: bool = False) -> dict | None:
    """Validate, simulate, and write every output file into ``out_dir``.

    Files are written into ``out_dir/.partial`` and moved into place only when all are done,
    so a failed run leaves no table behind. On bad input nothing is simulated or written.
    With ``skip_finished`` (sweeps), a folder that already holds the finished run of the same
    configuration is left as it is and None is returned.
    """
    from sim.output import write_outputs

    digest = config_hash(dcfg)
    done = out_dir / "manifest.json"
    if skip_finished and done.exists():
        try:
            if json.loads(done.read_text()).get("config_hash") == digest:
                return None
        except (OSError, ValueError):
            pass
    (out_dir / "error.txt").unlink(missing_ok=True)
    t0 = time.perf_counter()
    for name in ("MESA", "MESA.mesa.model"):  # Mesa logs every step at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    cfg = to_config(dcfg)  # raises ConfigError before anything runs
    progress = cfg.run.progress and sys.stderr.isatty()
    model, tables = simulate(cfg, progress=progress)
    wall = time.perf_counter() - t0
    partial = out_dir / ".partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        summary = write_outputs(model, tables, partial, cfg, manifest={**manifest(cfg, wall), "config_hash": digest})
        for p in partial.iterdir():
            target = out_dir / p.name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            p.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return summary


def manifest(cfg: Config, wall_s: float) -> dict:
    """Seed, versions, git revision, wall time."""
    versions = {}
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
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=5
        )
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def record_failure(err: Exception, out_dir: Path) -> None:
    """In a sweep: keep the error in ``error.txt`` (the collection lists it) and go on."""
    import traceback

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "error.txt").write_text(f"{type(err).__name__}: {err}\n\n{traceback.format_exc()}")
    print(f"{out_dir}: FAILED: {type(err).__name__}: {err}", file=sys.stderr)


def fail_bad_input(err: Exception, out_dir: Path | None) -> None:
    """Report bad input and remove the run folder Hydra created (it holds no results)."""
    print(f"error: {err}", file=sys.stderr)
    if out_dir is not None and out_dir.exists() and not any((out_dir / f"{t}.parquet").exists() for t in TABLES):
        shutil.rmtree(out_dir, ignore_errors=True)
    sys.exit(2)
