"""Buyers: the drug users of the modelled population (docs/ODD.md, entities).

Buyers are a vectorised population, not one Mesa agent each: their state lives in the columns of
a :class:`BuyerPopulation` (owned by the model as ``model.buyers``), so that the day's purchases
(all buyers whose purchase is due) are decided in one vectorised pass, and a run scales to
hundreds of thousands of buyers. ``model.buyer(i)`` gives a :class:`Buyer`, a read-only view of
buyer ``i`` and its state, for notebooks, tests and visualisation. A buyer acts only when its next purchase is due: purchase times
sit in a day calendar, so no day touches every buyer.

The choice is a nested logit: channel (offline street, web shop, cryptomarket, decentralised),
then market, then listing. Market utility = channel convenience + trust + listing inclusive
value (price, quality, reputation) - perceived risk; buyers only see markets they know and can
reach (Tor skill for cryptomarkets and decentralised markets).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from sim.columns import resized
from sim.config import BuyerConfig
from sim.domain import Channel
from sim.market.orders import bucket, pop_day
from sim.market.records import Purchases
from sim.market.trade import place_orders

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel


#: a purchase gap longer than any horizon (days): caps the gaps of buyers whose rate is ~0, so that
#: day numbers stay finite integers
NEVER_DAYS = 1e9


class Buyer:
    """A read-only view of buyer ``idx``: row ``idx`` of the model's :class:`BuyerPopulation`."""

    def __init__(self, model: CryptoMarketModel, idx: int) -> None:
        if not 0 <= idx < model.buyers.n:
            raise IndexError(f"buyer {idx}: the population has buyers 0 to {model.buyers.n - 1}")
        self.model = model
        self.idx = idx

    @property
    def _pop(self) -> BuyerPopulation:
        return self.model.buyers

    @property
    def tech_skill(self) -> bool:
        """Can use Tor and cryptocurrency."""
        return bool(self._pop.tech[self.idx])

    @property
    def offline_access(self) -> bool:
        """Has access to a street dealer."""
        return bool(self._pop.offline[self.idx])

    @property
    def purchases_per_month(self) -> float:
        """Mean purchases per month (any channel)."""
        return float(self._pop.rate[self.idx])

    def trust_in(self, market: int) -> float | None:
        """Trust in market ``market`` (column index), None if the buyer does not know it."""
        if not self._pop.aware[self.idx, market]:
            return None
        return float(self._pop.trust[self.idx, market])

    @property
    def favourite_vendor(self) -> tuple[int, float] | None:
        """(vendor index, trust in it) of the vendor this buyer returns to, if any."""
        v = int(self._pop.fav_vendor[self.idx])
        return None if v < 0 else (v, float(self._pop.fav_trust[self.idx]))


class BuyerPopulation:
    """Columns of buyer state plus trust and awareness per market.

    Trust changes go through :meth:`set_trust`, which keeps per-market sums so that mean trust
    is read without a pass over all buyers.
    """

    def __init__(self, cfg: BuyerConfig, n: int, n_subs: int, demand_p: np.ndarray, rng: np.random.Generator, market_cap: int):
        self.cfg = cfg
        self.n = n
        mean = cfg.purchases_per_month_mean
        sd = cfg.purchases_per_month_logsd
        # lognormal with the configured arithmetic mean
        self.rate = rng.lognormal(np.log(mean) - sd**2 / 2, sd, n)
        self.tech = rng.random(n) < cfg.tech_skill_share
        self.offline = rng.random(n) < cfg.offline_access_share
        self.webshop = self.tech | (rng.random(n) < cfg.webshop_use_share)
        self.checking = rng.random(n) < cfg.drug_checking_share
        self.price_sens = rng.lognormal(0.0, cfg.price_sensitivity_logsd, n)
        self.risk = rng.beta(cfg.risk_aversion_a, cfg.risk_aversion_b, n)
        self.primary = rng.choice(n_subs, size=n, p=demand_p).astype(np.int16)
        self.fav_vendor = np.full(n, -1, dtype=np.int32)
        self.fav_trust = np.zeros(n, dtype=np.float32)
        self.last_online_day = np.full(n, -(10**6), dtype=np.int32)
        #: day of the last purchase on a hidden market (cryptomarket or decentralised)
        self.last_hidden_day = np.full(n, -(10**6), dtype=np.int32)
        self.migrant_from = np.full(n, -1, dtype=np.int32)
        self.arrested = np.zeros(n, dtype=bool)
        self.trust = np.zeros((n, market_cap), dtype=np.float32)
        self.aware = np.zeros((n, market_cap), dtype=bool)
        self.bought = np.zeros((n, market_cap), dtype=bool)
        self.trust_sum = np.zeros(market_cap)
        self.aware_count = np.zeros(market_cap)
        self.online_capable = np.flatnonzero(self.webshop)
        #: online-capable buyers in thousands: rates "per 1,000 online-capable buyers" times this are counts
        self.online_per_1000 = len(self.online_capable) / 1000.0
        self._due: dict[int, list[np.ndarray]] = defaultdict(list)

    # ----------------------------------------------------------------- capacity
    def grow_markets(self, cap: int) -> None:
        """Make room for ``cap`` market columns."""
        if cap <= self.trust.shape[1]:
            return
        for name in ("trust", "aware", "bought"):
            setattr(self, name, resized(getattr(self, name), cap, axis=1))
        for name in ("trust_sum", "aware_count"):
            setattr(self, name, resized(getattr(self, name), cap))

    # ----------------------------------------------------------------- events others report
    def arrest(self, buyers: np.ndarray) -> None:
        """Arrested buyers keep buying but become maximally risk averse."""
        self.arrested[buyers] = True
        self.risk[buyers] = 1.0

    def mark_migrants(self, market: int) -> np.ndarray:
        """Buyers who ever bought on ``market`` (now closed) look for another; returns them."""
        users = np.flatnonzero(self.bought[:, market])
        self.migrant_from[users] = market
        return users

    def set_drug_checking(self, buyers: np.ndarray, on: bool) -> None:
        """Give (or take back) drug checking to ``buyers``."""
        self.checking[buyers] = on

    # ----------------------------------------------------------------- trust store
    def make_aware(self, buyers: np.ndarray, market: int, trust: float) -> None:
        """Buyers learn of ``market`` with initial ``trust`` (already aware ones are left alone)."""
        buyers = np.unique(buyers)
        new = buyers[~self.aware[buyers, market]]
        if len(new) == 0:
            return
        self.aware[new, market] = True
        self.trust[new, market] = trust
        self.aware_count[market] += len(new)
        self.trust_sum[market] += float(np.float32(trust)) * len(new)

    def set_trust(self, buyers: np.ndarray, markets: np.ndarray, values: np.ndarray) -> None:
        """Set trust of (buyer, market) pairs to ``values`` clipped to [0, 1]; pairs must be unique."""
        values = np.clip(values, 0.0, 1.0).astype(np.float32)
        old = self.trust[buyers, markets]
        self.trust[buyers, markets] = values
        np.add.at(self.trust_sum, markets, (values - old).astype(np.float64))

    def mean_trust(self, market: int) -> float:
        """Mean trust in ``market`` among buyers who know it (NaN if none)."""
        c = self.aware_count[market]
        return float(self.trust_sum[market] / c) if c > 0 else float("nan")

    # ----------------------------------------------------------------- purchase calendar
    def schedule_next(self, rng: np.random.Generator, buyers: np.ndarray, day: int) -> None:
        """Put each buyer's next purchase on the calendar (exponential gaps, at least one day)."""
        if len(buyers) == 0:
            return
        gap = np.minimum(rng.exponential(30.0 / self.rate[buyers]), NEVER_DAYS)  # a rate of ~0 never buys again
        bucket(self._due, buyers, day + np.maximum(1, np.rint(gap)).astype(np.int64))

    def schedule_first(self, rng: np.random.Generator, day: int) -> None:
        """Spread first purchases uniformly over each buyer's first interval, from ``day`` (the first day run)."""
        gap = np.minimum(rng.random(self.n) * 30.0 / self.rate, NEVER_DAYS)
        bucket(self._due, np.arange(self.n), day + np.floor(gap).astype(np.int64))

    def pop_due(self, day: int) -> np.ndarray:
        """Buyers whose purchase is due on ``day`` (ascending ids, deterministic)."""
        return np.sort(pop_day(self._due, day))

    # ----------------------------------------------------------------- learning
    def learn(self, buyers: np.ndarray, markets: np.ndarray, vendors: np.ndarray, good: np.ndarray) -> None:
        """Update trust in market and vendor after own outcomes (bounded in [0, 1]).

        Good outcomes raise trust by ``trust_gain * (1 - t)``; bad ones cut it by ``trust_loss * t``.
        Where a buyer has several outcomes on one day on the same market, the last one counts.
        """
        if len(buyers) == 0:
            return
        cfg = self.cfg
        # keep the last outcome per (buyer, market) pair so set_trust sees unique pairs
        key = buyers.astype(np.int64) * self.trust.shape[1] + markets
        _, last = np.unique(key[::-1], return_index=True)
        keep = len(key) - 1 - last
        b, m, g = buyers[keep], markets[keep], good[keep]
        t = self.trust[b, m].astype(np.float64)
        new = np.where(g, t + cfg.trust_gain * (1 - t), t - cfg.trust_loss * t)
        self.set_trust(b, m, new)
        # favourite vendor
        _, lastb = np.unique(buyers[::-1], return_index=True)
        kb = len(buyers) - 1 - lastb
        b, v, g = buyers[kb], vendors[kb], good[kb]
        same = self.fav_vendor[b] == v
        ft = self.fav_trust[b].astype(np.float64)
        ft_new = np.where(
            g,
            np.where(same, ft + cfg.trust_gain * (1 - ft), np.maximum(ft, cfg.initial_trust)),
            np.where(same, ft - cfg.trust_loss * ft, ft),
        )
        fav_new = np.where(g, v, self.fav_vendor[b])
        forget = ft_new < cfg.vendor_forget_threshold
        fav_new = np.where(forget & ~g, -1, fav_new)
        ft_new = np.where(fav_new < 0, 0.0, ft_new)
        self.fav_vendor[b] = fav_new
        self.fav_trust[b] = ft_new


def choose_purchases(model: CryptoMarketModel, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Decide the purchases of buyers ``ids`` (all due today) in one vectorised pass.

    Returns a dict of arrays over the buyers who bought: ``buyer``, ``substance``, ``channel``
    and, for online purchases, ``market`` and ``vendor`` (``-1`` offline). Buyers with no
    available option buy nothing this time.
    """
    from sim.market.choice import NEG_INF, nested_choice

    rng = model.streams["purchase"]
    pop = model.buyers
    ch = model.cfg.model.choice
    n = len(ids)
    S = len(model.subs)
    # substance: the buyer's usual one most of the time, else from the population's mix
    usual = rng.random(n) < pop.cfg.usual_substance_prob
    sub = np.where(usual, pop.primary[ids], rng.choice(S, size=n, p=model.subs.demand_p)).astype(np.int64)
    # prevention campaigns and red alerts: some intended purchases of a substance do not happen
    go = rng.random(n) < model.levers.demand_factor[sub]
    act = np.array([m.idx for m in model.markets if m.active and not m.down_today], dtype=np.int64)  # usable today
    kinds = model.market_table.kind[act]
    risk_kind = np.array([ch.risk_offline, ch.risk_webshop, ch.risk_cryptomarket, ch.risk_decentralised])
    conv_kind = np.array([ch.conv_offline, ch.conv_webshop, ch.conv_cryptomarket, ch.conv_decentralised])
    risk_b = pop.risk[ids]
    u = np.full((n, 1 + len(act)), NEG_INF)
    street_ok = pop.offline[ids] & model.street.available(rng, sub)
    u[street_ok, 0] = conv_kind[0] - ch.beta_risk * risk_b[street_ok] * risk_kind[0]
    if len(act):
        iv = model.listings.inclusive[np.ix_(act, np.arange(S))][:, sub].T  # n x markets
        perceived = risk_kind[kinds] + model.levers.risk_shock[act]
        um = (
            conv_kind[kinds][None, :]
            - ch.beta_risk * risk_b[:, None] * perceived[None, :]
            + ch.beta_trust * (pop.trust[np.ix_(ids, act)] - pop.cfg.initial_trust)  # centred: initial trust = 0
            + iv
            - ((pop.price_sens[ids] - 1.0) * ch.beta_price * model.listings.log_price_index[sub])[:, None]
        )
        reach = np.where(kinds[None, :] == Channel.WEBSHOP, pop.webshop[ids][:, None], pop.tech[ids][:, None])
        ok = reach & pop.aware[np.ix_(ids, act)] & model.police.access_mask(ids, act)
        # loyalty: the market where the favourite vendor sells this substance
        fav = pop.fav_vendor[ids]
        for row, mcol in model.listings.favourite_columns(fav, sub, act, model.m_cap):
            um[row, mcol] += ch.beta_loyalty * pop.fav_trust[ids[row]]
        lv = model.levers
        if lv.payment_friction or lv.payment_friction_skilled:
            # exchange KYC: paying online costs everyone, and low-skill buyers most
            um -= np.where(pop.tech[ids], lv.payment_friction_skilled, lv.payment_friction)[:, None]
        u[:, 1:] = np.where(ok, um, NEG_INF)
    u[~go] = NEG_INF
    nest_of = np.concatenate([[0], kinds]).astype(np.int64)
    channel, alt = nested_choice(u, nest_of, 4, ch.nest_lambda, rng)
    bought = alt >= 0
    market = np.where(alt > 0, act[np.maximum(alt - 1, 0)] if len(act) else -1, -1)
    vendor = np.full(n, -1, dtype=np.int64)
    online = np.flatnonzero(alt > 0)
    if len(online):
        buyers = ids[online]
        loyalty = ch.beta_loyalty * pop.fav_trust[buyers]
        vendor[online] = model.listings.choose(rng, market[online], sub[online], pop.fav_vendor[buyers], loyalty)
    return {
        "buyer": ids[bought],
        "substance": sub[bought],
        "channel": channel[bought],
        "market": market[bought],
        "vendor": vendor[bought],
    }


def make_purchases(model: CryptoMarketModel) -> None:
    """The purchase phase: buyers due today decide; street deals complete, online orders are placed."""
    ids = model.buyers.pop_due(model.day)
    if len(ids) == 0:
        return
    model.buyers.schedule_next(model.streams["purchase"], ids, model.day)
    p = choose_purchases(model, ids)
    t = model.today
    t.unmet += len(ids) - len(p["buyer"])
    off = p["channel"] == Channel.OFFLINE
    # street purchases complete at once
    rng = model.streams["purchase"]
    sb, ss = p["buyer"][off], p["substance"][off]
    price, purity = model.street.deal(rng, ss)
    value = price * model.units[ss]
    t.sales[0] += len(sb)
    t.value[0] += float(value.sum())
    street = np.zeros(len(sb), dtype=np.int64)
    t.purchases.append(Purchases(sb, ss, street, np.full(len(sb), -1), price, purity, value))
    t.harm += float((model.subs.harm_weight[ss] * purity / model.subs.purity_off_mean[ss]).sum())
    caught = sb[rng.random(len(sb)) < model.cfg.model.enforcement.street_buyer_arrest_prob]
    if len(caught):
        model.police.arrest_buyers(caught)
    # online orders
    on = ~off
    b, m, v, s = p["buyer"][on], p["market"][on], p["vendor"][on], p["substance"][on]
    ids_o = place_orders(model, b, m, v, s)
    if len(ids_o) == 0:
        return
    price = model.orders.price[ids_o]
    chan = model.market_table.kind[m]
    np.add.at(t.sales, chan, 1)
    np.add.at(t.value, chan, price)
    np.add.at(t.m_sales, m, 1)
    np.add.at(t.m_value, m, price)
    np.add.at(model.market_table.ring[:, 0], m, 1.0)
    np.add.at(model.vend.ring[:, 0], v, 1.0)
    pairs = np.unique(b.astype(np.int64) * model.m_cap + m)
    pm = pairs % model.m_cap
    np.add.at(t.m_buyers, pm, 1)
    pb = pairs // model.m_cap
    new = ~model.buyers.bought[pb, pm]
    np.add.at(t.m_new_buyers, pm[new], 1)
    model.buyers.bought[pb, pm] = True
    t.purchases.append(Purchases(b, s, chan, m, model.vend.price[v, s], model.orders.purity[ids_o], price))
    model.buyers.last_online_day[b] = model.day
    model.buyers.last_hidden_day[b[chan != Channel.WEBSHOP]] = model.day
    mig = model.buyers.migrant_from[b] >= 0
    for bb, mm in zip(b[mig].tolist(), m[mig].tolist()):
        if model.buyers.migrant_from[bb] >= 0:
            model.migrations.append((int(model.buyers.migrant_from[bb]), mm, model.day))
            model.buyers.migrant_from[bb] = -1
