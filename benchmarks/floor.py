"""The floor: a bare Mesa model with the model's agents and purchase events that do nothing.

What a run of cryptomarket-abm costs is compared with this floor (``benchmarks/scale.py``,
column ``ratio_to_floor``): the cheapest honest Mesa model of the same population, so the ratio is
the price of the model's behaviour, not of Python or Mesa.

- One Mesa agent per buyer row (users and people at risk, as in the model), one per vendor and one
  per market, registered with the model as usual (``AgentSet``).
- Each buyer has purchase occasions at exponential gaps with the model's rates (users: a lognormal
  rate per month with the configured mean and spread; people at risk: the start-attempt rate), on a
  day calendar like the model's.
- A purchase event draws one random number (``model.random``, the cheapest draw Mesa offers) and
  uses it as the gap to the next occasion. Nothing else happens: no choice, no market, no record.
- Vendors and markets are activated once a day through ``AgentSet.do`` with an empty step.

The floor runs burn-in plus ``days`` days, like the model.
"""

from __future__ import annotations

import math
from collections import defaultdict

import mesa
import numpy as np


class FloorBuyer(mesa.Agent):
    """A buyer whose purchase event only draws the gap to its next occasion."""

    def __init__(self, model: FloorModel, mean_gap_days: float) -> None:
        super().__init__(model)
        self.mean_gap_days = mean_gap_days

    def purchase(self, day: int) -> int:
        """The event: one random number, the day of the next occasion."""
        u = self.model.random.random()
        return day + max(1, round(-math.log1p(-u) * self.mean_gap_days))


class FloorVendor(mesa.Agent):
    """A vendor that does nothing."""

    def step(self) -> None:
        """Nothing."""


class FloorMarket(mesa.Agent):
    """A marketplace that does nothing."""

    def step(self) -> None:
        """Nothing."""


class FloorModel(mesa.Model):
    """Buyers with purchase events on a day calendar, and idle vendors and markets."""

    def __init__(self, mean_gaps: np.ndarray, n_vendors: int, n_markets: int, seed: int = 0) -> None:
        super().__init__(rng=seed)
        self.day = 0
        self.events = 0
        self.calendar: dict[int, list[FloorBuyer]] = defaultdict(list)
        first = np.random.default_rng(seed).random(len(mean_gaps)) * mean_gaps
        for gap, start in zip(mean_gaps.tolist(), first.astype(np.int64).tolist()):
            self.calendar[start].append(FloorBuyer(self, gap))
        for _ in range(n_vendors):
            FloorVendor(self)
        for _ in range(n_markets):
            FloorMarket(self)
        self.others = self.agents.select(lambda a: not isinstance(a, FloorBuyer))

    def step(self) -> None:
        """One day: the buyers due today purchase; vendors and markets step."""
        due = self.calendar.pop(self.day, [])
        calendar = self.calendar
        for buyer in due:
            calendar[buyer.purchase(self.day)].append(buyer)
        self.events += len(due)
        self.others.do("step")
        self.day += 1


def mean_gaps(n_buyers: int, seed: int = 0) -> np.ndarray:
    """Mean days between occasions of each buyer row, drawn as the model draws its rates (defaults)."""
    from sim.config import Config

    cfg = Config().model
    b, d = cfg.buyers, cfg.demand
    rng = np.random.default_rng(seed)
    n_potential = int(round(n_buyers * d.potential_users_per_user))
    rate = rng.lognormal(
        np.log(b.purchases_per_month_mean) - b.purchases_per_month_logsd**2 / 2, b.purchases_per_month_logsd, n_buyers
    )
    users = np.minimum(30.0 / rate, 1e9)
    potential = np.full(n_potential, 30.0 / d.start_attempts_per_month if d.start_attempts_per_month > 0 else 1e9)
    return np.concatenate([users, potential])
