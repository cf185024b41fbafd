"""Vendors: sellers on cryptomarkets, decentralised markets, and the sellers behind web shops.

A :class:`Vendor` is a Mesa agent; the columns that vectorised code reads every day (prices,
purity, stealth, scam propensity, reputation per market) live in model arrays indexed by
``Vendor.idx``. Weekly, each vendor re-decides (``weekly``): drop closed markets and migrate
(taking part of its reputation along, as a PGP-signed identity), add a market where it pays,
reset prices (unit cost times a markup set by competition on its markets, a reputation premium
and a load surcharge: sim/market/pricing.py), start an exit scam, or quit. New vendors enter in :func:`add_vendors`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.arrays import isin_few
from sim.columns import Col, Table
from sim.domain import Channel, Origin
from sim.market.pricing import adjust_markup, target_markup, unit_cost
from sim.market.reputation import reputation_score

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel


#: days of history in a vendor's order ring (30-day sales)
RING_DAYS = 30


class VendorTable(Table):
    """The state of every vendor, one row each (a :class:`Vendor` agent acts on its row).

    Per-substance columns have one entry per substance; the feedback columns one per market column.
    """

    SPEC = {
        "active": Col(bool, False),
        "origin": Col(np.int8, int(Origin.DOMESTIC)),  # sim.domain.Origin: the route of its parcels
        "stealth": Col(np.float64, 0.0),
        "opsec": Col(np.float64, 0.0),
        "scam_prob": Col(np.float64, 0.0),
        "capacity": Col(np.float64, 1.0),  # orders per day
        "webshop": Col(bool, False),
        "joined_day": Col(np.int64, 0),
        "left_day": Col(np.int64, -(10**9)),
        "exit_until": Col(np.int64, -(10**9)),
        "arrested": Col(bool, False),
        "price": Col(np.float64, 0.0, "substances"),  # EUR per unit
        "purity": Col(np.float64, 0.0, "substances"),
        "noise": Col(np.float64, 0.0, "substances"),  # vendor-specific cost multiplier
        "markup": Col(np.float64, 0.0, "substances"),  # price / cost (0: not priced yet)
        "ring": Col(np.float64, 0.0, RING_DAYS),  # orders per day over the last 30 days, today first
        "fb_count": Col(np.float64, 0.0, "markets"),  # feedbacks received per market
        "fb_sum": Col(np.float64, 0.0, "markets"),  # good feedbacks per market
        "week_sales": Col(np.float64, 0.0),  # orders paid since the last weekly record
        "week_value": Col(np.float64, 0.0),  # their value, EUR
        "week_wholesale_sales": Col(np.float64, 0.0),  # dealers' wholesale lots since the last record
        "week_wholesale_value": Col(np.float64, 0.0),  # their value, EUR
    }
    active: np.ndarray
    origin: np.ndarray
    stealth: np.ndarray
    opsec: np.ndarray
    scam_prob: np.ndarray
    capacity: np.ndarray
    webshop: np.ndarray
    joined_day: np.ndarray
    left_day: np.ndarray
    exit_until: np.ndarray
    arrested: np.ndarray
    price: np.ndarray
    purity: np.ndarray
    noise: np.ndarray
    markup: np.ndarray
    ring: np.ndarray
    fb_count: np.ndarray
    fb_sum: np.ndarray
    week_sales: np.ndarray
    week_value: np.ndarray
    week_wholesale_sales: np.ndarray
    week_wholesale_value: np.ndarray

    def adapt_to_interdiction(self, rng: np.random.Generator, shift_prob: float, stealth_gain: float, routes: np.ndarray) -> None:
        """Weekly under parcel interdiction: vendors on the inspected routes move home or improve stealth.

        ``routes``: the inspected origins (sim.domain.Origin); vendors on other routes are left alone.
        """
        n = self.n
        hit = np.flatnonzero(self.active[:n] & isin_few(self.origin[:n], routes) & ~self.webshop[:n])
        shift = hit[rng.random(len(hit)) < shift_prob]
        self.origin[shift] = Origin.DOMESTIC
        self.stealth[hit] += stealth_gain * (1.0 - self.stealth[hit])

    def age_ring(self) -> None:
        """A new day: the 30-day order ring moves by one day."""
        self.ring[:, 1:] = self.ring[:, :-1]
        self.ring[:, 0] = 0.0


class Vendor(mesa.Agent):
    """One vendor.

    Attributes:
        idx: row of this vendor in the model's vendor arrays.
        substances: substance ids it sells.
        markets: market indices it lists on (multi-homing).
        webshop: True for the seller behind a web shop (one shop, never migrates).
        exit_until: last day of a running exit scam (orders taken, nothing shipped), or None.
        idle_weeks: consecutive weeks without an order.
    """

    def __init__(self, model: CryptoMarketModel, idx: int, substances: list[int], markets: set[int], webshop: bool):
        super().__init__(model)
        self.idx = idx
        self.substances = list(substances)
        self.markets = set(markets)
        self.webshop = webshop
        self.idle_weeks = 0

    # ------------------------------------------------------------------ views
    @property
    def exit_until(self) -> int | None:
        """Last day of a running exit scam, or None."""
        d = int(self.model.vend.exit_until[self.idx])
        return None if d < -(10**8) else d

    @exit_until.setter
    def exit_until(self, day: int) -> None:
        self.model.vend.exit_until[self.idx] = day

    @property
    def active(self) -> bool:
        """Trading (not quit or arrested)."""
        return bool(self.model.vend.active[self.idx])

    def reputation(self, market: int) -> tuple[int, float]:
        """(feedback count, Bayesian score) on ``market``."""
        c = float(self.model.vend.fb_count[self.idx, market])
        s = float(self.model.vend.fb_sum[self.idx, market])
        vc = self.model.cfg.model.vendors
        return int(c), float(reputation_score(s, c, vc.rating_prior_good, vc.rating_prior_count))

    def overall_score(self) -> float:
        """Score over all markets (what a PGP-signed history shows)."""
        vc = self.model.cfg.model.vendors
        fb_sum, fb_count = self.model.vend.fb_sum[self.idx].sum(), self.model.vend.fb_count[self.idx].sum()
        return float(reputation_score(fb_sum, fb_count, vc.rating_prior_good, vc.rating_prior_count))

    # ------------------------------------------------------------------ weekly decision
    def weekly(self) -> None:
        """Re-decide listings, prices, scams and whether to stay."""
        model = self.model
        if not self.active:
            return
        cfg = model.cfg.model.vendors
        rng = model.streams["vendors"]
        day = model.day
        if self.exit_until is not None and day >= self.exit_until:
            self.quit("exit scam finished")
            return
        before = set(self.markets)
        self.markets = {m for m in self.markets if model.markets[m].active}
        u = rng.random(4)
        if self.webshop:
            if not self.markets:
                self.quit("web shop closed")
                return
        elif not self.markets:
            self.migrate(rng)
            if not self.markets:
                self.quit("no market left")
                return
        elif u[0] < cfg.add_market_weekly_prob:
            self.consider_another_market()
        if self.markets != before:
            model.listings.mark_dirty()
        orders_week = model.vend.ring[self.idx, :7].sum() if model.vend.ring.shape[1] >= 7 else 0
        load = orders_week / 7.0 / model.vend.capacity[self.idx]
        # re-priced with the week's other vendors after all have decided (:func:`price_vendors`):
        # nothing decided this week reads another vendor's new price
        model.vendors_to_price.append((self.idx, self.substances, self.commission(), load))
        self.invest(load)
        self.idle_weeks = 0 if orders_week > 0 else self.idle_weeks + 1
        quit_p = cfg.quit_weekly_prob + (cfg.quit_idle_weekly_prob if self.idle_weeks >= 4 else 0.0)
        # a web shop's seller stays while the shop is open: the shop's life is the market's (voluntary
        # and idle closure, both per market). Its orders grow with the modelled population (one seller
        # whatever the size), so quitting after idle weeks would close small shops in small
        # populations only, and a random quit would close a shop twice over
        if not self.webshop and u[1] < quit_p:
            self.quit("quit")
            return
        if (
            self.exit_until is None
            and not self.webshop
            and model.vend.scam_prob[self.idx] >= cfg.scam_prob_scammer
            and self.finalise_early_anywhere()
            and u[2] < cfg.exit_scam_weekly_prob
        ):
            self.exit_until = day + cfg.exit_scam_days

    def invest(self, load: float) -> None:
        """Cumulative advantage: a vendor whose orders exceed its capacity grows it.

        Stock, staff and packing grow: capacity x (1 + ``capacity_growth_weekly`` x min(load - 1, 1)).
        """
        if load > 1.0:
            g = self.model.cfg.model.vendors.capacity_growth_weekly * min(load - 1.0, 1.0)
            self.model.vend.capacity[self.idx] *= 1.0 + g

    def finalise_early_anywhere(self) -> bool:
        """Whether the vendor qualifies for finalise-early on any of its markets."""
        esc = self.model.cfg.model.escrow
        for m in self.markets:
            c, s = self.reputation(m)
            if c >= esc.finalise_early_min_feedback and s >= esc.finalise_early_min_score:
                return True
        return False

    def migrate(self, rng: np.random.Generator) -> None:
        """Its markets are gone: re-list on 1 + Poisson(extra) active markets, weighted by ``market_opportunity``."""
        cfg = self.model.cfg.model.vendors
        self.join_markets(rng, 1 + int(rng.poisson(cfg.extra_markets_mean)))

    def consider_another_market(self) -> None:
        """Multi-home only where it pays.

        With spare capacity, the vendor looks at the market where one more vendor can expect the
        most orders (:func:`market_opportunity`) and joins it if the margin expected there over
        ``bond_payback_weeks`` covers the vendor bond.
        """
        model = self.model
        cfg = model.cfg.model.vendors
        v = self.idx
        if model.vend.ring[v, :7].sum() / 7.0 >= model.vend.capacity[v]:
            return  # no spare capacity to sell elsewhere
        cand = np.array(
            [m.idx for m in model.markets if m.active and m.kind != Channel.WEBSHOP and m.idx not in self.markets], dtype=np.int64
        )
        if len(cand) == 0:
            return
        weekly_orders = market_opportunity(model, cand)
        best = int(np.argmax(weekly_orders))
        subs = np.array(self.substances, dtype=np.int64)
        price = model.vend.price[v, subs] * model.units[subs]
        markup = np.maximum(model.vend.markup[v, subs], 1.0)
        margin_per_order = float((price * (1.0 - 1.0 / markup)).mean())
        if weekly_orders[best] * margin_per_order * cfg.bond_payback_weeks > cfg.vendor_bond_eur:
            self.join_markets(None, 1, only=[int(cand[best])])

    def join_markets(self, rng: np.random.Generator | None, k: int, only: list[int] | None = None) -> None:
        """List on up to ``k`` more markets, chosen by the orders a vendor can expect there (or the markets ``only``).

        Carry part of the reputation (a PGP-signed identity), and tell its customers where it went
        (:func:`announce_moves`).
        """
        model = self.model
        if only is not None:
            chosen = np.array(only, dtype=np.int64)
        else:
            cand = np.array(
                [m.idx for m in model.markets if m.active and m.kind != Channel.WEBSHOP and m.idx not in self.markets],
                dtype=np.int64,
            )
            if len(cand) == 0 or rng is None:
                return
            w = market_opportunity(model, cand)
            k = min(k, len(cand))
            chosen = rng.choice(cand, size=k, replace=False, p=w / w.sum())
        carried_c = model.vend.fb_count[self.idx].sum() * model.cfg.model.vendors.reputation_portability
        score = self.overall_score()
        for m in np.atleast_1d(chosen).tolist():
            self.markets.add(int(m))
            model.vendor_moves.append((self.idx, int(m)))
            if model.vend.fb_count[self.idx, m] < carried_c:
                model.vend.fb_count[self.idx, m] = carried_c
                model.vend.fb_sum[self.idx, m] = carried_c * score
        model.listings.mark_dirty()

    def commission(self) -> float:
        """Mean commission of the vendor's markets (0 without a market)."""
        markets = sorted(self.markets)
        return float(self.model.market_table.commission[markets].mean()) if markets else 0.0

    def set_prices(self, only: list[int] | None = None) -> None:
        """Re-price now (all substances, or just ``only``: a newly listed one): :func:`price_vendors` for one vendor."""
        model = self.model
        subs = self.substances if only is None else only
        load = model.vend.ring[self.idx, :7].sum() / 7.0 / model.vend.capacity[self.idx]
        price_vendors(model, [(self.idx, subs, self.commission(), load)])

    def arrest(self, reason: str) -> None:
        """Arrested: it stops trading for good (its posted orders run their course)."""
        self.model.vend.arrested[self.idx] = True
        self.quit(f"arrested: {reason}")

    def quit(self, reason: str) -> None:
        """Leave the market for good (its open orders still run their course)."""
        self.model.vend.active[self.idx] = False
        self.model.vend.left_day[self.idx] = self.model.day
        self.markets = set()
        self.model.listings.mark_dirty()


def price_vendors(model: CryptoMarketModel, vendors: list[tuple[int, list[int], float, float]]) -> None:
    """Price = unit cost x markup (sim/market/pricing.py), the markup moved part of the way to its target.

    ``vendors``: (vendor row, substances to re-price, mean commission of its markets, load =
    orders per day over the last week / capacity) each, the last two as the vendor saw them when
    it decided. All are priced in one vectorised pass (the weekly re-pricing of every vendor).

    The unit cost is acquisition (street price level x ``acquisition_cost_share``, moved by
    bans and price shocks) plus shipping per unit, with the risk premium, grossed up for the
    commission of the vendor's markets and cash-out losses; it passes through at once. The
    target markup follows from competition among the listings of the same substance on the
    vendor's markets, its reputation and its load.
    """
    if not vendors:
        return
    cfg = model.cfg.model.vendors
    t, lv = model.subs, model.levers
    rows = np.array([v for v, _, _, _ in vendors], dtype=np.int64)
    counts = np.array([len(subs) for _, subs, _, _ in vendors], dtype=np.int64)
    vv = np.repeat(rows, counts)  # one entry per (vendor, substance) pair
    ss = np.array([x for _, subs, _, _ in vendors for x in subs], dtype=np.int64)
    at = np.repeat(np.arange(len(vendors)), counts)
    commission = np.array([c for _, _, c, _ in vendors])[at]
    load = np.array([x for _, _, _, x in vendors], dtype=np.float64)
    prior = cfg.rating_prior_good / cfg.rating_prior_count  # a new vendor's score: no premium
    score = reputation_score(
        model.vend.fb_sum[rows].sum(axis=1), model.vend.fb_count[rows].sum(axis=1), cfg.rating_prior_good, cfg.rating_prior_count
    )
    rep = np.maximum(0.0, (score - prior) / (1 - prior))
    risk = np.where(t.controlled[ss], cfg.risk_premium, cfg.risk_premium * cfg.uncontrolled_risk_factor)
    acquisition = t.street_price[ss] * t.online_cost_factor[ss] * cfg.acquisition_cost_share
    # cash-out costs under payment controls: the vendor keeps 1 - share of the price
    cost = unit_cost(acquisition, cfg.shipping_cost_eur_per_order / model.units[ss], risk, commission, lv.cashout_cost_share)
    # bans' risk premium and price shocks raise all of a vendor's costs (so a price change of
    # x moves the posted price by x at the next re-pricing)
    cost = cost * lv.ban_price_factor[ss] * lv.price_factor[ss]
    # the share among competitors at the reference population: vendors scale with the buyers,
    # so a listing's raw share falls as the population grows; scaled back, as the choice scales
    # markets' inclusive values (sim/market/listings.py), prices do not depend on the population size
    # (web shops do not scale: one seller each whatever the population size)
    scale = np.where(model.vend.webshop[vv], 1.0, model.listings.competitor_scale)
    share = np.minimum(1.0, model.listings.within_shares(vv, ss) * scale)
    target = target_markup(share, rep[at], load[at], model.price_rule)
    markup = adjust_markup(model.vend.markup[vv, ss], target, model.price_rule)
    model.vend.markup[vv, ss] = markup
    model.vend.price[vv, ss] = cost * markup * model.vend.noise[vv, ss]


def add_vendors(
    model: CryptoMarketModel,
    n: int,
    rng: np.random.Generator,
    market_weights: np.ndarray | None = None,
    webshop_market: int | None = None,
) -> list[Vendor]:
    """Create ``n`` vendors with drawn attributes and list them.

    Args:
        model: the model.
        n: how many.
        rng: generator (the ``vendors_init`` stream at set-up, ``vendors`` later).
        market_weights: weights over market indices for choosing where to list; default ``market_opportunity``.
        webshop_market: create the single seller of this web shop instead (n must be 1).
    """
    if n <= 0:
        return []
    idx = _draw_vendor_rows(model, n, rng, webshop_market)
    cfg, t = model.cfg.model.vendors, model.subs
    agents = []
    # analogues reach a shop only through a ban (sim/interventions/substance_ban.py)
    sellable = np.flatnonzero(t.webshop_sellable & (t.analogue_of < 0))
    for v in idx.tolist():
        if webshop_market is not None:
            agent = Vendor(model, v, sellable.tolist(), {webshop_market}, webshop=True)
        else:
            k = 1 + min(cfg.max_substances - 1, int(rng.poisson(cfg.extra_substances_mean)))
            subs = sorted(set(rng.choice(len(t), size=k, p=t.demand_p).tolist()))
            agent = Vendor(model, v, subs, set(), webshop=False)
            _choose_first_markets(agent, rng, market_weights)
        agent.set_prices()
        agents.append(agent)
    model.vendor_agents.extend(agents)
    model.listings.mark_dirty()
    return agents


def _draw_vendor_rows(model: CryptoMarketModel, n: int, rng: np.random.Generator, webshop_market: int | None) -> np.ndarray:
    """Append ``n`` rows to the vendor table with drawn attributes; return their indices."""
    cfg = model.cfg.model.vendors
    t = model.subs
    S = len(t)
    if webshop_market is not None:
        mk = model.markets[webshop_market]
        # assumption: a shop registered abroad ships from another EU member state (shops selling
        # legal-grey NPS to EU buyers are mostly EU-based), its parcels meet postal inspection only
        origin = np.array([Origin.DOMESTIC if mk.domestic else Origin.EU], dtype=np.int8)
        scam = np.full(1, cfg.scam_prob_honest)
        stealth = np.full(1, cfg.webshop_stealth)
    else:
        # one uniform per vendor, by inverse CDF over (domestic, EU, non-EU): the same numbers
        # whatever the shares
        u = rng.random(n)
        domestic_share = 1.0 - cfg.origin_eu_share - cfg.origin_non_eu_share
        origin = np.where(
            u < domestic_share, Origin.DOMESTIC, np.where(u < domestic_share + cfg.origin_eu_share, Origin.EU, Origin.NON_EU)
        ).astype(np.int8)
        scam = np.where(rng.random(n) < cfg.scammer_share, cfg.scam_prob_scammer, cfg.scam_prob_honest)
        stealth = rng.beta(cfg.stealth_a, cfg.stealth_b, n)
    opsec = rng.beta(cfg.opsec_a, cfg.opsec_b, n)
    capacity = rng.lognormal(np.log(cfg.capacity_median), cfg.capacity_logsd, n)
    if webshop_market is not None:
        # a shop ships for many buyers, and for the whole country: its capacity scales with the
        # modelled population (relative to the choice's reference population), as the number of
        # hidden-market vendors does, so that the shops' trade per buyer does not depend on the size
        scale = model.buyers.online_per_1000 * 1000.0 / model.cfg.model.choice.listing_reference_online_buyers
        capacity = capacity * cfg.webshop_capacity_factor * scale
    idx = model.vend.append(
        n,
        active=True,
        origin=origin,
        stealth=stealth,
        opsec=opsec,
        scam_prob=scam,
        capacity=capacity,
        webshop=webshop_market is not None,
        joined_day=model.day,
    )
    model.vend.noise[idx] = rng.lognormal(0.0, cfg.price_logsd, (n, S))
    purity = np.empty((n, S))
    for s in range(S):
        purity[:, s] = t.draw_purity(rng, np.full(n, s), online=True)
    model.vend.purity[idx] = purity
    return idx


def _choose_first_markets(agent: Vendor, rng: np.random.Generator, market_weights: np.ndarray | None) -> None:
    """A new vendor lists on 1 + Poisson markets: by ``market_weights`` at set-up, else by ``market_opportunity``."""
    cfg = agent.model.cfg.model.vendors
    if market_weights is None:
        agent.join_markets(rng, 1 + int(rng.poisson(cfg.extra_markets_mean)))
        return
    cand = np.flatnonzero(market_weights > 0)
    if len(cand):
        kk = min(len(cand), 1 + int(rng.poisson(cfg.extra_markets_mean)))
        w = market_weights[cand]
        agent.markets = set(rng.choice(cand, size=kk, replace=False, p=w / w.sum()).tolist())


def market_opportunity(model: CryptoMarketModel, markets: np.ndarray) -> np.ndarray:
    """Orders per week one more vendor can expect on each of ``markets`` (hidden markets).

    What a vendor sees of a market: its audience (buyers who know it) times the hidden-market
    orders per week per buyer who knows a hidden market, shared among its vendors plus one; at
    least the ``new_market_pull_orders_per_1000_online_buyers`` floor. A new market with users and
    few vendors is attractive, a crowded one less so, whatever their past sales.
    """
    vendors_on = model.listings.vendors_per_market(model.m_cap)
    hidden = np.array([m.idx for m in model.markets if m.active and m.kind != Channel.WEBSHOP], dtype=np.int64)
    aware = model.buyers.aware_count
    per_aware = model.market_table.sales30[hidden].sum() * 7.0 / 30.0 / max(float(aware[hidden].sum()), 1.0)
    floor = model.cfg.model.vendors.new_market_pull_orders_per_1000_online_buyers * model.buyers.online_per_1000 * 7.0 / 30.0
    return np.maximum(aware[markets] * per_aware / (vendors_on[markets] + 1.0), floor)


def announce_moves(model: CryptoMarketModel) -> None:
    """Weekly: vendors who listed on a new market tell their customers.

    By a PGP-signed post on their old profile, the forum or a message: buyers whose favourite vendor moved learn of the market
    (Tor-skilled ones, for hidden markets), trusting it as far as they trust the vendor (at least
    as far as any newly heard-of market).
    One pass over the buyers in weeks with moves.
    """
    moves, model.vendor_moves = model.vendor_moves, []
    if not moves:
        return
    pop = model.buyers
    moved = np.array(sorted({v for v, _ in moves}), dtype=np.int64)
    customers = np.flatnonzero(isin_few(pop.fav_vendor, moved) & pop.tech)
    if len(customers) == 0:
        return
    fav = pop.fav_vendor[customers]
    for v, m in moves:
        who = customers[fav == v]
        if len(who) and model.markets[m].active:
            # they trust the market their vendor vouches for as far as they trust the vendor
            pop.make_aware(who, m, np.maximum(pop.cfg.new_market_trust, pop.fav_trust[who]))


def vendor_entry(model: CryptoMarketModel) -> None:
    """Weekly entry: new vendors in proportion to Tor-skilled buyers and to unserved orders."""
    vc = model.cfg.model.vendors
    rng = model.streams["vendors"]
    n = model.vend.n
    act = model.vend.active[:n] & ~model.vend.webshop[:n]
    unserved = np.maximum(0.0, model.vend.ring[:n, :7].sum(axis=1) - 7 * model.vend.capacity[:n])[act].sum()
    n_tech = float(model.buyers.tech_users())
    lam = vc.entry_base_weekly_per_1000 * n_tech / 1000.0 + vc.entry_per_100_unserved * unserved / 100.0
    add_vendors(model, int(rng.poisson(lam)), rng)
