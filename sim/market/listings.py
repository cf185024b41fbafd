"""The listing index: who sells which substance on which market, and the choice of a listing.

One row per (market, vendor, substance) listing, sorted by (market, substance) for the purchase
choice and by (vendor, substance) for loyalty look-ups. The index owns these arrays, today's
utility of every listing and the inclusive value per (market, substance); the model rebuilds it
when vendors or markets change (anyone may call :meth:`ListingIndex.mark_dirty`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.arrays import sorted_unique
from sim.columns import resized
from sim.domain import Channel
from sim.market.reputation import reputation_score
from sim.market.routes import seizure_prob

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel
from sim.market.choice import NEG_INF, SEQUENTIAL_SUM, grouped_logsumexp, pick_in_ranges


class ListingIndex:
    """Listings sorted for look-ups, with today's utilities.

    Args:
        n_subs: number of substances.
        m_cap: market columns allocated (grows with :meth:`grow_markets`).
        listing_lambda: dissimilarity of the listings within a (market, substance) nest.
    """

    def __init__(self, n_subs: int, m_cap: int, listing_lambda: float = 1.0) -> None:
        self.n_subs = n_subs
        #: dissimilarity of the listings of one substance on one market (nested logit, in (0, 1]):
        #: the inclusive value is lambda x log-sum(utility / lambda), the listing choice a logit
        #: over utility / lambda
        self.listing_lambda = float(listing_lambda)
        empty = np.zeros(0, dtype=np.int64)
        #: columns of the listings, sorted by (market, substance)
        self.market, self.vendor, self.substance, self.key = empty, empty, empty, empty
        #: order of the listings by (vendor, substance), and those keys sorted
        self.vendor_order, self.vendor_key = empty, empty
        #: today's utility of each listing (price, quality, reputation, load)
        self.utility = np.zeros(0)
        #: today's logit share of each listing among its competitors: the listings of the same
        #: substance on the same market (for web shops: on all web shops, whose one seller each
        #: competes with the other shops); what vendors price against (sim/market/pricing.py)
        self.within_share = np.zeros(0)
        #: online-capable buyers / the reference population of the choice: how many times more
        #: competitors every listing has than at the reference size (set with the utilities)
        self.competitor_scale = 1.0
        #: inclusive value (log-sum of listing utilities) per market and substance; -inf: none
        self.inclusive = np.full((m_cap, n_subs), NEG_INF)
        #: mean log(online price / street price) per substance over today's listings
        self.log_price_index = np.zeros(n_subs)
        self.dirty = True
        self._vendors_on: np.ndarray | None = None
        #: (utility array they were computed from, weights, running sum) for :meth:`choose`
        self._weights: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.market)

    def mark_dirty(self) -> None:
        """Vendors or markets changed: rebuild before the next purchases."""
        self.dirty = True

    def grow_markets(self, cap: int) -> None:
        """Make room for ``cap`` market columns."""
        self.inclusive = resized(self.inclusive, cap, fill=NEG_INF)

    def rebuild(self, rows: list[tuple[int, int, int]]) -> None:
        """Replace the listings by ``rows`` of (market, vendor, substance)."""
        S = self.n_subs
        arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
        key = arr[:, 0] * S + arr[:, 2]
        order = np.argsort(key, kind="stable")
        self.market, self.vendor, self.substance = arr[order, 0], arr[order, 1], arr[order, 2]
        self.key = key[order]
        vkey = self.vendor * S + self.substance
        self.vendor_order = np.argsort(vkey, kind="stable")
        self.vendor_key = vkey[self.vendor_order]
        self.utility = np.zeros(len(self.market))
        self.within_share = np.zeros(len(self.market))
        self._vendors_on = None
        self._weights = None
        self.dirty = False

    def vendors_per_market(self, m_cap: int) -> np.ndarray:
        """Distinct vendors listed on each market column (kept until the next rebuild).

        Vendors deciding where to list ask this once each in a week; counting it once per rebuild
        instead of once per vendor keeps that decision linear in the number of vendors.
        """
        if self._vendors_on is None or len(self._vendors_on) != m_cap:
            n = int(self.vendor.max()) + 1 if len(self.vendor) else 1
            self._vendors_on = np.bincount(sorted_unique(self.market * n + self.vendor) // n, minlength=m_cap)
        return self._vendors_on

    def set_utility(
        self,
        utility: np.ndarray,
        log_price: np.ndarray,
        log_scale: np.ndarray | None = None,
        pooled: np.ndarray | None = None,
    ) -> None:
        """Today's listing utilities and log price ratios; computes inclusive values and the price index.

        ``log_scale`` (per market column) is subtracted from the market's inclusive values: the log
        of how many more vendors the population has than at the reference size for markets whose
        vendors scale with the buyers (without it their log-sum would grow as the log of the
        population size); 0 for web shops, which have one seller whatever the size.
        ``pooled`` (per market column, True for web shops) marks markets whose listings compete
        with those of all pooled markets for :attr:`within_share`.
        """
        S = self.n_subs
        m_cap = self.inclusive.shape[0]
        self.utility = utility
        mu = self.listing_lambda
        scaled_u = utility / mu
        lse = grouped_logsumexp(scaled_u, self.key, m_cap * S)
        self.inclusive = mu * lse.reshape(m_cap, S)
        if pooled is not None and len(utility):
            # the competitors of a pooled market's listing: every pooled market's listings of the substance
            group = np.where(pooled[self.market], m_cap, self.market)
            gkey = group * S + self.substance
            lse = grouped_logsumexp(scaled_u, gkey, (m_cap + 1) * S)
            self.within_share = np.exp(scaled_u - lse[gkey])
        else:
            self.within_share = np.exp(scaled_u - lse[self.key]) if len(utility) else np.zeros(0)
        if log_scale is not None:
            # n times the listings add mu x log(n) to the inclusive value
            self.inclusive -= mu * log_scale[:m_cap, None]
        n_s = np.bincount(self.substance, minlength=S)
        sum_logp = np.bincount(self.substance, weights=log_price, minlength=S)
        self.log_price_index = np.where(n_s > 0, sum_logp / np.maximum(n_s, 1), 0.0)

    def within_shares(self, vendors: np.ndarray, subs: np.ndarray) -> np.ndarray:
        """Mean :attr:`within_share` of the listings of each (vendor, substance) pair (0 where it lists none yet)."""
        q = np.asarray(vendors, dtype=np.int64) * self.n_subs + np.asarray(subs, dtype=np.int64)
        out = np.zeros(len(q))
        if len(self.within_share) != len(self.vendor_order):
            return out  # rebuilt since the last utilities: no shares yet
        lo = np.searchsorted(self.vendor_key, q, "left")
        hi = np.searchsorted(self.vendor_key, q, "right")
        n = hi - lo
        has = np.flatnonzero(n > 0)
        if len(has) == 0:
            return out
        # every pair's listings one after another, added in their order as np.mean of a slice does
        # for fewer than 8 values (so the means have the same bits as one pair at a time); pairs
        # with more listings than that by np.mean itself
        lens = n[has]
        first = np.cumsum(lens) - lens
        pos = np.repeat(lo[has] - first, lens) + np.arange(int(lens.sum()))
        values = self.within_share[self.vendor_order[pos]]
        total = values[first]
        for j in range(1, min(int(lens.max()), SEQUENTIAL_SUM)):
            more = np.flatnonzero(lens > j)
            total[more] += values[first[more] + j]
        out[has] = total / lens
        for j in np.flatnonzero(lens >= SEQUENTIAL_SUM).tolist():
            out[has[j]] = float(values[first[j] : first[j] + lens[j]].mean())
        return out

    def favourite_cells(self, fav: np.ndarray, sub: np.ndarray, markets: np.ndarray, m_cap: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, columns of ``markets``) where a row's favourite vendor ``fav`` lists its wanted substance ``sub``.

        Each (row, column) pair at most once (a vendor lists a substance once per market).
        """
        col = np.full(m_cap, -1)
        col[markets] = np.arange(len(markets))
        rows = np.flatnonzero(fav >= 0)
        if len(rows) == 0 or len(self.vendor_key) == 0:  # no favourite, or nothing listed anywhere
            none = np.zeros(0, dtype=np.int64)
            return none, none
        q = fav[rows].astype(np.int64) * self.n_subs + sub[rows]
        lo = np.searchsorted(self.vendor_key, q, "left")
        count = np.searchsorted(self.vendor_key, q, "right") - lo
        # every listing of each row's (vendor, substance): the ranges lo .. lo + count - 1, laid end to end
        first = np.cumsum(count) - count
        pos = np.repeat(lo - first, count) + np.arange(int(count.sum()))
        mcol = col[self.market[self.vendor_order[pos]]]
        ok = mcol >= 0
        return np.repeat(rows, count)[ok], mcol[ok]

    def choose(
        self,
        rng: np.random.Generator,
        markets: np.ndarray,
        subs: np.ndarray,
        fav_vendor: np.ndarray,
        loyalty: np.ndarray,
    ) -> np.ndarray:
        """Pick a vendor for each (market, substance) by a logit over its listings.

        The probability of listing j of the purchase's (market, substance) is
        w_j x b_j / (W + w_f x (e^(loyalty / lambda) - 1)), with w_j = exp(utility_j / lambda),
        W their sum, b_j = e^(loyalty / lambda) for the purchaser's favourite vendor's listing
        (weight w_f) and 1 for the others. One uniform number per purchase is drawn against the
        cumulative weights, the favourite's extra weight placed after the others: the cost grows
        with purchases x log(listings), not purchases x listings.

        Args:
            rng: the purchase stream (one uniform number per purchase).
            markets: market column of each purchase.
            subs: substance of each purchase.
            fav_vendor: each purchaser's favourite vendor (-1: none).
            loyalty: utility bonus (>= 0) of the favourite vendor for each purchaser.

        Raises:
            ValueError: a negative loyalty bonus, or a purchase in a (market, substance) without listings.
        """
        n = len(markets)
        if n == 0:
            return np.full(0, -1, dtype=np.int64)
        if (loyalty < 0).any():
            raise ValueError("loyalty bonuses must be >= 0 (model.choice.beta_loyalty x trust)")
        key = np.asarray(markets, dtype=np.int64) * self.n_subs + subs
        lo = np.searchsorted(self.key, key, "left")
        hi = np.searchsorted(self.key, key, "right")
        if (hi <= lo).any():
            raise ValueError("a purchase was decided on a (market, substance) without listings")
        _, cum = self.choice_weights()
        fav = self.listing_of(fav_vendor, markets, subs)
        has = fav >= 0
        fav_lo = np.where(has, fav, 0)
        # the favourite's listing is a range of one in the same ordering
        position, _ = pick_in_ranges(
            rng.random(n), cum, lo, hi, cum, fav_lo, np.where(has, fav + 1, 0), np.expm1(loyalty / self.listing_lambda)
        )
        return self.vendor[position]

    def choice_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """exp(utility / lambda) of each listing, scaled so each (market, substance) group's largest is 1, and their running sum.

        Scaled per group, so no weight overflows and none of a group vanishes next to another
        group's. The running sum over all listings is off by at most about 1e-16 x the number of
        listings, against a group total of at least 1. Kept until :meth:`set_utility` gives new
        utilities (they are never changed in place).
        """
        if self._weights is None or self._weights[0] is not self.utility:
            scaled = self.utility / self.listing_lambda
            top = np.full(int(self.key.max()) + 1 if len(self.key) else 1, NEG_INF)
            np.maximum.at(top, self.key, scaled)
            weight = np.exp(scaled - top[self.key])
            self._weights = (self.utility, weight, np.cumsum(weight))
        return self._weights[1], self._weights[2]

    def listing_of(self, vendors: np.ndarray, markets: np.ndarray, subs: np.ndarray) -> np.ndarray:
        """Position of ``vendors``' listing of ``subs`` on ``markets`` in the index (-1: none, or vendor -1)."""
        out = np.full(len(vendors), -1, dtype=np.int64)
        rows = np.flatnonzero(vendors >= 0)
        if len(rows) == 0 or len(self.vendor_key) == 0:
            return out
        q = vendors[rows].astype(np.int64) * self.n_subs + subs[rows]
        lo = np.searchsorted(self.vendor_key, q, "left")
        count = np.searchsorted(self.vendor_key, q, "right") - lo
        # a vendor lists a substance on a few markets: look at each of them in turn
        for j in range(int(count.max(initial=0))):
            more = count > j
            pos = self.vendor_order[lo[more] + j]
            here = self.market[pos] == markets[rows[more]]
            out[rows[more][here]] = pos[here]
        return out


def rebuild_listings(model: CryptoMarketModel) -> None:
    """Rebuild the listing index from vendors' markets and substances."""
    rows: list[tuple[int, int, int]] = []
    for ag in model.vendor_agents:
        if not model.vend.active[ag.idx]:
            continue
        for m in ag.markets:
            mk = model.markets[m]
            if not mk.active:
                continue
            for s in ag.substances:
                if mk.kind == Channel.WEBSHOP and not model.subs.webshop_sellable[s]:
                    continue
                if (m, s) in model.levers.delisted:
                    continue
                rows.append((m, ag.idx, s))
    model.listings.rebuild(rows)


def update_listing_utility(model: CryptoMarketModel) -> None:
    """Today's utility of every listing: reputation, feedback, price, quality, load, seizure risk."""
    ch, vc = model.cfg.model.choice, model.cfg.model.vendors
    li = model.listings
    v, m, s = li.vendor, li.market, li.substance
    # a web shop has one seller whatever the population size, so its feedback grows with the
    # population: its counts are read at the choice's reference population, as the hidden markets'
    # many vendors are (else a larger modelled population would make every shop look more reviewed)
    scale = model.buyers.online_per_1000 * 1000.0 / model.cfg.model.choice.listing_reference_online_buyers
    per_reference = np.where(model.market_table.kind[m] == Channel.WEBSHOP, 1.0 / scale, 1.0)
    cnt = model.vend.fb_count[v, m] * per_reference
    score = reputation_score(model.vend.fb_sum[v, m] * per_reference, cnt, vc.rating_prior_good, vc.rating_prior_count)
    # against the table's street price (fixed), so that a rise of all prices lowers every option
    logp = np.log(model.vend.price[v, s] / model.subs.street_price[s])
    load = model.vend.ring[v, :7].sum(axis=1) / 7.0 / model.vend.capacity[v]
    utility = (
        # centred on a reference listing (score 0.8, 20 feedbacks by default), so that the channel
        # constants compare a typical market with the street dealer
        ch.beta_reputation * (score - ch.reference_score)
        + ch.beta_feedback * (np.log1p(cnt) - np.log1p(ch.reference_feedback))
        - ch.beta_price * logp
        + ch.beta_quality * (model.vend.purity[v, s] / model.subs.purity_off_mean[s] - 1.0)
        - np.maximum(0.0, load - 1.0)
        # the parcel's chance of being seized on its route: buyers turn to listings that ship from
        # their own country when inspection rises (no border, no customs)
        - ch.beta_seizure_risk * seizure_prob(model.levers.customs_prob, model.vend.origin[v], model.vend.stealth[v])
    )
    scaled = model.market_table.kind != Channel.WEBSHOP  # hidden markets: vendors scale with the Tor buyers
    log_scale = np.where(scaled, np.log(scale), 0.0)
    li.competitor_scale = scale
    li.set_utility(utility, logp, log_scale=log_scale, pooled=~scaled)
