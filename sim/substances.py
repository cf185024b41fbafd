"""The substance table as arrays (docs/ODD.md, substances).

The table itself is configuration (``configs/substances/default.yaml``); this module turns
it into numpy arrays indexed by substance id so that choices and aggregates are vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.arrays import isin_few

NPS_CLASS = "nps"


@dataclass
class SubstanceTable:
    """Column arrays of the substance table; index ``i`` is substance id ``i``.

    Attributes mirror :class:`sim.config.SubstanceConfig`; ``controlled`` and
    ``webshop_sellable`` are mutable so that bans can change them during a run.
    """

    names: list[str]
    drug_class: list[str]
    controlled: np.ndarray
    street_price: np.ndarray
    online_cost_factor: np.ndarray
    purity_unit: list[str]
    purity_off_mean: np.ndarray
    purity_off_sd: np.ndarray
    purity_on_mean: np.ndarray
    purity_on_sd: np.ndarray
    street_availability: np.ndarray
    harm_weight: np.ndarray
    demand_p: np.ndarray
    webshop_sellable: np.ndarray
    #: substitution nest of each substance (index into :attr:`nest_names`)
    nest: np.ndarray
    nest_names: list[str]
    #: substance id whose analogue each one is, -1 for substances of their own
    analogue_of: np.ndarray
    #: share of street deals / online deliveries not as described (identity or content wrong)
    nad_offline: np.ndarray
    nad_online: np.ndarray

    @classmethod
    def from_config(cls, rows) -> SubstanceTable:
        """Build from a list of :class:`sim.config.SubstanceConfig` (or dict-likes)."""

        def col(key, dtype=float):
            return np.array([getattr(r, key) for r in rows], dtype=dtype)

        demand = col("demand_share") * np.array([not r.analogue_of for r in rows])
        names = [r.name for r in rows]
        nest_label = [r.nest or r.drug_class for r in rows]
        nest_names = sorted(set(nest_label))
        return cls(
            names=[r.name for r in rows],
            drug_class=[r.drug_class for r in rows],
            controlled=col("controlled", bool),
            street_price=col("street_price_eur"),
            online_cost_factor=col("online_cost_factor"),
            purity_unit=[r.purity_unit for r in rows],
            purity_off_mean=col("purity_offline_mean"),
            purity_off_sd=col("purity_offline_sd"),
            purity_on_mean=col("purity_online_mean"),
            purity_on_sd=col("purity_online_sd"),
            street_availability=col("street_availability"),
            harm_weight=col("harm_weight"),
            demand_p=demand / demand.sum(),
            webshop_sellable=col("webshop_sellable", bool),
            nest=np.array([nest_names.index(x) for x in nest_label], dtype=np.int64),
            nest_names=nest_names,
            analogue_of=np.array([names.index(r.analogue_of) if r.analogue_of else -1 for r in rows], dtype=np.int64),
            nad_offline=col("not_as_described_offline"),
            nad_online=np.array([np.nan if r.not_as_described_online is None else r.not_as_described_online for r in rows]),
        )

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Substance id of ``name``; ``KeyError`` lists the known names."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown substance {name!r}; the table has {self.names}") from None

    @property
    def is_nps(self) -> np.ndarray:
        """Whether each substance is of class ``nps``."""
        return np.array([c == NPS_CLASS for c in self.drug_class])

    def draw_purity(self, rng: np.random.Generator, sub: np.ndarray, online: bool) -> np.ndarray:
        """Draw purities for substances ``sub`` from the online or offline distribution.

        Fractions are clipped to [0.01, 1]; mg contents to at least 1% of the mean.
        """
        mean = (self.purity_on_mean if online else self.purity_off_mean)[sub]
        sd = (self.purity_on_sd if online else self.purity_off_sd)[sub]
        x = rng.normal(mean, sd)
        upper = np.where(self._is_fraction[sub], 1.0, np.inf)
        return np.minimum(np.maximum(x, 0.01 * mean), upper)  # np.clip, without its slower dispatch

    def __post_init__(self) -> None:
        self._is_fraction = np.array([u == "fraction" for u in self.purity_unit])
        S = len(self.names)
        groups = [np.flatnonzero(self.nest == self.nest[s]) for s in range(S)]
        width = max(len(g) for g in groups)
        #: per substance: the substances of its nest (itself first), padded with -1 (buyers x this
        #: width of candidates is the substance part of the purchase choice)
        self.nest_members = np.full((S, width), -1, dtype=np.int64)
        for s, g in enumerate(groups):
            ordered = [s] + [x for x in g.tolist() if x != s]
            self.nest_members[s, : len(ordered)] = ordered
        #: whether each substance is on the market at all (analogues only after their parent's ban)
        self.present = self.analogue_of < 0
        #: tables derived from the ones above, kept by their users with the key they were built for
        self.derived: dict[str, tuple] = {}

    def analogues(self, parents: np.ndarray) -> np.ndarray:
        """Ids of the analogues of substances ``parents``."""
        return np.flatnonzero(isin_few(self.analogue_of, parents) & (self.analogue_of >= 0))
