"""Price change: every price of some substances (street and online) rises or falls by a factor.

Stands for what raises the cost of drugs to users: a tax on a regulated product, or supply-side
enforcement that raises traffickers' costs ("risks and prices", Reuter & Kleiman 1986). It is also
how the model's price elasticity of purchases is measured (docs/validation.md): raise all prices by
10% and compare purchases with the same seed's counterfactual. The street price moves at once, so
do posted online prices; vendors keep the factor when they re-price.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.interventions.base import Intervention
from sim.params import positive


class PriceChange(Intervention):
    """Multiply the prices of substances on every channel by ``factor``."""

    name = "price_change"
    uses_target = False

    @dataclass
    class Params:
        """Parameters of the price change (ranges declared per field)."""

        #: price multiplier (1.1 = prices 10% higher)
        factor: float = positive(1.1, why="a multiplier of prices; at 100 they are a hundredfold", hi=100.0)
        #: substance names, or "nps" for every NPS; empty = every substance
        substances: list[str] = field(default_factory=list)

    @classmethod
    def normalise(cls, given: dict) -> dict:
        """``substances: cocaine`` means ``[cocaine]``."""
        if isinstance(given.get("substances"), str):
            given["substances"] = [given["substances"]]
        return given

    def substance_ids(self) -> np.ndarray:
        """Indices of the substances whose prices change."""
        t = self.model.subs
        if not self.params.substances:
            return np.arange(len(t))
        ids: set[int] = set()
        for name in self.params.substances:
            ids.update(np.flatnonzero(t.is_nps).tolist() if name == "nps" else [t.index(name)])
        return np.array(sorted(ids), dtype=np.int64)

    def apply(self) -> None:
        """Scale street prices, posted online prices and the vendors' price lever."""
        model, f = self.model, self.params.factor
        s = self.substance_ids()
        self.subs = s
        model.street.price[s] *= f
        model.levers.price_factor[s] *= f
        n = model.vend.n
        model.vend.price[:n, s] *= f
        self.record["substances"] = [model.subs.names[i] for i in s.tolist()]
        self.record["factor"] = float(f)

    def revert(self) -> None:
        """Undo its own factor (posted prices at once, vendors' lever for their next re-pricing).

        Dividing by the factor, rather than restoring saved values, keeps what overlapping
        interventions (another price change, a ban's street price rise) did in between.
        """
        model, s, f = self.model, self.subs, self.params.factor
        model.street.price[s] /= f
        model.levers.price_factor[s] /= f
        n = model.vend.n
        model.vend.price[:n, s] /= f
