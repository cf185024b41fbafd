"""The offline street market: the outside option for buyers with a dealer (DESIGN.md section 2).

Per substance: a street price (EUR per unit, lognormal spread around the table value), purity
drawn from the offline distribution, and availability (the share of purchase attempts for which
the dealer has it). Availability and price can be changed by interventions or scenarios.
"""

from __future__ import annotations

import numpy as np

from sim.substances import SubstanceTable

#: spread of street prices across deals, sd of log price (modelling judgement)
STREET_PRICE_LOGSD = 0.15


class StreetMarket:
    """Street price, purity and availability per substance."""

    def __init__(self, table: SubstanceTable) -> None:
        self.table = table
        self.price = table.street_price.copy()
        self.availability = table.street_availability.copy()

    def available(self, rng: np.random.Generator, sub: np.ndarray) -> np.ndarray:
        """Whether the dealer has each requested substance on this attempt."""
        return rng.random(len(sub)) < self.availability[sub]

    def deal(self, rng: np.random.Generator, sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(price per unit EUR, purity) of street deals for substances ``sub``."""
        price = self.price[sub] * rng.lognormal(0.0, STREET_PRICE_LOGSD, len(sub))
        return price, self.table.draw_purity(rng, sub, online=False)
