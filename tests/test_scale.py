"""Scale: the per-market buyer store, and the scale benchmark's smoke mode and analysis."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, tiny_run


def test_only_online_capable_buyers_hold_market_rows():
    model, _ = tiny_run()
    pop = model.buyers
    capable = pop.webshop
    assert (pop.market_row[capable] > 0).all(), "every buyer who can reach an online market has a row"
    assert (pop.market_row[~capable] == 0).all(), "the others share the empty row 0"
    rows = pop.market_row[capable]
    assert len(np.unique(rows)) == len(rows), "no two buyers share a row"
    assert (pop.buyer_of_row[rows] == np.flatnonzero(capable)).all(), "rows map back to their buyers"
    assert not pop.aware[0].any() and not pop.trust[0].any() and not pop.bought[0].any(), "row 0 stays empty"
    assert pop.n_market_rows == 1 + capable.sum(), f"{pop.n_market_rows} rows for {capable.sum()} online-capable buyers"
    assert pop.n_market_rows < 0.5 * pop.n, "the store is much smaller than one row per buyer at the defaults"


def test_market_store_reads_and_writes_by_buyer():
    model, _ = tiny_run()
    pop = model.buyers
    offline_only = np.flatnonzero(~pop.webshop)[:3]
    market = next(m.idx for m in model.markets if m.active)
    assert not pop.aware_of(offline_only, np.full(3, market)).any(), "buyers who cannot reach a market know none"
    assert (pop.trust_grid(offline_only, np.array([market])) == 0).all(), "and trust none"
    with pytest.raises(ValueError, match="cannot reach any online market"):
        pop.make_aware(offline_only, market, 0.5)
    # learning Tor gives a row; the buyer can then learn of a market
    learner = offline_only[:1]
    pop.learn_skill(learner)
    assert pop.market_row[learner[0]] > 0, "a buyer who learns Tor gets a row"
    pop.make_aware(learner, market, 0.7)
    assert pop.aware_of(learner, np.array([market]))[0], "the learner now knows the market"
    assert pop.trust_of(learner, np.array([market]))[0] == pytest.approx(0.7), "with the trust given"
    assert learner[0] in pop.knowers(market), "and is listed among those who know it"
    knowers = pop.knowers(market)
    assert (np.diff(knowers) > 0).all(), "knowers come in ascending buyer order"


def test_scale_benchmark_smoke(tmp_path):
    out = tmp_path / "scale"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--smoke", "--sizes", "1000", "2000", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_csv(out / "scale.csv")
    assert sorted(table["buyers"].unique()) == [1000, 2000], "both sizes ran"
    assert len(table) == 4, "two seeds per size in smoke mode"
    for col in (
        "wall_s",
        "purchases",
        "purchases_per_s",
        "peak_rss_mb",
        "ratio_to_floor",
        "out_purchases_per_day",
        "vendors",
        "markets",
    ):
        assert col in table.columns, f"column {col} in scale.csv"
    assert (table["purchases"] > 0).all(), "every run made purchases"
    assert table["floor_wall_s"].notna().all(), "the floor ran next to every run (a pair per size and seed)"
    assert (table["floor_events"] > 0).all(), "the floor's buyers had purchase events"
    assert (table["buyer_rows"] == (table["buyers"] * 1.5).round()).all(), "people at risk come on top of the buyers"
    inv = pd.read_csv(out / "invariance.csv")
    assert set(inv["output"]) >= {"out_purchases_per_day", "out_hidden_drop"}, "outputs compared across sizes"
    assert (out / "scale.png").exists() and (out / "scale.pdf").exists(), "the figure is written"
    meta = json.loads((out / "scale.json").read_text())
    assert meta["git_revision"] and meta["days"] == 400, "settings and revision recorded"
    assert meta["state"] == "finished" and meta["runs_measured"] == 4 and "mesa" in meta["versions"], meta


def test_scale_benchmark_refuses_bad_input(tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("a researcher's file")
    script = str(ROOT / "benchmarks" / "scale.py")
    for args, message in (
        (["--out", str(used)], "not empty"),
        (["--days", "100", "--out", str(tmp_path / "a")], "takedown falls on day 365"),
        (["--sizes", "10", "--out", str(tmp_path / "b")], "too few"),
        (["--days", "0", "--sizes", "1000", "--out", str(tmp_path / "c")], "use at least 366"),  # 0 is not "not given"
        (["--smoke", "--seeds", "0", "--out", str(tmp_path / "d")], "--seeds 0"),
        (["--large-seeds", "0", "--sizes", "1000", "--out", str(tmp_path / "e")], "--large-seeds 0"),
        (["--sizes", "1000", "--out", str(used / "keep.txt" / "f")], "is a file, not a folder"),
    ):
        proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr, f"{args}: {proc.stderr[-500:]}"
        assert "Traceback" not in proc.stderr, f"{args}: a clear error, not a traceback"
    assert (used / "keep.txt").read_text() == "a researcher's file", "an existing folder is left as it was"
    assert not any((tmp_path / x).exists() for x in "abcde"), "nothing is left behind"


def test_bench_run_refuses_bad_input_with_the_reason():
    script = str(ROOT / "benchmarks" / "bench_run.py")
    for args, message in (
        (["--repeat", "0"], "--repeat 0: use 1 or more"),
        (["--repeat", "1", "model.n_buyers=-1"], "model.n_buyers=-1: must be"),
        (["--repeat", "1", "--revision", "no-such-revision", "model.n_buyers=1000"], "not a git revision"),
    ):
        proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert proc.returncode == 2 and message in proc.stderr, f"{args}: {proc.stderr[-800:]}"
        assert "Traceback" not in proc.stderr, f"{args}: a clear error, not a traceback"


def test_invariance_flags_a_size_that_differs():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scale import OUTPUTS, summarise

    spread = (-0.5, -0.2, 0.0, 0.2, 0.5)  # seed noise: sd about 0.38
    rows = []
    for n, values in ((1000, spread), (10000, spread), (100000, (0.1,))):
        for s, v in enumerate(values):
            row = {
                "buyers": n,
                "seed": s,
                "wall_s": 1.0,
                "purchases": 100,
                "occasions": 150,
                "floor_wall_s": 0.5,
                "floor_events": 150,
            }
            row.update({k: 10.0 + v for k in OUTPUTS})
            if n == 100000:
                row["out_purchases_per_day"] = 15.0  # the largest size differs by 13 standard deviations
            rows.append(row)
    _, inv = summarise(rows)
    ppd = inv[inv["output"] == "out_purchases_per_day"].set_index("buyers")
    assert not ppd.loc[1000, "agrees"] and not ppd.loc[10000, "agrees"], "a shift of 10 standard deviations is flagged"
    other = inv[inv["output"] == "out_online_per_day"].set_index("buyers")
    assert other["agrees"].all(), "outputs drawn from one law agree across sizes"
