"""Named records that pass between phases: a batch of purchases, by column.

Purchases of a day are collected as batches (street deals, online orders) and read by the
collector, the 30-day purchase ring and the interventions' observers, always by field name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from sim.columns import resized


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


@dataclass
class DayCounters:
    """What happened today; reset at the start of each day and read by the collector."""

    n_markets: int
    n_subs: int
    sales: np.ndarray = field(init=False)
    value: np.ndarray = field(init=False)
    m_sales: np.ndarray = field(init=False)
    m_value: np.ndarray = field(init=False)
    m_buyers: np.ndarray = field(init=False)
    m_new_buyers: np.ndarray = field(init=False)
    #: the day's purchases, in batches (street deals, online orders)
    purchases: list[Purchases] = field(default_factory=list)
    harm: float = 0.0
    delivered_ok: int = 0
    outcomes: int = 0
    parcels_seized: int = 0
    arrests_vendors: int = 0
    arrests_buyers: int = 0
    refunds: int = 0
    escrow_lost: float = 0.0
    unmet: int = 0
    #: occasions of users that ended without a purchase by choice, or because an arrest pauses them
    forgone_abstained: int = 0
    forgone_paused: int = 0
    initiations: int = 0
    cessations: int = 0
    skill_learned: int = 0
    #: wholesale-sized online purchases paid today (dealers' lots, social suppliers' largest orders), EUR
    wholesale_sales: int = 0
    wholesale_value: float = 0.0
    #: purchases from friends who bought online for friends (social supply), and their value, EUR
    social_sales: int = 0
    social_value: float = 0.0
    _all: tuple[int, Purchases] | None = field(default=None, init=False, repr=False)

    def all_purchases(self) -> Purchases:
        """The day's purchases as one record (:meth:`Purchases.concat` of the batches so far).

        Built once for its several readers (the purchase log, the collector); a batch added later
        builds it again.
        """
        if self._all is None or self._all[0] != len(self.purchases):
            self._all = (len(self.purchases), Purchases.concat(self.purchases))
        return self._all[1]

    def grow_markets(self, cap: int) -> None:
        """Make room for ``cap`` market columns."""
        for name in ("m_sales", "m_value", "m_buyers", "m_new_buyers"):
            setattr(self, name, resized(getattr(self, name), cap))
        self.n_markets = cap

    def __post_init__(self) -> None:
        self.sales = np.zeros(4, dtype=np.int64)
        self.value = np.zeros(4)
        self.m_sales = np.zeros(self.n_markets, dtype=np.int64)
        self.m_value = np.zeros(self.n_markets)
        self.m_buyers = np.zeros(self.n_markets, dtype=np.int64)
        self.m_new_buyers = np.zeros(self.n_markets, dtype=np.int64)
