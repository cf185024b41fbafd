"""The structure docs/architecture.md describes: layers, the day's phases, buyers as a population."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.model import PHASES

ROOT = Path(__file__).resolve().parent.parent


def test_layering_contracts_are_kept():
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.fail("import-linter is part of the dev extra: pip install -e '.[dev]'")
    # the repository's own sim/ (not another checkout an editable install may point at)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"import-linter contracts broken:\n{proc.stdout[-3000:]}{proc.stderr[-1000:]}"
    assert "2 kept, 0 broken" in proc.stdout, proc.stdout[-1500:]  # the layers of sim, and of the explorer


def test_the_day_runs_its_phases_in_the_documented_order():
    assert PHASES == (
        "open_day",
        "market_life",
        "listings",
        "purchases",
        "order_outcomes",
        "escrow",
        "forum",
        "vendors",
        "street_supply",
        "enforcement",
        "observe",
        "collect",
        "close_day",
    ), "the phase order is part of the model's definition (docs/ODD.md): change both together"
    odd = (ROOT / "docs" / "ODD.md").read_text()
    positions = [odd.find(f"`{name}`") for name in PHASES]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), "docs/ODD.md lists the phases in order"


def test_every_phase_is_a_documented_method(tiny):
    model, _ = tiny
    for name in PHASES:
        method = getattr(model, f"phase_{name}", None)
        assert callable(method) and method.__doc__, f"phase {name} is a documented method of the model"


def test_buyers_are_a_population_with_a_view_per_buyer(tiny):
    from sim.agents.buyer import Buyer

    model, _ = tiny
    assert Buyer not in model.agents_by_type, "buyers are a vectorised population, not one Mesa agent each"
    b = model.buyer(0)
    assert b.idx == 0 and isinstance(b.purchases_per_month, float), "model.buyer(i) is a view of buyer i"
    with pytest.raises(IndexError, match="population has buyers"):
        model.buyer(model.buyers.n)


def test_interventions_hook_in_through_the_base_class():
    from sim.interventions.base import Intervention

    for hook in ("fire", "finish", "apply", "revert", "restrict_access", "observe"):
        assert callable(getattr(Intervention, hook)) and getattr(Intervention, hook).__doc__, f"Intervention.{hook}"
    from sim.model import CryptoMarketModel
    from sim.runner import compose

    cfg = compose(
        ["model.n_buyers=300", "run.days=20", "run.burn_in_days=2", "scenario=takedown", "scenario.interventions.0.start_day=10"]
    )
    model = CryptoMarketModel(cfg)
    (action,) = model.police.actions
    assert action.fired is False and action.restrict_access(None, None) is None, "defaults before the start"
    model.run()
    assert action.fired is True and action.targets, "fired at its dawn, through the base class"


def test_behavioural_numbers_are_parameters_not_constants_in_code():
    """The constants the architecture review found in code are configuration now (with unit and source)."""
    import re

    code = {p: p.read_text() for p in (ROOT / "sim").rglob("*.py") if p.name != "config.py"}
    banned = {
        r"<\s*0\.7\b": "usual substance probability",
        r"poisson\(0\.6\)": "extra substances per vendor",
        r"\*\s*2\.0\b": "zero-opsec arrest hazard multiplier",
        r"beta\(2,\s*2\)": "market security",
        r"FE_DEMAND_PROB|UNITS_BY_CLASS|NAD_HARM_FACTOR|NAD_PURITY_FACTOR|CHECKING_HARM_REDUCTION|PATIENCE_DAYS": "named constants",
        r"share\s*\*\*\s*2": "squared-share closure news",
        r"\"4-fa\":\s*0\.07": "observed purity values",
        r"LOAD_SURCHARGE|TYPICAL_SCORE|STREET_PRICE_LOGSD|PRIOR_GOOD": "named constants",
        r"0\.3,\s*1\.0\)": "payment friction of skilled buyers",
    }
    found = [
        f"{p.relative_to(ROOT)}: {why} ({pat})" for pat, why in banned.items() for p, text in code.items() if re.search(pat, text)
    ]
    assert not found, f"behavioural numbers still hard-coded: {found}"


def test_output_names_match_what_a_run_writes(tiny):
    """sim/tables.py names the columns the collection may report: they are the columns a run writes."""
    from sim.metrics import DAILY_METRICS
    from sim.summary import summarise
    from sim.tables import DAILY_COLUMNS, HEADLINE_SCALARS

    model, tables = tiny
    assert tuple(tables["daily"].columns) == DAILY_COLUMNS, "daily.parquet columns, in order"
    assert set(DAILY_METRICS) <= set(DAILY_COLUMNS)
    headline = summarise(model, tables)["run"]
    scalars = {k for k, v in headline.items() if not isinstance(v, dict)}
    assert scalars == set(HEADLINE_SCALARS), f"headline scalars differ: {scalars ^ set(HEADLINE_SCALARS)}"


def test_type_checker_is_clean_on_sim():
    """mypy at its default level finds nothing in sim/ (configuration in pyproject.toml)."""
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental" if os.environ.get("CI") else "--incremental", "sim"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, f"mypy:\n{proc.stdout[-3000:]}{proc.stderr[-1000:]}"
