"""Run one simulation, or a sweep with -m: thin Hydra entry point.

python run.py                                   # default baseline, 20,000 buyers, two years
python run.py model.n_buyers=5000 run.days=365 seed=7
python run.py -m scenario=baseline,takedown 'seed=range(10)'
python run.py -m +experiment=takedown_recovery  # a ready-made experiment (experiments/)
python run.py --help                            # Hydra's help: config groups and keys

Before Hydra runs, the command line is checked (sim/preflight.py); the callback in
sim/callbacks.py validates the composed configuration and claims the output folder before
anything is written. What ends how is described in docs/reliability.md.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from sim.config import register_configs
from sim.errors import UserError

register_configs()


@hydra.main(version_base="1.3", config_path="configs", config_name="config")
def main(cfg: DictConfig) -> None:
    """Run one job into Hydra's output folder; in a sweep a failed job is recorded and the sweep goes on."""
    from sim.callbacks import CLAIMS, read_sweep, refuse
    from sim.rundir import new_token
    from sim.runner import record_failure, run_job

    _interrupt_on_sigterm()
    hc = HydraConfig.get()
    out_dir = Path(os.path.abspath(hc.runtime.output_dir))
    sweep = hc.mode == RunMode.MULTIRUN
    token = read_sweep(Path(hc.sweep.dir)).get("token") or new_token() if sweep else new_token()
    _to_log_file(f"{out_dir}: scenario {cfg.scenario.name}, seed {cfg.seed}, {cfg.model.n_buyers} buyers, {cfg.run.days} days")
    try:
        summary = run_job(cfg, out_dir, token, skip_finished=sweep)
    except KeyboardInterrupt as err:
        record_failure(err, out_dir, token, status="interrupted")
        _say(f"\n{out_dir}: interrupted; marked 'interrupted' in status.json, no tables written", err=True)
        raise  # cli() ends the sweep or run cleanly
    except UserError as err:
        if sweep:
            record_failure(err, out_dir, token)
            _say(f"{out_dir}: FAILED: {err}", err=True)
            return
        CLAIMS.get(out_dir, None) and CLAIMS[out_dir].remove()
        refuse(err)
    except Exception as err:  # noqa: BLE001 - a bug: keep the record, and in a sweep go on with the others
        if "timed-out" in str(err):  # Submitit's word for SLURM's time limit
            err = TimeoutError(
                f"{type(err).__name__}: {err} (the run reached the launcher's time limit: rerun the sweep into the same "
                "folder with a larger hydra.launcher.timeout_min; finished runs are skipped)"
            )
        record_failure(err, out_dir, token)
        _say(f"{out_dir}: FAILED: {type(err).__name__}: {err} (details in error.txt)", err=True)
        if sweep:
            return
        raise
    if summary is None:
        _say(f"{out_dir}: finished before with the same settings and code, skipped")
        return
    from sim.summary import headline_text

    _say(f"{out_dir}: {headline_text(summary['run'])}")


def _say(message: str, err: bool = False) -> None:
    """Print a line for the user and keep it in the run's ``run.log`` (Hydra's log file)."""
    print(message, file=sys.stderr if err else sys.stdout)
    _to_log_file(message.strip())


def _to_log_file(message: str) -> None:
    """Write a line to Hydra's log file only (its console handler would print it a second time)."""
    record = logging.LogRecord("run", logging.INFO, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM (SLURM's time limit, ``kill``) like Ctrl-C, so the run is marked interrupted."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (some launchers): keep the default
        pass


def cli() -> None:
    """Compose and check every job as Hydra will (files as data, sim/hydra_guard.py), then hand over to Hydra."""
    from sim.hydra_guard import check_invocation
    from sim.runner import to_config

    # -m may stand anywhere among the overrides (Hydra's parser wants it before them)
    sys.argv[1:] = [a for a in sys.argv[1:] if a in ("-m", "--multirun")] + [
        a for a in sys.argv[1:] if a not in ("-m", "--multirun")
    ]
    try:
        inv = check_invocation(sys.argv[1:], validate=to_config)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    if inv.runs and not inv.multirun and any(a.lstrip("+").startswith("experiment=") for a in inv.args.overrides):
        print("note: an experiment is a sweep; without -m only one run of its base settings is made", file=sys.stderr)
    # Hydra prints an error of its launcher as a traceback and exits 1; let it reach us instead, so that
    # a sweep the launcher refuses is cleaned up and reported in one line
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except KeyboardInterrupt:
        from sim.report import end_interrupted_sweep

        end_interrupted_sweep()
        sys.exit(130)
    except Exception as err:  # noqa: BLE001 - the launcher's or sweeper's error, or a bug of a single run
        from sim.callbacks import end_failed_sweep

        status = end_failed_sweep(err)
        if status is None:
            raise
        sys.exit(status)


if __name__ == "__main__":
    cli()
