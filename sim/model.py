"""The model: buyers, vendors, marketplaces and law enforcement on one daily clock."""

from __future__ import annotations

import math
from collections import deque

import mesa
import numpy as np

from sim.agents.buyer import Buyer, BuyerPopulation, make_purchases
from sim.agents.dealer import StreetSupply, restock
from sim.agents.law_enforcement import LawEnforcement
from sim.agents.marketplace import Marketplace, MarketTable, open_market, setup_markets
from sim.agents.social import SocialSupply
from sim.agents.vendor import Vendor, VendorTable, announce_moves, price_vendors, vendor_entry
from sim.collect import Recorder
from sim.columns import doubled
from sim.config import Config
from sim.domain import Channel
from sim.environment.forum import Forum, read_forum
from sim.environment.offline import StreetMarket
from sim.interventions.cohort import COHORT_RING_DAYS, CohortProbe, PlannedProbe
from sim.levers import Levers
from sim.market.escrow import Ledger
from sim.market.listings import ListingIndex, rebuild_listings, update_listing_utility
from sim.market.orders import OrderBook
from sim.market.pricing import PriceRule
from sim.market.records import DayCounters, Purchases
from sim.market.routes import customs_by_origin
from sim.market.trade import process_outcomes, process_settlements
from sim.streams import make_streams
from sim.substances import SubstanceTable

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
    "street_supply",
    "enforcement",
    "observe",
    "collect",
    "close_day",
)
#: market columns allocated at the start (arrays double when more markets open)
MARKET_COLUMNS = 32
#: days of history kept in the per-vendor and per-market order rings
RING_DAYS = 30


class CryptoMarketModel(mesa.Model):
    """Agent-based model of online drug markets (see docs/ODD.md).

    Args:
        cfg: a validated :class:`sim.config.Config` (as an object, not a DictConfig).

    Time: day ``d`` is processed by the Mesa step at time ``d + burn_in + 1``; days before 0 are
    burn-in and are not recorded. Interventions fire at the dawn of their day (time ``d + burn_in
    + 0.5``), before that day's trade.
    """

    def __init__(self, cfg: Config, probes: list[tuple[int, int, list[int]]] | None = None) -> None:
        super().__init__(rng=int(cfg.seed))
        self.cfg = cfg
        self.burn_in = int(cfg.run.burn_in_days)
        self.streams = make_streams(cfg.seed)
        self.subs = SubstanceTable.from_config(cfg.substances)
        self.street = StreetMarket(self.subs, cfg.model.street.price_logsd)
        self.units = np.array([cfg.model.buyers.units_per_purchase[c] for c in self.subs.drug_class])
        vc = cfg.model.vendors
        #: how vendors set prices: competition on their markets (sim/market/pricing.py)
        self.price_rule = PriceRule(
            price_coefficient=cfg.model.choice.beta_price,
            # listings of a market are substitutes in the buyers' choice by this much (Berry 1994)
            nest_correlation=1.0 - cfg.model.choice.listing_lambda,
            max_markup=vc.max_markup,
            reputation_premium=vc.reputation_premium,
            load_surcharge=vc.load_surcharge,
            adjustment=vc.price_adjustment_weekly,
        )
        #: what interventions move (each saves and restores what it changes)
        self.levers = Levers(
            customs_prob=customs_by_origin(cfg.model.escrow.customs_seizure_prob, cfg.model.escrow.route_customs_factor_eu),
            controlled_delivery_prob=cfg.model.enforcement.controlled_delivery_prob,
            trace_prob=cfg.model.enforcement.seized_parcel_vendor_arrest_prob,
            demand_factor=np.ones(len(self.subs)),
            ban_price_factor=np.ones(len(self.subs)),
            price_factor=np.ones(len(self.subs)),
            risk_shock=np.zeros(MARKET_COLUMNS),
        )
        #: recent days' purchases, kept only when a cohort will be chosen from them (below)
        self.purchase_ring: deque[Purchases] = deque(maxlen=0)
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
        self.listings = ListingIndex(S, self.m_cap, cfg.model.choice.listing_lambda)
        # buyers
        mc = cfg.model
        # analogues without a share of their own are as uncertain as the market-wide rate says
        self.subs.nad_online = np.where(np.isnan(self.subs.nad_online), mc.escrow.not_as_described_prob, self.subs.nad_online)
        self.buyers = BuyerPopulation(
            mc.buyers,
            mc.demand,
            mc.n_buyers,
            S,
            self.subs.demand_p,
            self.streams["buyers_init"],
            self.m_cap,
            opsec_rng=self.streams["buyers_opsec"],
        )
        #: who buys online for friends, and what they hold for them (sim/agents/social.py)
        self.social = SocialSupply(mc.social, self.buyers.rate, self.buyers.primary, self.streams["social"])
        self.forum = Forum(mc.forum, self.m_cap)
        #: street dealers and the street's weekly supply (their online wholesale reaches the street)
        self.street_supply = StreetSupply(
            mc.street, self.subs.demand_p, self.subs.street_availability > 0, mc.n_buyers, self.streams["dealers"]
        )
        # vendors
        self.vendor_agents: list[Vendor] = []
        #: (vendor row, market) listed this week, announced to the vendors' customers at week end
        self.vendor_moves: list[tuple[int, int]] = []
        #: vendors to re-price at the end of this week's decisions (sim.agents.vendor.price_vendors)
        self.vendors_to_price: list[tuple[int, list[int], float, float]] = []
        self.vend = VendorTable(capacity=256, widths={"substances": S, "markets": self.m_cap})
        self.police = LawEnforcement(self)
        #: the day's data collection, built with the model as Mesa models build a DataCollector
        self.recorder = Recorder()
        self.today = DayCounters(self.m_cap, S)
        setup_markets(self)
        # the first day the model processes is the one after set-up (set-up runs at Mesa time 0)
        self.buyers.schedule_first(self.streams["buyers_init"], self.day + 1)
        rebuild_listings(self)
        from sim.interventions import build_interventions

        for action in build_interventions(self, cfg.scenario.interventions):
            self.police.schedule(action)
        #: cohorts followed for effect measures: started by interventions, or (counterfactual run)
        #: by the ``probes`` given, as (intervention index, start day, target market columns)
        self.probes: list[CohortProbe] = []
        self.planned_probes = [PlannedProbe(self, *p) for p in probes or []]
        for planned in self.planned_probes:
            self.schedule_event(planned.fire, at=self.mesa_time_of_dawn(planned.start_day))
        if self.police.actions or self.planned_probes:  # a cohort is chosen from the last 60 days of purchases
            self.purchase_ring = deque(maxlen=COHORT_RING_DAYS)

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
    def ensure_market_capacity(self, need: int) -> None:
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
            rebuild_listings(self)
        update_listing_utility(self)

    def phase_purchases(self) -> None:
        """Buyers whose purchase is due decide: street deals complete, online orders are placed."""
        make_purchases(self)

    def phase_order_outcomes(self) -> None:
        """Orders due today arrive, are seized or lost; buyers learn, rate and post (rules in sim/market/trade.py)."""
        process_outcomes(self)

    def phase_escrow(self) -> None:
        """Escrow events: finalise, auto-finalise, disputes and their resolution."""
        process_settlements(self)

    def phase_forum(self) -> None:
        """Forum readers update trust and learn of markets."""
        read_forum(self)

    def week_ends_today(self) -> bool:
        """Whether today is the last day of a week (vendors re-decide, the vendor panel is recorded)."""
        return (self.day + self.burn_in) % 7 == 6

    def phase_vendors(self) -> None:
        """On the last day of each week: vendors re-decide (in random order), new vendors enter."""
        if self.week_ends_today():
            self.agents_by_type[Vendor].shuffle_do("weekly")
            price_vendors(self, self.vendors_to_price)
            self.vendors_to_price = []
            vendor_entry(self)
            announce_moves(self)

    def phase_street_supply(self) -> None:
        """On the last day of each week: dealers restock, partly with wholesale lots bought online."""
        if self.week_ends_today():
            restock(self)

    def phase_enforcement(self) -> None:
        """Background arrests of vendors."""
        self.police.daily()

    def phase_observe(self) -> None:
        """Keep today's purchases (when a cohort will need them); show them to interventions and cohorts."""
        self._log_purchases()

    def phase_collect(self) -> None:
        """Record the day (from day 0 on) into the output tables; at the end of a week, the vendor panel."""
        if self.day >= 0:
            self.recorder.collect(self)
        if self.week_ends_today():
            if self.day >= 6:  # whole weeks of recorded days only
                self.recorder.collect_vendors(self)
            for name in ("week_sales", "week_value", "week_wholesale_sales", "week_wholesale_value"):
                getattr(self.vend, name)[:] = 0.0

    def phase_close_day(self) -> None:
        """Open tomorrow's counters now, so that what happens at tomorrow's dawn counts on tomorrow."""
        self.today = DayCounters(self.m_cap, len(self.subs))

    def _log_purchases(self) -> None:
        """Keep today's purchases (buyer, channel, market, value); show them to observers."""
        log = self.today.all_purchases()
        self.purchase_ring.append(log)
        for action in self.police.actions:
            action.observe(log)
        for probe in self.probes:
            probe.observe(log)

    def _new_day(self) -> None:
        # today's counters were opened at the end of yesterday, so that what interventions do at
        # dawn (arrests, frozen escrow) is counted on their day
        self.forum.clear_day(self.day)
        self.buyers.open_day(self.day)
        self.vend.age_ring()
        self.market_table.age_ring()

    def _market_life(self) -> None:
        mc = self.cfg.model.markets
        rng = self.streams["markets"]
        for kind, per_year in (
            (Channel.CRYPTOMARKET, mc.new_cryptomarkets_per_year),
            (Channel.DECENTRALISED, mc.new_decentralised_per_year),
            (Channel.WEBSHOP, mc.new_webshops_per_year),
        ):
            for _ in range(int(rng.poisson(per_year / 365.0))):
                open_market(self, kind)
        # three uniforms per open market, drawn at once in market order (the draws each market's
        # daily() would make one after another: nothing else draws from this stream meanwhile)
        open_now = [self.markets[i] for i in self.market_table.open_columns().tolist()]
        draws = rng.random((len(open_now), 3))
        for m, u in zip(open_now, draws):
            m.daily(u)

    # ------------------------------------------------------------------ shocks
    def log_event(self, event: str, target: str, detail: str) -> None:
        """Record what happened when (events.parquet); burn-in days are kept with negative day."""
        self.events.append({"day": int(self.day), "event": event, "target": target, "detail": detail})

    def run(self, progress: bool = False, label: str = "simulating") -> None:
        """Run burn-in plus ``run.days`` days, with an optional progress bar named ``label``."""
        total = self.burn_in + self.cfg.run.days
        if progress:
            from tqdm import tqdm

            for _ in tqdm(range(total), desc=label, unit="day"):
                self.step()
        else:
            for _ in range(total):
                self.step()
