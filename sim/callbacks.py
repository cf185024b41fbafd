"""Hydra callback that guards every run and sweep before anything is simulated or written.

:class:`GuardRuns` is registered in ``configs/config.yaml`` before the collection callback:

* ``on_run_start`` (single run; Hydra has not created the run folder yet): validate the whole
  configuration, estimate memory, and claim a new or empty run folder.
* ``on_multirun_start``: compose and validate every job of the sweep (so one bad value refuses the
  sweep before any job runs), check that job folder names stay inside the sweep folder, refuse a
  sweep folder that holds a sweep of other settings or other code, lock the folder and record the
  sweep in ``sweep.json`` (settings, swept keys, code, the jobs of this invocation).
* ``on_job_end``: progress as jobs of this sweep done of its total.
* ``on_multirun_end`` (after the collection): release the lock, list failed jobs, and exit with
  status 1 if any job of this sweep did not finish.

A refusal prints ``error: <message>`` and exits with status 2.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sim.errors import ConfigError, FolderError, UserError
from sim.rundir import (
    STATUS_FILE,
    SWEEP_FILE,
    Created,
    claim_run_folder,
    lock_sweep,
    make_folder,
    new_token,
    read_record,
    read_status,
    unlock_sweep,
    write_json_atomic,
)

#: run folders claimed by this process (single runs): what a failure may remove
CLAIMS: dict[Path, Created] = {}
#: the sweep this process runs (folder, token), so that an interrupt can release and collect it
CURRENT_SWEEP: list[tuple[Path, str]] = []
#: what starting the current sweep created: the folder (if new) and the sweep record it replaced,
#: so that a sweep its launcher refuses before any job ran leaves the folder as it found it
SWEEP_START: dict[str, Any] = {}


def refuse(err: UserError) -> None:
    """Print a one-line error and exit with status 2 (bad input: nothing ran)."""
    print(f"error: {err}", file=sys.stderr)
    sys.exit(2)


def _guarded(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except UserError as err:
        refuse(err)


#: errors of this process's sweep collection (appended by sim.report.CollectRuns; a non-empty list
#: makes the sweep exit 1)
COLLECTION_ERRORS: list[str] = []


class GuardRuns(Callback):
    """Validate, claim folders and record sweeps; see the module docstring."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Validate the run and claim its folder before Hydra writes into it."""
        _guarded(lambda: start_run(config))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Check every job, the sweep folder and its record; lock it."""
        _guarded(lambda: start_sweep(config))

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """Print progress as jobs of this sweep done of its total."""
        from hydra.types import RunMode

        if config.hydra.mode != RunMode.MULTIRUN:
            return
        sweep = Path(config.hydra.sweep.dir)
        record = read_sweep(sweep)
        if not record:
            return
        progress = sweep / f".progress-{record['token']}"
        with progress.open("a") as f:  # one short line per job: appends from parallel workers do not mix
            f.write(str(config.hydra.job.override_dirname) + "\n")
        done = len(set(progress.read_text().splitlines()))
        print(f"[sweep] {done} of {len(record['jobs'])} jobs done (last: {config.hydra.job.override_dirname})", file=sys.stderr)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Release the lock; list jobs that did not finish, or a failed collection, and exit 1 if any.

        Hydra calls the callbacks' ``on_multirun_end`` in reverse order, so the collection
        (:class:`sim.report.CollectRuns`, listed after this one) has run and recorded its failure
        in :data:`COLLECTION_ERRORS`.
        """
        sweep = Path(config.hydra.sweep.dir)
        record = read_sweep(sweep)
        unlock_sweep(sweep, record.get("token", ""))
        SWEEP_START["ended"] = True
        if not record:
            return
        (sweep / f".progress-{record['token']}").unlink(missing_ok=True)  # this invocation's own counter
        bad = [(job, read_status(sweep / job)) for job in record["jobs"] if job not in jobs_finished(sweep, record)]
        if bad:
            print(f"[sweep] {len(bad)} of {len(record['jobs'])} jobs did not finish:", file=sys.stderr)
            for job, status in bad:
                print(f"  {status['status']}: {sweep / job}: {status.get('error', '')}", file=sys.stderr)
        if COLLECTION_ERRORS:
            print(f"[sweep] the collection failed: {COLLECTION_ERRORS[-1]}", file=sys.stderr)
        if bad or COLLECTION_ERRORS:
            sys.exit(1)


# ----------------------------------------------------------------------------- single run
def start_run(config: DictConfig) -> None:
    """Validate the run's configuration and claim its folder (before Hydra writes into it)."""
    from sim.preflight import check_memory
    from sim.runner import to_config

    cfg = to_config(config)
    check_memory(cfg)
    folder = Path(os.path.abspath(str(config.hydra.run.dir)))
    CLAIMS[folder] = claim_run_folder(folder)


# ----------------------------------------------------------------------------- sweeps
def start_sweep(config: DictConfig) -> None:
    """Check every job, the sweep folder and its record; lock it and record this sweep."""
    from sim.hydra_guard import sweep_jobs
    from sim.runner import code_hash, git_revision, to_config

    sweep = Path(str(config.hydra.sweep.dir)).absolute()
    found = sweep_jobs(config)
    if found is None:
        to_config(config)
        return
    job_overrides, swept = found
    jobs = check_jobs(config, sweep, job_overrides)
    settings = fixed_settings([j["settings"] for j in jobs], swept)
    previous = read_sweep(sweep)
    check_compatible(sweep, previous, swept, settings, code_hash())
    created = make_folder(sweep)
    token = new_token()
    try:
        lock_sweep(sweep, token)
    except FolderError:
        if created.top is not None:  # only a folder this invocation made
            created.remove()
        raise
    before = [j["subdir"] for j in jobs if _finished_with(sweep / j["subdir"], j["result_hash"])]
    record = {
        "token": token,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "swept_keys": swept,
        "settings": settings,
        "code_hash": code_hash(),
        "git_revision": git_revision(),
        "jobs": [j["subdir"] for j in jobs],
        "finished_before": before,
        "all_jobs": sorted(set(previous.get("all_jobs", [])) | {j["subdir"] for j in jobs}),
    }
    SWEEP_START.update(created=created, previous=read_record(sweep / SWEEP_FILE).encode() if previous else None, ended=False)
    write_json_atomic(sweep / SWEEP_FILE, record)
    CURRENT_SWEEP.append((sweep, token))
    note = f" ({len(before)} finished before with the same settings and code: skipped)" if before else ""
    print(f"[sweep] {len(jobs)} jobs into {sweep}{note}", file=sys.stderr)


def check_jobs(config: DictConfig, sweep: Path, job_overrides: list[list[str]]) -> list[dict]:
    """Compose and validate every job; return each one's folder, result fingerprint and settings.

    Raises:
        ConfigError: naming the job: bad input, a folder name that leaves the sweep, too much
            memory, no job at all, jobs sharing a folder, or a baseline outside the swept scenarios.
    """
    from hydra.core.global_hydra import GlobalHydra

    from sim.hydra_guard import CHECKED_JOBS
    from sim.preflight import check_memory, composition_error
    from sim.runner import result_hash, result_settings, task_container, to_config

    loader = GlobalHydra.instance().hydra.config_loader  # type: ignore[union-attr]
    jobs: list[dict] = []
    t0 = time.perf_counter()
    for overrides in job_overrides:
        try:
            job_cfg = CHECKED_JOBS.get(tuple(overrides)) or loader.load_sweep_config(config, list(overrides))
        except Exception as err:  # noqa: BLE001 - Hydra's composition errors, as one line
            raise ConfigError(f"job {' '.join(overrides)}: {composition_error(err)}") from None
        subdir = str(job_cfg.hydra.sweep.subdir)
        try:
            check_subdir(sweep, subdir)
            check_memory(to_config(job_cfg))
        except ConfigError as err:
            raise ConfigError(f"job {subdir}: {err}") from None
        data = task_container(job_cfg)
        jobs.append(
            {
                "subdir": subdir,
                "result_hash": result_hash(data),
                "settings": result_settings(data),
                "scenario": str(job_cfg.scenario.name),
                "baseline": str(job_cfg.report.baseline),
            }
        )
    if not jobs:
        raise ConfigError("the sweep has no jobs (an empty range?)")
    scenarios = sorted({j["scenario"] for j in jobs})
    if len(scenarios) > 1 and jobs[0]["baseline"] not in scenarios:
        raise ConfigError(
            f"report.baseline={jobs[0]['baseline']}: not among the sweep's scenarios {scenarios}; "
            "paired differences are computed against it"
        )
    if len(jobs) > 20:
        print(f"[sweep] checked {len(jobs)} jobs in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    dupes = {j["subdir"] for j in jobs if sum(k["subdir"] == j["subdir"] for k in jobs) > 1}
    if dupes:
        raise ConfigError(f"jobs {sorted(dupes)} would share a folder; exclude fewer keys from hydra.job.config.override_dirname")
    return jobs


def check_subdir(sweep: Path, subdir: str) -> None:
    """Refuse a job folder name that is not one plain folder inside the sweep folder."""
    target = (sweep / subdir).resolve()
    if not subdir or "/" in subdir or "\\" in subdir or subdir.startswith(".") or target.parent != sweep.resolve():
        raise ConfigError(
            f"the job folder name {subdir!r} would leave the sweep folder or hide itself; "
            "values that name folders may not hold '/', '\\' or start with '.'"
        )


def fixed_settings(job_settings: list[dict[str, str]], swept: list[str]) -> dict[str, str]:
    """The settings every job shares: all keys not under a swept key (they are equal across jobs)."""

    def is_swept(key: str) -> bool:
        return any(key == s or key.startswith(s + ".") for s in swept)

    first = job_settings[0] if job_settings else {}
    return {k: v for k, v in sorted(first.items()) if not is_swept(k)}


def check_compatible(sweep: Path, previous: dict, swept: list[str], settings: dict[str, str], code: str) -> None:
    """Refuse to add runs to a sweep folder that holds runs of other settings or other code.

    Raises:
        FolderError: naming the keys that differ (runs of different settings are never pooled).
    """
    if not sweep.exists() or not any(sweep.iterdir()):
        return
    if not previous:
        raise FolderError(
            f"hydra.sweep.dir={sweep}: the folder holds files but no sweep record ({SWEEP_FILE}); "
            "a sweep writes only into a new folder or one of its own earlier sweeps"
        )
    reasons = []
    if sorted(previous.get("swept_keys", [])) != swept:
        reasons.append(f"swept keys {previous.get('swept_keys')} there, {swept} now")
    old = previous.get("settings", {})
    diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
    for k in diff[:5]:
        reasons.append(f"{k}: {old.get(k, '(unset)')} there, {settings.get(k, '(unset)')} now")
    if len(diff) > 5:
        reasons.append(f"... {len(diff) - 5} more keys")
    if previous.get("code_hash") != code:
        reasons.append(f"model code {previous.get('code_hash')} (git {previous.get('git_revision')}) there, {code} now")
    if reasons:
        raise FolderError(
            f"hydra.sweep.dir={sweep} holds a sweep of other settings ({'; '.join(reasons)}); "
            "its runs would be mixed with these: choose a new hydra.sweep.dir"
        )


def end_failed_sweep(err: BaseException) -> int | None:
    """After the launcher or sweeper stopped this process's sweep with an error: clean up and say so.

    Before any job ended, the sweep is refused: what starting it created is removed (a new folder
    as a whole; in an existing folder the lock, and the sweep record is restored) and the exit
    status is 2. After some jobs ended, their runs stay, the lock is released and the status is 1.

    Returns:
        The exit status, or None when no sweep of this process was under way.
    """
    if not CURRENT_SWEEP or SWEEP_START.get("ended"):
        return None
    sweep, token = CURRENT_SWEEP[-1]
    progress = sweep / f".progress-{token}"
    message = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
    if progress.exists():
        progress.unlink(missing_ok=True)
        unlock_sweep(sweep, token)
        print(f"error: the sweep stopped: {message}; the runs that ended are in {sweep}", file=sys.stderr)
        return 1
    created: Created = SWEEP_START["created"]
    if created.top is not None:
        created.remove()
    else:
        previous = SWEEP_START.get("previous")
        if previous is None:
            (sweep / SWEEP_FILE).unlink(missing_ok=True)
        else:
            (sweep / SWEEP_FILE).write_bytes(previous)
        unlock_sweep(sweep, token)
    print(f"error: the launcher refused the sweep before any job ran: {message}", file=sys.stderr)
    return 2


def read_sweep(sweep: Path) -> dict:
    """The sweep record (``sweep.json``), or {} where there is none."""
    try:
        return json.loads(read_record(Path(sweep) / SWEEP_FILE))
    except (OSError, ValueError):
        return {}


def _finished_with(folder: Path, digest: str) -> bool:
    status = read_status(folder)
    return status["status"] == "finished" and status.get("result_hash") == digest


def jobs_finished(sweep: Path, record: dict) -> set[str]:
    """Jobs of the recorded sweep that hold a finished run (now or from before)."""
    return {job for job in record["jobs"] if read_status(sweep / job)["status"] == "finished"}


__all__ = ["CLAIMS", "GuardRuns", "STATUS_FILE", "read_sweep", "refuse"]
