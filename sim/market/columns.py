"""Growable column arrays: rows appended in batches, capacity doubled when full."""

from __future__ import annotations

import numpy as np


class Columns:
    """A set of equally long numpy columns with amortised O(1) appends.

    Args:
        spec: column name -> (dtype, fill value for new rows).
        capacity: initial number of rows allocated.
    """

    def __init__(self, spec: dict[str, tuple[type, object]], capacity: int = 64) -> None:
        self._spec = spec
        self._cap = max(1, capacity)
        self.n = 0
        for name, (dtype, fill) in spec.items():
            setattr(self, name, np.full(self._cap, fill, dtype=dtype))

    def append(self, k: int, **values) -> np.ndarray:
        """Append ``k`` rows (columns not given keep their fill value); return their indices."""
        need = self.n + k
        if need > self._cap:
            cap = self._cap
            while cap < need:
                cap *= 2
            for name, (dtype, fill) in self._spec.items():
                new = np.full(cap, fill, dtype=dtype)
                new[: self.n] = getattr(self, name)[: self.n]
                setattr(self, name, new)
            self._cap = cap
        idx = np.arange(self.n, need)
        for name, v in values.items():
            getattr(self, name)[idx] = v
        self.n = need
        return idx

    @property
    def allocated(self) -> int:
        """Rows allocated (the length of every column array)."""
        return self._cap
