"""Honeypot market (Operation Bayonet / Hansa 2017): police covertly run a market, then shut it.

From ``start_day`` the target keeps trading normally while police log its vendors and buyers;
after ``operate_days`` it is seized: vendors who sold during the operation are arrested with
probability ``vendor_arrest_scale x (1 - opsec)``, buyers with ``buyer_arrest_prob`` (times ``1 -
pgp_protection`` for buyers who encrypt their address to the vendor's PGP key), and a publicity
shock follows. Combine with a takedown of another market during the operation to send
its users into the honeypot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.arrays import sorted_unique
from sim.domain import MarketStatus
from sim.interventions.base import Intervention
from sim.interventions.publicity import publicity
from sim.market.records import Purchases
from sim.params import duration, nonneg, prob, ranged


class Honeypot(Intervention):
    """Police run a market covertly, then seize it and arrest from its records."""

    name = "honeypot"
    revertible = False

    @dataclass
    class Params:
        """Parameters of the covert operation (ranges declared per field)."""

        operate_days: int = duration(30, lo=1)  #: days the police run the market covertly
        vendor_arrest_scale: float = prob(0.6)  #: arrest probability of a logged vendor with zero opsec
        buyer_arrest_prob: float = prob(0.01)  #: arrest probability of a logged buyer
        #: share of that probability a buyer who encrypts the address to the vendor's PGP key escapes
        #: (assumption, as for the takedown; lower it for a market that encrypts addresses on its
        #: server, where police running it read them before they are encrypted)
        pgp_protection: float = prob(0.8)
        publicity_risk: float = ranged(
            0.2, lo=-1.0, hi=1.0, why="added to a perceived risk in [0, 1]; negative = the news raises interest"
        )
        publicity_half_life_days: float = duration(30.0)  #: half-life of the news effects, days
        #: extra Tor-skill learning hazard per month after the news
        publicity_interest: float = nonneg(0.002, why="a hazard per month; at 30, once a day, it is certain within days", hi=30.0)

    def apply(self) -> None:
        """Take over the target covertly and start logging its users; schedule the shutdown."""
        model = self.model
        self.vendors_seen = np.zeros(0, dtype=np.int64)
        self.buyers_seen = np.zeros(model.buyers.n, dtype=bool)
        self.first_order = model.orders.n
        self.market = self.targets[0]
        model.schedule_event(self.shutdown, at=model.time + self.params.operate_days)

    def observe(self, log: Purchases) -> None:
        """Log the buyers of the covertly run market (they are arrested at shutdown)."""
        super().observe(log)
        if getattr(self, "market", None) is not None and self.market.active:
            self.buyers_seen[log.buyer[log.market == self.market.idx]] = True

    def shutdown(self) -> None:
        """Shut the market down: seizure, arrests from the logs, publicity."""
        model, p = self.model, self.params
        rng = model.streams["interventions"]
        ob = model.orders
        ids = np.arange(self.first_order, ob.n)
        vendors = sorted_unique(ob.vendor[ids][ob.market[ids] == self.market.idx])
        self.market.close(MarketStatus.SEIZED, reason="honeypot shut down")
        arrested_v = 0
        for v in vendors.tolist():
            if rng.random() < p.vendor_arrest_scale * (1.0 - model.vend.opsec[v]):
                model.police.arrest_vendor(v, reason="honeypot records")
                arrested_v += 1
        buyers = np.flatnonzero(self.buyers_seen)
        hit = buyers[rng.random(len(buyers)) < p.buyer_arrest_prob * model.buyers.record_exposure(buyers, p.pgp_protection)]
        if len(hit):
            model.police.arrest_buyers(hit, online=True)
        self.record.update(
            shutdown_day=model.day,
            vendors_logged=len(vendors),
            buyers_logged=len(buyers),
            arrests_vendors=arrested_v,
            arrests_buyers=len(hit),
        )
        model.log_event("intervention_honeypot_shutdown", self.market.name, f"arrested {arrested_v} vendors, {len(hit)} buyers")
        publicity(self, p.publicity_risk, p.publicity_interest, p.publicity_half_life_days)
