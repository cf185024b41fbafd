"""Shared fixtures: tiny populations, fixed seeds, one cached run per config."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import pytest

from sim.config import InterventionConfig
from sim.runner import compose, simulate, validate_config

#: a small world that still has several markets, vendors and closures
#: online shares of a busier online market than the calibrated default (the defaults before the
#: calibration of issue 12): test worlds of a few thousand buyers need enough online trade for an
#: effect to stand out from the noise (at the calibrated 1.2% Tor-skilled and 10% web-shop users, a
#: 5,000-buyer world has about 60 Tor users and a handful of active shops)
ONLINE_RICH = ["model.buyers.tech_skill_share=0.025", "model.buyers.webshop_use_share=0.25", "model.choice.conv_webshop=-0.4"]
TINY = ["model.n_buyers=2500", "run.days=150", "run.burn_in_days=30", "run.figures=false", "run.progress=false"]

ROOT = Path(__file__).resolve().parent.parent
#: the settings of every test sweep: a small world, a short burn-in, no figures per run
SMALL = ["model.n_buyers=3000", "run.burn_in_days=10", "run.figures=false"]


def sweep(
    out: Path,
    *args: str,
    launcher: tuple[str, ...] = (),
    env: dict | None = None,
    python: str = sys.executable,
    timeout: float = 900,
) -> subprocess.CompletedProcess:
    """``run.py -m`` with ``args`` and :data:`SMALL` into the sweep folder ``out``, with ``python``; its output captured."""
    cmd = [python, str(ROOT / "run.py"), "-m", *args, *SMALL, f"hydra.sweep.dir={out}", *launcher]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=env)


@functools.cache
def tiny_run(*extra: str):
    """(model, tables) of a tiny run; cached so tests share it (never mutate what it returns)."""
    return simulate(compose(TINY + list(extra)))


@pytest.fixture
def tiny():
    return tiny_run("seed=1")


def run_with_all_cryptomarkets_taken_down(overrides: list[str], day: int | None):
    """(model, tables) of the config ``overrides``; with ``day``, every cryptomarket is taken down
    then, without publicity (a scenario with one takedown of target ``all:cryptomarket``)."""
    cfg = compose(overrides)
    if day is not None:
        cfg.scenario.name = "no_cryptomarkets"
        cfg.scenario.interventions = [
            InterventionConfig(name="takedown", start_day=day, target="all:cryptomarket", params={"publicity_risk": 0.0})
        ]
        validate_config(cfg)
    return simulate(cfg)
