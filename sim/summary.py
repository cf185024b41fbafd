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

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel

TARGETS_FILE = Path(__file__).resolve().parent / "data" / "targets.yaml"


def summarise(model: CryptoMarketModel, tables: dict[str, pd.DataFrame]) -> dict:
    """Headline figures of one run and the pattern checks against published targets."""
    daily, markets, subs = tables["daily"], tables["markets"], tables["substances"]
    classes = dict(zip(model.subs.names, model.subs.drug_class))
    online = metrics.online_value(daily)
    life = metrics.market_lifespans(markets)
    vendor_orders = np.bincount(model.orders.column("vendor"), minlength=model.vend.n)
    share = metrics.online_share_of_purchases(subs, classes)
    headline = {
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
        "price_premium": metrics.price_premium(subs),
        "purity_difference": metrics.purity_difference(subs),
        "money_imbalance_eur": float(model.ledger.imbalance()),
    }
    effects = [metrics.intervention_effects(daily, markets, a) for a in model.police.actions if a.fired]
    units = dict(zip(model.subs.names, model.subs.purity_unit))
    return {"run": headline, "patterns": pattern_checks(headline, units), "interventions": effects}


def pattern_checks(h: dict, units: dict[str, str] | None = None) -> list[dict]:
    """Compare headline figures with the published targets in ``sim/data/targets.yaml``.

    ``units`` maps substance names to their purity unit (``fraction`` or ``mg``), which sets the
    tolerance of the purity comparison.
    """
    units = units or {}
    import yaml

    targets = {t["id"]: t for t in yaml.safe_load(TARGETS_FILE.read_text())}
    checks = []

    def add(tid: str, value, band, note: str = "") -> None:
        ok = None if value is None or (isinstance(value, float) and math.isnan(value)) else bool(band[0] <= value <= band[1])
        checks.append(
            {
                "id": tid,
                "value": value,
                "band": list(band),
                "within": ok,
                "source": targets.get(tid, {}).get("source"),
                "note": note,
            }
        )

    for tid, key in (
        ("delivery_reliability", "delivery_success_rate"),
        ("migration_concentration", "migration_concentration"),
        ("vendor_concentration", "top1pct_vendor_share"),
        ("market_lifespan", "market_lifespan_mean_days"),
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
