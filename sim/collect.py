"""Daily data collection into the tables of the output contract (docs/outputs.md).

The collector reads the day's counters and the named metrics of :mod:`sim.metrics`; it never
passes over all orders. Tables are built once at the end from per-day column chunks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.arrays import sorted_unique
from sim.domain import CHANNEL_NAMES, ORIGIN_NAMES, STATUS_ORDER
from sim.interventions.cohort import COHORT_COLUMNS
from sim.market.reputation import reputation_score
from sim.metrics import DAILY_METRICS

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel


#: columns of markets.parquet, in order (docs/outputs.md)
MARKET_COLUMNS = (
    "day",
    "market",
    "kind",
    "status",
    "sales",
    "value_eur",
    "vendors",
    "listings",
    "buyers",
    "new_buyers",
    "trust",
    "escrow_eur",
    "opened_day",
)


#: columns of vendors.parquet, in order (docs/outputs.md)
VENDOR_COLUMNS = (
    "day",
    "vendor",
    "origin",
    "webshop",
    "markets",
    "sales",
    "value_eur",
    "wholesale_sales",
    "wholesale_value_eur",
    "feedbacks",
    "reputation",
    "capacity",
    "status",
)


class Recorder:
    """Collects one row per day, per (day, market) and per (day, substance, channel)."""

    def __init__(self) -> None:
        self.daily: list[dict] = []
        self._markets: list[dict[str, np.ndarray]] = []
        self._subs: list[dict[str, np.ndarray]] = []
        self._vendors: list[dict[str, np.ndarray]] = []

    def collect(self, model: CryptoMarketModel) -> None:
        """Record day ``model.day`` (called at the end of the day)."""
        t = model.today
        day = model.day
        row: dict = {"day": day}
        for i, c in enumerate(CHANNEL_NAMES):
            row[f"sales_{c}"] = int(t.sales[i])
        for i, c in enumerate(CHANNEL_NAMES):
            row[f"value_{c}_eur"] = float(t.value[i])
        row["sales_wholesale"] = t.wholesale_sales
        row["value_wholesale_eur"] = t.wholesale_value
        row["sales_social"] = t.social_sales
        row["value_social_eur"] = t.social_value
        for name, fn in DAILY_METRICS.items():
            row[name] = fn(model)
        row.update(
            arrests_vendors=t.arrests_vendors,
            arrests_buyers=t.arrests_buyers,
            parcels_seized=t.parcels_seized,
            escrow_lost_eur=t.escrow_lost,
            harm=t.harm,
            order_outcomes=t.outcomes,
            orders_delivered_ok=t.delivered_ok,
            refunds=t.refunds,
            unmet_purchases=t.unmet,
            purchases_forgone=t.unmet + t.forgone_abstained + t.forgone_paused,
            purchases_forgone_abstained=t.forgone_abstained,
            purchases_forgone_paused=t.forgone_paused,
            initiations=t.initiations,
            cessations=t.cessations,
            skill_learned=t.skill_learned,
            money_paid_eur=model.ledger.paid,
            money_imbalance_eur=model.ledger.imbalance(),
        )
        self.daily.append(row)
        # markets: every market opened so far
        k = len(model.markets)
        idx = np.arange(k)
        self._markets.append(
            {
                "day": np.full(k, day),
                "idx": idx,
                "sales": t.m_sales[:k].copy(),
                "value_eur": t.m_value[:k].copy(),
                "buyers": t.m_buyers[:k].copy(),
                "new_buyers": t.m_new_buyers[:k].copy(),
                "trust": _mean_trust(model, k),
                "escrow_eur": model.market_table.escrow[:k].copy(),
                "status": model.market_table.status_code[:k].copy(),  # named in tables()
                "listings": _listings_per_market(model, k),
                "vendors": _vendors_per_market(model, k),
            }
        )
        # substances x channels
        S = len(model.subs)
        n_cells = S * 4
        day_purchases = t.all_purchases()
        sub, chan = day_purchases.substance.astype(np.int64), day_purchases.channel.astype(np.int64)
        price, purity, value = day_purchases.unit_price, day_purchases.purity, day_purchases.value
        cell = sub * 4 + chan
        sales = np.bincount(cell, minlength=n_cells)
        val = np.bincount(cell, weights=value, minlength=n_cells)
        pur = np.bincount(cell, weights=purity, minlength=n_cells)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_purity = np.where(sales > 0, pur / np.maximum(sales, 1), np.nan)
        self._subs.append(
            {
                "day": np.full(n_cells, day),
                "cell": np.arange(n_cells),
                "sales": sales,
                "value_eur": val,
                "median_price_eur": _grouped_median(cell, price, n_cells),
                "mean_purity": mean_purity,
            }
        )

    def collect_vendors(self, model: CryptoMarketModel) -> None:
        """Record the week ending today for every vendor trading at some time in it (weekly, vectorised)."""
        vend, vc = model.vend, model.cfg.model.vendors
        n = vend.n
        rows = np.flatnonzero(vend.active[:n] | (vend.left_day[:n] > model.day - 7))
        markets = np.array([len(model.vendor_agents[v].markets) for v in rows.tolist()], dtype=np.int64)
        fb_count, fb_sum = vend.fb_count[rows].sum(axis=1), vend.fb_sum[rows].sum(axis=1)
        status = np.where(vend.active[rows], "active", np.where(vend.arrested[rows], "arrested", "quit")).astype(object)
        self._vendors.append(
            {
                "day": np.full(len(rows), model.day),
                "vendor": rows,
                "origin": np.array(ORIGIN_NAMES, dtype=object)[vend.origin[rows]],
                "webshop": vend.webshop[rows].copy(),
                "markets": markets,
                "sales": vend.week_sales[rows].astype(np.int64),
                "value_eur": vend.week_value[rows].copy(),
                "wholesale_sales": vend.week_wholesale_sales[rows].astype(np.int64),
                "wholesale_value_eur": vend.week_wholesale_value[rows].copy(),
                "feedbacks": fb_count.astype(np.int64),
                "reputation": reputation_score(fb_sum, fb_count, vc.rating_prior_good, vc.rating_prior_count),
                "capacity": vend.capacity[rows].copy(),
                "status": status,
            }
        )

    # ------------------------------------------------------------------ tables
    def tables(self, model: CryptoMarketModel) -> dict[str, pd.DataFrame]:
        """The contract tables: daily, markets, substances, events, vendors, and cohorts when interventions ran."""
        daily = pd.DataFrame(self.daily)
        mk = (
            pd.DataFrame({k: np.concatenate([c[k] for c in self._markets]) for k in self._markets[0]})
            if self._markets
            else pd.DataFrame()
        )
        if len(mk):
            names = np.array([m.name for m in model.markets], dtype=object)
            kinds = np.array([CHANNEL_NAMES[int(m.kind)] for m in model.markets], dtype=object)
            opened = np.array([m.opened_day for m in model.markets])
            mk.insert(1, "market", names[mk["idx"]])
            mk.insert(2, "kind", kinds[mk["idx"]])
            mk["opened_day"] = opened[mk["idx"]]
            mk["status"] = np.array([status.value for status in STATUS_ORDER], dtype=object)[mk["status"].to_numpy()]
            mk = mk.drop(columns="idx")
            cols = list(MARKET_COLUMNS)
            mk = mk[cols]
        su = (
            pd.DataFrame({k: np.concatenate([c[k] for c in self._subs]) for k in self._subs[0]}) if self._subs else pd.DataFrame()
        )
        if len(su):
            names = np.array(model.subs.names, dtype=object)
            su.insert(1, "substance", names[su["cell"] // 4])
            su.insert(2, "channel", np.array(CHANNEL_NAMES, dtype=object)[su["cell"] % 4])
            su = su.drop(columns="cell")
        ev = pd.DataFrame(model.events, columns=["day", "event", "target", "detail"])
        if self._vendors:
            ve = pd.DataFrame({k: np.concatenate([c[k] for c in self._vendors]) for k in VENDOR_COLUMNS})
        else:
            ve = pd.DataFrame({k: pd.Series(dtype=object) for k in VENDOR_COLUMNS})
        out = {"daily": daily, "markets": mk, "substances": su, "events": ev, "vendors": ve}
        if model.probes:  # cohorts followed from 30 days before an intervention's start day
            rows = [r for probe in model.probes for r in probe.rows]
            out["cohorts"] = pd.DataFrame(rows, columns=list(COHORT_COLUMNS)).sort_values(["intervention", "day"], kind="stable")
        return out


def _mean_trust(model: CryptoMarketModel, k: int) -> np.ndarray:
    """Mean trust in each of the first ``k`` markets among the buyers who know it (NaN if none)."""
    count = model.buyers.aware_count[:k]
    known = count > 0
    out = np.full(k, np.nan)
    out[known] = model.buyers.trust_sum[:k][known] / count[known]
    return out


def _listings_per_market(model: CryptoMarketModel, k: int) -> np.ndarray:
    li = model.listings
    return np.bincount(li.market, minlength=k)[:k] if len(li) else np.zeros(k, dtype=np.int64)


def _vendors_per_market(model: CryptoMarketModel, k: int) -> np.ndarray:
    li = model.listings
    if len(li) == 0:
        return np.zeros(k, dtype=np.int64)
    pairs = sorted_unique(li.market * (model.vend.n + 1) + li.vendor)
    return np.bincount(pairs // (model.vend.n + 1), minlength=k)[:k]


def _grouped_median(keys: np.ndarray, values: np.ndarray, n_keys: int) -> np.ndarray:
    """Median of ``values`` per key in ``range(n_keys)``; NaN for empty keys."""
    out = np.full(n_keys, np.nan)
    if len(keys) == 0:
        return out
    # sorted by value, then (stably) by key: the order of np.lexsort((values, keys)) up to ties,
    # which have equal values; a stable sort of small integer keys is a radix sort
    by_value = np.argsort(values)
    small = keys[by_value].astype(np.int16) if n_keys < 2**15 else keys[by_value]
    order = by_value[np.argsort(small, kind="stable")]
    k, v = keys[order], values[order]
    counts = np.bincount(k, minlength=n_keys)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    lo = starts + (counts - 1) // 2
    hi = starts + counts // 2
    out[has] = (v[lo[has]] + v[hi[has]]) / 2.0
    return out
