"""The model: buyers, vendors, marketplaces and law enforcement on one daily clock."""

from __future__ import annotations

import math
import zlib
from collections import deque
from dataclasses import dataclass, field

import mesa
import numpy as np

from sim.agents.buyer import Buyer, BuyerPopulation, choose_purchases
from sim.agents.law_enforcement import LawEnforcement
from sim.agents.marketplace import Marketplace, MarketTable
from sim.agents.vendor import Vendor, VendorTable, add_vendors
from sim.collect import Recorder
from sim.columns import doubled, resized
from sim.config import Config
from sim.domain import Channel, MarketStatus
from sim.environment.forum import Forum
from sim.environment.offline import StreetMarket
from sim.levers import Levers
from sim.market.escrow import Ledger, OrderEvent
from sim.market.listings import ListingIndex
from sim.market.orders import OrderBook
from sim.market.records import Purchases
from sim.market.reputation import reputation_score
from sim.market.trade import place_orders, process_outcomes, process_settlements, seize_escrow
from sim.substances import SubstanceTable

#: named random streams; each process draws only from its own (common random numbers)
STREAMS = (
    "buyers_init",
    "vendors_init",
    "markets",
    "purchase",
    "orders",
    "outcomes",
    "forum",
    "vendors",
    "enforcement",
    "interventions",
)
#: the phases of a day, in order: :meth:`CryptoMarketModel.step` runs ``phase_<name>`` for each
#: (docs/ODD.md, process overview; a test pins the order)
PHASES = (
    "open_day",
    "market_life",
    "listings",
    "purchases",
    "order_outcomes",
    "escrow",
    "forum",
    "vendors",
    "enforcement",
    "observe",
    "collect",
    "close_day",
)
#: market columns allocated at the start (arrays double when more markets open)
MARKET_COLUMNS = 32
#: days of history kept in the per-vendor and per-market order rings
RING_DAYS = 30


def stream_seed(seed: int, name: str) -> np.random.SeedSequence:
    """Seed of a named stream: independent of the other streams and of their order."""
    return np.random.SeedSequence([int(seed), zlib.crc32(name.encode())])


@dataclass
class DayCounters:
    """What happened today; reset at the start of each day and read by the collector."""

    n_markets: int
    n_subs: int
    sales: np.ndarray = field(init=False)
    value: np.ndarray = field(init=False)
    m_sales: np.ndarray = field(init=False)
    m_value: np.ndarray = field(init=False)
    m_buyers: np.ndarray = field(init=False)
    m_new_buyers: np.ndarray = field(init=False)
    #: the day's purchases, in batches (street deals, online orders)
    purchases: list[Purchases] = field(default_factory=list)
    harm: float = 0.0
    delivered_ok: int = 0
    outcomes: int = 0
    parcels_seized: int = 0
    arrests_vendors: int = 0
    arrests_buyers: int = 0
    refunds: int = 0
    escrow_lost: float = 0.0
    unmet: int = 0

    def grow_markets(self, cap: int) -> None:
        """Make room for ``cap`` market columns."""
        for name in ("m_sales", "m_value", "m_buyers", "m_new_buyers"):
            setattr(self, name, resized(getattr(self, name), cap))
        self.n_markets = cap

    def __post_init__(self) -> None:
        self.sales = np.zeros(4, dtype=np.int64)
        self.value = np.zeros(4)
        self.m_sales = np.zeros(self.n_markets, dtype=np.int64)
        self.m_value = np.zeros(self.n_markets)
        self.m_buyers = np.zeros(self.n_markets, dtype=np.int64)
        self.m_new_buyers = np.zeros(self.n_markets, dtype=np.int64)


class CryptoMarketModel(mesa.Model):
    """Agent-based model of online drug markets (see docs/ODD.md).

    Args:
        cfg: a validated :class:`sim.config.Config` (as an object, not a DictConfig).

    Time: day ``d`` is processed by the Mesa step at time ``d + burn_in + 1``; days before 0 are
    burn-in and are not recorded. Interventions fire at the dawn of their day (time ``d + burn_in
    + 0.5``), before that day's trade.
    """

    def __init__(self, cfg: Config) -> None:
        super().__init__(rng=int(cfg.seed))
        self.cfg = cfg
        self.burn_in = int(cfg.run.burn_in_days)
        self.streams = {name: np.random.default_rng(stream_seed(cfg.seed, name)) for name in STREAMS}
        self.subs = SubstanceTable.from_config(cfg.substances)
        self.street = StreetMarket(self.subs, cfg.model.street.price_logsd)
        self.units = np.array([cfg.model.buyers.units_per_purchase[c] for c in self.subs.drug_class])
        #: what interventions move (each saves and restores what it changes)
        self.levers = Levers(
            customs_prob=cfg.model.escrow.customs_seizure_prob,
            controlled_delivery_prob=cfg.model.enforcement.controlled_delivery_prob,
            trace_prob=cfg.model.enforcement.seized_parcel_vendor_arrest_prob,
            demand_factor=np.ones(len(self.subs)),
            ban_price_factor=np.ones(len(self.subs)),
            risk_shock=np.zeros(MARKET_COLUMNS),
        )
        self.purchase_ring: deque[Purchases] = deque(maxlen=RING_DAYS)  # the purchases of the last 30 days
        self.ledger = Ledger()
        self.orders = OrderBook()
        self.events: list[dict] = []
        self.migrations: list[tuple[int, int, int]] = []  # (closed market, next market, day)
        S = len(self.subs)
        # markets: agents plus per-market arrays read by vectorised code
        self.markets: list[Marketplace] = []
        self.m_cap = MARKET_COLUMNS
        self.market_table = MarketTable(capacity=self.m_cap)
        #: who sells what where, with today's utilities (rebuilt when vendors or markets change)
        self.listings = ListingIndex(S, self.m_cap)
        # buyers
        mc = cfg.model
        self.buyers = BuyerPopulation(mc.buyers, mc.n_buyers, S, self.subs.demand_p, self.streams["buyers_init"], self.m_cap)
        self.forum = Forum(mc.forum, self.m_cap)
        # vendors
        self.vendor_agents: list[Vendor] = []
        self.vend = VendorTable(capacity=256, widths={"substances": S, "markets": self.m_cap})
        self.police = LawEnforcement(self)
        #: the day's data collection, built with the model as Mesa models build a DataCollector
        self.recorder = Recorder()
        self.today = DayCounters(self.m_cap, S)
        self._setup_markets()
        self.buyers.schedule_first(self.streams["buyers_init"], self.day)
        self._build_listings()
        from sim.interventions import build_interventions

        for action in build_interventions(self, cfg.scenario.interventions):
            self.police.schedule(action)

    def buyer(self, idx: int) -> Buyer:
        """A read-only view of buyer ``idx`` and its state (buyers are a vectorised population)."""
        return Buyer(self, idx)

    # ------------------------------------------------------------------ time
    @property
    def day(self) -> int:
        """Model day: the step of day d runs at Mesa time d + burn_in + 1, its dawn at d + burn_in + 0.5."""
        return math.ceil(self.time - self.burn_in - 1)

    def mesa_time_of_dawn(self, day: int) -> float:
        """Mesa time at which day ``day`` begins (before that day's step)."""
        return day + self.burn_in + 0.5

    # ------------------------------------------------------------------ set-up
    def _setup_markets(self) -> None:
        mc = self.cfg.model
        rng = self.streams["vendors_init"]
        k = mc.markets.initial_cryptomarkets
        zipf = 1.0 / np.arange(1, k + 1) ** mc.markets.zipf_exponent
        for i in range(k):
            self.open_market(
                Channel.CRYPTOMARKET, seed_share=mc.markets.initial_awareness_largest * zipf[i] / zipf[0], initial=True
            )
        for _ in range(mc.markets.initial_decentralised):
            self.open_market(Channel.DECENTRALISED, seed_share=mc.markets.initial_awareness_decentralised, initial=True)
        for _ in range(mc.markets.initial_webshops):
            self.open_market(Channel.WEBSHOP, seed_share=mc.markets.initial_awareness_webshop, initial=True)
        n_tech = int(self.buyers.tech.sum())
        n_v = max(3, int(round(mc.vendors.vendors_per_1000_online_buyers * n_tech / 1000)))
        w = np.zeros(self.m_cap)
        for m in self.markets:
            if m.kind == Channel.CRYPTOMARKET:
                w[m.idx] = zipf[len([x for x in self.markets[: m.idx] if x.kind == Channel.CRYPTOMARKET])]
            elif m.kind == Channel.DECENTRALISED:
                w[m.idx] = mc.markets.decentralised_vendor_weight  # relative to the largest cryptomarket (zipf[0] = 1)
        add_vendors(self, n_v, rng, market_weights=w)

    def open_market(
        self, kind: Channel, seed_share: float | None = None, initial: bool = False, name: str | None = None
    ) -> Marketplace:
        """Open a new marketplace; a share of the buyers who could use it learn of it."""
        self._ensure_market_capacity(len(self.markets) + 1)
        count = 1 + sum(1 for m in self.markets if m.kind == kind)
        prefix = {Channel.CRYPTOMARKET: "crypto", Channel.DECENTRALISED: "dec", Channel.WEBSHOP: "shop"}[kind]
        rng = self.streams["vendors_init" if initial else "markets"]
        domestic = kind == Channel.WEBSHOP and rng.random() < self.cfg.model.markets.webshop_domestic_share
        market = Marketplace(self, name or f"{prefix}_{count}", kind, domestic=domestic)
        idx = market.idx
        self.markets.append(market)
        mc = self.cfg.model
        share = mc.markets.new_market_seed_awareness if seed_share is None else seed_share
        pool = np.flatnonzero(self.buyers.webshop if kind == Channel.WEBSHOP else self.buyers.tech)
        aware = pool[rng.random(len(pool)) < share]
        trust = mc.buyers.initial_trust if initial else mc.buyers.new_market_trust
        self.buyers.make_aware(aware, idx, trust)
        if kind == Channel.WEBSHOP:
            add_vendors(self, 1, rng, webshop_market=idx)
        self.log_event("market_opened", market.name, f"kind={kind.name.lower()} aware={len(aware)}")
        self.listings.mark_dirty()
        return market

    def _ensure_market_capacity(self, need: int) -> None:
        """Make room for ``need`` market columns in every owner of per-market state."""
        if need <= self.m_cap:
            return
        cap = doubled(self.m_cap, need)
        self.market_table.reserve(cap)
        self.vend.grow_axis("markets", cap)
        self.levers.grow_markets(cap)
        self.listings.grow_markets(cap)
        self.buyers.grow_markets(cap)
        self.forum.grow(cap)
        self.today.grow_markets(cap)
        self.m_cap = cap

    # ------------------------------------------------------------------ listings
    def _build_listings(self) -> None:
        """Rebuild the listing index from vendors' markets and substances."""
        rows: list[tuple[int, int, int]] = []
        for ag in self.vendor_agents:
            if not self.vend.active[ag.idx]:
                continue
            for m in ag.markets:
                mk = self.markets[m]
                if not mk.active:
                    continue
                for s in ag.substances:
                    if mk.kind == Channel.WEBSHOP and not self.subs.webshop_sellable[s]:
                        continue
                    if (m, s) in self.levers.delisted:
                        continue
                    rows.append((m, ag.idx, s))
        self.listings.rebuild(rows)

    def _listing_utility(self) -> None:
        """Today's utility of every listing: reputation, feedback, price, quality, load."""
        ch, vc = self.cfg.model.choice, self.cfg.model.vendors
        li = self.listings
        v, m, s = li.vendor, li.market, li.substance
        cnt = self.vend.fb_count[v, m]
        score = reputation_score(self.vend.fb_sum[v, m], cnt, vc.rating_prior_good, vc.rating_prior_count)
        logp = np.log(self.vend.price[v, s] / self.street.price[s])
        load = self.vend.ring[v, :7].sum(axis=1) / 7.0 / self.vend.capacity[v]
        utility = (
            # centred on a reference listing (score 0.8, 20 feedbacks by default), so that the channel
            # constants compare a typical market with the street dealer
            ch.beta_reputation * (score - ch.reference_score)
            + ch.beta_feedback * (np.log1p(cnt) - np.log1p(ch.reference_feedback))
            - ch.beta_price * logp
            + ch.beta_quality * (self.vend.purity[v, s] / self.subs.purity_off_mean[s] - 1.0)
            - np.maximum(0.0, load - 1.0)
        )
        li.set_utility(utility, logp)

    def available_markets(self) -> np.ndarray:
        """Indices of markets that are active and up today."""
        return np.array([m.idx for m in self.markets if m.active and not m.down_today], dtype=np.int64)

    def access_mask(self, buyers: np.ndarray, markets: np.ndarray) -> np.ndarray:
        """Whether each buyer can reach each market (site blocking hooks in here)."""
        mask = np.ones((len(buyers), len(markets)), dtype=bool)
        for action in self.police.actions:
            allowed = action.restrict_access(buyers, markets)
            if allowed is not None:
                mask &= allowed
        return mask

    # ------------------------------------------------------------------ the day
    def step(self) -> None:
        """One day: the phases of :data:`PHASES`, in order (docs/ODD.md, process overview).

        Before them, at the dawn of the day, interventions whose day it is fire (Mesa events).
        """
        for name in PHASES:
            getattr(self, f"phase_{name}")()

    def phase_open_day(self) -> None:
        """Age the 30-day order rings and the forum by one day."""
        self._new_day()

    def phase_market_life(self) -> None:
        """New markets open; markets go down for the day, exit-scam or close."""
        self._market_life()

    def phase_listings(self) -> None:
        """Rebuild the listing index if vendors or markets changed; today's listing utilities."""
        if self.listings.dirty:
            self._build_listings()
        self._listing_utility()

    def phase_purchases(self) -> None:
        """Buyers whose purchase is due decide: street deals complete, online orders are placed."""
        self._purchases()

    def phase_order_outcomes(self) -> None:
        """Orders due today arrive, are seized or lost; buyers learn, rate and post (rules in sim/market/trade.py)."""
        process_outcomes(self)

    def phase_escrow(self) -> None:
        """Escrow events: finalise, auto-finalise, disputes and their resolution."""
        process_settlements(self)

    def phase_forum(self) -> None:
        """Forum readers update trust and learn of markets."""
        self._read_forum()

    def phase_vendors(self) -> None:
        """On the last day of each week: vendors re-decide (in random order), new vendors enter."""
        if (self.day + self.burn_in) % 7 == 6:
            self.agents_by_type[Vendor].shuffle_do("weekly")
            self._vendor_entry()

    def phase_enforcement(self) -> None:
        """Background arrests of vendors."""
        self.police.daily()

    def phase_observe(self) -> None:
        """Keep today's purchases for 30 days and show them to the interventions."""
        self._log_purchases()

    def phase_collect(self) -> None:
        """Record the day (from day 0 on) into the output tables."""
        if self.day >= 0:
            self.recorder.collect(self)

    def phase_close_day(self) -> None:
        """Open tomorrow's counters now, so that what happens at tomorrow's dawn counts on tomorrow."""
        self.today = DayCounters(self.m_cap, len(self.subs))

    def _log_purchases(self) -> None:
        """Keep today's purchases (buyer, channel, market, value) for 30 days; show them to observers."""
        log = Purchases.concat(self.today.purchases)
        self.purchase_ring.append(log)
        for action in self.police.actions:
            action.observe(log)

    def _new_day(self) -> None:
        # today's counters were opened at the end of yesterday, so that what interventions do at
        # dawn (arrests, frozen escrow) is counted on their day
        self.forum.clear_day(self.day)
        self.vend.ring[:, 1:] = self.vend.ring[:, :-1]
        self.vend.ring[:, 0] = 0.0
        self.market_table.ring[:, 1:] = self.market_table.ring[:, :-1]
        self.market_table.ring[:, 0] = 0.0

    def _market_life(self) -> None:
        mc = self.cfg.model.markets
        rng = self.streams["markets"]
        for kind, per_year in (
            (Channel.CRYPTOMARKET, mc.new_cryptomarkets_per_year),
            (Channel.DECENTRALISED, mc.new_decentralised_per_year),
            (Channel.WEBSHOP, mc.new_webshops_per_year),
        ):
            for _ in range(int(rng.poisson(per_year / 365.0))):
                self.open_market(kind)
        for m in list(self.markets):
            m.daily()

    def _purchases(self) -> None:
        ids = self.buyers.pop_due(self.day)
        if len(ids) == 0:
            return
        self.buyers.schedule_next(self.streams["purchase"], ids, self.day)
        p = choose_purchases(self, ids)
        t = self.today
        t.unmet += len(ids) - len(p["buyer"])
        off = p["channel"] == Channel.OFFLINE
        # street purchases complete at once
        rng = self.streams["purchase"]
        sb, ss = p["buyer"][off], p["substance"][off]
        price, purity = self.street.deal(rng, ss)
        value = price * self.units[ss]
        t.sales[0] += len(sb)
        t.value[0] += float(value.sum())
        street = np.zeros(len(sb), dtype=np.int64)
        t.purchases.append(Purchases(sb, ss, street, np.full(len(sb), -1), price, purity, value))
        t.harm += float((self.subs.harm_weight[ss] * purity / self.subs.purity_off_mean[ss]).sum())
        caught = sb[rng.random(len(sb)) < self.cfg.model.enforcement.street_buyer_arrest_prob]
        if len(caught):
            self.arrest_buyers(caught)
        # online orders
        on = ~off
        b, m, v, s = p["buyer"][on], p["market"][on], p["vendor"][on], p["substance"][on]
        ids_o = place_orders(self, b, m, v, s)
        if len(ids_o) == 0:
            return
        price = self.orders.price[ids_o]
        chan = self.market_table.kind[m]
        np.add.at(t.sales, chan, 1)
        np.add.at(t.value, chan, price)
        np.add.at(t.m_sales, m, 1)
        np.add.at(t.m_value, m, price)
        np.add.at(self.market_table.ring[:, 0], m, 1.0)
        np.add.at(self.vend.ring[:, 0], v, 1.0)
        pairs = np.unique(b.astype(np.int64) * self.m_cap + m)
        pm = pairs % self.m_cap
        np.add.at(t.m_buyers, pm, 1)
        pb = pairs // self.m_cap
        new = ~self.buyers.bought[pb, pm]
        np.add.at(t.m_new_buyers, pm[new], 1)
        self.buyers.bought[pb, pm] = True
        t.purchases.append(Purchases(b, s, chan, m, self.vend.price[v, s], self.orders.purity[ids_o], price))
        self.buyers.last_online_day[b] = self.day
        mig = self.buyers.migrant_from[b] >= 0
        for bb, mm in zip(b[mig].tolist(), m[mig].tolist()):
            if self.buyers.migrant_from[bb] >= 0:
                self.migrations.append((int(self.buyers.migrant_from[bb]), mm, self.day))
                self.buyers.migrant_from[bb] = -1

    def _read_forum(self) -> None:
        """Readers move trust towards the share of good reports and learn of talked-about markets."""
        fc = self.cfg.model.forum
        rng = self.streams["forum"]
        pool = self.buyers.online_capable
        k = int(rng.binomial(len(pool), fc.daily_read_share))
        if k == 0:
            return
        readers = np.unique(pool[rng.integers(0, len(pool), k)])
        good, bad, news = self.forum.readable(self.day)
        act = np.array([m.idx for m in self.markets if m.active], dtype=np.int64)
        if len(act) == 0:
            return
        g, bd = good[act], bad[act]
        n_posts = g + bd
        talked = n_posts > 0
        if talked.any():
            mk = act[talked]
            target = (g[talked] + 1.0) / (n_posts[talked] + 2.0)
            weight = fc.trust_weight * np.minimum(1.0, n_posts[talked] / fc.full_weight_posts)
            aw = self.buyers.aware[np.ix_(readers, mk)]
            rr, cc = np.nonzero(aw)
            if len(rr):
                bsel, msel = readers[rr], mk[cc]
                t = self.buyers.trust[bsel, msel].astype(np.float64)
                self.buyers.set_trust(bsel, msel, t + weight[cc] * (target[cc] - t))
        buzz = n_posts + news[act]
        total = buzz.sum()
        if total <= 0:
            return
        p_learn = fc.awareness_prob * buzz / total
        tech = self.buyers.tech[readers]
        u = rng.random((len(readers), len(act)))
        for j, m in enumerate(act.tolist()):
            if p_learn[j] <= 0:
                continue
            can = tech if self.market_table.kind[m] != Channel.WEBSHOP else np.ones(len(readers), bool)
            learners = readers[(u[:, j] < p_learn[j]) & can]
            if len(learners):
                self.buyers.make_aware(learners, m, self.cfg.model.buyers.new_market_trust)

    def _vendor_entry(self) -> None:
        vc = self.cfg.model.vendors
        rng = self.streams["vendors"]
        n = self.vend.n
        act = self.vend.active[:n] & ~self.vend.webshop[:n]
        unserved = np.maximum(0.0, self.vend.ring[:n, :7].sum(axis=1) - 7 * self.vend.capacity[:n])[act].sum()
        n_tech = float(self.buyers.tech.sum())
        lam = vc.entry_base_weekly_per_1000 * n_tech / 1000.0 + vc.entry_per_100_unserved * unserved / 100.0
        add_vendors(self, int(rng.poisson(lam)), rng)

    # ------------------------------------------------------------------ shocks
    def close_market(self, market: Marketplace, status: MarketStatus, reason: str) -> None:
        """Close ``market``: escrow taken (exit scam) or frozen (seizure); users become migrants."""
        market.status = status
        market.closed_day = self.day
        taken = 0.0
        if status == MarketStatus.EXIT_SCAMMED:
            taken = seize_escrow(self, market.idx, OrderEvent.EXIT_SCAM)
        elif status == MarketStatus.SEIZED:
            taken = seize_escrow(self, market.idx, OrderEvent.FREEZE)
        self.today.escrow_lost += taken
        users = np.flatnonzero(self.buyers.bought[:, market.idx])
        self.buyers.migrant_from[users] = market.idx
        # closure news: the forum recommends surviving markets, most of all the largest
        mc, fc = self.cfg.model.markets, self.cfg.model.forum
        sales = self.market_table.sales30 * np.array(
            [m.active and m.kind == market.kind for m in self.markets] + [False] * (self.m_cap - len(self.markets))
        )
        if sales.sum() > 0:
            share = sales / sales.sum()
            pull = share**fc.closure_news_share_exponent
            weight = pull / pull.sum() * max(fc.closure_news_min_weight, float(self.market_table.ring[market.idx].sum()))
            for d in range(0, mc.migration_news_days, 3):
                self.forum.add_news(self.day + d, weight / (mc.migration_news_days / 3))
        self.listings.mark_dirty()
        self.log_event(f"market_{status.value}", market.name, f"{reason}; escrow taken {taken:.2f} EUR")

    def arrest_vendor(self, v: int, reason: str) -> None:
        """Arrest vendor ``v``: it stops trading and takes no new orders.

        Its open orders run their course: a vendor ships on the day an order is paid (the outcome
        and arrival day are drawn then, ``sim.market.trade.place_orders``), so every open order of
        an arrested vendor is already in the post and arrives, or is seized or lost, as drawn.
        """
        if not self.vend.active[v]:
            return
        self.vend.arrested[v] = True
        self.vendor_agents[v].quit(f"arrested: {reason}")  # agents are stored in idx order
        self.today.arrests_vendors += 1

    def arrest_buyers(self, buyers: np.ndarray) -> None:
        """Arrested buyers keep buying but become maximally risk averse."""
        self.buyers.arrested[buyers] = True
        self.buyers.risk[buyers] = 1.0
        self.today.arrests_buyers += len(np.unique(buyers))

    def log_event(self, event: str, target: str, detail: str) -> None:
        """Record what happened when (events.parquet); burn-in days are kept with negative day."""
        self.events.append({"day": int(self.day), "event": event, "target": target, "detail": detail})

    def run(self, progress: bool = False) -> None:
        """Run burn-in plus ``run.days`` days, with an optional progress bar."""
        total = self.burn_in + self.cfg.run.days
        if progress:
            from tqdm import tqdm

            for _ in tqdm(range(total), desc="simulating", unit="day"):
                self.step()
        else:
            for _ in range(total):
                self.step()
