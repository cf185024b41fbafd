"""The offline street market: the outside option for buyers with a dealer (docs/ODD.md, entities).

Per substance: a street price (EUR per unit, lognormal spread around the table value), purity
drawn from the offline distribution, and availability (the share of purchase attempts for which
the dealer has it). Availability and price can be changed by interventions or scenarios.
"""

from __future__ import annotations

import numpy as np

from sim.substances import SubstanceTable


class StreetMarket:
    """Street price, purity and availability per substance."""

    def __init__(self, table: SubstanceTable, price_logsd: float) -> None:
        self.table = table
        #: spread of street prices across deals, sd of log price (``model.street.price_logsd``)
        self.price_logsd = price_logsd
        self.price = table.street_price.copy()
        self.availability = table.street_availability.copy()

    def available(self, rng: np.random.Generator, sub: np.ndarray) -> np.ndarray:
        """Whether the dealer has each requested substance on this attempt."""
        return rng.random(len(sub)) < self.availability[sub]

    def deal(self, rng: np.random.Generator, sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(price per unit EUR, purity) of street deals for substances ``sub``."""
        price = self.price[sub] * rng.lognormal(0.0, self.price_logsd, len(sub))
        return price, self.table.draw_purity(rng, sub, online=False)
