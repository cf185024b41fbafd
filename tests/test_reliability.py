"""The promises of docs/reliability.md: no data lost, no runs mixed, clean refusals, marked failures.

Each test names the promise it proves. Runs are tiny (a few hundred buyers, a few days).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.errors import ConfigError, FolderError

ROOT = Path(__file__).resolve().parent.parent
TINY = ["model.n_buyers=300", "run.days=5", "run.burn_in_days=1", "run.figures=false"]


def run_cli(*args: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def assert_refused(proc: subprocess.CompletedProcess, *words: str) -> None:
    """Exit status 2, a one-line message naming ``words``, no traceback."""
    assert proc.returncode == 2, f"must be refused with status 2, got {proc.returncode}: {proc.stderr[-1500:]}"
    assert "Traceback" not in proc.stderr, f"a refusal prints no traceback: {proc.stderr[-1500:]}"
    # a run refused late (a target not open on its start day) may first have warned of a small population
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), f"one line 'error: ...': {proc.stderr[-1500:]}"
    for w in words:
        assert w in lines[0], f"the message must name {w!r}: {lines[0]}"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- 1. data loss
@pytest.mark.parametrize("bad", ["model.n_buyers=0", "model.n_buyers=-1", "+foo=1", "seed=-1", None])
def test_an_existing_folder_is_never_removed_or_written(tmp_path, bad):
    """Promise 1: a program removes only what it created; an existing folder with files is refused untouched."""
    notes = tmp_path / "notes"
    (notes / ".git").mkdir(parents=True)
    (notes / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (notes / "notes.txt").write_text("field notes\n")
    before = snapshot(notes)
    proc = run_cli(*TINY, *([bad] if bad else []), f"hydra.run.dir={notes}")
    assert_refused(proc)
    assert snapshot(notes) == before, "the folder's files must be exactly as before"
    assert sorted(p.name for p in notes.iterdir()) == [".git", "notes.txt"], "nothing added (no .hydra, no run.log)"


def test_a_failed_run_removes_only_the_folders_it_created(tmp_path):
    """Promise 1: late bad input (no market to take down) removes the run's new folder, not its parent."""
    (tmp_path / "keep.txt").write_text("x")
    out = tmp_path / "new" / "deeper" / "run"
    proc = run_cli(
        *TINY,
        "model.markets.initial_cryptomarkets=0",
        "scenario=takedown",
        "scenario.interventions.0.start_day=2",
        f"hydra.run.dir={out}",
    )
    assert_refused(proc, "no open cryptomarket")
    assert not (tmp_path / "new").exists(), "the folders this invocation created are gone"
    assert (tmp_path / "keep.txt").read_text() == "x", "what was there before stays"


def test_an_empty_existing_folder_is_used_and_kept_on_refusal(tmp_path):
    """Promise 1: an empty folder the user made is kept (emptied of what the run added) after a late refusal."""
    out = tmp_path / "mine"
    out.mkdir()
    proc = run_cli(
        *TINY,
        "model.markets.initial_cryptomarkets=0",
        "scenario=takedown",
        "scenario.interventions.0.start_day=2",
        f"hydra.run.dir={out}",
    )
    assert_refused(proc)
    assert out.is_dir() and not any(out.iterdir()), "the user's folder stays, empty as it was"


# ----------------------------------------------------------------------------- 2. collisions
def test_runs_started_together_get_their_own_folders(tmp_path):
    """Promise 2: default folder names never collide; each folder's files come from one run."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), *TINY, f"seed={s}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for s in (1, 1, 2, 2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-1500:]
    runs = sorted((tmp_path / "outputs" / "runs").iterdir())
    assert len(runs) == 4, f"four runs, four folders: {[r.name for r in runs]}"
    for r in runs:
        manifest = json.loads((r / "manifest.json").read_text())
        status = json.loads((r / "status.json").read_text())
        assert r.name.split("_s")[-1].startswith(str(manifest["seed"])), f"{r.name}: manifest of another run"
        assert status["status"] == "finished" and status["result_hash"] == manifest["result_hash"], f"{r.name}: mixed files"
        assert not list(r.glob(".staging-*")), "no staging folder is left"


def test_claim_refuses_a_folder_with_files_and_publish_never_overwrites(tmp_path):
    """Promise 2: the folder claim and the final move refuse what belongs to another run."""
    from sim.rundir import claim_run_folder, publish

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "summary.json").write_text("{}")
    with pytest.raises(FolderError, match="holds files"):
        claim_run_folder(tmp_path / "a")
    staging = tmp_path / "stage"
    staging.mkdir()
    (staging / "summary.json").write_text('{"new": 1}')
    with pytest.raises(FolderError, match="never overwritten"):
        publish(staging, tmp_path / "a")
    assert (tmp_path / "a" / "summary.json").read_text() == "{}", "the other run's file is untouched"


def test_a_folder_under_a_file_is_refused(tmp_path):
    """Promise 6: an output folder that cannot be created is refused with a message, not a traceback."""
    (tmp_path / "afile").write_text("x")
    assert_refused(run_cli(*TINY, f"hydra.run.dir={tmp_path / 'afile' / 'run'}"), "cannot create")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    """Promise 6: a folder without write permission is refused before anything runs."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert_refused(run_cli(*TINY, f"hydra.run.dir={ro}"), "not writable")
    finally:
        ro.chmod(0o755)


# ----------------------------------------------------------------------------- 3, 5, 8. sweeps
SWEEP = ["model.n_buyers=300", "run.burn_in_days=1", "run.figures=false"]


def sweep_cli(out: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli("-m", *SWEEP, *args, f"hydra.sweep.dir={out}")


def test_a_rerun_with_other_settings_is_refused_and_nothing_is_mixed(tmp_path):
    """Promise 3: a sweep folder holds runs of one setting; a rerun with other settings is refused."""
    first = sweep_cli(tmp_path, "seed=0,1", "run.days=8")
    assert first.returncode == 0, first.stderr[-2000:]
    before = snapshot(tmp_path)
    proc = sweep_cli(tmp_path, "seed=0,1", "run.days=9")
    assert_refused(proc, "run.days: 8 there, 9 now", "choose a new hydra.sweep.dir")
    after = snapshot(tmp_path)
    assert after == before, "a refused sweep changes nothing in the folder"
    again = sweep_cli(tmp_path, "seed=0,1", "run.days=8", "run.figures=true", "run.progress=false")
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("finished before with the same settings and code, skipped") == 2, (
        "presentation keys do not change the result fingerprint: " + again.stdout[-1500:]
    )
    assert "[sweep] 2 jobs into" in again.stderr and "2 finished before" in again.stderr, "the sweep says what it skipped"
    assert "[sweep] 2 of 2 jobs done" in again.stderr, "progress counts this sweep's jobs only"


def test_progress_counts_only_the_jobs_of_this_sweep(tmp_path):
    """Promise 3: extending a sweep with new seeds counts 'k of 2', not the older jobs too."""
    assert sweep_cli(tmp_path, "seed=0,1", "run.days=5").returncode == 0
    proc = sweep_cli(tmp_path, "seed=2,3", "run.days=5")
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts = [line for line in proc.stderr.splitlines() if "jobs done" in line]
    assert counts and all(" of 2 jobs done" in c for c in counts), counts
    assert counts[-1].startswith("[sweep] 2 of 2"), counts
    rs = pd.read_csv(tmp_path / "collected" / "runs_summary.csv")
    assert sorted(rs.seed) == [0, 1, 2, 3], "runs of the same settings (seeds added later) are collected together"


def test_collection_keeps_runs_of_different_settings_apart(tmp_path):
    """Promise 3: runs that differ in a key that was not swept are never pooled (NaN-safe comparison)."""
    from sim.report import collect, compare_settings

    a, b = tmp_path / "a", tmp_path / "b"
    assert sweep_cli(a, "seed=0,1", "run.days=5").returncode == 0
    assert sweep_cli(b, "seed=0,1", "run.days=6").returncode == 0
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for src in (a, b):
        for job in src.iterdir():
            if job.is_dir() and job.name != "collected":
                job.rename(mixed / f"{src.name}_{job.name}")
    c = collect(mixed)
    assert "run.days" in c["keys"], f"run.days differs and becomes a grouping column: {c['keys']}"
    assert any("run.days" in n for n in c["notes"]), "the collection says that runs differ in a key that was not swept"
    from sim.report import scenario_means

    means = scenario_means(c["runs_summary"], c["keys"], ["online_volume_eur_per_day"])
    assert sorted(means["n"]) == [2, 2], f"two settings of two seeds each, never n=4: {means}"
    nan = {"x": {"a": "NaN", "b": "1"}, "y": {"a": "NaN", "b": "1"}}
    assert compare_settings(nan, ["b"]) == ([], []), "NaN equals NaN when settings are compared"


def test_report_refuses_a_single_run_and_a_folder_without_runs(tmp_path, capsys):
    """Promise 3: sim.report never pools unrelated runs nor writes inside a run folder."""
    from sim.report import main

    run = tmp_path / "run"
    assert run_cli(*TINY, f"hydra.run.dir={run}").returncode == 0
    before = snapshot(run)
    assert main([str(run)]) == 2 and "single run" in capsys.readouterr().err
    assert snapshot(run) == before, "nothing written inside a run folder"
    (tmp_path / "other").mkdir()
    assert main([str(tmp_path / "other")]) == 2 and "holds no runs" in capsys.readouterr().err


def test_report_replaces_only_its_own_collection(tmp_path, capsys):
    """Promise 1: a 'collected' folder that this program did not write is never removed."""
    from sim.report import main

    assert sweep_cli(tmp_path, "seed=0", "run.days=5").returncode == 0
    assert main([str(tmp_path)]) == 0, "collecting again replaces the program's own collection"
    foreign = tmp_path / "collected"
    for p in sorted(foreign.rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    (foreign / "mine.txt").write_text("mine")
    assert main([str(tmp_path)]) == 2 and "not written by this program" in capsys.readouterr().err
    assert (foreign / "mine.txt").read_text() == "mine"


def test_report_prints_no_warnings(tmp_path):
    """Promise 11: collecting a sweep prints its result, not library warnings."""
    proc = sweep_cli(tmp_path, "scenario=baseline,takedown", "seed=0,1", "run.days=370", "model.n_buyers=2000")
    assert proc.returncode == 0, proc.stderr[-1500:]
    proc = subprocess.run([sys.executable, "-m", "sim.report", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Warning" not in proc.stderr, f"no warnings: {proc.stderr[-2000:]}"


def test_result_fingerprint_covers_settings_and_code_but_not_presentation(monkeypatch):
    """Promise 5: skipping is safe: the fingerprint changes with results-relevant settings and with code."""
    import sim.runner as runner

    base = {"seed": 1, "run": {"days": 5, "progress": True, "figures": True}, "report": {"smooth_days": 7}}
    h = runner.result_hash(base)
    assert runner.result_hash({**base, "run": {"days": 5, "progress": False, "figures": False}}) == h
    assert runner.result_hash({**base, "report": {"smooth_days": 3}}) == h
    assert runner.result_hash({**base, "seed": 2}) != h
    monkeypatch.setattr(runner, "code_hash", lambda: "other-code")
    assert runner.result_hash(base) != h, "results of other code are never reused"


def test_a_sweep_of_other_code_is_refused():
    """Promise 5: a sweep folder written by other code is refused, naming the code versions."""
    from sim.callbacks import check_compatible

    previous = {"swept_keys": ["seed"], "settings": {"run.days": "5"}, "code_hash": "aaaa", "git_revision": "abc"}
    folder = Path(__file__).parent  # any non-empty folder
    with pytest.raises(FolderError, match="model code aaaa"):
        check_compatible(folder, previous, ["seed"], {"run.days": "5"}, "bbbb")
    check_compatible(folder, previous, ["seed"], {"run.days": "5"}, "aaaa")


def test_a_sweep_with_a_failed_job_exits_non_zero_after_collecting_the_others(tmp_path):
    """Promise 8: failed jobs are listed and the sweep exits 1, after the others finished and were collected."""
    proc = sweep_cli(
        tmp_path,
        "scenario=exit_scam",
        "seed=0",
        "run.days=30",
        "scenario.interventions.0.start_day=20",
        "scenario.interventions.0.target=crypto_1,crypto_40",
    )
    assert proc.returncode == 1, f"exit status 1: {proc.returncode} {proc.stderr[-2000:]}"
    assert "1 of 2 jobs did not finish" in proc.stderr and "crypto_40" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    jobs = pd.read_csv(tmp_path / "collected" / "jobs.csv")
    assert sorted(jobs.status) == ["failed", "finished"], jobs.to_string()


def test_a_bad_value_in_one_job_refuses_the_whole_sweep_before_anything_runs(tmp_path):
    """Promise 6 and 10: every job is checked first; a target that names a path creates no folder anywhere."""
    out = tmp_path / "sweep"
    proc = sweep_cli(out, "scenario=takedown", "run.days=400", "scenario.interventions.0.target=largest,../../../escape")
    assert_refused(proc, "escape")
    assert not out.exists() and not (tmp_path / "escape").exists(), "nothing created, inside or outside the sweep"
    proc = sweep_cli(out, "seed=0,1", "model.n_buyers=100,-5", "run.days=5")
    assert_refused(proc, "model.n_buyers=-5")
    assert not out.exists()


# ----------------------------------------------------------------------------- 6, 11. refusals
@pytest.mark.parametrize(
    "args, words",
    [
        (["+foo=1"], ["foo", "allowed"]),
        (["model.bogus=1"], ["model.bogus", "n_buyers"]),
        (["seed=-1"], ["seed=-1", ">= 0"]),
        (["model.buyers.risk_aversion_a=0"], ["risk_aversion_a", "> 0"]),
        (["model.buyers.purchases_per_month_mean=0"], ["purchases_per_month_mean", "> 0"]),
        (["model.choice.nest_lambda=5"], ["nest_lambda", "(0, 1]"]),
        (
            [
                "scenario=takedown",
                "scenario.interventions.0.start_day=2",
                "+scenario.interventions.0.params.publicity_half_life_days=abc",
            ],
            ["publicity_half_life_days", "float"],
        ),
        (
            ["scenario=payment", "scenario.interventions.0.start_day=2", "scenario.interventions.0.target=largest"],
            ["takes no target"],
        ),
        (["report.summary=[online_volume_eur_per_day,no_such_metric]"], ["no_such_metric", "allowed"]),
        (["model.n_buyers=20000000"], ["model.n_buyers", "GB"]),
        (["scenario=nope"], ["no such scenario", "takedown"]),
        (["experiment=takedown_recovery"], ["+experiment="]),
        (["scenario.name=../x"], ["scenario.name"]),
        (["model.n_buyers=1000,2000"], ["-m"]),
        (["seed=range(3)"], ["-m"]),
        (["model"], ["not an override"]),
        (["~model.n_buyers"], ["deleting"]),
        (["-m", "hydra/launcher=nope", "seed=1,2"], ["hydra/launcher=nope", "joblib"]),
        (["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=0", "seed=1,2"], ["n_jobs"]),
        (["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=abc", "seed=1,2"], ["n_jobs"]),
        (["-m", "seed=range(0)"], ["empty range"]),
        (["-m", "--info", "seed=1"], ["--info"]),
        (["-m", "--cfg", "job", "seed=1"], ["only one of"]),
        (["-m", "scenario=baseline,takedown", "report.baseline=nope"], ["report.baseline=nope"]),
        (["model.vendors.vendors_per_1000_online_buyers=1e12"], ["vendors_per_1000_online_buyers", "[0, 1000]"]),
        (["model.markets.initial_cryptomarkets=10000000"], ["initial_cryptomarkets", "[0, 1000]"]),
        (["model.demand.potential_users_per_user=100", "model.n_buyers=1000000"], ["potential_users_per_user=100", "GB"]),
        (["scenario.interventions=[{name: takedown, start_day: 3}]"], ["scenario.name=baseline"]),
        (["model.choice.beta_price=inf"], ["finite"]),
        (["scenario.interventions.0.start_day=2"], ["no intervention 0"]),
        (["model.demand.buy_nest_lambda=0.5"], ["buy_nest_lambda", "nest_lambda"]),
        (
            ["scenario=price_rise", "scenario.interventions.0.start_day=2", "scenario.interventions.0.params.factor=-1"],
            ["factor", "> 0"],
        ),
        (["substances.9.analogue_of=nosuch"], ["analogue_of", "nosuch"]),
        (["model.street.dealers_per_1000_users=0"], ["dealers_per_1000_users", "> 0"]),
        (["model.street.bulk_discount=1"], ["bulk_discount", "[0, 1)"]),
        (["-m", "scenario=price_rise,prevention", "scenario.interventions.0.start_day=2"], ["cannot be shared"]),
    ],
)
def test_bad_input_is_refused_with_one_line_and_nothing_on_disk(tmp_path, args, words):
    """Promise 6: every class of bad input ends in a one-line message, status 2, nothing written."""
    out = tmp_path / "run"
    t0 = time.perf_counter()
    proc = run_cli(*TINY, *args, f"hydra.run.dir={out}", f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert_refused(proc, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "nothing is left on disk"
    assert time.perf_counter() - t0 < 60, "refused before anything runs"


def test_the_readme_publicity_example_runs(tmp_path):
    """Promise 11: a negative publicity risk (an interest effect) is allowed, as the README says."""
    proc = run_cli(
        *TINY,
        "scenario=takedown",
        "scenario.interventions.0.start_day=3",
        "+scenario.interventions.0.params.publicity_risk=-0.1",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert "[sweep]" not in proc.stderr, "a single run prints no sweep progress"


def test_every_numeric_parameter_declares_its_range():
    """Promise 6: every parameter's domain is declared in the schema, so every value is checked."""
    from sim.config import Config, InterventionConfig, SubstanceConfig
    from sim.interventions import REGISTRY
    from sim.params import undeclared_numbers

    missing = undeclared_numbers(Config) + undeclared_numbers(SubstanceConfig, "substances[]")
    missing += undeclared_numbers(InterventionConfig, "scenario.interventions[]")
    for name, cls in REGISTRY.items():
        missing += undeclared_numbers(cls.Params, f"{name}.params")
    assert not missing, f"numeric parameters without a declared range: {missing}"


# ----------------------------------------------------------------------------- 7, 10. files
def test_a_broken_experiment_file_breaks_only_itself(tmp_path):
    """Promise 7: a malformed experiment file is reported, with its line, only when it is used."""
    broken = ROOT / "experiments" / f"zz_broken_{os.getpid()}.yaml"
    broken.write_text("# @package _global_\nrun:\n  days: [5\n")
    try:
        ok = run_cli(*TINY, f"hydra.run.dir={tmp_path / 'ok'}")
        assert ok.returncode == 0, "another command still works: " + ok.stderr[-1500:]
        proc = run_cli(*TINY, f"+experiment={broken.stem}", f"hydra.run.dir={tmp_path / 'no'}")
        assert_refused(proc, broken.name, "line 4", "not valid YAML")
    finally:
        broken.unlink()


@pytest.mark.parametrize(
    "body, words",
    [
        ("hydra:\n  callbacks:\n    evil:\n      _target_: pathlib.Path.write_text\n", ["_target_", "line 5"]),
        ("scenario:\n  interventions:\n    - {name: takedown, start_day: 1, params: {_target_: os.system}}\n", ["_target_"]),
        ("defaults:\n  - /hydra/callbacks: evil\n", ["defaults"]),
        ("hydra:\n  job:\n    env_set:\n      X: y\n", ["hydra.job"]),
        ("hydra:\n  sweep:\n    dir: ../../elsewhere\n", ["'..'"]),
    ],
)
def test_config_files_cannot_run_code(tmp_path, body, words):
    """Promise 10: experiment files are data: code, callbacks and paths outside the project are refused."""
    canary = tmp_path / "canary"
    path = ROOT / "experiments" / f"zz_code_{os.getpid()}.yaml"
    path.write_text("# @package _global_\n" + body)
    try:
        proc = run_cli(*TINY, f"+experiment={path.stem}", f"hydra.run.dir={tmp_path / 'run'}")
    finally:
        path.unlink()
    assert_refused(proc, path.name, *words)
    assert not canary.exists() and not (tmp_path / "run").exists()


def test_scenario_files_cannot_name_code(tmp_path):
    """Promise 10: scenario files are checked as data too."""
    from sim.preflight import check_config_file

    path = tmp_path / "evil.yaml"
    path.write_text("name: evil\ninterventions: []\nhydra:\n  callbacks: {}\n")
    with pytest.raises(ConfigError, match="line 3"):
        check_config_file(path, "scenario")
    path.write_text("# @package _global_\nname: evil\n")
    with pytest.raises(ConfigError, match="package"):
        check_config_file(path, "scenario")


def test_every_shipped_config_file_is_clean_data():
    """Promise 10: the project's own files pass the checks that exchanged files must pass."""
    from sim.preflight import check_config_file

    for path in sorted([*(ROOT / "configs").glob("*/*.yaml"), *(ROOT / "experiments").glob("*.yaml")]):
        kind = "experiment" if path.parent.name == "experiments" else path.parent.name
        check_config_file(path, kind)


# ----------------------------------------------------------------------------- 9. interrupts
def _interrupt_when_running(cmd: list[str], status_glob: Path, pattern: str) -> subprocess.CompletedProcess:
    # Ctrl-C at a terminal reaches a process whose SIGINT is handled. Under a parent that ignores
    # SIGINT (a background job of a non-interactive shell, nohup), the child would inherit the
    # ignored disposition and Python would install no handler, so restore the default first.
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        found = [p for p in status_glob.glob(pattern) if '"running"' in p.read_text()]
        if found:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_an_interrupted_run_is_marked_and_leaves_no_tables(tmp_path):
    """Promise 9: Ctrl-C marks the run 'interrupted', leaves no tables, and exits 130."""
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        str(ROOT / "run.py"),
        "model.n_buyers=20000",
        "run.days=2000",
        "run.figures=false",
        f"hydra.run.dir={out}",
    ]
    proc = _interrupt_when_running(cmd, out, "status.json")
    assert proc.returncode == 130, f"{proc.returncode}: {proc.stderr[-1500:]}"
    assert json.loads((out / "status.json").read_text())["status"] == "interrupted"
    assert not list(out.glob("*.parquet")) and not list(out.glob(".staging-*")), "no tables, no staging"
    assert "Traceback" not in proc.stderr


def test_an_interrupted_sweep_job_shows_in_jobs_csv(tmp_path):
    """Promise 9: an interrupted job of a sweep is listed as 'interrupted' by the collection."""
    from sim.report import find_jobs

    cmd = [
        sys.executable,
        str(ROOT / "run.py"),
        "-m",
        "model.n_buyers=20000",
        "run.days=2000",
        "run.figures=false",
        "seed=0,1",
        f"hydra.sweep.dir={tmp_path}",
    ]
    proc = _interrupt_when_running(cmd, tmp_path, "*/status.json")
    assert proc.returncode == 130, f"{proc.returncode}: {proc.stderr[-1500:]}"
    jobs = find_jobs(tmp_path)
    assert jobs.status.tolist() == ["interrupted", "not started"], jobs.to_string()
    assert not (tmp_path / ".sweep.lock").exists(), "the interrupted sweep released its lock"
    assert "interrupted" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-1500:]


def test_report_exits_non_zero_when_jobs_did_not_finish(tmp_path):
    """Promise 8: collecting a sweep with failed jobs again says so and exits 1."""
    proc = sweep_cli(
        tmp_path,
        "scenario=exit_scam",
        "seed=0",
        "run.days=30",
        "model.n_buyers=1500",
        "scenario.interventions.0.start_day=20",
        "scenario.interventions.0.target=crypto_1,crypto_40",
    )
    assert proc.returncode == 1, proc.stderr[-1500:]
    again = subprocess.run([sys.executable, "-m", "sim.report", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 1 and "1 of 2 jobs did not finish" in again.stderr, again.stderr[-1500:]


def test_progress_counts_jobs_as_they_end_even_when_skipped(tmp_path):
    """Promise 3: a rerun that skips finished jobs counts them one by one, not all at once."""
    assert sweep_cli(tmp_path, "seed=0,1,2", "run.days=5").returncode == 0
    proc = sweep_cli(tmp_path, "seed=0,1,2", "run.days=5")
    counts = [line.split(" of ")[0] for line in proc.stderr.splitlines() if "jobs done" in line]
    assert counts == ["[sweep] 1", "[sweep] 2", "[sweep] 3"], counts
    assert not list(tmp_path.glob(".progress-*")), "the progress counter is removed at the end"


def test_an_experiment_without_m_says_it_makes_one_run(tmp_path):
    """Promise 11: +experiment without -m is not silently a single run."""
    proc = run_cli(*TINY, "+experiment=takedown_recovery", "run.days=5", f"hydra.run.dir={tmp_path / 'r'}")
    assert proc.returncode == 0 and "an experiment is a sweep" in proc.stderr, proc.stderr[-1500:]


def test_removing_a_failed_run_spares_what_others_put_in_the_parents_it_made(tmp_path):
    """Promise 1: a parent folder this invocation created is removed only while empty."""
    from sim.rundir import claim_run_folder

    claim = claim_run_folder(tmp_path / "outputs" / "runs" / "mine")
    other = tmp_path / "outputs" / "runs" / "theirs"
    other.mkdir()
    (other / "daily.parquet").write_text("another run's table")
    claim.remove()
    assert not (tmp_path / "outputs" / "runs" / "mine").exists(), "its own folder goes"
    assert (other / "daily.parquet").read_text() == "another run's table", "another run's folder stays"
    lone = claim_run_folder(tmp_path / "a" / "b" / "c")
    lone.remove()
    assert not (tmp_path / "a").exists(), "empty parents it made go too"


def test_a_collection_that_fails_makes_the_sweep_exit_1(tmp_path):
    """An unexpected error in the collection is reported and the sweep exits 1 (not a mere warning)."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "import sim.report\n"
        "def broken(*args, **kwargs):\n"
        "    raise RuntimeError('collection broken on purpose')\n"
        "sim.report.write_report = broken\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{hooks}{os.pathsep}{ROOT}"}
    out = tmp_path / "sw"
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", "seed=0,1", *TINY, f"hydra.sweep.dir={out}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
    assert proc.returncode == 1, f"a failed collection must fail the sweep: {proc.returncode}\n{proc.stderr[-2000:]}"
    assert "the collection failed: RuntimeError: collection broken on purpose" in proc.stderr, proc.stderr[-2000:]
    assert "python -m sim.report" in proc.stderr, "the message says how to collect again"
    assert not (out / ".sweep.lock").exists(), "the lock is released"
