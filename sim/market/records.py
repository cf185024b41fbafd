"""Named records that pass between phases: a batch of purchases, by column.

Purchases of a day are collected as batches (street deals, online orders) and read by the
collector, the 30-day purchase ring and the interventions' observers, always by field name.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class Purchases:
    """Purchases, one entry per purchase.

    Attributes:
        buyer: buyer index.
        substance: substance index.
        channel: :class:`sim.domain.Channel` value (0 = street).
        market: market column, -1 for street deals.
        unit_price: price per unit (gram or tablet), EUR.
        purity: purity of what was bought, in the substance's purity unit.
        value: amount paid, EUR.
    """

    buyer: np.ndarray
    substance: np.ndarray
    channel: np.ndarray
    market: np.ndarray
    unit_price: np.ndarray
    purity: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.buyer)

    @classmethod
    def empty(cls) -> Purchases:
        """No purchases (integer columns int64, the others float64)."""
        i, f = np.zeros(0, dtype=np.int64), np.zeros(0)
        return cls(buyer=i, substance=i, channel=i, market=i, unit_price=f, purity=f, value=f)

    @classmethod
    def concat(cls, batches: list[Purchases]) -> Purchases:
        """One record of all ``batches``, in order."""
        if not batches:
            return cls.empty()
        return cls(**{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(cls)})
