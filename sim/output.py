"""Writing a run's folder: its tables, summary.json, manifest.json, figures/ and counterfactual/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim.summary import assemble, json_safe

if TYPE_CHECKING:
    from sim.config import Config

#: subfolder of a run folder holding its counterfactual's tables (same config and seed, no interventions)
COUNTERFACTUAL_DIR = "counterfactual"


def write_tables(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    """Each table as ``<name>.parquet`` in ``folder`` (docs/outputs.md)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)


def write_outputs(
    facts: dict,
    tables: dict[str, pd.DataFrame],
    folder: Path,
    cfg: Config,
    manifest: dict,
    counterfactual: tuple[dict, dict[str, pd.DataFrame]] | None = None,
) -> dict:
    """Write tables (Parquet), summary.json, manifest.json and figures into ``folder``.

    ``facts`` come from :func:`sim.summary.run_facts`. With ``counterfactual`` (its facts and
    tables), the effects are measured against it and its tables go to ``counterfactual/`` with
    its own summary.json (headline figures), so the effects can be recomputed from the folder.
    """
    write_tables(tables, folder)
    cf_tables = None
    if counterfactual is not None:
        cf_facts, cf_tables = counterfactual
        write_tables(cf_tables, folder / COUNTERFACTUAL_DIR)
        cf_summary = assemble(cf_facts, cf_tables)
        (folder / COUNTERFACTUAL_DIR / "summary.json").write_text(json.dumps(json_safe(cf_summary), indent=2, sort_keys=True))
    summary = assemble(facts, tables, cf_tables)
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

        run_figures(tables, folder / "figures", counterfactual=cf_tables)
    return summary
