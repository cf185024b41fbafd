"""Names of output columns and of the metrics a sweep's collection can report.

They are vocabulary, not computation: the configuration checks ``report.metrics`` and
``report.summary`` against them, and the collector and the report use them to build tables. A test
pins them against the columns a run really writes (docs/outputs.md describes each).
"""

from __future__ import annotations

from sim.domain import CHANNEL_NAMES

#: columns of daily.parquet, in order (docs/outputs.md); a test pins them against a run
DAILY_COLUMNS = (
    "day",
    *(f"sales_{c}" for c in CHANNEL_NAMES),
    *(f"value_{c}_eur" for c in CHANNEL_NAMES),
    "sales_wholesale",
    "value_wholesale_eur",
    "sales_social",
    "value_social_eur",
    "active_markets",
    "active_vendors",
    "active_buyers_online",
    "users",
    "users_active_30d",
    "tor_skilled",
    "mean_trust_online",
    "hhi",
    "escrow_held_eur",
    "arrests_vendors",
    "arrests_buyers",
    "parcels_seized",
    "escrow_lost_eur",
    "harm",
    "order_outcomes",
    "orders_delivered_ok",
    "refunds",
    "unmet_purchases",
    "purchases_forgone",
    "purchases_forgone_abstained",
    "purchases_forgone_paused",
    "initiations",
    "cessations",
    "skill_learned",
    "money_paid_eur",
    "money_imbalance_eur",
)
#: daily columns a sweep's collection can draw as time series (``report.metrics``)
DAILY_REPORTABLE = frozenset(DAILY_COLUMNS[1:]) | {"online_value_eur"}
#: headline figures of a run (scalars of summary.json's ``run``), one column each in runs_summary
HEADLINE_SCALARS = (
    "days",
    "online_volume_eur_per_day",
    "offline_volume_eur_per_day",
    "active_markets_mean",
    "active_markets_end",
    "active_cryptomarkets_end",
    "active_vendors_mean",
    "delivery_success_rate",
    "mean_trust_online_mean",
    "hhi_mean",
    "arrests_vendors",
    "arrests_buyers",
    "parcels_seized",
    "escrow_lost_eur",
    "harm_per_day",
    "market_closures",
    "market_lifespan_mean_days",
    "migration_concentration",
    "top1pct_vendor_share",
    "top10pct_buyer_share",
    "multi_homing_share",
    "wholesale_share",
    "money_imbalance_eur",
)
#: the first intervention's effects copied into runs_summary (besides displacement shares);
#: each is measured against the counterfactual (sim/effects.py, docs/outputs.md)
EFFECT_COLUMNS = (
    "online_drop",
    "online_days_to_recovery",
    "online_recovery_censored",
    "target_drop",
    "trust_half_recovery_days",
    "trust_half_recovery_censored",
    "migrant_trust_destination_30d",
    "migrant_trust_destination_90d",
    "deterrence_90d",
    "vendor_slope_ratio",
    "purchases_change",
    "users_change",
    "harm_change",
    "online_share_change",
    "extra_arrests_vendors_90d",
    "extra_arrests_buyers_90d",
    "extra_escrow_lost_eur_90d",
    "extra_parcels_seized_90d",
    "cohort_buyers",
)
#: displacement shares (sim/effects.py): target_lost = the four destinations + nowhere
DISPLACEMENT_KEYS = ("target_lost", "other_cryptomarkets", "webshop", "decentralised", "offline", "nowhere")
#: the two displacement measures: the cohort's, and all buyers' (market_)
DISPLACEMENTS = ("displacement", "market_displacement")
#: summary columns a sweep's collection can tabulate (``report.summary``)
SUMMARY_REPORTABLE = frozenset(
    [
        *HEADLINE_SCALARS,
        *(f"online_share_{k}" for k in ("all", "classic", "nps")),
        *EFFECT_COLUMNS,
        *(f"{d}_{w}_{k}" for d in DISPLACEMENTS for w in ("30d", "90d") for k in DISPLACEMENT_KEYS),
    ]
)
