"""Shared fixtures: tiny populations, fixed seeds, one cached run per config."""

from __future__ import annotations

import functools

import pytest

from sim.runner import compose, simulate

#: a small world that still has several markets, vendors and closures
TINY = ["model.n_buyers=2500", "run.days=150", "run.burn_in_days=30", "run.figures=false", "run.progress=false"]


@functools.cache
def tiny_run(*extra: str):
    """(model, tables) of a tiny run; cached so tests share it (never mutate what it returns)."""
    return simulate(compose(TINY + list(extra)))


@pytest.fixture
def tiny():
    return tiny_run("seed=1")
