"""Takedown: police seize a market (README, interventions).

Escrow is frozen (buyers' pending orders lost), with probability ``backend_seizure_prob`` the
backend is seized and its vendors are arrested with probability ``vendor_arrest_scale x (1 - opsec)``
and its recent buyers with ``buyer_arrest_prob``; the news raises the perceived risk of all hidden
markets by ``publicity_risk`` (general deterrence) and the hazard of learning Tor skill by
``publicity_interest`` (publicity effect), both decaying with ``publicity_half_life_days``
(sim/interventions/publicity.py). Vendors and buyers migrate through the usual weekly decisions and forum news.
Sources: Soska & Christin 2015; Decary-Hetu & Giommoni 2017; Ladegaard 2018 (publicity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.domain import MarketStatus
from sim.interventions.base import Intervention
from sim.interventions.publicity import publicity
from sim.params import nonneg, prob, ranged


class Takedown(Intervention):
    """Seize a market: frozen escrow, records and arrests, publicity."""

    name = "takedown"
    revertible = False

    @dataclass
    class Params:
        """Parameters of the takedown (ranges declared per field)."""

        backend_seizure_prob: float = prob(0.5)  #: chance the seizure yields usable records
        vendor_arrest_scale: float = prob(0.3)  #: arrest probability of a vendor with zero opsec, given records
        buyer_arrest_prob: float = prob(0.002)  #: arrest probability of a recent buyer, given records
        publicity_risk: float = ranged(
            0.15, lo=-1.0, hi=1.0, why="added to a perceived risk in [0, 1]; negative = the news raises interest"
        )  #: added perceived risk of hidden markets (may be set to 0)
        #: half-life of the news effects, days (assumption: news fades within a few months)
        publicity_half_life_days: float = nonneg(30.0)
        #: extra hazard per month of learning Tor skill right after the news (assumption; the
        #: innovation hazard is model.demand.skill_innovation_per_month)
        publicity_interest: float = nonneg(0.002)
        #: how much a market's security (0-1) lowers the chance of usable records: probability x (1 - effect x security)
        security_effect: float = prob(0.5)

    def apply(self) -> None:
        """Seize each target: frozen escrow, records, arrests, publicity."""
        model, p = self.model, self.params
        rng = model.streams["interventions"]
        arrested_v = arrested_b = 0
        lost = model.ledger.seized
        for m in self.targets:
            vendors = [a for a in model.vendor_agents if m.idx in a.markets and model.vend.active[a.idx]]
            m.close(MarketStatus.SEIZED, reason="takedown")
            if rng.random() < p.backend_seizure_prob * (1.0 - p.security_effect * m.security):
                for a in vendors:
                    if rng.random() < p.vendor_arrest_scale * (1.0 - model.vend.opsec[a.idx]):
                        model.police.arrest_vendor(a.idx, reason=f"records of {m.name}")
                        arrested_v += 1
                buyers = np.flatnonzero(model.buyers.bought[:, m.idx])
                hit = buyers[rng.random(len(buyers)) < p.buyer_arrest_prob]
                if len(hit):
                    model.police.arrest_buyers(hit, online=True)
                    arrested_b += len(hit)
        self.record.update(escrow_frozen_eur=model.ledger.seized - lost, arrests_vendors=arrested_v, arrests_buyers=arrested_b)
        publicity(self, p.publicity_risk, p.publicity_interest, p.publicity_half_life_days)
