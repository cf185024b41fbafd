"""A run's summary: headline figures, pattern checks against published targets, intervention effects.

Computation only; :mod:`sim.output` writes the results to files.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim import metrics
from sim.domain import Channel
from sim.effects import EMPTY_EFFECTS, pair_effects

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel

TARGETS_FILE = Path(__file__).resolve().parent / "data" / "targets.yaml"


def run_facts(model: CryptoMarketModel, tables: dict[str, pd.DataFrame]) -> dict:
    """What a run's summary needs from its model, so the model can be freed before its counterfactual runs.

    ``probes`` are the cohorts the counterfactual run must follow: (intervention index, start day,
    target market columns) of each intervention that fired.
    """
    fired = [a for a in model.police.actions if a.fired]
    return {
        "headline": headline(model, tables),
        "units": dict(zip(model.subs.names, model.subs.purity_unit)),
        "records": [dict(a.record) for a in fired],
        "probes": [(a.index, a.start_day, [m.idx for m in a.targets]) for a in fired],
    }


def headline(model: CryptoMarketModel, tables: dict[str, pd.DataFrame]) -> dict:
    """Headline figures of one run (summary.json ``run``; docs/outputs.md)."""
    daily, markets, subs = tables["daily"], tables["markets"], tables["substances"]
    classes = dict(zip(model.subs.names, model.subs.drug_class))
    online = metrics.online_value(daily)
    life = metrics.market_lifespans(markets)
    orders = {k: model.orders.column(k) for k in ("buyer", "vendor", "market", "day")}
    recorded = orders["day"] >= 0
    vendor_orders = np.bincount(orders["vendor"][recorded], minlength=model.vend.n)
    crypto = recorded & (model.market_table.kind[orders["market"]] == Channel.CRYPTOMARKET)
    last_year = orders["day"] >= int(daily["day"].max()) - 364
    share = metrics.online_share_of_purchases(subs, classes)
    return {
        "days": int(len(daily)),
        "online_volume_eur_per_day": float(online.mean()),
        "offline_volume_eur_per_day": float(daily["value_offline_eur"].mean()),
        "online_share_of_purchases": share,
        "active_markets_mean": float(daily["active_markets"].mean()),
        "active_markets_end": int(daily["active_markets"].iloc[-1]),
        "active_cryptomarkets_end": int(
            ((markets.day == markets.day.max()) & (markets.kind == "cryptomarket") & (markets.status == "active")).sum()
        ),
        "active_vendors_mean": float(daily["active_vendors"].mean()),
        "delivery_success_rate": metrics.delivery_success_rate(daily),
        "mean_trust_online_mean": float(daily["mean_trust_online"].mean()),
        "hhi_mean": float(daily["hhi"].mean()),
        "arrests_vendors": int(daily["arrests_vendors"].sum()),
        "arrests_buyers": int(daily["arrests_buyers"].sum()),
        "parcels_seized": int(daily["parcels_seized"].sum()),
        "escrow_lost_eur": float(daily["escrow_lost_eur"].sum()),
        "harm_per_day": float(daily["harm"].mean()),
        "market_closures": int(len(life)),
        "market_lifespan_mean_days": float(life.mean()) if len(life) else None,
        "migration_concentration": metrics.migration_concentration(model.migrations),
        "top1pct_vendor_share": metrics.top_vendor_share(vendor_orders),
        "top10pct_buyer_share": metrics.top_buyer_share(orders["buyer"][recorded & last_year]),
        "wholesale_share": metrics.wholesale_share(tables["vendors"]) if "vendors" in tables else None,
        "multi_homing_share": metrics.multi_homing_share(
            orders["buyer"][crypto & last_year], orders["market"][crypto & last_year], orders["day"][crypto & last_year]
        ),
        "price_premium": metrics.price_premium(subs),
        "purity_difference": metrics.purity_difference(subs),
        "money_imbalance_eur": float(model.ledger.imbalance()),
    }


#: what an intervention's effects say when the run has no counterfactual (run.counterfactual=false)
NO_COUNTERFACTUAL = (
    "run.counterfactual=false: no counterfactual in this run; a sweep's collection computes the effects "
    "against the baseline arm at the same seed"
)


def summarise(
    model: CryptoMarketModel, tables: dict[str, pd.DataFrame], counterfactual: dict[str, pd.DataFrame] | None = None
) -> dict:
    """A run's summary from its model and tables (and its counterfactual's tables, for the effects)."""
    return assemble(run_facts(model, tables), tables, counterfactual)


def assemble(facts: dict, tables: dict[str, pd.DataFrame], counterfactual: dict[str, pd.DataFrame] | None = None) -> dict:
    """summary.json: headline, pattern checks, and each fired intervention's effects against the counterfactual."""
    if counterfactual is not None:
        effects = [pair_effects(tables, counterfactual, r) for r in facts["records"]]
    else:
        effects = [{**r, **EMPTY_EFFECTS, "note": NO_COUNTERFACTUAL} for r in facts["records"]]
    return {
        "run": facts["headline"],
        "patterns": pattern_checks(facts["headline"], facts["units"]),
        "interventions": effects,
        "counterfactual": counterfactual is not None,
    }


def pattern_checks(h: dict, units: dict[str, str] | None = None) -> list[dict]:
    """Compare one run's headline figures with the published targets in ``sim/data/targets.yaml``.

    A quick look at one run; ``python -m sim.validate`` checks every pattern over seeds. ``kind``
    says whether the figure is an input the model is fed (``input``) or follows from mechanisms.

    ``units`` maps substance names to their purity unit (``fraction`` or ``mg``), which sets the
    tolerance of the purity comparison.
    """
    units = units or {}
    import yaml

    targets = {t["id"]: t for t in yaml.safe_load(TARGETS_FILE.read_text())}
    checks = []

    def add(tid: str, value, band, note: str = "") -> None:
        ok = None if value is None or (isinstance(value, float) and math.isnan(value)) else bool(band[0] <= value <= band[1])
        target = targets.get(tid.split(".")[0], {})
        checks.append(
            {
                "id": tid,
                "value": value,
                "band": list(band),
                "within": ok,
                "kind": target.get("kind"),
                "source": target.get("source"),
                "note": note,
            }
        )

    for tid, key in (
        ("delivery_reliability", "delivery_success_rate"),
        ("migration_concentration", "migration_concentration"),
        ("vendor_concentration", "top1pct_vendor_share"),
        ("market_lifespan", "market_lifespan_mean_days"),
        ("buyer_concentration", "top10pct_buyer_share"),
        ("multi_homing", "multi_homing_share"),
        ("wholesale_share", "wholesale_share"),
    ):
        add(tid, h[key], targets[tid]["band"])
    band = targets["online_share_of_samples"]["band"]
    add("online_share_of_samples.classic", h["online_share_of_purchases"].get("classic"), band["classic"])
    add("online_share_of_samples.nps", h["online_share_of_purchases"].get("nps"), band["nps"])
    for sub, ratio in h["price_premium"].items():
        add(f"online_price_premium.{sub}", ratio, targets["online_price_premium"]["band"])
    purity = targets["purity_online_vs_offline"]
    for sub, obs in purity["observed_difference"].items():
        if sub in h["purity_difference"]:
            tol = purity["tolerance"][units.get(sub, "fraction")]
            add(
                f"purity_online_vs_offline.{sub}",
                h["purity_difference"][sub],
                (obs - tol, obs + tol),
                f"observed difference {obs}",
            )
    return checks


def json_safe(x):
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if math.isnan(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x
