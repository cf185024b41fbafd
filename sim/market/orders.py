"""The order book: every online order as columns of numpy arrays.

Orders are appended in daily batches and processed through two calendars (day -> order ids):
``outcome`` (the buyer learns what arrived) and ``settle`` (escrow money moves). Each order has
at most one pending entry per calendar, so a day's work is proportional to the orders due that
day, never to all orders.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from sim.columns import doubled, resized
from sim.market.escrow import OrderEvent

_COLUMNS: dict[str, type] = {
    "buyer": np.int32,
    "vendor": np.int32,
    "market": np.int32,
    "substance": np.int16,
    "day": np.int32,
    "price": np.float64,
    "commission": np.float64,
    "purity": np.float32,
    "state": np.int8,
    "outcome": np.int8,
    "outcome_day": np.int32,
    "settle_event": np.int8,
    "cross_border": np.bool_,
}


class OrderBook:
    """Columnar store of orders with day calendars for outcomes and settlements."""

    def __init__(self, capacity: int = 4096) -> None:
        self.n = 0
        self._cap = capacity
        for name, dtype in _COLUMNS.items():
            setattr(self, name, np.zeros(capacity, dtype=dtype))
        self._outcome_cal: dict[int, list[np.ndarray]] = defaultdict(list)
        self._settle_cal: dict[int, list[np.ndarray]] = defaultdict(list)

    def _grow(self, need: int) -> None:
        cap = doubled(self._cap, need)
        if cap == self._cap:
            return
        for name in _COLUMNS:
            setattr(self, name, resized(getattr(self, name), cap))
        self._cap = cap

    def add(self, **cols: np.ndarray) -> np.ndarray:
        """Append a batch of orders (one array per column); return their ids."""
        k = len(cols["buyer"])
        self._grow(self.n + k)
        ids = np.arange(self.n, self.n + k)
        for name, values in cols.items():
            getattr(self, name)[ids] = values
        self.n += k
        return ids

    def schedule_outcome(self, ids: np.ndarray, days: np.ndarray) -> None:
        """Put orders ``ids`` on the outcome calendar at ``days``."""
        bucket(self._outcome_cal, ids, days)

    def schedule_settle(self, ids: np.ndarray, days: np.ndarray, event: OrderEvent | np.ndarray) -> None:
        """Put orders on the settlement calendar with the escrow event due then."""
        self.settle_event[ids] = event
        bucket(self._settle_cal, ids, days)

    def pop_outcomes(self, day: int) -> np.ndarray:
        """Order ids whose outcome the buyer learns on ``day``."""
        return pop_day(self._outcome_cal, day)

    def pop_settlements(self, day: int) -> np.ndarray:
        """Order ids with an escrow event due on ``day``."""
        return pop_day(self._settle_cal, day)

    def recent(self, since_day: int) -> np.ndarray:
        """Ids of orders placed on or after ``since_day`` (orders are stored in day order)."""
        start = int(np.searchsorted(self.day[: self.n], since_day, side="left"))
        return np.arange(start, self.n)

    def column(self, name: str) -> np.ndarray:
        """A view of the filled part of a column."""
        return getattr(self, name)[: self.n]


def bucket(cal: dict[int, list[np.ndarray]], ids: np.ndarray, days: np.ndarray) -> None:
    """Append ``ids`` to the calendar ``cal`` under their ``days`` (a scalar or one day per id)."""
    if len(ids) == 0:
        return
    days = np.asarray(days)
    if days.ndim == 0:
        cal[int(days)].append(np.asarray(ids))
        return
    order = np.argsort(days, kind="stable")
    ids, days = np.asarray(ids)[order], days[order]
    uniq, starts = np.unique(days, return_index=True)
    for d, chunk in zip(uniq.tolist(), np.split(ids, starts[1:])):
        cal[d].append(chunk)


def pop_day(cal: dict[int, list[np.ndarray]], day: int) -> np.ndarray:
    """Remove and return the ids filed under ``day`` (empty if none)."""
    chunks = cal.pop(day, None)
    if not chunks:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(chunks)
