"""Takedown: police seize a market (README, interventions).

Escrow is frozen (buyers' pending orders lost). At once, each vendor of the seized market quits
for good with probability ``vendor_flight_share`` (fear, lost keys and identity): vendor numbers
drop once, then grow again at their usual rate (Van Buskirk et al. 2017). With probability
``backend_seizure_prob`` the backend is seized; from its records each vendor is identified with
probability ``vendor_arrest_scale x (1 - opsec)`` and arrested after an investigation of
exponential length (mean ``prosecution_delay_days_mean``, at least a day), if still trading then; recent buyers
are arrested with ``buyer_arrest_prob``, times ``1 - pgp_protection`` for buyers who encrypt their
address to the vendor's PGP key (``model.buyers.pgp_share``). The news raises the perceived risk of all hidden
markets by ``publicity_risk`` (general deterrence) and the hazard of learning Tor skill by
``publicity_interest`` (publicity effect), both decaying with ``publicity_half_life_days``
(sim/interventions/publicity.py). Vendors and buyers migrate through the usual weekly decisions and forum news.

A decentralised market has no central server, escrow or order records to seize: a takedown aimed
at one hits its discovery front-end (the web site or index through which buyers find it). The
market stays open; each buyer who knew it loses the way to it with probability
``frontend_discovery_loss`` and must learn of it again (forum talk, contacts); no escrow is frozen,
no records are taken, no vendor flees; the publicity effects apply as for any takedown.
Sources: Soska & Christin 2015; Decary-Hetu & Giommoni 2017; Van Buskirk et al. 2017 (vendor
counts); Ladegaard 2018 (publicity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.domain import Channel, MarketStatus
from sim.interventions.base import Intervention
from sim.interventions.publicity import publicity
from sim.params import duration, nonneg, prob, ranged


class Takedown(Intervention):
    """Seize a market: frozen escrow, records and arrests, publicity."""

    name = "takedown"
    revertible = False

    @dataclass
    class Params:
        """Parameters of the takedown (ranges declared per field)."""

        backend_seizure_prob: float = prob(0.5)  #: chance the seizure yields usable records
        vendor_arrest_scale: float = prob(0.3)  #: arrest probability of a vendor with zero opsec, given records
        #: share of the seized market's vendors who stop selling at once (fear, lost keys and
        #: identity). Assumption sized on Van Buskirk et al. 2017: unique vendors fell by 627 after
        #: Operation Onymous and by 910 after Evolution closed, a once-off drop of the order of a
        #: fifth to a third of the vendors of the closed markets
        vendor_flight_share: float = prob(0.2)
        #: mean days from the seizure to the arrest of a vendor identified in its records
        #: (exponential; assumption: prosecutions came months after the takedowns, e.g. the Silk
        #: Road and Operation Onymous vendor arrests)
        prosecution_delay_days_mean: float = duration(90.0)
        buyer_arrest_prob: float = prob(0.002)  #: arrest probability of a recent buyer, given records
        #: share of that probability a buyer who encrypts the address to the vendor's PGP key escapes.
        #: Assumption: encrypted addresses are not readable in the seized database unless the vendor
        #: kept them in plaintext
        pgp_protection: float = prob(0.8)
        #: added perceived risk of hidden markets (may be set to 0)
        publicity_risk: float = ranged(
            0.15, lo=-1.0, hi=1.0, why="added to a perceived risk in [0, 1]; negative = the news raises interest"
        )
        #: half-life of the news effects, days (assumption: news fades within a few months)
        publicity_half_life_days: float = duration(30.0)
        #: extra hazard per month of learning Tor skill right after the news (assumption; the
        #: innovation hazard is model.demand.skill_innovation_per_month)
        publicity_interest: float = nonneg(0.002, why="a hazard per month; at 30, once a day, it is certain within days", hi=30.0)
        #: how much a market's security (0-1) lowers the chance of usable records: probability x (1 - effect x security)
        security_effect: float = prob(0.5)
        #: decentralised targets: share of the buyers who knew the market who lose the way to it when
        #: its discovery front-end is seized (assumption)
        frontend_discovery_loss: float = prob(0.5)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        #: (arrest day, vendor row, market name) of the vendors identified in seized records
        self.prosecutions: list[tuple[int, int, str]] = []
        #: vendor rows of the vendors who stopped at once
        self.fled: list[int] = []

    def apply(self) -> None:
        """Seize each target: frozen escrow, vendors' flight, records, arrests, publicity."""
        model, p = self.model, self.params
        rng = model.streams["interventions"]
        identified = fled = arrested_b = 0
        seen: set[int] = set()
        lost = model.ledger.seized
        frontends = lost_way = 0
        for m in self.targets:
            if m.kind == Channel.DECENTRALISED:
                lost_way += self.seize_frontend(m, rng)
                frontends += 1
                continue
            vendors = [a for a in model.vendor_agents if m.idx in a.markets and model.vend.active[a.idx]]
            m.close(MarketStatus.SEIZED, reason="takedown")
            records = rng.random() < p.backend_seizure_prob * (1.0 - p.security_effect * m.security)
            u = rng.random((len(vendors), 3))
            for a, (u_flee, u_found, u_delay) in zip(vendors, u.tolist()):
                found = records and u_found < p.vendor_arrest_scale * (1.0 - model.vend.opsec[a.idx])
                if found and a.idx not in seen:  # a vendor of several seized markets is identified once
                    seen.add(a.idx)
                    # inverse-CDF draw, so that the count of random numbers does not depend on the
                    # parameters; at least a day: investigations take time
                    delay = -p.prosecution_delay_days_mean * np.log1p(-u_delay)
                    self.prosecutions.append((model.day + 1 + int(delay), a.idx, m.name))
                    identified += 1
                if u_flee < p.vendor_flight_share and model.vend.active[a.idx]:
                    a.quit(f"fled after the takedown of {m.name}")
                    self.fled.append(a.idx)
                    fled += 1
            if records:
                buyers = model.buyers.bought_on(m.idx)
                exposed = model.buyers.record_exposure(buyers, p.pgp_protection)
                hit = buyers[rng.random(len(buyers)) < p.buyer_arrest_prob * exposed]
                if len(hit):
                    model.police.arrest_buyers(hit, online=True)
                    arrested_b += len(hit)
        self.record.update(
            escrow_frozen_eur=model.ledger.seized - lost,
            vendors_fled=fled,
            vendors_identified=identified,
            arrests_vendors=0,
            arrests_buyers=arrested_b,
            frontends_seized=frontends,
            buyers_lost_way=lost_way,
        )
        for day in sorted({d for d, _, _ in self.prosecutions}):
            model.schedule_event(self.prosecute, at=model.mesa_time_of_dawn(day))
        publicity(self, p.publicity_risk, p.publicity_interest, p.publicity_half_life_days)

    def seize_frontend(self, market, rng) -> int:
        """A decentralised market's discovery front-end is seized: buyers who knew it may lose the way to it.

        Returns how many buyers lost it. The market itself trades on (no server to seize).
        """
        pop = self.model.buyers
        knew = pop.knowers(market.idx)
        lost = knew[rng.random(len(knew)) < self.params.frontend_discovery_loss]
        pop.forget(lost, market.idx)
        self.model.log_event("frontend_seized", market.name, f"{len(lost)} of {len(knew)} buyers lost the way to it")
        return int(len(lost))

    def prosecute(self) -> None:
        """Dawn of a day when investigations of identified vendors end: arrest those still trading."""
        model = self.model
        for day, v, market in self.prosecutions:
            if day == model.day and model.vend.active[v]:
                model.police.arrest_vendor(v, reason=f"records of {market}")
                self.record["arrests_vendors"] += 1
