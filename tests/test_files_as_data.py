"""Configuration files are data, checked on what Hydra composes (docs/reliability.md, promise 10).

The hostile files in ``tests/hostile/`` are fixtures: each folder is a search-path folder a
researcher might be sent. Every attack goes through ``run.py``'s own entry point (``cli``) in this
process, so the same code path as the command line runs, and must be refused with one line and
exit status 2, with no marker created anywhere (the files name ``${oc.env:CMABM_CANARY}`` as the
place they would write to) and nothing left in the working folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sim.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "tests" / "hostile"
TINY = ["model.n_buyers=300", "run.days=5", "run.burn_in_days=1", "run.figures=false"]


def search(name: str) -> str:
    return f"hydra.searchpath=[file://{HOSTILE / name}]"


def run_cli_here(argv: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """Run ``run.py``'s entry point in this process; return (exit status, standard error)."""
    import run

    monkeypatch.setattr(sys, "argv", ["run.py", *argv])
    try:
        run.cli()
        status = 0
    except SystemExit as end:
        status = end.code if isinstance(end.code, int) else 1
    return status, capsys.readouterr().err


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working folder and an empty canary folder the hostile files point at."""
    cwd, canary = tmp_path / "cwd", tmp_path / "canary"
    cwd.mkdir()
    canary.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("CMABM_CANARY", str(canary))
    return cwd, canary


ATTACKS = [
    # (id, arguments, words the one-line message must hold)
    (
        "callback via an experiment's defaults",
        ["-m", "+experiment=evil_exp", search("callbacks")],
        ["evil.yaml", "line 9", "hydra.callbacks"],
    ),
    ("logging handler from a scenario", ["scenario=evil", search("logging")], ["evil.yaml", "hydra.job_logging"]),
    ("Hydra's own logging from a scenario", ["scenario=evil", search("formatter")], ["hydra.hydra_logging"]),
    ("git configuration through env_set", ["scenario=evil", search("envset")], ["evil.yaml", "hydra.job.env_set"]),
    (
        "a shipped experiment shadowed on the search path",
        ["-m", "+experiment=takedown_recovery", search("shadow")],
        ["takedown_recovery.yaml", "another name"],
    ),
    ("a sweep folder from the environment", ["-m", "+experiment=evil_dir", search("sweepdir")], ["hydra.sweep.dir", "relative"]),
    (
        "a scenario reached only through sweeper parameters",
        ["-m", "+experiment=evil_params", search("sweeper")],
        ["scenario=evil", "hydra.callbacks"],
    ),
    ("Hydra's record moved out of the run folder", ["scenario=evil", search("outsub")], ["hydra.output_subdir"]),
    ("a launcher from a user folder", ["-m", "+experiment=evil_launch", search("launcher")], ["hydra/launcher=evil"]),
    ("an alias bomb", ["scenario=evil", search("bomb")], ["evil.yaml", "expands"]),
    ("a duplicate key", ["scenario=evil", search("dupkeys")], ["evil.yaml", "line 4", "twice"]),
    (
        "a callback on the command line",
        ["+hydra.callbacks.x._target_=os.makedirs", "+hydra.callbacks.x.name=x"],
        ["hydra.callbacks"],
    ),
    ("env_set on the command line", ["+hydra.job.env_set.GIT_CONFIG_COUNT=1"], ["hydra.job.env_set"]),
    ("logging on the command line", ["hydra/job_logging=disabled"], ["hydra/job_logging"]),
    ("the record moved on the command line", ["hydra.output_subdir=elsewhere"], ["hydra.output_subdir"]),
    ("a package on the search path", ["hydra.searchpath=[pkg://os]"], ["pkg://os", "file://"]),
    ("a pickled config to rerun", ["--experimental-rerun", "config.pickle"], ["--experimental-rerun"]),
    ("another config folder", ["--config-dir", "/tmp"], ["--config-dir"]),
    ("another primary config", ["--config-path", "/tmp", "--config-name", "x"], ["--config-path"]),
    ("a file as the sweep folder", ["-m", "seed=0,1", f"hydra.sweep.dir={ROOT / 'README.md'}"], ["is a file"]),
    ("a name from the clock", ["scenario.name=${now:%H}"], ["scenario.name", "interpolated"]),
    (
        "a target from the environment",
        ["scenario=takedown", "scenario.interventions.0.target=${oc.env:PATH}"],
        ["target", "interpolated"],
    ),
    ("a baseline labelled as a takedown", ["-m", "scenario.name=takedown,baseline"], ["scenario.name=takedown", "takedown.yaml"]),
    ("a baseline labelled with a shipped scenario's name", ["scenario.name=nps_ban"], ["nps_ban.yaml"]),
    (
        "an interpolated value naming the job folder",
        ["-m", "seed=0,1", "scenario.name=${oc.env:../../pwn,evil}"],
        ["interpolated"],
    ),
    (
        "a companion experiment moving the jobs' sweep folder",
        ["-m", "+experiment=outer", search("companion")],
        ["hydra.sweep.dir"],
    ),
    ("a user scenario shadowed by a shipped one", ["scenario=takedown", search("shadowed")], ["takedown.yaml", "another name"]),
    ("a sweep value read from the environment", ["-m", "+experiment=evil_env", search("sweepenv")], ["interpolated"]),
    ("a glob sweep", ["-m", "scenario=glob(base*)"], ["glob()"]),
    ("a range with a zero step", ["-m", "seed=range(0,3,0)"], ["range(0,3,0)"]),
    ("a name too long for a folder", ["scenario.name=" + "a" * 300], ["scenario.name", "at most"]),
    ("help with a hostile file", ["--help", "scenario=evil", search("formatter")], ["hydra.hydra_logging"]),
    ("help with an alias bomb", ["--help", "scenario=evil", search("bomb")], ["expands"]),
    ("Hydra's help with overrides", ["--hydra-help", "scenario=takedown"], ["--hydra-help"]),
]


@pytest.mark.parametrize("args, words", [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_a_hostile_input_is_refused_with_one_line_and_leaves_no_marker(workdir, monkeypatch, capsys, args, words):
    cwd, canary = workdir
    status, err = run_cli_here([*TINY, *args], monkeypatch, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, f"refused with status 2, got {status}: {err[-1500:]}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"one line 'error: ...': {err[-1500:]}"
    for w in words:
        assert w in lines[0], f"the message names {w!r}: {lines[0]}"
    assert not any(canary.iterdir()), f"no marker created: {sorted(p.name for p in canary.iterdir())}"
    assert not any(cwd.iterdir()), f"nothing left in the working folder: {sorted(p.name for p in cwd.iterdir())}"


def test_a_refusal_does_not_echo_an_environment_value(workdir, monkeypatch, capsys):
    monkeypatch.setenv("CMABM_SECRET", "s3cr3t-" + "x" * 200)
    _status, err = run_cli_here(
        [*TINY, "scenario=takedown", "scenario.interventions.0.target=${oc.env:CMABM_SECRET}"], monkeypatch, capsys
    )
    assert "s3cr3t" not in err, f"the value of the variable is not printed: {err}"


def test_an_oversized_file_is_refused_before_hydra_reads_it(workdir, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "big" / "scenario"
    folder.mkdir(parents=True)
    (folder / "big.yaml").write_text("name: big\ninterventions: []\n" + "# padding\n" * 40_000)
    status, err = run_cli_here([*TINY, "scenario=big", f"hydra.searchpath=[file://{tmp_path / 'big'}]"], monkeypatch, capsys)
    assert status == 2 and "big.yaml" in err and "at most" in err, err[-800:]


def test_a_run_inside_another_run_is_refused(workdir, tmp_path, monkeypatch, capsys):
    outer = tmp_path / "outer"
    outer.mkdir()
    (outer / "status.json").write_text('{"status": "finished"}')
    status, err = run_cli_here([*TINY, f"hydra.run.dir={outer / 'inner'}"], monkeypatch, capsys)
    assert status == 2 and "inside the run folder" in err, err[-800:]
    assert not (outer / "inner").exists(), "nothing created inside the other run"
    status, err = run_cli_here([*TINY, "-m", "seed=0,1", f"hydra.sweep.dir={outer / 'sweep'}"], monkeypatch, capsys)
    assert status == 2 and "inside the run folder" in err, err[-800:]


def test_a_scenario_from_a_user_folder_runs_beside_the_shipped_ones(workdir, tmp_path, monkeypatch, capsys):
    """The user folder on the search path is for the user's own scenarios: a clean one is accepted."""
    from sim.runner import compose

    folder = tmp_path / "mine" / "scenario"
    folder.mkdir(parents=True)
    (folder / "late_takedown.yaml").write_text(
        "name: late_takedown\ninterventions:\n  - {name: takedown, start_day: 3, target: largest}\n"
    )
    cfg = compose([*TINY, "scenario=late_takedown", f"hydra.searchpath=[file://{tmp_path / 'mine'}]"])
    assert cfg.scenario.name == "late_takedown" and cfg.scenario.interventions[0].start_day == 3, "the user's scenario is used"


def test_a_sweep_refused_by_its_launcher_leaves_nothing(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *TINY, "-m", "seed=0,1", "hydra/launcher=joblib", "hydra.launcher.prefer=nope"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2, f"refused with status 2: {proc.stderr[-1500:]}"
    assert "refused the sweep before any job ran" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-1500:]
    assert not any(tmp_path.iterdir()), f"no sweep folder, record or lock is left: {sorted(tmp_path.rglob('*'))}"


def test_git_runs_without_the_callers_git_environment(tmp_path, monkeypatch):
    """Recording the revision must not run a command named in GIT_CONFIG_* (core.fsmonitor)."""
    from sim.runner import git_revision

    if shutil.which("git") is None or git_revision() is None:
        pytest.skip("not a git checkout")
    marker = tmp_path / "ran"
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.fsmonitor")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", f"touch {marker}")
    git_revision.__wrapped__() if hasattr(git_revision, "__wrapped__") else git_revision()
    assert not marker.exists(), "git ran a command from the environment"


def test_the_command_line_route_end_to_end(tmp_path):
    """One attack through a real ``run.py`` process (the in-process tests share its code path)."""
    canary = tmp_path / "canary"
    canary.mkdir()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *TINY, "-m", "+experiment=evil_exp", search("callbacks")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={**__import__("os").environ, "CMABM_CANARY": str(canary)},
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr[-1500:]
    assert not any(canary.iterdir()) and sorted(p.name for p in tmp_path.iterdir()) == ["canary"], "nothing created"


# ----------------------------------------------------------------------------- composed, drawn at random
#: Hydra settings a file or an override might try to set: none is allowed from a file
INJECTIONS = [
    ("hydra.callbacks.x._target_", "os.makedirs"),
    ("hydra.job.env_set.GIT_DIR", "x"),
    ("hydra.job.env_copy", "[PATH]"),
    ("hydra.job_logging.root.level", "DEBUG"),
    ("hydra.hydra_logging.root.level", "DEBUG"),
    ("hydra.output_subdir", "x"),
    ("hydra.job.chdir", "true"),
    ("hydra.sweeper._target_", "os.system"),
    ("hydra.launcher.setup", "[touch x]"),
    ("hydra.run.dir", "/tmp/elsewhere"),
    ("hydra.sweep.subdir", "x"),
]
#: of these, what the user may set on the command line (their own folders and launcher settings)
USER_MAY_SET = {"hydra.run.dir", "hydra.launcher.setup"}
#: where an injection is placed: the experiment file, a scenario file (as a global package), the command line
PLACES = ["experiment", "scenario", "command line", "nowhere"]


def _nested(key: str, value: str) -> str:
    parts = key.split(".")
    text = ""
    for depth, part in enumerate(parts[:-1]):
        text += "  " * depth + f"{part}:\n"
    return text + "  " * (len(parts) - 1) + f"{parts[-1]}: {value}\n"


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # a failure is reported as drawn: shrinking recomposes for minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    injection=st.sampled_from(INJECTIONS),
    place=st.sampled_from(PLACES),
    shipped_scenario=st.sampled_from(["baseline", "takedown", "nps_ban"]),
    own_scenario=st.booleans(),
    multirun=st.booleans(),
)
def test_composed_configurations_are_refused_exactly_when_a_file_or_override_reaches_hydras_settings(
    tmp_path_factory, injection, place, shipped_scenario, own_scenario, multirun
):
    """Experiment + scenario + search path + command line: a run composes iff nothing reaches Hydra's settings."""
    from sim.hydra_guard import check_invocation
    from sim.runner import to_config

    key, value = injection
    folder = tmp_path_factory.mktemp("user")
    (folder / "experiment").mkdir()
    (folder / "scenario").mkdir()
    scenario = "mine" if own_scenario else shipped_scenario
    scenario_text = "name: mine\ninterventions: []\n"
    if place == "scenario":  # a scenario reaches Hydra's settings only as a global package
        scenario_text = "# @package _global_\nscenario:\n  name: mine\n  interventions: []\n" + _nested(key, value)
    (folder / "scenario" / "mine.yaml").write_text(scenario_text)
    experiment = f"# @package _global_\ndefaults:\n  - override /scenario: {scenario}\nexperiment: drawn\n"
    if place == "experiment":
        experiment += _nested(key, value)
    (folder / "experiment" / "drawn.yaml").write_text(experiment)
    # composed only, never run: a horizon that holds the shipped scenarios' start days
    args = ["model.n_buyers=300", "run.days=800", "+experiment=drawn", f"hydra.searchpath=[file://{folder}]"]
    if multirun:
        args = ["-m", *args, "seed=0,1"]
    if place == "command line":
        args.append(f"++{key}={value}")
    reaches = (
        place == "experiment"
        or (place == "scenario" and scenario == "mine")
        or (place == "command line" and key not in USER_MAY_SET)
    )
    try:
        check_invocation(args, validate=to_config)
    except ConfigError as err:
        message = str(err)
        assert "\n" not in message.strip(), f"one line: {message}"
        assert reaches, f"refused although nothing reaches Hydra's settings: {message}"
        named = key.split(".")[1] in message or (place == "scenario" and "package" in message)
        assert named, f"the message names the setting {key} (or the file's package line): {message}"
        return
    assert not reaches, f"{key} set in the {place} was not refused"


def test_only_the_projects_callbacks_the_basic_sweeper_and_an_installed_launcher_are_instantiated():
    """Even a changed project file cannot name another class: the guard checks the classes themselves."""
    from omegaconf import OmegaConf

    from sim.hydra_guard import check_hydra_classes

    base = {
        "callbacks": {"guard": {"_target_": "sim.callbacks.GuardRuns"}},
        "sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"},
        "launcher": {"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"},
    }
    check_hydra_classes(OmegaConf.create({"hydra": base}))
    for part, target in (("callbacks", None), ("sweeper", "os.system"), ("launcher", "os.makedirs")):
        bad = OmegaConf.create({"hydra": base})
        if part == "callbacks":
            bad.hydra.callbacks.evil = {"_target_": "os.makedirs"}
        else:
            bad.hydra[part]._target_ = target
        with pytest.raises(ConfigError, match=f"hydra.{part}"):
            check_hydra_classes(bad)


def test_a_stale_staging_token_is_never_a_path(tmp_path):
    """A rerun removes a dead attempt's staging folder only when the recorded token is one of its own form."""
    from sim.rundir import is_token, new_token

    assert is_token(new_token()), "the program's own tokens qualify"
    for bad in ("x/../../victim", "../..", "", None, 12345678, "ABCDEF12", "0123456789"):
        assert not is_token(bad), f"{bad!r} is not a token: a path from status.json must never be removed"
