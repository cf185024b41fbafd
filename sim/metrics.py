"""Metrics as named functions, shared by the collector, summaries and tests.

Daily metrics ``f(model) -> value`` read the model's incremental counters (no pass over all
buyers). Run-level metrics read the finished tables or the order book. Definitions are in
docs/outputs.md; intervention effects are in :mod:`sim.effects` (docs/outputs.md, "Effects against a counterfactual").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.domain import CHANNEL_NAMES

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel


# ----------------------------------------------------------------------------- daily
def active_markets(model: CryptoMarketModel) -> int:
    """Cryptomarkets, decentralised markets and web shops that are open."""
    return len(model.market_table.open_columns())


def active_vendors(model: CryptoMarketModel) -> int:
    """Vendors still trading (web shop sellers included)."""
    return int(model.vend.active[: model.vend.n].sum())


def active_buyers_online(model: CryptoMarketModel) -> int:
    """Buyers with an online purchase in the last 30 days (a counter kept by purchases)."""
    return model.buyers.online_active_30d


def users(model: CryptoMarketModel) -> int:
    """People who use now (a counter kept by starting and stopping)."""
    return model.buyers.n_active


def users_active_30d(model: CryptoMarketModel) -> int:
    """Buyers with a purchase on any channel in the last 30 days (a counter kept by purchases)."""
    return model.buyers.users_active_30d


def tor_skilled(model: CryptoMarketModel) -> int:
    """People (users or not) able to use Tor and cryptocurrency (a counter kept by learning)."""
    return model.buyers.n_tech


def mean_trust_online(model: CryptoMarketModel) -> float:
    """Mean trust in open online markets over the buyers who know them."""
    act = model.market_table.open_columns()
    c = model.buyers.aware_count[act].sum()
    return float(model.buyers.trust_sum[act].sum() / c) if c > 0 else float("nan")


def hhi(model: CryptoMarketModel) -> float:
    """Herfindahl-Hirschman index (0-1) of online market shares of orders over the last 7 days."""
    v = model.market_table.ring[:, :7].sum(axis=1)
    tot = v.sum()
    return float(((v / tot) ** 2).sum()) if tot > 0 else float("nan")


def escrow_held(model: CryptoMarketModel) -> float:
    """Money held in escrow by all markets, EUR."""
    return float(model.market_table.escrow.sum())


def money_imbalance(model: CryptoMarketModel) -> float:
    """Buyers' payments minus where the money went (zero when money is conserved), EUR."""
    return model.ledger.imbalance()


DAILY_METRICS = {
    "active_markets": active_markets,
    "active_vendors": active_vendors,
    "active_buyers_online": active_buyers_online,
    "users": users,
    "users_active_30d": users_active_30d,
    "tor_skilled": tor_skilled,
    "mean_trust_online": mean_trust_online,
    "hhi": hhi,
    "escrow_held_eur": escrow_held,
}


# ----------------------------------------------------------------------------- run level
def online_value(daily: pd.DataFrame) -> pd.Series:
    """Online volume per day: value of completed sales in web shops and markets, EUR (docs/outputs.md)."""
    return daily[[f"value_{c}_eur" for c in CHANNEL_NAMES if c != "offline"]].sum(axis=1)


def online_share_of_purchases(substances: pd.DataFrame, classes: dict[str, str] | None = None) -> dict[str, float]:
    """Online share of purchases overall and, given substance classes, for classic drugs vs NPS."""
    sales = substances.groupby("channel")["sales"].sum()
    total = sales.sum()
    out = {"all": float(1 - sales.get("offline", 0) / total) if total else float("nan")}
    if classes:
        nps = substances["substance"].map(classes).eq("nps")
        for label, sel in (("classic", ~nps), ("nps", nps)):
            s = substances[sel].groupby("channel")["sales"].sum()
            t = s.sum()
            out[label] = float(1 - s.get("offline", 0) / t) if t else float("nan")
    return out


def price_premium(substances: pd.DataFrame) -> dict[str, float]:
    """Sales-weighted median online price / median offline price, per substance."""
    df = substances.dropna(subset=["median_price_eur"])
    df = df.assign(online=df["channel"] != "offline")
    out = {}
    for sub, g in df.groupby("substance"):
        on, off = g[g.online], g[~g.online]
        if len(on) and len(off):
            out[sub] = float(_wmedian(on.median_price_eur, on.sales) / _wmedian(off.median_price_eur, off.sales))
    return out


def purity_difference(substances: pd.DataFrame) -> dict[str, float]:
    """Mean purity online minus offline per substance (in the substance's purity unit)."""
    df = substances.dropna(subset=["mean_purity"])
    df = df.assign(online=df["channel"] != "offline", w=df["sales"] * df["mean_purity"])
    g = df.groupby(["substance", "online"])[["w", "sales"]].sum()
    mean = (g["w"] / g["sales"]).unstack()
    if True not in mean.columns or False not in mean.columns:
        return {}
    return {k: float(v) for k, v in (mean[True] - mean[False]).dropna().items()}


def delivery_success_rate(daily: pd.DataFrame) -> float:
    """Share of online orders whose outcome was delivered-as-described."""
    n = daily["order_outcomes"].sum()
    return float(daily["orders_delivered_ok"].sum() / n) if n else float("nan")


def market_lifespans(markets: pd.DataFrame, kind: str = "cryptomarket") -> pd.Series:
    """Lifespan in days of markets of ``kind`` that closed during the run (opened in it or not)."""
    m = markets[markets["kind"] == kind]
    closed = m[m["status"] != "active"].groupby("market")["day"].min()
    opened = m.groupby("market")["opened_day"].first()
    return (closed - opened.reindex(closed.index)).astype(float).rename("lifespan_days")


def migration_concentration(migrations: list[tuple[int, int, int]], min_migrants: int = 10) -> float:
    """Mean over closures of the share of migrants whose next online purchase went to the top destination."""
    if not migrations:
        return float("nan")
    df = pd.DataFrame(migrations, columns=["from", "to", "day"])
    shares = []
    for _, g in df.groupby("from"):
        if len(g) >= min_migrants:
            shares.append(g["to"].value_counts(normalize=True).iloc[0])
    return float(np.mean(shares)) if shares else float("nan")


def top_vendor_share(vendor_sales: np.ndarray, top: float = 0.01) -> float:
    """Share of orders made by the top ``top`` fraction of vendors (at least one vendor)."""
    s = np.sort(vendor_sales[vendor_sales > 0])[::-1]
    if len(s) == 0:
        return float("nan")
    k = max(1, int(round(top * len(s))))
    return float(s[:k].sum() / s.sum())


def top_buyer_share(order_buyers: np.ndarray, top: float = 0.1) -> float:
    """Share of orders made by the top ``top`` fraction of the buyers who ordered (at least one buyer)."""
    counts = np.bincount(order_buyers) if len(order_buyers) else np.zeros(0)
    return top_vendor_share(counts, top)


def wholesale_share(vendors: pd.DataFrame) -> float:
    """Wholesale-sized purchases on hidden markets / all hidden-market trade, by value.

    Wholesale-sized: dealers' lots and social suppliers' orders of ``model.social.wholesale_min_eur``
    or more (the two never overlap with users' retail orders in the panel).

    From the vendor panel (vendors.parquet); web-shop sellers are left out, the share being about
    cryptomarket revenue (Aldridge & Decary-Hetu 2016). NaN without hidden-market trade.
    """
    hidden = vendors[~vendors["webshop"].astype(bool)]
    total = float(hidden["value_eur"].sum() + hidden["wholesale_value_eur"].sum())
    return float(hidden["wholesale_value_eur"].sum()) / total if total > 0 else float("nan")


def multi_homing_share(buyers: np.ndarray, markets: np.ndarray, days: np.ndarray, window: int = 30) -> float:
    """Mean over consecutive ``window``-day blocks of the share of buyers with orders on two or more markets.

    The denominator of a block is its buyers with at least one order (pass one market kind's orders).
    """
    if len(buyers) == 0:
        return float("nan")
    block = (days - days.min()) // window
    pairs = pd.DataFrame({"block": block, "buyer": buyers, "market": markets}).drop_duplicates()
    per_buyer = pairs.groupby(["block", "buyer"]).size()
    return float((per_buyer >= 2).groupby(level="block").mean().mean())


def _wmedian(values: pd.Series, weights: pd.Series) -> float:
    order = np.argsort(values.to_numpy())
    v, w = values.to_numpy()[order], weights.to_numpy()[order]
    c = np.cumsum(w)
    return float(v[np.searchsorted(c, c[-1] / 2)])
