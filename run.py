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
    h = summary["run"]
    _say(
        f"{out_dir}: online volume {h['online_volume_eur_per_day']:.0f} EUR/day, "
        f"online share {h['online_share_of_purchases']['all']:.3f}, "
        f"delivery success {h['delivery_success_rate']:.3f}, markets at end {h['active_markets_end']}"
    )


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
    """Check the command line (keys, config files as data), then hand over to Hydra."""
    from sim.preflight import check_command_line, trial_overrides
    from sim.runner import compose

    # -m may stand anywhere among the overrides (Hydra's parser wants it before them)
    sys.argv[1:] = [a for a in sys.argv[1:] if a in ("-m", "--multirun")] + [
        a for a in sys.argv[1:] if a not in ("-m", "--multirun")
    ]

    try:
        check_command_line(sys.argv[1:])
        trial = trial_overrides(sys.argv[1:])
        if trial is not None:  # compose one job now: Hydra's own errors become one-line messages
            compose(trial)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    if trial is not None and any(a.lstrip("+").startswith("experiment=") for a in trial) and "-m" not in sys.argv:
        print("note: an experiment is a sweep; without -m only one run of its base settings is made", file=sys.stderr)
    try:
        main()
    except KeyboardInterrupt:
        from sim.report import end_interrupted_sweep

        end_interrupted_sweep()
        sys.exit(130)


if __name__ == "__main__":
    cli()
