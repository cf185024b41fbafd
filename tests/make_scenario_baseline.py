"""Fingerprints of every table of every scenario at small size and two seeds (refactoring guard).

    python -m tests.make_scenario_baseline

A refactoring must leave every table identical; ``tests/test_scenario_baseline.py`` compares. A change
of behaviour regenerates the file in its own commit, which says what changed and why.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from sim.runner import CONFIG_DIR, compose, simulate

BASELINE = Path(__file__).resolve().parent / "baseline" / "scenario_tables.json"
SMALL = ["model.n_buyers=8000", "run.days=380", "run.burn_in_days=20", "run.figures=false", "run.progress=false"]
SEEDS = (0, 1)


def table_fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 of a table's exact content (column names, dtypes, every value at full precision)."""
    h = hashlib.sha256()
    h.update(json.dumps([[c, str(t)] for c, t in df.dtypes.items()]).encode())
    h.update(df.to_csv(index=False, float_format="%.17g").encode())
    return h.hexdigest()


def scenarios() -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml"))


def fingerprints(scenario: str, seed: int) -> dict[str, str]:
    _model, tables = simulate(compose([*SMALL, f"scenario={scenario}", f"seed={seed}"]))
    return {name: table_fingerprint(df) for name, df in sorted(tables.items())}


def current() -> dict:
    return {s: {str(seed): fingerprints(s, seed) for seed in SEEDS} for s in scenarios()}


if __name__ == "__main__":
    BASELINE.write_text(json.dumps(current(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {BASELINE}")
