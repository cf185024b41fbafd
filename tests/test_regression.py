"""Regression: the tiny run's headline figures equal the saved baseline.

A failure means the model's behaviour changed. If the change is intended, regenerate with
``python -m tests.make_baseline`` and commit the new baseline with the change that caused it.
"""

import json

import pytest

from tests.make_baseline import BASELINE, current


def test_tiny_run_matches_saved_baseline():
    saved = json.loads(BASELINE.read_text())
    now = current()
    for key, value in saved.items():
        assert now[key] == pytest.approx(value, rel=1e-9), f"{key} changed: {value} -> {now[key]} (see tests/make_baseline.py)"
