"""Prevention campaign: online campaigns and app push alerts that make not using more attractive.

The meeting behind the project names online prevention ("Red Alert" warnings pushed by an app,
the "Celebrate Safe" campaign). A campaign reaches a share ``reach_online`` of people who use the
internet for drugs (web shops or Tor) and ``reach_offline`` of the others, users and people at risk
alike; for each one reached, not buying gains ``effect`` logit units, decaying with
``half_life_days``. Because starting is an attempt that must end in a purchase and stopping is
likelier after an occasion without one (docs/ODD.md, demand), the campaign lowers frequency of use,
starting and continuing together. Sizes are assumptions: reviews find media campaigns' effects on
illicit drug use small and uncertain (Ferri et al. 2013, Cochrane review; Allara et al. 2015), so
the default is a modest shift that fades within months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.interventions.base import Intervention
from sim.params import MAX_DAYS, coefficient, positive, prob


class PreventionCampaign(Intervention):
    """Reach people online (and some offline) with prevention messages."""

    name = "prevention_campaign"
    uses_target = False

    @dataclass
    class Params:
        """Parameters of the campaign (ranges declared per field)."""

        reach_online: float = prob(0.4)  #: share of online-capable people reached (assumption)
        reach_offline: float = prob(0.1)  #: share of the others reached (assumption)
        effect: float = coefficient(0.5)  #: utility added to not buying when reached, logit units (assumption)
        #: decay of the effect, days (assumption)
        half_life_days: float = positive(90.0, why="days, divided by; at most a century", hi=MAX_DAYS)

    def apply(self) -> None:
        """Reach people (one pass when the campaign starts); their choice shifts towards not buying."""
        model, p = self.model, self.params
        pop = model.buyers
        share = np.where(pop.webshop, p.reach_online, p.reach_offline)
        reached = np.flatnonzero(model.streams["interventions"].random(pop.n) < share)
        self.reached = reached
        self.saved = {
            "day": pop.campaign_day[reached].copy(),
            "effect": pop.campaign_effect[reached].copy(),
            "half_life": pop.campaign_half_life[reached].copy(),
        }
        if p.effect > 0:
            pop.campaign_day[reached] = model.day
            pop.campaign_effect[reached] = p.effect
            pop.campaign_half_life[reached] = p.half_life_days
        self.record["people_reached"] = int(len(reached))
        self.record["users_reached"] = int(np.count_nonzero(pop.active[reached]))

    def revert(self) -> None:
        """End the campaign: the reached lose its remaining effect.

        Only where this campaign's values still stand: people a later campaign reached keep that one.
        """
        pop, r, p = self.model.buyers, self.reached, self.params
        mine = (pop.campaign_day[r] == self.start_day) & (pop.campaign_effect[r] == np.float32(p.effect))
        mine &= pop.campaign_half_life[r] == np.float32(p.half_life_days)
        r = r[mine]
        pop.campaign_day[r] = self.saved["day"][mine]
        pop.campaign_effect[r] = self.saved["effect"][mine]
        pop.campaign_half_life[r] = self.saved["half_life"][mine]
