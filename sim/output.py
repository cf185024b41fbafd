"""Writing a run's folder: its tables, summary.json, manifest.json, figures/ and counterfactual/."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.errors import ConfigError
from sim.summary import SUSPECTS_SHOWN, assemble, far_settings, json_safe

if TYPE_CHECKING:
    from sim.config import Config

#: subfolder of a run folder holding its counterfactual's tables (same config and seed, no interventions)
COUNTERFACTUAL_DIR = "counterfactual"
#: table columns that docs/outputs.md documents as empty (NaN) where they are undefined; every other
#: numeric value of a table must be finite
MAY_BE_EMPTY = {
    "daily": frozenset({"hhi", "mean_trust_online"}),
    "markets": frozenset({"trust"}),
    "substances": frozenset({"median_price_eur", "mean_purity"}),
    "cohorts": frozenset({"cohort_trust", "migrant_trust_destination"}),
}
#: headline figures (summary.json ``run``) documented as empty (null) where they are undefined: each
#: a ratio or mean over something a run may lack (deliveries, purchases, closures, migrants, orders)
HEADLINE_MAY_BE_EMPTY = frozenset(
    {
        "online_share_of_purchases",
        "delivery_success_rate",
        "mean_trust_online_mean",
        "hhi_mean",
        "market_lifespan_mean_days",
        "migration_concentration",
        "top1pct_vendor_share",
        "top10pct_buyer_share",
        "wholesale_share",
        "multi_homing_share",
    }
)


def check_finite(tables: dict[str, pd.DataFrame], summary: dict, cfg: Config, where: str = "") -> None:
    """Refuse outputs with a value that is infinite, or NaN where docs/outputs.md allows no empty value.

    Tables: every numeric column but those of :data:`MAY_BE_EMPTY`, which may hold NaN but not
    infinities. Summary: the headline figures but those of :data:`HEADLINE_MAY_BE_EMPTY`; the
    pattern checks and intervention effects may be empty where undefined, never infinite.

    Raises:
        ConfigError: naming the table and column (or summary figure), the first bad value and the
            settings farthest from their defaults, the likely cause.
    """

    def refuse(what: str) -> None:
        suspects = far_settings(cfg)[:SUSPECTS_SHOWN]
        cause = (
            f"likely cause: {'; '.join(suspects)}" if suspects else "no setting is far from its default (a bug: please report it)"
        )
        raise ConfigError(f"{where}{what}, which docs/outputs.md does not allow; no table was written; {cause}")

    for name, df in tables.items():
        empty_ok = MAY_BE_EMPTY.get(name, frozenset())
        for col in df.select_dtypes("number").columns:
            values = df[col].to_numpy(dtype=float, na_value=np.nan)
            bad = np.isinf(values) if col in empty_ok else ~np.isfinite(values)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                day = f" on day {df['day'].iloc[i]}" if "day" in df.columns else ""
                refuse(f"{name}.parquet column {col} holds {int(bad.sum())} non-finite value(s), the first {values[i]}{day}")
    for path, value in _numbers(summary.get("run", {}), "run"):
        top = path.split(".")[1]
        if math.isinf(value) or (math.isnan(value) and top not in HEADLINE_MAY_BE_EMPTY):
            refuse(f"summary figure {path} is {value}")
    for part in ("patterns", "interventions"):
        for path, value in _numbers(summary.get(part, []), part):
            if math.isinf(value):
                refuse(f"summary figure {path} is {value}")


def _numbers(x, path: str):
    """(path, value) of every float in a nested summary (dicts and lists)."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(x, (float, np.floating)):
        yield path, float(x)


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

    Raises:
        ConfigError: a value is not finite where docs/outputs.md allows no empty value
            (:func:`check_finite`); nothing is written then.
    """
    cf_tables = cf_summary = None
    if counterfactual is not None:
        cf_facts, cf_tables = counterfactual
        cf_summary = assemble(cf_facts, cf_tables)
        check_finite(cf_tables, cf_summary, cfg, where=f"{COUNTERFACTUAL_DIR}/")
    summary = assemble(facts, tables, cf_tables)
    check_finite(tables, summary, cfg)
    write_tables(tables, folder)
    if cf_tables is not None:
        write_tables(cf_tables, folder / COUNTERFACTUAL_DIR)
        (folder / COUNTERFACTUAL_DIR / "summary.json").write_text(json.dumps(json_safe(cf_summary), indent=2, sort_keys=True))
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
