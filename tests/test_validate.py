"""The validation command: every pattern has an analogue, each analogue on hand-made tables, end to end."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim import validate
from sim.validate import ANALOGUES, TARGETS_FILE, VALIDATION_COLUMNS, Run, pattern_table


def targets() -> list[dict]:
    return yaml.safe_load(TARGETS_FILE.read_text())


def test_every_published_pattern_is_checked():
    ids = [t["id"] for t in targets()]
    assert len(ids) == 17 and len(set(ids)) == 17, f"the repository holds all 17 published patterns: {ids}"
    assert set(ids) == set(ANALOGUES), f"every pattern has an analogue: missing {set(ids) - set(ANALOGUES)}"
    for t in targets():
        assert t["kind"] in ("input", "emergent"), f"{t['id']}: kind is input or emergent"
        assert t.get("source"), f"{t['id']}: has its source"


def fake_run(scenario: str = "baseline", seed: int = 0, summary: dict | None = None, **tables) -> Run:
    run = Run(folder=Path("/nonexistent"), scenario=scenario, seed=seed, n_buyers=1000, summary=summary or {"run": {}})
    run._tables.update(tables)
    return run


def test_market_coexistence_on_a_hand_made_table():
    rows = []
    for day in range(730):
        # year 0: a 60/40 split; year 1: one market with 90%
        a, b = (60.0, 40.0) if day < 365 else (90.0, 10.0)
        rows += [
            {"day": day, "market": "crypto_1", "kind": "cryptomarket", "value_eur": a},
            {"day": day, "market": "crypto_2", "kind": "cryptomarket", "value_eur": b},
            {"day": day, "market": "shop_1", "kind": "webshop", "value_eur": 1000.0},
        ]
    got = validate.analogue_market_coexistence(fake_run(markets=pd.DataFrame(rows)))
    assert got["largest_share"] == pytest.approx(0.9), f"the most concentrated year counts: {got}"
    assert got["markets_above_10pct"] == 1, f"in year 1 only one market holds more than 10%: {got}"


def test_adoption_growth_on_a_hand_made_table():
    days = range(3 * 365)
    online = [10 if d < 365 else 20 if d < 730 else 30 for d in days]
    daily = pd.DataFrame(
        {"day": list(days), "sales_offline": [100 - o for o in online], "sales_webshop": online, "sales_cryptomarket": 0}
    )
    got = validate.analogue_online_adoption_growth(fake_run(daily=daily))
    assert got[""] == pytest.approx(3.0), f"online share 10% in year 1 and 30% in year 3: {got}"
    short = fake_run(daily=daily[daily.day < 700])
    assert math.isnan(validate.analogue_online_adoption_growth(short)[""]), "fewer than three years: no value"


def test_summary_based_analogues_read_the_right_fields():
    summary = {
        "run": {
            "migration_concentration": 0.7,
            "delivery_success_rate": 0.9,
            "top1pct_vendor_share": 0.4,
            "top10pct_buyer_share": 0.5,
            "multi_homing_share": 0.05,
            "market_lifespan_mean_days": 240.0,
            "online_share_of_purchases": {"all": 0.1, "classic": 0.03, "nps": 0.3},
            "price_premium": {"cocaine": 1.1},
            "purity_difference": {"4-fa": 0.05},
        },
        "interventions": [
            {"name": "takedown", "online_days_to_recovery": 20, "online_recovery_censored": False, "vendor_slope_ratio": 1.1},
            {"name": "substance_ban", "domestic_shop_share_selling_182d": 0.25},
        ],
    }
    run = fake_run(summary=summary)
    expect = {
        "migration_concentration": {"": 0.7},
        "delivery_reliability": {"": 0.9},
        "vendor_concentration": {"": 0.4},
        "buyer_concentration": {"": 0.5},
        "multi_homing": {"": 0.05},
        "market_lifespan": {"": 240.0},
        "online_share_of_samples": {"classic": 0.03, "nps": 0.3},
        "online_price_premium": {"cocaine": 1.1},
        "purity_online_vs_offline": {"4-fa": 0.05},
        "takedown_recovery": {"": 20.0, "censored": 0.0},
        "vendor_shock_growth": {"": 1.1},
        "nps_ban_webshops": {"": 0.25},
    }
    for tid, want in expect.items():
        assert ANALOGUES[tid][1](run) == pytest.approx(want), f"{tid}: {ANALOGUES[tid][1](run)} != {want}"


def test_pattern_table_reports_every_pattern_and_not_modelled_ones_fail():
    summary = {"run": {"delivery_success_rate": 0.9, "online_share_of_purchases": {}}, "interventions": []}
    markets = pd.DataFrame({"day": [0], "market": ["crypto_1"], "kind": ["cryptomarket"], "value_eur": [1.0]})
    daily = pd.DataFrame({"day": [0], "sales_offline": [1], "sales_webshop": [0]})
    vendors = pd.DataFrame({"webshop": [False, True], "value_eur": [75.0, 500.0], "wholesale_value_eur": [25.0, 500.0]})
    runs = [fake_run(summary=summary, seed=s, markets=markets, daily=daily, vendors=vendors) for s in range(3)]
    # a pattern whose mechanism is missing carries a status in targets.yaml (none does at present)
    listed = [dict(t, status="not modelled yet: for this test") if t["id"] == "multi_homing" else t for t in targets()]
    table, details = pattern_table(runs, listed)
    assert list(table.columns) == list(VALIDATION_COLUMNS), "validation.csv's columns"
    assert set(table["pattern"]) == {t["id"] for t in targets()}, "no pattern is skipped"
    row = table[table.pattern == "delivery_reliability"].iloc[0]
    assert row["holds"] and row["mean"] == pytest.approx(0.9) and row["n"] == 3, f"a pattern within its band holds: {row}"
    r = table[table.pattern == "multi_homing"].iloc[0]
    assert not r["holds"] and r["status"].startswith("not modelled yet"), "a pattern with a status is not modelled yet"
    r = table[table.pattern == "wholesale_share"].iloc[0]
    assert r["mean"] == pytest.approx(0.25) and r["holds"], (
        "wholesale lots of hidden-market vendors / their trade, shops left out"
    )
    for tid in ("price_elasticity", "online_adoption_growth", "deterrence_after_operation"):
        r = table[table.pattern == tid].iloc[0]
        assert r["status"] == "no value" and not r["holds"], f"{tid} is modelled: without a run giving it, it has no value"
    r = table[table.pattern == "migration_concentration"].iloc[0]
    assert not r["holds"] and r["status"] == "no value", "a pattern without a value does not hold"


def test_bad_arguments_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        validate.main(["--seeds", "1", "--out", str(tmp_path / "v")])
    assert err.value.code == 2 and "--seeds 1" in capsys.readouterr().err, "one seed gives no interval"
    assert not (tmp_path / "v").exists(), "nothing is created on bad input"
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    assert validate.main(["--out", str(tmp_path / "notes")]) == 2, "a folder with other files is refused"
    assert "did not write" in capsys.readouterr().err and (tmp_path / "notes" / "mine.txt").read_text() == "keep me"


def test_validation_command_end_to_end(tmp_path):
    out = tmp_path / "val"
    # 8,000 buyers: in smaller worlds a seed may have no second open cryptomarket on day 350 (Bayonet's target)
    args = ["--seeds", "2", "--buyers", "8000", "--large-buyers", "9000", "--days", "550", "--size-days", "460"]
    code = validate.main([*args, "--launcher", "basic", "--out", str(out)])
    assert code == 0, "every job finished"
    table = pd.read_csv(out / "validation.csv")
    assert list(table.columns) == list(VALIDATION_COLUMNS) and set(table.pattern) == set(ANALOGUES), "one row per pattern"
    assert set(table.kind) <= {"input", "emergent"}, "kind is input or emergent"
    assert (out / "validation.md").read_text().count("| ") > 17, "the markdown report has the table"
    assert (out / "figures" / "validation.png").exists(), "the figure is written"
    sizes = pd.read_csv(out / "size_invariance.csv")
    assert {"decentralised_per_1000_buyers", "takedown_online_drop"} <= set(sizes.metric), "sizes compared"
    assert validate.main([*args, "--launcher", "basic", "--out", str(out)]) == 0, "a rerun resumes: finished jobs are skipped"
