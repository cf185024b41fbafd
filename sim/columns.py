"""State tables: equally long numpy columns that grow by doubling, declared once per table.

A :class:`Table` subclass declares its columns in ``SPEC`` (dtype, fill value for new rows, and an
optional second axis: a fixed width such as the substances, or a named axis such as ``markets``
that grows when markets open) and annotates them, so that the table owns its arrays and their
growth, and readers see typed attributes. :func:`resized` is the one way any array of the model
grows (buyers' per-market matrices, the forum's per-market arrays, the day's counters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np


def resized(array: np.ndarray, size: int, axis: int = 0, fill: object = 0) -> np.ndarray:
    """A copy of ``array`` with ``size`` entries along ``axis``: old entries kept, new ones ``fill``."""
    shape = list(array.shape)
    shape[axis] = size
    out = np.full(shape, fill, dtype=array.dtype)
    keep = [slice(None)] * array.ndim
    keep[axis] = slice(0, min(size, array.shape[axis]))
    out[tuple(keep)] = array[tuple(keep)]
    return out


def doubled(capacity: int, need: int) -> int:
    """The capacity after doubling ``capacity`` until it holds ``need``."""
    cap = max(1, capacity)
    while cap < need:
        cap *= 2
    return cap


@dataclass(frozen=True)
class Col:
    """A column: dtype, fill value of new rows, and its second axis (None, a width, or an axis name)."""

    dtype: type
    fill: object = 0
    width: int | str | None = None


class Table:
    """Rows appended in batches, capacity doubled when full; columns from ``SPEC``.

    Args:
        capacity: rows allocated at first.
        widths: sizes of the named second axes (e.g. ``{"substances": 9, "markets": 32}``).
    """

    SPEC: ClassVar[dict[str, Col]] = {}

    def __init__(self, capacity: int = 64, widths: dict[str, int] | None = None) -> None:
        self._cap = max(1, capacity)
        self._widths = dict(widths or {})
        self.n = 0
        for name, col in self.SPEC.items():
            setattr(self, name, np.full(self._shape(col, self._cap), col.fill, dtype=col.dtype))

    def _shape(self, col: Col, rows: int) -> tuple[int, ...]:
        if col.width is None:
            return (rows,)
        return (rows, col.width if isinstance(col.width, int) else self._widths[col.width])

    def append(self, k: int, **values) -> np.ndarray:
        """Append ``k`` rows (columns not given keep their fill value); return their indices."""
        need = self.n + k
        self.reserve(need)
        rows = slice(self.n, need)  # (a slice: cheaper to assign to than the same rows by index)
        for name, v in values.items():
            getattr(self, name)[rows] = v
        idx = np.arange(self.n, need)
        self.n = need
        return idx

    def reserve(self, rows: int) -> None:
        """Allocate room for ``rows`` rows (capacity doubled as needed)."""
        if rows > self._cap:
            self._cap = doubled(self._cap, rows)
            for name, col in self.SPEC.items():
                setattr(self, name, resized(getattr(self, name), self._cap, axis=0, fill=col.fill))

    def grow_axis(self, axis: str, size: int) -> None:
        """Widen every column whose second axis is ``axis`` to ``size`` (e.g. when markets open)."""
        if size <= self._widths.get(axis, 0):
            return
        self._widths[axis] = size
        for name, col in self.SPEC.items():
            if col.width == axis:
                setattr(self, name, resized(getattr(self, name), size, axis=1, fill=col.fill))

    @property
    def allocated(self) -> int:
        """Rows allocated (the length of every column array)."""
        return self._cap
