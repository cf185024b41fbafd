"""Levers: the state that interventions may move, in one typed object owned by the model.

Interventions change only these (and save what they change, to restore it at their end day);
agents and market rules read them. Starting values come from the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.columns import resized


@dataclass
class Levers:
    """What interventions move; the model holds one as ``model.levers``."""

    #: seizure probability of a parcel at zero stealth per route, indexed by the vendor's
    #: :class:`~sim.domain.Origin` (domestic, EU, non-EU; domestic 0: no border); sim/market/routes.py
    customs_prob: np.ndarray
    #: probability that a seized parcel leads to a controlled delivery (buyer arrest)
    controlled_delivery_prob: float
    #: probability that a seized parcel leads to its vendor's arrest
    trace_prob: float
    #: per substance: share of intended purchases that go ahead (red alerts, prevention)
    demand_factor: np.ndarray
    #: per substance: vendors' price multiplier (risk premium of banned substances)
    ban_price_factor: np.ndarray
    #: per substance: multiplier of all prices, street and online (a price shock, e.g. a tax or
    #: supply-side enforcement raising costs)
    price_factor: np.ndarray
    #: per market column: extra perceived risk of using the market (set by scenarios or notebooks;
    #: news of police operations is ``news_risk``, for all hidden markets)
    risk_shock: np.ndarray
    #: utility penalty of paying online (exchange KYC), for low-skill and for skilled buyers
    payment_friction: float = 0.0
    payment_friction_skilled: float = 0.0
    #: the same for buyers who pay with privacy coins or mixers (``BuyerPopulation.privacy_coin``)
    payment_friction_privacy: float = 0.0
    #: share of vendors' revenue lost to cash-out fees and laundering (payment controls); vendors
    #: price it in: price x 1 / (1 - share)
    cashout_cost_share: float = 0.0
    #: extra daily vendor arrest hazard per 100 orders in 30 days (cash-out detection)
    cashout_hazard_per_100: float = 0.0
    #: extra perceived risk of every hidden market from news of police operations (decays)
    news_risk: float = 0.0
    #: extra hazard per month of learning Tor skill (news of police operations raising interest)
    skill_interest: float = 0.0
    #: (market, substance) pairs that web shops no longer sell (substance bans)
    delisted: set[tuple[int, int]] = field(default_factory=set)

    def grow_markets(self, cap: int) -> None:
        """Make room for ``cap`` market columns."""
        self.risk_shock = resized(self.risk_shock, cap)
