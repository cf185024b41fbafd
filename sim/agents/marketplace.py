"""Marketplaces: centralised escrow cryptomarkets, decentralised markets, clearnet web shops.

A :class:`Marketplace` is a Mesa agent. Its daily life (``daily``) is: go down for the day with
a small probability, and close by exit scam (hazard growing with the escrow it holds), by
voluntary closure, or because it lost all trade. The buyer-side choice does not loop over
markets: the model keeps per-market arrays (status, escrow, kind) that the vectorised choice
reads; the agent is the place where a market's rules and life events live.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.agents.vendor import add_vendors
from sim.columns import Col, Table
from sim.domain import STATUS_ORDER, Channel, MarketStatus
from sim.market.escrow import OrderEvent
from sim.market.trade import seize_escrow

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel


#: days of history in a market's order ring (30-day sales)
RING_DAYS = 30
#: days over which a market that has sold must keep its orders above the idle floor
IDLE_WINDOW_DAYS = 45


class MarketTable(Table):
    """The state of every market that vectorised code reads, one row per market column.

    A :class:`Marketplace` agent creates its row and reads its kind, commission and escrow from it.
    """

    SPEC = {
        "kind": Col(np.int64, 0),  # Channel value
        "commission": Col(np.float64, 0.0),  # share of each sale kept by the market
        "has_escrow": Col(bool, False),  # centralised escrow market
        "escrow": Col(np.float64, 0.0),  # money held in escrow, EUR
        "ring": Col(np.float64, 0.0, RING_DAYS),  # orders per day over the last 30 days, today first
        "open": Col(bool, False),  # active: open for trade (the agent's status, mirrored)
        "down": Col(bool, False),  # unavailable today (the agent's down_today, mirrored)
        "status_code": Col(np.int8, 0),  # the agent's status, mirrored: its position in STATUS_ORDER
    }
    kind: np.ndarray
    commission: np.ndarray
    has_escrow: np.ndarray
    escrow: np.ndarray
    ring: np.ndarray
    open: np.ndarray
    down: np.ndarray
    status_code: np.ndarray

    def open_columns(self) -> np.ndarray:
        """Columns of the markets open for trade, ascending (the order of ``model.markets``)."""
        return np.flatnonzero(self.open[: self.n])

    def usable_columns(self) -> np.ndarray:
        """Columns of the markets open for trade and up today, ascending."""
        return np.flatnonzero(self.open[: self.n] & ~self.down[: self.n])

    def age_ring(self) -> None:
        """A new day: the 30-day order ring moves by one day."""
        self.ring[:, 1:] = self.ring[:, :-1]
        self.ring[:, 0] = 0.0

    @property
    def sales30(self) -> np.ndarray:
        """Orders per market column over the last 30 days."""
        return self.ring.sum(axis=1)


class Marketplace(mesa.Agent):
    """One marketplace.

    Attributes:
        idx: column of this market in the model's per-market arrays.
        name: unique name (``crypto_1``, ``dec_1``, ``shop_1`` ...).
        kind: :class:`Channel` (WEBSHOP, CRYPTOMARKET or DECENTRALISED).
        status: :class:`MarketStatus`.
        opened_day, closed_day: life span in model days (``closed_day`` None while open).
        commission: share of each sale kept by the market.
        escrow: True for centralised escrow markets.
        security: resilience to takedown in [0, 1].
        domestic: for web shops, registered in the buyers' country.
        recent_orders: its orders per day over the last 45 days, from its first sale on.
        down_today: unavailable today (DDoS, maintenance).
    """

    def __init__(self, model: CryptoMarketModel, name: str, kind: Channel, domestic: bool = False):
        super().__init__(model)
        cfg = model.cfg.model.markets
        rng = model.streams["markets"]
        kind = Channel(kind)
        commission = {
            Channel.CRYPTOMARKET: cfg.commission_cryptomarket,
            Channel.DECENTRALISED: cfg.commission_decentralised,
            Channel.WEBSHOP: 0.0,
        }[kind]
        (idx,) = model.market_table.append(1, kind=int(kind), commission=commission, has_escrow=kind == Channel.CRYPTOMARKET)
        self._kind = kind
        self.idx = int(idx)
        self.name = name
        self.status = MarketStatus.ACTIVE
        self.opened_day = model.day
        self.closed_day: int | None = None
        self.security = float(rng.beta(cfg.security_a, cfg.security_b))
        self.domestic = bool(domestic)
        self.recent_orders: deque[float] = deque(maxlen=IDLE_WINDOW_DAYS)
        self.has_sold = False
        self.down_today = False
        #: operator greed: multiplies the exit-scam hazard (lognormal, median 1)
        self.greed = float(rng.lognormal(0.0, cfg.operator_greed_logsd)) if self.escrow else 0.0

    @property
    def kind(self) -> Channel:
        """Web shop, cryptomarket or decentralised market (set when it opens, never changed)."""
        return self._kind

    @property
    def escrow(self) -> bool:
        """Whether it is a centralised escrow market."""
        return bool(self.model.market_table.has_escrow[self.idx])

    @property
    def commission(self) -> float:
        """Share of each sale kept by the market."""
        return float(self.model.market_table.commission[self.idx])

    @property
    def status(self) -> MarketStatus:
        """Active, seized, exit-scammed or closed."""
        return self._status

    @status.setter
    def status(self, value: MarketStatus) -> None:
        self._status = value
        table = self.model.market_table  # mirrored for vectorised readers and the daily table
        table.open[self.idx] = value == MarketStatus.ACTIVE
        table.status_code[self.idx] = STATUS_ORDER.index(value)

    @property
    def down_today(self) -> bool:
        """Unavailable today (DDoS, maintenance)."""
        return self._down_today

    @down_today.setter
    def down_today(self, value: bool) -> None:
        self._down_today = value
        self.model.market_table.down[self.idx] = value

    @property
    def active(self) -> bool:
        """Open for trade (not seized, exit-scammed or closed)."""
        return self._status == MarketStatus.ACTIVE

    @property
    def escrow_eur(self) -> float:
        """Money currently held in escrow by this market, EUR."""
        return float(self.model.market_table.escrow[self.idx])

    def exit_scam_hazard(self) -> float:
        """Daily probability that the operator runs off with the escrow."""
        if not self.escrow:
            return 0.0
        cfg = self.model.cfg.model.markets
        escrow_per_1000 = self.escrow_eur / self.model.buyers.online_per_1000  # EUR per 1,000 online-capable buyers
        per_10k = cfg.exit_scam_hazard_per_10k_escrow_per_1000_online_buyers
        return min(1.0, self.greed * (cfg.exit_scam_hazard_base + per_10k * escrow_per_1000 / 1e4))

    def daily(self, u: np.ndarray) -> None:
        """Life events of one day: downtime, exit scam, voluntary or idle closure.

        ``u``: three uniform draws of the markets stream (downtime, exit scam, voluntary closure).
        """
        if not self.active:
            return
        model = self.model
        cfg = model.cfg.model.markets
        # yesterday's orders (the order ring was aged in this day's first phase); a market that never
        # sold is not idle but new: it closes only once it has lost the trade it had
        yesterday = float(model.market_table.ring[self.idx, 1])
        if yesterday > 0 and not self.has_sold:
            self.has_sold = True
        if self.has_sold:
            self.recent_orders.append(yesterday)
        # trade lost: orders over the last 45 days (all after its first sale) below a rate per 1,000
        # online-capable buyers, the same rate whatever the population size
        floor = cfg.idle_close_orders_45d_per_1000_online_buyers * model.buyers.online_per_1000
        recent = sum(self.recent_orders)
        lost_trade = len(self.recent_orders) == IDLE_WINDOW_DAYS and recent < floor
        self.down_today = bool(u[0] < cfg.downtime_prob)
        age = model.day - self.opened_day
        if u[1] < self.exit_scam_hazard():
            self.close(MarketStatus.EXIT_SCAMMED, reason="operator exit scam")
        elif u[2] < cfg.voluntary_close_hazard and self.kind != Channel.DECENTRALISED:
            # decentralised markets have no operator who could retire (docs/ODD.md, entities)
            self.close(MarketStatus.CLOSED, reason="voluntary closure")
        elif lost_trade:
            self.close(MarketStatus.CLOSED, reason=f"{recent:.0f} orders in {IDLE_WINDOW_DAYS} days, below {floor:.2f}")
        elif not self.has_sold and age >= cfg.close_if_never_sold_days:
            self.close(MarketStatus.CLOSED, reason=f"no sale in the {age} days since it opened")

    def close(self, status: MarketStatus, reason: str) -> None:
        """Close: escrow taken (exit scam) or frozen (seizure); users become migrants; the forum recommends others."""
        model, market = self.model, self
        market.status = status
        market.closed_day = model.day
        taken = 0.0
        if status == MarketStatus.EXIT_SCAMMED:
            taken = seize_escrow(model, market.idx, OrderEvent.EXIT_SCAM)
        elif status == MarketStatus.SEIZED:
            taken = seize_escrow(model, market.idx, OrderEvent.FREEZE)
        model.today.escrow_lost += taken
        model.buyers.mark_migrants(market.idx)
        # closure news: the forum talks about the surviving markets of the same kind in proportion
        # to the trade each visibly has (its 30-day orders); where migrants go then follows from
        # what they see: this talk, their trust, and their vendors' announcements (announce_moves)
        mc, fc = model.cfg.model.markets, model.cfg.model.forum
        sales = model.market_table.sales30 * np.array(
            [m.active and m.kind == market.kind for m in model.markets] + [False] * (model.m_cap - len(model.markets))
        )
        if sales.sum() > 0:
            least = fc.closure_news_min_weight_per_1000_online_buyers * model.buyers.online_per_1000
            weight = sales / sales.sum() * max(least, float(model.market_table.ring[market.idx].sum()))
            for d in range(0, mc.migration_news_days, 3):
                model.forum.add_news(model.day + d, weight / (mc.migration_news_days / 3))
        model.listings.mark_dirty()
        model.log_event(f"market_{status.value}", market.name, f"{reason}; escrow taken {taken:.2f} EUR")


def setup_markets(model: CryptoMarketModel) -> None:
    """Open the initial markets and list the initial vendors on them (Zipf weights)."""
    mc = model.cfg.model
    rng = model.streams["vendors_init"]
    k = mc.markets.initial_cryptomarkets
    zipf = 1.0 / np.arange(1, k + 1) ** mc.markets.zipf_exponent
    for i in range(k):
        open_market(
            model, Channel.CRYPTOMARKET, seed_share=mc.markets.initial_awareness_largest * zipf[i] / zipf[0], initial=True
        )
    for _ in range(mc.markets.initial_decentralised):
        open_market(model, Channel.DECENTRALISED, seed_share=mc.markets.initial_awareness_decentralised, initial=True)
    for _ in range(mc.markets.initial_webshops):
        open_market(model, Channel.WEBSHOP, seed_share=mc.markets.initial_awareness_webshop, initial=True)
    n_tech = model.buyers.tech_users()
    n_v = max(3, int(round(mc.vendors.vendors_per_1000_online_buyers * n_tech / 1000)))
    w = np.zeros(model.m_cap)
    for m in model.markets:
        if m.kind == Channel.CRYPTOMARKET:
            w[m.idx] = zipf[len([x for x in model.markets[: m.idx] if x.kind == Channel.CRYPTOMARKET])]
        elif m.kind == Channel.DECENTRALISED:
            w[m.idx] = mc.markets.decentralised_vendor_weight  # relative to the largest cryptomarket (zipf[0] = 1)
    add_vendors(model, n_v, rng, market_weights=w)


def open_market(
    model: CryptoMarketModel, kind: Channel, seed_share: float | None = None, initial: bool = False, name: str | None = None
) -> Marketplace:
    """Open a new marketplace; a share of the buyers who could use it learn of it."""
    model.ensure_market_capacity(len(model.markets) + 1)
    count = 1 + sum(1 for m in model.markets if m.kind == kind)
    prefix = {Channel.CRYPTOMARKET: "crypto", Channel.DECENTRALISED: "dec", Channel.WEBSHOP: "shop"}[kind]
    rng = model.streams["vendors_init" if initial else "markets"]
    domestic = kind == Channel.WEBSHOP and rng.random() < model.cfg.model.markets.webshop_domestic_share
    market = Marketplace(model, name or f"{prefix}_{count}", kind, domestic=domestic)
    idx = market.idx
    model.markets.append(market)
    mc = model.cfg.model
    share = mc.markets.new_market_seed_awareness if seed_share is None else seed_share
    pool = np.flatnonzero(model.buyers.webshop if kind == Channel.WEBSHOP else model.buyers.tech)
    aware = pool[rng.random(len(pool)) < share]
    trust = mc.buyers.initial_trust if initial else mc.buyers.new_market_trust
    model.buyers.make_aware(aware, idx, trust)
    if kind == Channel.WEBSHOP:
        add_vendors(model, 1, rng, webshop_market=idx)
    model.log_event("market_opened", market.name, f"kind={kind.name.lower()} aware={len(aware)}")
    model.listings.mark_dirty()
    return market
