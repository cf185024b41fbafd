"""Sweeps and experiments end to end: collection, figures, parallel = serial, failures, reruns."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.report import ReportError, main, write_report
from tests.conftest import sweep

JOBLIB = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    proc = sweep(out, "+experiment=takedown_recovery", "seed=range(2)", "run.days=400")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_experiment_is_collected_with_tables_and_figures(serial):
    out, proc = serial
    col = out / "collected"
    rs = pd.read_csv(col / "runs_summary.csv")
    assert len(rs) == 4 and set(rs.scenario) == {"baseline", "takedown"} and set(rs.seed) == {0, 1}, "2 scenarios x 2 seeds"
    for c in ("online_volume_eur_per_day", "online_drop", "online_days_to_recovery", "displacement_30d_nowhere"):
        assert c in rs.columns, f"summary column {c} missing"
    assert rs[rs.scenario == "takedown"]["online_drop"].notna().all(), "takedown runs report a drop"
    daily = pd.read_parquet(col / "runs_daily.parquet")
    treated = daily[daily.arm == "treated"]
    assert len(treated) == 4 * 400 and {"scenario", "seed", "online_value_eur"} <= set(daily.columns), "one row per run and day"
    cf = daily[daily.arm == "counterfactual"]
    assert set(cf.scenario) == {"takedown"} and len(cf) == 2 * 400, "the takedown runs' counterfactuals are collected too"
    means = pd.read_csv(col / "scenario_means.csv")
    assert {"scenario", "metric", "mean", "ci95_low", "ci95_high", "n"} <= set(means.columns)
    paired = pd.read_csv(col / "paired_differences.csv")
    row = paired[(paired.scenario == "takedown") & (paired.metric == "online_volume_eur_per_day")]
    assert len(row) == 1 and row.n.iloc[0] == 2, "paired differences use matched seeds"
    for fig in ("timeseries_online_value_eur", "effect_online_value_eur", "displacement", "distribution_online_drop"):
        assert (col / "figures" / f"{fig}.png").exists() and (col / "figures" / f"{fig}.pdf").exists(), fig
    assert "collected 4 of 4 jobs" in proc.stdout, proc.stdout[-500:]
    assert "[sweep] 4 of 4 jobs done" in proc.stderr, "progress counts jobs done of total"
    iv = pd.read_csv(next(out.glob("*scenario=takedown,seed=0")) / "interventions.csv")
    assert len(iv) == 1 and {"online_drop", "displacement_30d_nowhere", "targets"} <= set(iv.columns), (
        "per-run intervention table"
    )


def test_parallel_equals_serial(serial, tmp_path):
    out, _ = serial
    proc = sweep(tmp_path, "+experiment=takedown_recovery", "seed=range(2)", "run.days=400", launcher=JOBLIB)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = sorted(p.parent for p in out.glob("*/daily.parquet"))
    assert len(jobs) == 4
    for job in jobs:
        for table in ("daily", "markets", "substances", "events"):
            a = (job / f"{table}.parquet").read_bytes()
            b = (tmp_path / job.name / f"{table}.parquet").read_bytes()
            assert a == b, f"{job.name}/{table}.parquet differs between serial and joblib runs"


def test_rerun_skips_finished_jobs(serial):
    out, _ = serial
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/daily.parquet")}
    proc = sweep(out, "+experiment=takedown_recovery", "seed=range(2)", "run.days=400")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("finished before with the same settings and code, skipped") == 4, proc.stdout[-1500:]
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items()), "finished runs must not be rewritten"


def test_failed_job_is_reported_and_others_collected(tmp_path):
    # crypto_40 does not exist on day 20: that job fails at its start day, the other (largest) runs
    proc = sweep(
        tmp_path,
        "scenario=exit_scam",
        "seed=0",
        "run.days=60",
        "scenario.interventions.0.start_day=20",
        "scenario.interventions.0.target=largest,crypto_40",
    )
    assert proc.returncode == 1, "a failed job does not take the sweep down, but the sweep exits 1: " + proc.stderr[-2000:]
    jobs = pd.read_csv(tmp_path / "collected" / "jobs.csv")
    assert sorted(jobs.status) == ["failed", "finished"], jobs.to_string()
    failed = jobs[jobs.status == "failed"].iloc[0]
    assert "crypto_40" in failed.error and "open markets" in failed.error, failed.error
    assert not list((tmp_path / failed.job).glob("*.parquet")), "a failed job leaves no table"


def test_report_on_a_folder_without_runs(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2, "the report command must fail on an empty folder"
    assert "holds no runs" in capsys.readouterr().err
    with pytest.raises(ReportError, match="no such folder"):
        write_report(tmp_path / "missing")


@pytest.mark.slow
def test_submitit_local_launcher(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install -e '.[slurm]'")
    proc = sweep(tmp_path, "scenario=baseline", "seed=range(2)", "run.days=30", launcher=("hydra/launcher=submitit_local",))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(pd.read_csv(tmp_path / "collected" / "runs_summary.csv")) == 2, "both submitit jobs are collected"


def test_without_counterfactuals_the_collection_pairs_with_the_baseline_arm(serial, tmp_path):
    """run.counterfactual=false: effects come from the baseline run at the same seed, and equal the built-in ones."""
    out = tmp_path / "nocf"
    proc = sweep(out, "+experiment=takedown_recovery", "seed=range(2)", "run.days=400", "run.counterfactual=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(out.glob("*/counterfactual")), "no run made its own counterfactual"
    paired = pd.read_csv(out / "collected" / "runs_summary.csv")
    built_in = pd.read_csv(serial[0] / "collected" / "runs_summary.csv")
    cols = [
        "online_drop",
        "online_days_to_recovery",
        "target_drop",
        "market_displacement_30d_nowhere",
        "extra_arrests_vendors_90d",
    ]
    a = paired[paired.scenario == "takedown"].sort_values("seed")[cols].reset_index(drop=True)
    b = built_in[built_in.scenario == "takedown"].sort_values("seed")[cols].reset_index(drop=True)
    assert a["online_drop"].notna().all() and a.notna().any().all(), f"effects are measured against the baseline arm: {a}"
    pd.testing.assert_frame_equal(a.astype(float), b.astype(float), obj="effects paired with the baseline arm vs built in")
    notes = (out / "collected" / "collection.json").read_text()
    assert "baseline arm" in notes, "the collection says how the effects were measured"
