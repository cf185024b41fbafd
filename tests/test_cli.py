"""Command line: config composition, bad input refused before anything runs, a smoke run."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.config import ConfigError
from sim.runner import CONFIG_DIR, compose

ROOT = Path(__file__).resolve().parent.parent


def _group_overrides():
    out = []
    for f in sorted(CONFIG_DIR.glob("*/*.yaml")):
        out.append([f"{f.parent.name}={f.stem}"])
    for f in sorted((ROOT / "experiments").glob("*.yaml")):
        out.append([f"+experiment={f.stem}"])
    return out


@pytest.mark.parametrize("overrides", _group_overrides(), ids=lambda o: o[0])
def test_every_config_file_composes(overrides):
    cfg = compose(overrides)
    assert cfg.run.days >= 1 and cfg.substances, f"{overrides} must compose into a full config"


def _run(tmp_path, *args):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), f"hydra.run.dir={out}", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    return proc, out


def test_smoke_run_writes_the_contract(tmp_path):
    proc, out = _run(tmp_path, "model.n_buyers=800", "run.days=40", "run.burn_in_days=10", "seed=5")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("daily", "markets", "substances", "events"):
        df = pd.read_parquet(out / f"{name}.parquet")
        assert len(df) > 0, f"{name}.parquet must not be empty"
    summary = json.loads((out / "summary.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert summary["run"]["days"] == 40, "summary covers the recorded days"
    assert manifest["seed"] == 5 and "mesa" in manifest["versions"], "manifest records seed and versions"
    assert (out / ".hydra" / "config.yaml").exists(), "Hydra's config sits next to the tables"
    for fig in ("online_volume_by_channel", "market_shares", "mean_trust"):
        assert (out / "figures" / f"{fig}.png").exists() and (out / "figures" / f"{fig}.pdf").exists(), fig
    assert not (out / ".partial").exists(), "no staging folder is left behind"
    log = (out / "run.log").read_text()
    assert "seed 5, 800 buyers, 40 days" in log and "online volume" in log, f"run.log says what ran and how it ended: {log!r}"


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.bogus=1", "bogus"),
        ("model.n_buyers=many", "n_buyers"),
        ("run.days=0", "run.days"),
        ("model.markets.new_cryptomarkets_per_year=-1", "new_cryptomarkets_per_year"),
        ("model.social.markup=0", "markup"),  # friends' price enters the choice as its log
    ],
)
def test_bad_input_on_the_command_line_leaves_no_output(tmp_path, override, message):
    proc, out = _run(tmp_path, override)
    assert proc.returncode != 0, f"{override} must be refused"
    assert message in proc.stderr, f"the error must name {message!r}: {proc.stderr[-1500:]}"
    assert not out.exists() or not any(out.glob("*.parquet")), "a refused run writes no table"
    assert not out.exists(), "the run folder of a refused run is removed"


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.n_buyers=-5", "model.n_buyers=-5"),
        ("model.escrow.refund_prob=1.5", "model.escrow.refund_prob=1.5"),
        ("model.buyers.tech_skill_share=-0.1", "tech_skill_share"),
        ("model.forum.delay_days=-2", "delay_days"),
        ("run.days=-3", "run.days=-3"),
        ("substances.0.purity_unit=ounce", "purity_unit"),
        ("substances.1.name=cannabis", "duplicate"),
        ("report.smooth_days=0", "report.smooth_days=0"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        compose([override])


def test_unknown_key_and_wrong_type_fail_at_composition():
    with pytest.raises(Exception, match="bogus"):
        compose(["+model.bogus=1"])
    with pytest.raises(Exception, match="n_buyers"):
        compose(["model.n_buyers=lots"])
    with pytest.raises(ConfigError, match="allowed: a whole number"):
        compose(["model.n_buyers=lots"])
    with pytest.raises(ConfigError, match="run.counterfactual=maybe.*allowed: true or false"):
        compose(["run.counterfactual=maybe"])
    with pytest.raises(ConfigError, match=r"leading \+: \+scenario.interventions.0.params.block_share=VALUE"):
        compose(["scenario=blocking_one_shop", "scenario.interventions.0.params.block_share=0"])


def test_unknown_substance_in_a_scenario_is_refused():
    ov = ["scenario.interventions=[{name: ban, start_day: 10, params: {substance: kratom}}]"]
    with pytest.raises(ConfigError, match="unknown substance 'kratom'"):
        compose(ov)


def test_unknown_intervention_and_late_start_are_refused():
    with pytest.raises(ConfigError, match="unknown intervention"):
        compose(["scenario.interventions=[{name: moon_landing, start_day: 10}]"])
    with pytest.raises(ConfigError, match="start_day=900"):
        compose(["scenario.interventions=[{name: takedown, start_day: 900}]"])


def test_same_seed_gives_byte_identical_files(tmp_path):
    args = ("model.n_buyers=600", "run.days=30", "run.burn_in_days=5", "run.figures=false", "seed=9")
    p1, out1 = _run(tmp_path / "a", *args)
    p2, out2 = _run(tmp_path / "b", *args)
    assert p1.returncode == 0 and p2.returncode == 0, p1.stderr[-1000:] + p2.stderr[-1000:]
    for name in ("daily", "markets", "substances", "events"):
        assert (out1 / f"{name}.parquet").read_bytes() == (out2 / f"{name}.parquet").read_bytes(), (
            f"{name}.parquet differs between identical runs"
        )


@pytest.mark.parametrize(
    "text, message",
    [
        ("model:\n  bogus: 1\n", "line 3: model.bogus"),
        ("hydra:\n  sweeper:\n    params:\n      model.n_buyers: 100,lots\n", "'lots'"),
        ("hydra:\n  sweeper:\n    params:\n      model.no_such_key: 1,2\n", "unknown key 'no_such_key' in model"),
        ("model: [1\n", "line 3: not valid YAML"),
    ],
)
def test_malformed_experiment_file_is_refused_naming_file_and_key(tmp_path, text, message):
    from sim.preflight import check_config_file

    path = tmp_path / "broken.yaml"
    path.write_text("# @package _global_\n" + text)
    with pytest.raises(ConfigError, match=message) as info:
        check_config_file(path, "experiment")
    assert "broken.yaml" in str(info.value), "the message names the file"
