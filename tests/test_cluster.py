"""Sweeps on real cluster engines: SLURM (through Submitit) and Ray, each driven by ``run.py -m``.

The SLURM tests need a running SLURM cluster with a partition ``debug`` (``.ci/slurm-up`` starts a
single-node one on this machine); the Ray tests need a Python environment with the ``ray`` extra,
whose interpreter the environment variable ``CMABM_RAY_PYTHON`` names (Ray pins ``cloudpickle<3``,
which conflicts with joblib in the dev environment; ``.ci/run`` makes ``.venv-ray``). Without them the
tests are skipped, except in CI (environment variable ``CI`` set), where they fail: a CI without the
cluster engines must not pass silently.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, sweep

IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
PARTITION = "debug"
#: node states (sinfo %t) in which the partition can run jobs now or soon
READY_STATES = ("idle", "mix", "alloc", "comp")
#: a sweep that hangs (a job killed without a result, which Submitit cannot see without accounting) is stopped
SWEEP_TIMEOUT_S = 300
SLURM_LAUNCHER = (
    "hydra/launcher=slurm_cluster",
    f"hydra.launcher.partition={PARTITION}",
    "hydra.launcher.timeout_min=10",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.array_parallelism=2",
)
#: address=local: start a Ray instance of the sweep's own, even where `ray start` ran before (Ray would join that one)
RAY_LAUNCHER = ("hydra/launcher=ray", "hydra.launcher.ray.init.address=local", "+hydra.launcher.ray.init.num_cpus=2")
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def unavailable(reason: str) -> None:
    """Skip the test for ``reason``; in CI fail it instead."""
    if IN_CI:
        pytest.fail(f"{reason}; CI is set, and CI must run this test (.ci/run sets it up)", pytrace=False)
    pytest.skip(reason)


def check_collected(out: Path, proc: subprocess.CompletedProcess, n: int) -> list[Path]:
    """Every one of the ``n`` runs of the sweep in ``out`` finished and was collected; their folders."""
    assert proc.returncode == 0, f"the sweep failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    runs = sorted(p.parent.parent for p in out.glob("*/.hydra/config.yaml"))
    assert len(runs) == n, f"{n} run folders expected in {out}: {[p.name for p in runs]}"
    for run in runs:
        status = (run / "status.json").read_text()
        assert '"finished"' in status, f"{run.name}: {status}"
    jobs = pd.read_csv(out / "collected" / "jobs.csv")
    assert len(jobs) == n and set(jobs.status) == {"finished"}, jobs.to_string()
    summary = pd.read_csv(out / "collected" / "runs_summary.csv")
    assert len(summary) == n and sorted(summary.seed) == list(range(n)), summary[["scenario", "seed"]].to_string()
    assert f"collected {n} of {n} jobs" in proc.stdout, proc.stdout[-1500:]
    return runs


# ----------------------------------------------------------------------------- SLURM
def slurm_problem() -> str | None:
    """Why no sweep can be sent to SLURM's partition ``debug`` here (None: it can)."""
    if find_spec("hydra_plugins.hydra_submitit_launcher") is None:
        return "the Submitit launcher is not installed (pip install -e '.[slurm]')"
    for prog in ("sbatch", "sinfo", "scontrol"):
        if shutil.which(prog) is None:
            return f"{prog} not found: no SLURM here (.ci/slurm-up starts a single-node cluster)"
    proc = subprocess.run(["sinfo", "-h", "-p", PARTITION, "-o", "%a %t"], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        return f"SLURM is not up (.ci/slurm-up starts it): sinfo: {proc.stderr.strip()}"
    lines = [line.split() for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        return f"SLURM has no partition {PARTITION!r} (.ci/slurm-up makes one)"
    if not any(avail == "up" and state in READY_STATES for avail, state in lines):
        return f"SLURM's partition {PARTITION!r} has no node that can run jobs: sinfo says {proc.stdout.strip()!r}"
    return None


@pytest.fixture(scope="module")
def slurm():
    problem = slurm_problem()
    if problem:
        unavailable(problem)


def slurm_job(job_id: str) -> dict[str, str]:
    """``scontrol show job`` of one job (an array task as ``ARRAY_TASK``), as key: value."""
    proc = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"SLURM does not know job {job_id}: {proc.stderr.strip()}"
    return dict(re.findall(r"(\w+)=(\S*)", proc.stdout))


def cancel_unfinished(job_ids: list[str]) -> None:
    """Cancel the jobs of a sweep that did not end (only those, by id), so a failed test leaves none queued."""
    for job_id in job_ids:
        proc = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True, timeout=30)
        if re.search(r"JobState=(PENDING|RUNNING|CONFIGURING|SUSPENDED|REQUEUED)", proc.stdout):
            subprocess.run(["scancel", job_id], capture_output=True, timeout=30)


def composed_launcher(python: str, *overrides: str) -> dict:
    """The launcher config that ``run.py`` composes with ``overrides`` (``--cfg hydra``), as data."""
    cmd = [python, str(ROOT / "run.py"), *overrides, "--cfg", "hydra", "-p", "hydra.launcher"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return yaml.safe_load(proc.stdout)


def test_slurm_cluster_config_composes():
    if find_spec("hydra_plugins.hydra_submitit_launcher") is None:
        unavailable("the Submitit launcher is not installed (pip install -e '.[slurm]')")
    launcher = composed_launcher(sys.executable, "hydra/launcher=slurm_cluster", "hydra.launcher.partition=short")
    assert launcher["_target_"].endswith("submitit_launcher.SlurmLauncher"), launcher
    assert launcher["partition"] == "short", "a setting of the file is overridden from the command line"
    assert {k: launcher[k] for k in ("timeout_min", "cpus_per_task", "mem_gb", "array_parallelism", "nodes")} == {
        "timeout_min": 60,
        "cpus_per_task": 1,
        "mem_gb": 2,
        "array_parallelism": 64,
        "nodes": 1,
    }, launcher


def test_submitit_slurm_sweep(slurm, tmp_path):
    """A sweep sent to SLURM by the shipped slurm_cluster launcher: each run is a job of the cluster."""
    out = tmp_path / "sweep"
    try:
        proc = sweep(
            out,
            "scenario=baseline",
            "seed=range(2)",
            "run.days=30",
            launcher=SLURM_LAUNCHER,
            timeout=SWEEP_TIMEOUT_S,
        )
    finally:
        cancel_unfinished([p.name for p in (out / ".submitit").glob("*") if p.is_dir()])
    runs = check_collected(out, proc, 2)
    # Submitit sends the sweep as one job array: a folder per array task, named by its SLURM job id
    tasks = sorted(p for p in (out / ".submitit").iterdir() if p.is_dir() and re.fullmatch(r"\d+_\d+", p.name))
    assert len(tasks) == 2, f"one SLURM array task per run: {sorted(p.name for p in (out / '.submitit').iterdir())}"
    submission = next((out / ".submitit").glob("*/*_submission.sh")).read_text()
    assert f"#SBATCH --partition={PARTITION}" in submission and "SUBMITIT_EXECUTOR=slurm" in submission, submission
    ran = {}
    for task in tasks:
        log = (task / f"{task.name}_0_log.out").read_text()
        # Submitit reads the job's identity from SLURM's environment (SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID)
        assert f"JobEnvironment(job_id={task.name}," in log, log[-1500:]
        ran.update({run.name: task.name for run in runs if f"{run}: online volume" in log})
        deadline = time.monotonic() + 30
        while (job := slurm_job(task.name))["JobState"] == "COMPLETING" and time.monotonic() < deadline:
            time.sleep(1)
        assert job["JobState"] == "COMPLETED", f"SLURM job {task.name}: {job}"
        assert job["Partition"] == PARTITION and job["NodeList"] not in ("", "(null)"), job
        assert job["MinMemoryNode"] == "1G" and job["NumCPUs"] == "1", f"the launcher's resources reach SLURM: {job}"
    assert sorted(ran) == sorted(run.name for run in runs), f"every run was made by a SLURM job: {ran}"
    assert len(set(ran.values())) == 2, f"each run by a job of its own: {ran}"


# ----------------------------------------------------------------------------- Ray
@pytest.fixture(scope="module")
def ray_python() -> str:
    """The Python of an environment with the ``ray`` extra (``CMABM_RAY_PYTHON``)."""
    path = os.environ.get("CMABM_RAY_PYTHON", "")
    if not path:
        unavailable("CMABM_RAY_PYTHON is not set: name the python of an environment with pip install -e '.[ray]'")
    assert os.access(path, os.X_OK), f"CMABM_RAY_PYTHON={path}: no such program"
    proc = subprocess.run(
        [path, "-c", "import ray, hydra_plugins.hydra_ray_launcher, sim"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"CMABM_RAY_PYTHON={path} lacks Ray, its Hydra launcher or this project: {proc.stderr[-1500:]}"
    return path


def test_ray_cluster_config_composes(ray_python):
    launcher = composed_launcher(ray_python, "hydra/launcher=ray_cluster")
    assert launcher["_target_"].endswith("ray_launcher.RayLauncher"), launcher
    assert launcher["ray"]["init"] == {"address": "auto", "object_store_memory": None}, launcher
    assert launcher["ray"]["remote"]["num_cpus"] == 1, launcher


def test_ray_sweep(ray_python, tmp_path):
    """A sweep on a Ray instance the launcher starts on this machine (two workers)."""
    out = tmp_path / "sweep"
    proc = sweep(
        out,
        "scenario=baseline",
        "seed=range(2)",
        "run.days=30",
        launcher=RAY_LAUNCHER,
        env={**os.environ, **RAY_ENV},
        python=ray_python,
        timeout=SWEEP_TIMEOUT_S,
    )
    check_collected(out, proc, 2)
    assert "Ray Launcher is launching 2 jobs" in proc.stdout, proc.stdout[-1500:]
    assert "Started a local Ray instance" in proc.stderr, proc.stderr[-1500:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ray_cluster_sweep(ray_python, tmp_path):
    """The shipped ray_cluster launcher joins a running Ray cluster (a head started here) and sweeps on it."""
    ray = Path(ray_python).parent / "ray"
    assert ray.exists(), f"no ray command beside {ray_python}"
    port = free_port()
    env = {**os.environ, **RAY_ENV}
    # a folder of the head's own (short: it holds Unix sockets), so its address file does not lead
    # later sweeps on this machine to it
    temp_dir = Path(f"/tmp/cmabm-ray-{port}")
    # --block: the head's processes live as long as this one, and end with it (terminated below, by its id)
    head = subprocess.Popen(
        [str(ray), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2"]
        + ["--include-dashboard=false", f"--temp-dir={temp_dir}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        env["RAY_ADDRESS"] = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while subprocess.run([str(ray), "status"], capture_output=True, env=env, timeout=60).returncode != 0:
            assert head.poll() is None, f"ray start --head ended: {head.stdout.read() if head.stdout else ''}"
            assert time.monotonic() < deadline, "the Ray head did not come up within 60 s"
            time.sleep(1)
        out = tmp_path / "sweep"
        proc = sweep(
            out,
            "scenario=baseline",
            "seed=range(2)",
            "run.days=30",
            launcher=("hydra/launcher=ray_cluster",),
            env=env,
            python=ray_python,
            timeout=SWEEP_TIMEOUT_S,
        )
    finally:
        head.terminate()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait(timeout=30)
        shutil.rmtree(temp_dir, ignore_errors=True)
    check_collected(out, proc, 2)
    assert "Connected to Ray cluster" in proc.stderr, proc.stderr[-1500:]
    assert "Started a local Ray instance" not in proc.stderr, "the sweep must join the running cluster, not start its own"


def test_shipped_launcher_without_its_plugin_is_refused_clearly(tmp_path):
    """Where Ray is not installed (the dev environment), ray_cluster is refused before anything runs."""
    if find_spec("hydra_plugins.hydra_ray_launcher") is not None:
        pytest.skip("the Ray launcher is installed in this environment")
    out = tmp_path / "sweep"
    proc = sweep(out, "scenario=baseline", "seed=range(2)", launcher=("hydra/launcher=ray_cluster",))
    assert proc.returncode != 0, "a sweep on a launcher that is not installed must fail"
    assert "builds on the 'ray' launcher, which is not installed" in proc.stderr, proc.stderr[-1500:]
    assert "Traceback" not in proc.stderr, "a clear error, not a traceback"
    assert not out.exists(), "nothing is left behind"


@pytest.mark.parametrize(
    "launcher, message",
    [
        (("hydra/launcher=slurm_cluster", "hydra.launcher.partiton=debug"), "has no key 'partiton'"),
        (("hydra.launcher.partition=debug",), "no hydra/launcher=... chosen"),
        (("hydra/launcher=slurm_cluster", "hydra.launcher.mem_gb=-1"), "must be a positive number"),
        (("hydra/launcher=slurm_cluster", "hydra.launcher.timeout_min=abc"), "must be a positive number"),
        (
            ("hydra/launcher=slurm_cluster", "hydra.launcher.additional_parameters.mail-type=FAIL"),
            "+hydra.launcher.additional_parameters",
        ),
        (("hydra/launcher=joblib", "hydra.launcher.n_job=2"), "has no key 'n_job'"),
    ],
)
def test_bad_launcher_settings_are_refused_before_anything_runs(tmp_path, launcher, message):
    out = tmp_path / "sweep"
    proc = sweep(out, "scenario=baseline", "seed=range(2)", launcher=launcher, timeout=120)
    assert proc.returncode == 2, f"{launcher}: exit {proc.returncode}: {proc.stderr[-800:]}"
    assert message in proc.stderr and "Traceback" not in proc.stderr, f"{launcher}: {proc.stderr[-800:]}"
    assert not out.exists(), f"{launcher}: nothing is left behind"


def test_unknown_slurm_partition_is_refused_with_the_ones_sinfo_lists(slurm, tmp_path):
    out = tmp_path / "sweep"
    proc = sweep(
        out, "scenario=baseline", "seed=range(2)", launcher=(*SLURM_LAUNCHER, "hydra.launcher.partition=nosuch"), timeout=120
    )
    assert proc.returncode == 2 and "no such SLURM partition" in proc.stderr, proc.stderr[-800:]
    assert PARTITION in proc.stderr, "the partitions SLURM has are listed"
    assert not out.exists(), "nothing is left behind (sbatch would have refused after the sweep folder was made)"
