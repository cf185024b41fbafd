"""The offline street market: the outside option for buyers with a dealer (docs/ODD.md, entities).

Per substance: a street price (EUR per unit, lognormal spread around the current level), purity
drawn from the offline distribution, and availability (the share of purchase attempts for which
the dealer has it). Each is a level that interventions move (``price``, ``availability``: a ban,
a price change) times what the street's supply gives this week (``supply_price``,
``supply_availability``: set by the dealers' restocking, sim/agents/dealer.py).
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
        #: levels moved by interventions (each saves and restores its own factor)
        self.price = table.street_price.copy()
        self.availability = table.street_availability.copy()
        #: what the week's supply makes of them: price multiplier and share of the level available
        self.supply_price = np.ones(len(table))
        self.supply_availability = np.ones(len(table))

    def set_supply(self, ratio: np.ndarray, price_response: float) -> None:
        """The week's supply ratio (delivered / needed) per substance sets availability and price.

        Short supply makes the substance unavailable on a share (1 - ratio) of attempts and raises
        the price by ratio ** -price_response (a ratio above 1 would lower it; the dealers'
        restocking never supplies more than it needs, so it gives at most 1).
        """
        r = np.clip(ratio, 0.05, 20.0)
        self.supply_availability = np.minimum(1.0, r)
        self.supply_price = r**-price_response

    @property
    def current_price(self) -> np.ndarray:
        """Street price per unit this week, EUR, per substance."""
        return self.price * self.supply_price

    @property
    def current_availability(self) -> np.ndarray:
        """Share of attempts on which a dealer has the substance this week, per substance."""
        return self.availability * self.supply_availability

    def deal(self, rng: np.random.Generator, sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(price per unit EUR, purity) of street deals for substances ``sub``."""
        price = self.current_price[sub] * rng.lognormal(0.0, self.price_logsd, len(sub))
        return price, self.table.draw_purity(rng, sub, online=False)
