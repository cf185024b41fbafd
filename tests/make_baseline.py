"""Regenerate the regression baseline after an intended change of the model's behaviour.

    python -m tests.make_baseline

Review the diff of tests/baseline/tiny_summary.json before committing it.
"""

import json
from pathlib import Path

from sim.summary import json_safe, summarise
from tests.conftest import tiny_run

BASELINE = Path(__file__).resolve().parent / "baseline" / "tiny_summary.json"
KEYS = (
    "online_volume_eur_per_day",
    "offline_volume_eur_per_day",
    "delivery_success_rate",
    "active_markets_end",
    "active_vendors_mean",
    "parcels_seized",
    "market_closures",
    "harm_per_day",
)


def current() -> dict:
    model, tables = tiny_run("seed=1")
    run = summarise(model, tables)["run"]
    return json_safe({k: run[k] for k in KEYS})


if __name__ == "__main__":
    BASELINE.write_text(json.dumps(current(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {BASELINE}")
