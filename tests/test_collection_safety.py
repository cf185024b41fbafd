"""The collection of a sweep never deletes a user's file and never pools a damaged or edited run.

docs/reliability.md, promises 1 (nothing is lost) and 11 (a damaged or changed run is never
pooled). One tiny sweep of two seeds is made once; each test collects a copy of it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.report import COLLECTION_MARK, main
from sim.rundir import STATUS_FILE, mark, read_status

ROOT = Path(__file__).resolve().parent.parent
TINY = ["model.n_buyers=300", "run.days=5", "run.burn_in_days=1", "run.figures=false"]
SEED0, SEED1 = (f"model.n_buyers=300,run.burn_in_days=1,run.days=5,seed={s}" for s in (0, 1))


def sweep_cli(out: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", *TINY, "seed=0,1", *args, f"hydra.sweep.dir={out}"]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A finished sweep of two seeds, collected by the sweep itself (never changed: tests copy it)."""
    out = tmp_path_factory.mktemp("made") / "sweep"
    proc = sweep_cli(out)
    assert proc.returncode == 0, f"the test sweep must run: {proc.stderr[-2000:]}"
    return out


@pytest.fixture
def sweep(made, tmp_path) -> Path:
    """A copy of the finished sweep that a test may change."""
    return Path(shutil.copytree(made, tmp_path / "sweep", symlinks=True))


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def drop_digests(job: Path) -> None:
    """Make a run look as if it was made before digests were recorded."""
    status = json.loads((job / STATUS_FILE).read_text())
    status.pop("digests", None)
    (job / STATUS_FILE).write_text(json.dumps(status))


# ----------------------------------------------------------------------------- 1. user files in collected/
def test_collection_json_lists_every_file_the_collection_wrote(made):
    col = made / "collected"
    listed = json.loads((col / COLLECTION_MARK).read_text()).get("files")
    assert listed is not None, "collection.json must list the files the collection wrote"
    assert sorted(listed) == sorted(files_of(col)), f"the list must be exactly the folder's files: {listed}"
    assert "figures/timeseries_harm.png" in listed, f"files in figures/ are listed with their folder: {listed}"


def test_files_a_user_put_in_collected_survive_a_new_collection(sweep, capsys):
    col = sweep / "collected"
    notes, figure = col / "my_notes.md", col / "figures" / "my_figure.png"
    notes.write_bytes(b"# what I saw\n\nseed 1 looks odd\n")
    figure.write_bytes(bytes(range(256)) * 4)
    kept = {p: p.read_bytes() for p in (notes, figure)}
    (col / "runs_summary.csv").write_text("stale\n")  # an own file: must be refreshed
    record = json.loads((col / COLLECTION_MARK).read_text())
    record.setdefault("files", []).append("old_table.csv")  # an own file that this collection no longer writes
    (col / COLLECTION_MARK).write_text(json.dumps(record))
    (col / "old_table.csv").write_text("written by an earlier collection\n")

    assert main([str(sweep)]) == 0, f"collecting again succeeds: {capsys.readouterr().err}"
    for p, data in kept.items():
        assert p.exists() and p.read_bytes() == data, f"{p.name}: a user's file in collected/ must survive byte for byte"
    assert len(pd.read_csv(col / "runs_summary.csv")) == 2, "the collection's own runs_summary.csv is refreshed"
    assert not (col / "old_table.csv").exists(), "an own file of the previous collection that is not written again is removed"
    listed = json.loads((col / COLLECTION_MARK).read_text())["files"]
    assert "my_notes.md" not in listed and "figures/my_figure.png" not in listed, f"user files are never listed: {listed}"
    assert not list(sweep.glob(".collected-*")) and not (sweep / ".sweep.lock").exists(), "no staging folder or lock left"


def test_a_user_file_where_the_collection_writes_one_is_never_overwritten(sweep, capsys):
    col = sweep / "collected"
    record = json.loads((col / COLLECTION_MARK).read_text())
    record["files"] = [f for f in record.get("files", []) if f != "scenario_means.csv"]  # not the collection's own now
    (col / COLLECTION_MARK).write_text(json.dumps(record))
    (col / "scenario_means.csv").write_text("my own table\n")
    before = files_of(col)

    assert main([str(sweep)]) == 2, "a user's file in the way refuses the collection"
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("error: "), f"one line 'error: ...': {lines}"
    assert "scenario_means.csv" in lines[0] and "never overwritten" in lines[0], f"the message names the file: {lines[0]}"
    assert files_of(col) == before, "nothing in collected/ changed: the refusal comes before any file is moved"
    assert not list(sweep.glob(".collected-*")), "the staging folder of the refused collection is removed"


def test_an_older_collection_without_a_file_list_is_replaced_and_later_files_kept(sweep, capsys):
    col = sweep / "collected"
    record = json.loads((col / COLLECTION_MARK).read_text())
    record.pop("files", None)  # as written before the list was kept: it wrote the whole folder, the mark last
    (col / COLLECTION_MARK).write_text(json.dumps(record))
    time.sleep(0.05)  # file times are coarse (a few ms): the user's file comes clearly later
    (col / "figures" / "my_figure.png").write_bytes(b"mine")

    assert main([str(sweep)]) == 0, f"an older collection is replaced: {capsys.readouterr().err}"
    assert (col / "figures" / "my_figure.png").read_bytes() == b"mine", "a file added after it is the user's and survives"
    assert "files" in json.loads((col / COLLECTION_MARK).read_text()), "the new collection records its files"


def test_a_file_list_naming_paths_outside_collected_is_refused(sweep, capsys):
    col = sweep / "collected"
    record = json.loads((col / COLLECTION_MARK).read_text())
    record["files"] = ["../sweep.json", "jobs.csv"]
    (col / COLLECTION_MARK).write_text(json.dumps(record))

    assert main([str(sweep)]) == 2, "a file list that leaves collected/ is refused"
    assert "outside" in capsys.readouterr().err, "the message says why"
    assert (sweep / "sweep.json").exists(), "nothing outside collected/ is ever removed"


# ----------------------------------------------------------------------------- 2, 3. damaged or edited runs
def truncate_daily(job: Path) -> None:
    data = (job / "daily.parquet").read_bytes()
    (job / "daily.parquet").write_bytes(data[: len(data) // 2])


def summary_not_json(job: Path) -> None:
    (job / "summary.json").write_text('{"run": {"days": 5,')


def set_headline(value_text: str):
    def edit(job: Path) -> None:
        summary = json.loads((job / "summary.json").read_text())
        summary["run"]["harm_per_day"] = "PLACEHOLDER"
        (job / "summary.json").write_text(json.dumps(summary).replace('"PLACEHOLDER"', value_text))

    return edit


def config_not_yaml(job: Path) -> None:
    (job / ".hydra" / "config.yaml").write_text("model: [unclosed\n")


DAMAGES = {
    "truncated parquet": (truncate_daily, "daily.parquet cannot be read"),
    "summary not JSON": (summary_not_json, "summary.json is not JSON"),
    "string for a number": (set_headline('"12.5"'), 'harm_per_day is "12.5", not a finite number'),
    "NaN": (set_headline("NaN"), "harm_per_day is NaN, not a finite number"),
    "Infinity": (set_headline("Infinity"), "harm_per_day is Infinity, not a finite number"),
    "config not YAML": (config_not_yaml, ".hydra/config.yaml cannot be read"),
}


@pytest.mark.parametrize("digests", ["recorded", "not recorded"])
@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_run_is_listed_and_left_out_and_the_rest_collected(sweep, capsys, damage, digests):
    spoil, reason = DAMAGES[damage]
    job = sweep / SEED1
    if digests == "not recorded":
        drop_digests(job)  # a run made before digests: its files themselves are checked
    elif damage != "config not YAML":  # .hydra is Hydra's record, not an output: never digested
        reason = "changed after the run finished"
    spoil(job)

    assert main([str(sweep)]) == 1, f"{damage}: a damaged run makes the collection exit 1 after collecting the rest"
    err = capsys.readouterr().err
    assert "Traceback" not in err, f"{damage}: no traceback: {err[-1500:]}"
    jobs = pd.read_csv(sweep / "collected" / "jobs.csv").set_index("job")
    assert jobs.loc[SEED1, "status"] == "damaged", f"{damage}: the job is listed as damaged: {jobs.to_dict()}"
    assert reason in jobs.loc[SEED1, "error"], f"{damage}: the reason is in the error column: {jobs.loc[SEED1, 'error']}"
    assert jobs.loc[SEED0, "status"] == "finished", f"{damage}: the other job is collected"
    summary = pd.read_csv(sweep / "collected" / "runs_summary.csv")
    assert summary["job"].tolist() == [SEED0], f"{damage}: only the intact run is in the tables: {summary['job'].tolist()}"
    daily = pd.read_parquet(sweep / "collected" / "runs_daily.parquet")
    assert set(daily["job"]) == {SEED0}, f"{damage}: the damaged run's days are left out"
    notes = [line for line in err.splitlines() if line.startswith("collection: ") and SEED1 in line]
    assert notes and "damaged" in notes[0], f"{damage}: a note names the damaged run: {err[-1500:]}"


def test_a_hand_edited_result_is_damaged_and_never_pooled(sweep, capsys):
    job = sweep / SEED1
    summary = json.loads((job / "summary.json").read_text())
    summary["run"]["harm_per_day"] = 1e12
    (job / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))

    assert main([str(sweep)]) == 1, "an edited run makes the collection exit 1"
    capsys.readouterr()
    jobs = pd.read_csv(sweep / "collected" / "jobs.csv").set_index("job")
    assert jobs.loc[SEED1, "status"] == "damaged", "a run whose summary.json changed after it finished is damaged"
    assert jobs.loc[SEED1, "error"] == "summary.json changed after the run finished", jobs.loc[SEED1, "error"]
    harm = pd.read_csv(sweep / "collected" / "runs_summary.csv")["harm_per_day"]
    assert harm.max() < 1e12, f"the edited value is never pooled: {harm.tolist()}"

    drop_digests(job)  # a run made before digests were recorded: accepted as before
    assert main([str(sweep)]) == 0, "runs without recorded digests are collected as before"


def test_digests_cover_a_runs_results_and_find_a_change(made, tmp_path):
    from sim.rundir import changed_outputs, output_digests

    status = read_status(made / SEED0)
    recorded = status.get("digests")
    assert recorded, f"a finished run records the digests of its output files: {status}"
    for name in ("summary.json", "manifest.json", "daily.parquet", "events.parquet", "markets.parquet"):
        assert name in recorded, f"{name} is digested: {sorted(recorded)}"
    assert not {"status.json", "run.log"} & set(recorded), "the run's records are not outputs"
    assert not any(k.startswith(".hydra") for k in recorded), "Hydra's records are not outputs"
    job = Path(shutil.copytree(made / SEED0, tmp_path / "job"))
    assert changed_outputs(job) == [], "an untouched run has no change"
    assert output_digests(job) == recorded, "the digests are those of the files as they are"
    (job / "summary.json").write_text((job / "summary.json").read_text() + " ")
    (job / "markets.parquet").unlink()
    found = changed_outputs(job)
    assert found == ["markets.parquet is missing (the run wrote it)", "summary.json changed after the run finished"], (
        f"a changed and a missing output are both found: {found}"
    )


def test_a_sweep_whose_collection_leaves_a_damaged_run_out_fails(sweep, monkeypatch, capsys):
    """The callback at the end of a sweep records the damaged run, which makes the sweep exit 1 (sim.callbacks)."""
    from omegaconf import OmegaConf

    import sim.callbacks
    from sim.report import CollectRuns

    errors: list[str] = []
    monkeypatch.setattr(sim.callbacks, "COLLECTION_ERRORS", errors)
    set_headline("1e12")(sweep / SEED1)
    CollectRuns().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}, "report": {}}))
    err = capsys.readouterr().err
    assert len(errors) == 1 and "damaged" in errors[0] and SEED1 in errors[0], f"the damaged run is a collection error: {errors}"
    assert "Traceback" not in err, err[-1500:]
    jobs = pd.read_csv(sweep / "collected" / "jobs.csv").set_index("job")
    assert jobs.loc[SEED1, "status"] == "damaged" and jobs.loc[SEED0, "status"] == "finished", jobs.to_dict()


# ----------------------------------------------------------------------------- 4. smaller defects
def test_the_root_folder_is_refused_in_one_line():
    proc = subprocess.run([sys.executable, "-m", "sim.report", "/"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2, f"'/' is bad input: status 2, got {proc.returncode}: {proc.stderr[-1500:]}"
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), f"one line 'error: ...', no traceback: {proc.stderr[-1500:]}"


def test_a_folder_that_cannot_be_read_is_refused_in_one_line(sweep, monkeypatch, capsys):
    import sim.report

    def denied(folder):
        raise PermissionError(13, "Permission denied", str(folder / "job"))

    monkeypatch.setattr(sim.report, "find_jobs", denied)
    assert main([str(sweep)]) == 2, "a permission error is bad input: status 2"
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "permission denied" in lines[0], lines


def test_seeds_stay_integers_in_jobs_csv_when_a_job_has_no_settings(sweep, capsys):
    record = json.loads((sweep / "sweep.json").read_text())
    record["all_jobs"].append("model.n_buyers=300,run.burn_in_days=1,run.days=5,seed=2")  # a job that never started
    (sweep / "sweep.json").write_text(json.dumps(record))

    assert main([str(sweep)]) == 1, "a job that did not start makes the collection exit 1"
    capsys.readouterr()
    seeds = [line.rsplit(",", 1)[1] for line in (sweep / "collected" / "jobs.csv").read_text().splitlines()[1:]]
    assert seeds == ["0", "1", ""], f"seeds print as integers (and empty where unknown), never 0.0: {seeds}"


@pytest.mark.parametrize("how", ["failed", "damaged"])
def test_when_no_run_can_be_collected_jobs_csv_still_says_why(sweep, capsys, how):
    for i, job in enumerate((sweep / SEED0, sweep / SEED1)):
        if how == "failed":
            mark(job, "failed", error=f"RuntimeError: broken on purpose {i}")
        else:
            summary_not_json(job)
    (sweep / "collected" / "my_notes.md").write_text("mine")

    assert main([str(sweep)]) == 1, f"{how}: nothing collected is status 1 (not bad input)"
    lines = error_lines(capsys.readouterr().err)
    assert "Traceback" not in "\n".join(lines), lines
    assert any(line.startswith("error: ") and "jobs.csv" in line for line in lines), (
        f"{how}: the message says where to look: {lines}"
    )
    col = sweep / "collected"
    assert sorted(files_of(col)) == ["collection.json", "jobs.csv", "my_notes.md"], (
        f"{how}: only jobs.csv and collection.json are written (the old tables go; the user's file stays): {sorted(files_of(col))}"
    )
    jobs = pd.read_csv(col / "jobs.csv")
    assert (jobs["status"] == how).all() and jobs["error"].notna().all(), f"{how}: every job with its reason: {jobs.to_dict()}"
    assert sorted(jobs["seed"]) == [0, 1], f"{how}: the setting columns are there too: {jobs.to_dict()}"
    assert not os.path.exists(sweep / ".sweep.lock"), "the collection's lock is released"


@pytest.mark.parametrize("where", ["collected", "collected/figures", "collected/old"])
def test_a_symbolic_link_in_collected_is_refused_and_nothing_outside_is_touched(sweep, tmp_path, capsys, where):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "thesis.tex").write_text("mine")
    link = sweep / where
    if link.exists():
        shutil.rmtree(link) if link.is_dir() else link.unlink()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere, target_is_directory=True)
    assert main([str(sweep)]) == 2, "refused"
    assert "symbolic link" in capsys.readouterr().err, "the message says why"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["thesis.tex"] and (elsewhere / "thesis.tex").read_text() == "mine"


@pytest.mark.parametrize("name", ["status.json", "manifest.json", ".hydra/hydra.yaml"])
def test_a_fifo_in_a_run_folder_never_blocks_the_collection(sweep, capsys, name):
    job = sorted(p for p in sweep.iterdir() if (p / ".hydra").is_dir())[0]
    (job / name).unlink()
    os.mkfifo(job / name)
    status = main([str(sweep)])  # a read of the FIFO would block here forever
    assert status in (0, 1, 2), f"the collection ends: {status}"
