"""Street dealers: the street's supply, bought partly online in bulk (wholesale).

Each dealer sells one substance on the street and holds a share (``size``) of that substance's
street trade. Weekly, on the vendors' decision day (:func:`restock`), every dealer restocks what its
share of last week's street sales says it will sell: dealers who source online (``online_share``
> 0) order that share as wholesale lots from online vendors (hidden markets; web shops for NPS), the rest comes from the offline
import channel (exogenous, always delivered). Lots that cannot be placed (no listing, markets down)
or fail (scam, customs, lost) are made up offline only in part (``offline_substitution``); the
street's supply ratio per substance (delivered / needed) then sets next week's street availability
and price (:class:`sim.environment.offline.StreetMarket`). So an online intervention reaches the
street through the dealers who buy online. Dealers adapt: after a week whose lots all failed they
move part of their buying offline (``sourcing_adaptation_weekly``), and drift back to their habit
(``preferred_online``) while online supply works, so the street recovers as dealers find other
sources.

Sources: Aldridge & Decary-Hetu 2016 (about a quarter of cryptomarket revenue from wholesale-sized
listings, bought for resale); Demant, Munksgaard & Houborg 2016 (dealers and social suppliers
stock up on cryptomarkets). Parameters: ``model.street`` (sim/config.py), most of them assumptions.

Wholesale orders are paid vendor to dealer outside the escrow ledger (``sim.market.escrow``): the
ledger and its money check cover buyers' retail orders only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.arrays import sorted_unique
from sim.columns import Col, Table
from sim.domain import Origin
from sim.market.choice import pick_in_ranges
from sim.market.listings import rebuild_listings, update_listing_utility
from sim.market.routes import seizure_prob
from sim.streams import keyed_stream

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel


class DealerTable(Table):
    """One row per street dealer."""

    SPEC = {
        "substance": Col(np.int64, 0),  # the substance it sells
        "size": Col(np.float64, 1.0),  # relative share of its substance's street trade
        "preferred_online": Col(np.float64, 0.0),  # share of its restock it orders online when that works
        "online_share": Col(np.float64, 0.0),  # share it orders online this week (adapts to failures)
        "vendor": Col(np.int64, -1),  # its usual online supplier (-1: none yet)
    }
    substance: np.ndarray
    size: np.ndarray
    preferred_online: np.ndarray
    online_share: np.ndarray
    vendor: np.ndarray


class StreetSupply:
    """Dealers and the weekly supply of the street, per substance.

    Args:
        cfg: ``model.street``.
        demand_p: each substance's share of demand (sets how many dealers sell it).
        street_ok: substances sold on the street at all (table availability above 0).
        n_users: users at the start (the number of dealers scales with it).
        rng: the ``dealers`` stream.
    """

    def __init__(self, cfg, demand_p: np.ndarray, street_ok: np.ndarray, n_users: int, rng: np.random.Generator) -> None:
        self.cfg = cfg
        S = len(demand_p)
        self.dealers = DealerTable(capacity=64)
        n_total = max(1.0, cfg.dealers_per_1000_users * n_users / 1000.0)
        for s in np.flatnonzero(street_ok & (demand_p > 0)).tolist():
            k = max(1, int(round(n_total * demand_p[s])))
            size = rng.lognormal(0.0, cfg.dealer_size_logsd, k)
            # dealers in random order buy online until they hold ``online_dealer_share`` of the
            # substance's street trade, so that the share of supply bought online does not depend
            # on which few dealers the draw made online; the dealer at the boundary buys online
            # for the part of its trade that completes the share (else, with few dealers, one
            # large first dealer would take far more than the share)
            order = rng.permutation(k)
            before = np.cumsum(size[order]) - size[order]
            part = np.zeros(k)
            part[order] = np.clip((cfg.online_dealer_share * size.sum() - before) / size[order], 0.0, 1.0)
            self.dealers.append(
                k,
                substance=s,
                size=size,
                preferred_online=part * cfg.online_sourcing_share,
                online_share=part * cfg.online_sourcing_share,
            )
        #: retail units sold on the street this week, per substance (filled by the purchases)
        self.week_units = np.zeros(S)
        #: dealers' forecast of weekly street sales, units per substance (smoothed; NaN before the first week)
        self.forecast = np.full(S, np.nan)
        #: last week's supply ratio per substance: delivered / needed (1 = fully supplied)
        self.ratio = np.ones(S)
        #: last week's wholesale lots per substance: placed online, delivered
        self.lots_placed = np.zeros(S, dtype=np.int64)
        self.lots_delivered = np.zeros(S, dtype=np.int64)

    def record_street_sales(self, subs: np.ndarray, units: np.ndarray) -> None:
        """Street deals of the day (substance, retail units each)."""
        np.add.at(self.week_units, subs, units)


def restock(model: CryptoMarketModel) -> None:
    """The week's restocking: wholesale lots online, the rest offline; the street's supply ratio."""
    sup = model.street_supply
    cfg = sup.cfg
    d = sup.dealers
    if model.listings.dirty:  # vendors quit or moved today: dealers see today's listings
        rebuild_listings(model)
        update_listing_utility(model)
    n = d.n
    S = len(sup.week_units)
    a = 1.0 / max(cfg.demand_memory_weeks, 1.0)
    sold = sup.week_units.copy()
    sup.week_units[:] = 0.0
    sup.forecast = np.where(np.isnan(sup.forecast), sold, sup.forecast + a * (sold - sup.forecast))
    sub = d.substance[:n]
    share = d.size[:n] / np.maximum(np.bincount(sub, weights=d.size[:n], minlength=S)[sub], 1e-12)
    need = sup.forecast[sub] * share  # retail units each dealer expects to sell next week
    lot_units = cfg.wholesale_lot_eur / model.subs.street_price  # retail units per lot, per substance
    online_units = need * d.online_share[:n]
    # the lots sample the week's wholesale flow (their count is Poisson); the street's supply follows
    # the share of each dealer's lots that arrived, so that lumpy lots do not make street prices jump
    lots = np.zeros(n, dtype=np.int64)
    arrived = np.zeros(n)
    placed = np.zeros(S, dtype=np.int64)
    up = _open_today(model)
    week = (model.day + model.burn_in) // 7
    for s in sorted_unique(sub).tolist():
        # each week and substance draws from its own generator (common random numbers)
        rng = keyed_stream(model.cfg.seed, "dealers", week, s)
        mine = np.flatnonzero(sub == s)
        lots[mine] = rng.poisson(online_units[mine] / lot_units[s])
        rows = np.repeat(mine, lots[mine])
        if len(rows) == 0:
            continue
        vendor, market = _choose_suppliers(model, rng, s, d.vendor[rows], up)
        if len(vendor) == 0:
            continue
        ok = _lot_arrives(model, rng, vendor)
        d.vendor[rows] = vendor  # the usual supplier is the last one used
        value = model.vend.price[vendor, s] * lot_units[s] * (1.0 - cfg.bulk_discount)
        np.add.at(arrived, rows[ok], 1.0)
        placed[s] = len(rows)
        _record_wholesale(model, vendor, market, value)
    sup.lots_placed = placed
    sup.lots_delivered = np.bincount(sub, weights=arrived, minlength=S).astype(np.int64)
    li = model.listings
    listed = np.bincount(li.substance[up[li.market] & model.vend.active[li.vendor]], minlength=S) > 0
    got_share = np.where(lots > 0, arrived / np.maximum(lots, 1), np.where(listed[sub], 1.0, 0.0))
    shortfall = online_units * (1.0 - got_share)
    need_s = np.bincount(sub, weights=need, minlength=S)
    got_s = need_s - np.bincount(sub, weights=shortfall, minlength=S) * (1.0 - cfg.offline_substitution)
    # dealers adapt: after a week without the lots they ordered (or nothing to order) they turn to
    # offline sources; otherwise they drift back to their habit of buying online
    failed = ((lots > 0) & (arrived == 0)) | ~listed[sub]
    goal = np.where(failed, 0.0, d.preferred_online[:n])
    d.online_share[:n] += cfg.sourcing_adaptation_weekly * (goal - d.online_share[:n])
    sup.ratio = np.where(need_s > 0, got_s / np.maximum(need_s, 1e-12), 1.0)
    model.street.set_supply(sup.ratio, cfg.price_response)


def _choose_suppliers(
    model: CryptoMarketModel, rng: np.random.Generator, s: int, usual: np.ndarray, up: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A vendor and market for each lot of substance ``s``: a logit over today's listings on open markets.

    ``usual``: each lot's dealer's usual vendor, who gets ``dealer_loyalty`` extra utility.
    Returns empty arrays where the substance has no listing on an open market.
    """
    li = model.listings
    cand = np.flatnonzero((li.substance == s) & up[li.market] & model.vend.active[li.vendor])
    if len(cand) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    n = len(usual)
    # a logit over the candidates, the usual vendor's listings (on every open market) weighing
    # e^dealer_loyalty times as much: one uniform per lot, not one draw per (lot, listing)
    utility = li.utility[cand]
    weight = np.exp(utility - utility.max())
    by_vendor = np.argsort(li.vendor[cand], kind="stable")
    sellers = li.vendor[cand][by_vendor]
    position, favourite = pick_in_ranges(
        rng.random(n),
        np.cumsum(weight),
        np.zeros(n, dtype=np.int64),
        np.full(n, len(cand)),
        np.cumsum(weight[by_vendor]),
        np.searchsorted(sellers, usual, "left"),
        np.searchsorted(sellers, usual, "right"),
        np.full(n, np.expm1(model.street_supply.cfg.dealer_loyalty)),
    )
    chosen = cand[np.where(favourite, by_vendor[position], position)]
    return li.vendor[chosen], li.market[chosen]


def _open_today(model: CryptoMarketModel) -> np.ndarray:
    """Per market column: an active market that is up today (web shops sell NPS in bulk too)."""
    up = np.zeros(model.m_cap, dtype=bool)
    up[model.market_table.usable_columns()] = True
    return up


def _lot_arrives(model: CryptoMarketModel, rng: np.random.Generator, vendors: np.ndarray) -> np.ndarray:
    """Whether each wholesale lot arrives: not scammed, not seized by customs, not lost in the post."""
    vend = model.vend
    u = rng.random((len(vendors), 3))
    scammed = (vend.exit_until[vendors] >= model.day) | (u[:, 0] < vend.scam_prob[vendors])
    origin = vend.origin[vendors]
    seized = (origin != Origin.DOMESTIC) & (u[:, 1] < seizure_prob(model.levers.customs_prob, origin, vend.stealth[vendors]))
    lost = u[:, 2] < model.cfg.model.escrow.lost_in_post_prob
    return ~(scammed | seized | lost)


def _record_wholesale(model: CryptoMarketModel, vendors: np.ndarray, markets: np.ndarray, value: np.ndarray) -> None:
    """Count the week's lots on the day they are paid: daily totals, vendors' and markets' trade."""
    t = model.today
    t.wholesale_sales += len(vendors)
    t.wholesale_value += float(value.sum())
    np.add.at(model.vend.week_wholesale_sales, vendors, 1.0)
    np.add.at(model.vend.week_wholesale_value, vendors, value)
    # a lot is one more order for the vendor's load and the market's recent trade
    np.add.at(model.vend.ring[:, 0], vendors, 1.0)
    np.add.at(model.market_table.ring[:, 0], markets, 1.0)
