"""Writing a run's folder: the four tables, summary.json, manifest.json, figures/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim.summary import json_safe, summarise

if TYPE_CHECKING:
    from sim.config import Config
    from sim.model import CryptoMarketModel


def write_outputs(model: CryptoMarketModel, tables: dict[str, pd.DataFrame], folder: Path, cfg: Config, manifest: dict) -> dict:
    """Write tables (Parquet), summary.json, manifest.json and figures into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
    summary = summarise(model, tables)
    (folder / "summary.json").write_text(json.dumps(json_safe(summary), indent=2, sort_keys=True))
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    if summary["interventions"]:
        # the same per-intervention effects as a flat table (displacement shares as columns)
        flat = pd.json_normalize(json_safe(summary["interventions"]), sep="_")
        for col in flat.columns:  # lists (targets, substances) as comma-separated names
            flat[col] = flat[col].map(lambda v: ",".join(map(str, v)) if isinstance(v, list) else v)
        flat.to_csv(folder / "interventions.csv", index=False)
    if cfg.run.figures:
        from sim.figures import run_figures

        run_figures(tables, folder / "figures")
    return summary
