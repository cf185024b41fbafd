"""Refactoring guard: every table of every scenario (small size, two seeds) is unchanged.

A failure means the model's output changed. A refactoring must not change it; an intended change of
behaviour regenerates the baseline (``python -m tests.make_scenario_baseline``) in its own commit.
"""

import json

import pytest

from tests.make_scenario_baseline import BASELINE, SEEDS, fingerprints, scenarios

SAVED = json.loads(BASELINE.read_text())


@pytest.mark.parametrize("scenario", scenarios())
@pytest.mark.parametrize("seed", SEEDS)
def test_tables_are_unchanged(scenario, seed):
    assert scenario in SAVED, f"no baseline for scenario {scenario}: run python -m tests.make_scenario_baseline"
    now = fingerprints(scenario, seed)
    changed = [t for t in now if now[t] != SAVED[scenario][str(seed)].get(t)]
    assert not changed, f"{scenario}, seed {seed}: tables changed: {changed} (see tests/make_scenario_baseline.py)"
