"""Red alert and drug checking (online and street buyers).

Red alert: for a substance, a share ``reach x compliance`` of intended purchases does not happen
while the alert runs (dangerous batch warnings through forums and drug-checking services).
Drug checking: a share ``share`` of online-capable buyers and ``offline_share`` of the others (street
buyers: most drug-checking samples are bought offline, van der Gouwe et al. 2017) who do not yet
check get access. Checkers know what they take: they dose for its strength and avoid most of the harm
of mis-sold products, and a product found not as described makes them avoid that substance and is
reported against the vendor (sim/market/harm.py, sim/market/trade.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import ConfigError
from sim.interventions.base import Intervention
from sim.params import prob


class RedAlert(Intervention):
    """Warn about a dangerous batch: fewer purchases of the substance."""

    name = "red_alert"
    uses_target = False

    @dataclass
    class Params:
        """Parameters of the alert (ranges declared per field)."""

        substance: str = ""  #: substance name the alert is about
        reach: float = prob(0.5)  #: share of buyers reached by the alert
        compliance: float = prob(0.6)  #: share of reached buyers who then do not buy it

    @classmethod
    def check(cls, params, where: str) -> None:
        """Refuse an alert that names no substance."""
        if not params.substance:
            raise ConfigError(f"{where}.params.substance: name the substance of the alert")

    def apply(self) -> None:
        """Cut the purchases of the substance by reach x compliance while the alert runs."""
        model = self.model
        self.s = model.subs.index(self.params.substance)
        self.saved = {"factor": float(model.levers.demand_factor[self.s])}
        model.levers.demand_factor[self.s] *= 1.0 - self.params.reach * self.params.compliance

    def revert(self) -> None:
        """Restore the substance's demand."""
        self.model.levers.demand_factor[self.s] = self.saved["factor"]


class DrugChecking(Intervention):
    """Give buyers (more of them online-capable) access to drug checking."""

    name = "drug_checking"
    uses_target = False

    @dataclass
    class Params:
        """Parameters of drug checking (ranges declared per field)."""

        share: float = prob(0.5)  #: share of online-capable buyers given drug checking
        offline_share: float = prob(0.2)  #: share of the other buyers (street only) given drug checking (assumption)

    def apply(self) -> None:
        """Give drug checking to shares of the online-capable and of the other buyers who do not use it yet."""
        model = self.model
        pop = model.buyers
        cand = np.flatnonzero(~pop.checking)
        share = np.where(pop.webshop[cand], self.params.share, self.params.offline_share)
        new = cand[model.streams["interventions"].random(len(cand)) < share]
        self.saved = {"new": new}
        pop.set_drug_checking(new, True)
        self.record["buyers_given_checking"] = int(len(new))
        self.record["online_capable_at_start"] = int(len(pop.online_capable))

    def revert(self) -> None:
        """Take drug checking back from the buyers who were given it."""
        self.model.buyers.set_drug_checking(self.saved["new"], False)
