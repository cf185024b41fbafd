"""Design points, calibration, sensitivity analysis and scenario discovery.

Pure parts (distances, screening, Sobol, PRIM) are tested on functions with known answers; the
commands end to end in their quick form (small populations, few points), with a failed job, a
rerun that repeats nothing and a rerun with other settings.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import calibrate, design, discover, sensitivity
from sim.config import Config
from sim.errors import ConfigError
from sim.runner import compose

ROOT = Path(__file__).resolve().parent.parent


def run_py(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True, text=True)


def module(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", name, *args], cwd=ROOT, capture_output=True, text=True)


# ----------------------------------------------------------------------------- points as config files
def test_a_point_file_sets_model_values_through_the_search_path(tmp_path):
    folder = design.write_points(tmp_path, {"p0": {"model.choice.conv_webshop": -0.9, "model.buyers.tech_skill_share": 0.03}})
    cfg = compose([f"hydra.searchpath=[file://{folder}]", "+point=p0"])
    assert cfg.model.choice.conv_webshop == -0.9, "the point's value reaches the composed config"
    assert cfg.model.buyers.tech_skill_share == 0.03, "every value of the point is applied"
    assert cfg.model.choice.conv_cryptomarket == Config().model.choice.conv_cryptomarket, (
        "keys the point does not set keep their defaults"
    )
    assert design.read_point(folder / "point" / "p0.yaml") == {
        "model.buyers.tech_skill_share": 0.03,
        "model.choice.conv_webshop": -0.9,
    }, "a point file reads back as the values written"


def test_a_point_file_is_never_overwritten_with_other_values(tmp_path):
    design.write_points(tmp_path, {"p0": {"model.choice.conv_webshop": -0.9}})
    design.write_points(tmp_path, {"p0": {"model.choice.conv_webshop": -0.9}})  # a rerun writes the same text
    with pytest.raises(design.DesignError, match="holds other values"):
        design.write_points(tmp_path, {"p0": {"model.choice.conv_webshop": 0.1}})


@pytest.mark.parametrize(
    "body, message",
    [
        ("model:\n  choice:\n    conv_webshopp: 1\n", "conv_webshopp"),
        ("model:\n  choice:\n    _target_: os.system\n", "cannot name Python code"),
        ("seed: 3\n", "holds only 'model' parameters"),
        ("model:\n  buyers:\n    tech_skill_share: 1.5\n", "tech_skill_share"),
    ],
)
def test_bad_point_files_are_refused_before_anything_runs(tmp_path, body, message):
    (tmp_path / "pts" / "point").mkdir(parents=True)
    (tmp_path / "pts" / "point" / "bad.yaml").write_text("# @package _global_\n" + body)
    out = tmp_path / "run"
    r = run_py(f"hydra.searchpath=[file://{tmp_path / 'pts'}]", "+point=bad", f"hydra.run.dir={out}", "model.n_buyers=500")
    assert r.returncode == 2, f"a bad point file stops the run with status 2: {r.returncode} {r.stderr[-400:]}"
    assert message in r.stderr and "Traceback" not in r.stderr, f"one clear line naming the problem: {r.stderr[-400:]}"
    assert not out.exists(), "nothing is left behind"


def test_a_point_that_is_not_on_the_search_path_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such design point"):
        compose([f"hydra.searchpath=[file://{tmp_path}]", "+point=missing"])


def test_the_parameters_file_is_checked(tmp_path):
    params = design.load_parameters()
    assert len(params) >= 10, "every uncertain parameter is listed"
    for p in params:
        assert p.low < p.high, f"{p.key}: a range with low < high"
        assert p.why, f"{p.key}: says why its range is what it is"
    assert design.Parameter("x", 0.001, 0.1, 0.01, log=True).from_unit(0.5) == pytest.approx(0.01), (
        "log scale: the middle is the geometric mean"
    )
    bad = tmp_path / "p.yaml"
    bad.write_text("parameters:\n  - key: model.choice.no_such_thing\n    range: [0, 1]\n")
    with pytest.raises(design.DesignError, match="no_such_thing"):
        design.load_parameters(path=bad)
    bad.write_text("parameters:\n  - key: model.choice.beta_price\n    range: [2, 1]\n")
    with pytest.raises(design.DesignError, match="low < high"):
        design.load_parameters(path=bad)
    searched, objective = design.calibration_spec()
    assert searched and objective, "the calibration names its parameters and the patterns of its objective"
    assert "takedown_recovery" not in objective and "multi_homing" not in objective, "held-out patterns are not in the objective"


# ----------------------------------------------------------------------------- calibration objective
def test_band_distance():
    assert calibrate.band_distance(0.5, 0.4, 0.6) == 0, "inside the band: no distance"
    assert calibrate.band_distance(0.8, 0.4, 0.6) == pytest.approx(1.0), "one band width above"
    assert calibrate.band_distance(0.3, 0.4, 0.6) == pytest.approx(0.5), "half a band width below"
    assert calibrate.band_distance(math.nan, 0.4, 0.6) == 1.0, "no value counts as a band width away"
    assert calibrate.band_distance(1.0, 2.0, math.inf) == pytest.approx(0.5), "a band open above: in units of its lower end"


def test_pattern_distance_is_the_mean_over_parts_and_each_pattern_counts_once():
    table = pd.DataFrame(
        [
            {"pattern": "a", "part": "x", "mean": 0.5, "low": 0.0, "high": 1.0},
            {"pattern": "a", "part": "y", "mean": 2.0, "low": 0.0, "high": 1.0},
            {"pattern": "b", "part": "", "mean": 0.5, "low": 0.0, "high": 1.0},
        ]
    )
    d = calibrate.pattern_distances(table, ["a", "b", "c"])
    assert d == {"a": 0.5, "b": 0.0, "c": 1.0}, f"parts averaged; a pattern without rows is a band width away: {d}"
    assert calibrate.objective_value(d) == pytest.approx(0.5), "the objective is the mean over patterns"


# ----------------------------------------------------------------------------- sensitivity and discovery (pure)
def test_morris_ranks_a_known_function():
    from SALib.sample import morris as morris_sample

    params = [design.Parameter(f"model.x{i}", 0.0, 1.0, 0.5) for i in range(3)]
    problem = sensitivity.problem_of(params)
    unit = morris_sample.sample(problem, N=20, num_levels=4, seed=1)
    y = 10 * unit[:, 0] + 0 * unit[:, 1] + 2 * unit[:, 2] ** 2
    means = pd.DataFrame({o: y for o in design.OUTCOMES})
    table, notes = sensitivity.analyse_morris(problem, unit, means, 4, 0)
    t = table[table.outcome == "online_drop"].set_index("parameter")
    assert t.loc["model.x0", "mu_star"] == pytest.approx(10, rel=0.01), f"a linear effect of 10 per range: {t}"
    assert t.loc["model.x1", "mu_star"] == pytest.approx(0, abs=1e-9), "a parameter without effect has mu* 0"
    assert t.loc["model.x2", "sigma"] > 0 and t.loc["model.x0", "sigma"] == pytest.approx(0, abs=1e-9), (
        "only the curved one spreads"
    )
    assert sensitivity.top_parameters(table, 2) == ["model.x0", "model.x2"], "the two that matter are carried on"
    # a failed job removes its trajectory only
    y2 = y.copy()
    y2[5] = np.nan
    table2, notes2 = sensitivity.analyse_morris(problem, unit, pd.DataFrame({o: y2 for o in design.OUTCOMES}), 4, 0)
    assert any("1 of 20 trajectories left out" in n for n in notes2), f"the incomplete trajectory is left out and said: {notes2}"
    assert table2[table2.outcome == "online_drop"].set_index("parameter").loc["model.x0", "mu_star"] == pytest.approx(
        10, rel=0.01
    )


def test_sobol_indices_of_a_known_function():
    from SALib.sample import sobol as sobol_sample

    params = [design.Parameter(f"model.x{i}", 0.0, 1.0, 0.5) for i in range(2)]
    problem = sensitivity.problem_of(params)
    unit = sobol_sample.sample(problem, 256, calc_second_order=False, seed=0)
    y = 3 * unit[:, 0] + unit[:, 1]  # variances 9/12 and 1/12: S = 0.9 and 0.1
    table, notes = sensitivity.analyse_sobol(problem, pd.DataFrame({o: y for o in design.OUTCOMES}), 0)
    t = table[table.outcome == "harm_change"].set_index("parameter")
    assert t.loc["model.x0", "S1"] == pytest.approx(0.9, abs=0.05), f"first order of x0: {t}"
    assert t.loc["model.x1", "ST"] == pytest.approx(0.1, abs=0.05), f"total order of x1: {t}"
    assert (t["S1_conf"] > 0).all(), "intervals are given"


def test_prim_finds_the_box_of_a_known_rule():
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.random((300, 4)), columns=["a", "b", "c", "d"])
    y = ((x.a > 0.6) & (x.b < 0.5)).to_numpy()
    trajectory, step, box = discover.find_box(x, y, 0.5)
    chosen = trajectory[trajectory["id"] == step].iloc[0]
    assert chosen.coverage >= 0.5 and chosen.density > 0.9, f"a dense box covering most cases: {chosen.to_dict()}"
    r = discover.restricted(box).set_index("parameter")
    assert set(r.index) == {"a", "b"}, f"only the two parameters of the rule are restricted: {box}"
    assert r.loc["a", "box_min"] == pytest.approx(0.6, abs=0.05) and r.loc["b", "box_max"] == pytest.approx(0.5, abs=0.05)


# ----------------------------------------------------------------------------- end to end (quick)
def test_a_failed_point_is_recorded_and_the_others_run(tmp_path):
    points = {
        "ok": {"model.markets.initial_cryptomarkets": 6},
        # no cryptomarket at all: the takedown of the largest has no target, the job fails
        "none": {"model.markets.initial_cryptomarkets": 0, "model.markets.new_cryptomarkets_per_year": 0},
    }
    folder = design.write_points(tmp_path, points)
    code = design.run_points(
        tmp_path / "runs", folder, list(points), 1, ["scenario=takedown", "model.n_buyers=1000", "run.days=380"], "basic", 1
    )
    assert code == 1, "a sweep with a failed job exits 1"
    runs, jobs = design.read_point_runs(tmp_path / "runs")
    assert [r.point for r in runs] == ["ok"], "the other point ran"
    assert sorted(jobs.status) == ["failed", "finished"], f"the failure is recorded: {jobs}"
    table = design.outcome_table(runs, points)
    assert list(table.point) == ["ok"] and table.online_volume_per_1000.notna().all(), f"outcomes of the finished run: {table}"
    collected = pd.read_csv(tmp_path / "runs" / "collected" / "jobs.csv")
    assert (collected.status == "failed").sum() == 1, "the collection lists the failed job"
    summary = pd.read_csv(tmp_path / "runs" / "collected" / "runs_summary.csv")
    assert "point" in summary.columns, "the collection has the point as its swept setting"
    notes = json.loads((tmp_path / "runs" / "collected" / "collection.json").read_text())["notes"]
    assert not any("not swept" in n for n in notes), f"a point's own values are not reported as unswept differences: {notes}"


def test_calibration_runs_resumes_without_repeating_and_refuses_other_settings(tmp_path):
    out = tmp_path / "cal"
    args = [
        "--trials",
        "3",
        "--batch",
        "2",
        "--seeds",
        "1",
        "--buyers",
        "1000",
        "--days",
        "150",
        "--out",
        str(out),
        "--launcher",
        "basic",
    ]
    r = module("sim.calibrate", *args)
    assert r.returncode == 0, f"the quick study runs: {r.stderr[-800:]}"
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3 and (trials.state == "COMPLETE").all(), f"three trials complete: {trials}"
    params, objective = design.calibration_spec()
    first = trials[trials.number == 0].iloc[0]
    for p in params:
        assert first[p.key] == pytest.approx(p.default), f"trial 0 is the defaults ({p.key})"
    assert trials.objective.notna().all() and (trials.objective >= 0).all(), "every trial has an objective"
    assert {f"distance.{o}" for o in objective} <= set(trials.columns), "each pattern's distance is recorded"
    assert (out / "best.yaml").exists() and (out / "calibration.md").exists() and (out / "figures" / "calibration.png").exists()
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/summary.json")}
    assert len(stamps) == 3, "one run per trial and seed"
    r2 = module("sim.calibrate", *args)
    assert r2.returncode == 0, r2.stderr[-400:]
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/summary.json")} == stamps, "a rerun repeats no run"
    assert pd.read_csv(out / "trials.csv").equals(trials), "and gives the same table"
    r3 = module("sim.calibrate", *[a if a != "150" else "160" for a in args])
    assert r3.returncode == 2 and "other settings" in r3.stderr and "Traceback" not in r3.stderr, r3.stderr[-400:]


def test_sensitivity_quick_run_writes_its_tables(tmp_path):
    out = tmp_path / "sens"
    r = module(
        "sim.sensitivity",
        *("--parameters", "model.choice.conv_cryptomarket,model.buyers.tech_skill_share", "--trajectories", "2", "--n", "2"),
        *("--top", "2", "--buyers", "2000", "--days", "460", "--out", str(out), "--launcher", "basic"),
    )
    assert r.returncode in (0, 1), f"the analysis ends with a report: {r.stderr[-800:]}"
    morris = pd.read_csv(out / "morris.csv")
    assert set(morris.parameter) == {"model.choice.conv_cryptomarket", "model.buyers.tech_skill_share"}, morris
    assert (morris.mu_star >= 0).all(), "mu* is a mean absolute effect"
    assert (out / "sensitivity.md").exists() and (out / "sobol.csv").exists()
    runs = pd.read_csv(out / "morris_runs.csv")
    assert len(runs) + r.stderr.count("FAILED") >= 6, "every Morris point (2 trajectories x 3) ran or is counted as failed"


def test_quick_mode_keeps_the_options_given():
    args = calibrate.parse(["--quick", "--seeds", "3", "--out", "/tmp/x"])
    assert (args.seeds, args.trials, args.buyers) == (3, 4, 1000), "--quick fills in only what was not given"
    args = discover.parse(["--quick"])
    assert args.days >= discover.MIN_DAYS, "the quick ensemble is long enough to see a recovery and 90-day displacement"


def test_a_refused_first_attempt_leaves_nothing_and_a_study_can_be_extended(tmp_path):
    out = tmp_path / "cal"
    r = module("sim.calibrate", "--quick", "--out", str(out), "--launcher", "basic", "--launcher-arg", "hydra.launcher.bogus=1")
    assert r.returncode == 2 and "refused" in r.stderr, f"a launcher setting Hydra refuses stops the study: {r.stderr[-400:]}"
    assert not out.exists(), "the folder this invocation made is removed"
    args = [
        "--trials",
        "2",
        "--batch",
        "2",
        "--seeds",
        "1",
        "--buyers",
        "1000",
        "--days",
        "150",
        "--out",
        str(out),
        "--launcher",
        "basic",
    ]
    assert module("sim.calibrate", *args).returncode == 0
    more = module("sim.calibrate", *[a if a != "2" or i != 1 else "3" for i, a in enumerate(args)])
    assert more.returncode == 0, more.stderr[-400:]
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3 and (trials.state == "COMPLETE").all(), f"--trials 3 adds one trial to the study: {trials}"
    assert (out / "points" / "point" / "best.yaml").exists(), "the best point can be run with +point=best"


def test_discovery_refuses_bad_arguments_with_one_line(tmp_path):
    for args, message in (
        (["--points", "3"], "--points 3: at least 10"),
        (["--question", "nothing"], "invalid choice"),
        (["--min-coverage", "0"], "a share in (0, 1]"),
    ):
        r = module("sim.discover", *args, "--out", str(tmp_path / "d"))
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, f"{args}: {r.stderr[-300:]}"
    assert not (tmp_path / "d").exists(), "nothing is created on bad input"
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("a researcher's file")
    r = module("sim.discover", "--quick", "--out", str(tmp_path / "taken"))
    assert r.returncode == 2 and "did not write" in r.stderr, r.stderr[-300:]
    assert (tmp_path / "taken" / "mine.txt").read_text() == "a researcher's file", "a foreign file is left alone"


@pytest.mark.parametrize(
    "module, flag", [("calibrate", "--sampler-seed"), ("sensitivity", "--sample-seed"), ("discover", "--sample-seed")]
)
@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_a_seed_the_samplers_cannot_take_is_refused_before_a_folder_is_made(tmp_path, capsys, module, flag, seed):
    import importlib

    parse = importlib.import_module(f"sim.{module}").parse
    with pytest.raises(SystemExit) as end:
        parse([flag, seed, "--out", str(tmp_path / "out")])
    assert end.value.code == 2, f"{module} {flag} {seed}: refused with status 2"
    assert f"{flag} {seed}" in capsys.readouterr().err, "the message names the flag and the value"
    assert not (tmp_path / "out").exists(), "no folder is made"
