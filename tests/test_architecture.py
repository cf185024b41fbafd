"""The structure docs/architecture.md describes: layers, the day's phases, buyers as a population."""

from __future__ import annotations

import os
import shutil
import subprocess
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
    assert "1 kept, 0 broken" in proc.stdout, proc.stdout[-1500:]


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
