"""Prevention campaign / red alert and drug checking for online buyers.

Red alert: for a substance, a share ``reach x compliance`` of intended purchases does not happen
while the alert runs (dangerous batch warnings through forums and drug-checking services).
Drug checking: a share ``share`` of online-capable buyers who do not yet check get access; checking
avoids most of the harm of adulterated or mis-sold products (see sim/market/trade.py).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """Give online buyers access to drug checking."""

    name = "drug_checking"
    uses_target = False

    @dataclass
    class Params:
        """Parameters of drug checking (ranges declared per field)."""

        share: float = prob(0.5)  #: share of online-capable buyers given drug checking

    def apply(self) -> None:
        """Give drug checking to a share of the online-capable buyers who do not use it yet."""
        model = self.model
        pop = model.buyers
        cand = pop.online_capable[~pop.checking[pop.online_capable]]
        new = cand[model.streams["interventions"].random(len(cand)) < self.params.share]
        self.saved = {"new": new}
        pop.set_drug_checking(new, True)
        self.record["buyers_given_checking"] = int(len(new))

    def revert(self) -> None:
        """Take drug checking back from the buyers who were given it."""
        self.model.buyers.set_drug_checking(self.saved["new"], False)
