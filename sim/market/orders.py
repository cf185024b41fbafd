"""The order book: every online order as columns of numpy arrays.

Orders are appended in daily batches and processed through two calendars (day -> order ids):
``outcome`` (the buyer learns what arrived) and ``settle`` (escrow money moves). Each order has
at most one pending entry per calendar, so a day's work is proportional to the orders due that
day, never to all orders.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from sim.columns import Col, Table
from sim.market.escrow import OrderEvent


class OrderBook(Table):
    """Columnar store of orders (a :class:`~sim.columns.Table`) with day calendars for outcomes and settlements."""

    SPEC = {
        "buyer": Col(np.int32, 0),
        "vendor": Col(np.int32, 0),
        "market": Col(np.int32, 0),
        "substance": Col(np.int16, 0),
        "day": Col(np.int32, 0),
        "price": Col(np.float64, 0),
        "commission": Col(np.float64, 0),
        "purity": Col(np.float32, 0),
        "state": Col(np.int8, 0),
        "outcome": Col(np.int8, 0),
        "outcome_day": Col(np.int32, 0),
        "settle_event": Col(np.int8, 0),
        "cross_border": Col(np.bool_, 0),
        "origin": Col(np.int8, 0),  # the vendor's sim.domain.Origin when the order was placed (its route)
        "portions": Col(np.int16, 1),  # purchase-sized portions: 1, plus friends' portions of social suppliers
    }
    buyer: np.ndarray
    vendor: np.ndarray
    market: np.ndarray
    substance: np.ndarray
    day: np.ndarray
    price: np.ndarray
    commission: np.ndarray
    purity: np.ndarray
    state: np.ndarray
    outcome: np.ndarray
    outcome_day: np.ndarray
    settle_event: np.ndarray
    cross_border: np.ndarray
    origin: np.ndarray
    portions: np.ndarray

    def __init__(self, capacity: int = 4096) -> None:
        super().__init__(capacity)
        self._outcome_cal: dict[int, list[np.ndarray]] = defaultdict(list)
        self._settle_cal: dict[int, list[np.ndarray]] = defaultdict(list)

    def add(self, **cols: np.ndarray) -> np.ndarray:
        """Append a batch of orders (one array per column); return their ids."""
        return self.append(len(cols["buyer"]), **cols)

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


#: a calendar batch of at most this many ids may be kept whole and read through views ...
VIEW_BATCH = 4096
#: ... for its days up to this many days after its first (so it is freed within that time)
VIEW_DAYS = 120


def bucket(cal: dict[int, list[np.ndarray]], ids: np.ndarray, days: np.ndarray, keep_order: bool = True) -> None:
    """Append ``ids`` to the calendar ``cal`` under their ``days`` (a scalar or one day per id).

    ``keep_order``: ids of one day keep their order (a stable sort); pass False where the reader
    sorts a day's ids anyway (a faster sort).
    """
    if len(ids) == 0:
        return
    days = np.asarray(days)
    if days.ndim == 0:
        cal[int(days)].append(np.asarray(ids))
        return
    order = np.argsort(days, kind="stable" if keep_order else None)
    ids, days = np.asarray(ids)[order], days[order]
    starts = np.flatnonzero(days[1:] != days[:-1]) + 1
    bounds = [0, *starts.tolist(), len(ids)]
    chunk_days = days[bounds[:-1]].tolist()
    # a view keeps the whole batch alive until its last day comes (for gaps of months, hundreds
    # of batches): large batches are copied chunk by chunk; a small one is kept whole (at most
    # VIEW_BATCH ids) for the chunks of its first VIEW_DAYS days, and copied beyond (slices, not
    # np.split: a batch has hundreds of days and np.split costs several times a slice per chunk)
    view_until = chunk_days[0] + VIEW_DAYS if len(ids) <= VIEW_BATCH else chunk_days[0]
    for d, lo, hi in zip(chunk_days, bounds[:-1], bounds[1:]):
        cal[d].append(ids[lo:hi] if d < view_until else ids[lo:hi].copy())


def pop_day(cal: dict[int, list[np.ndarray]], day: int) -> np.ndarray:
    """Remove and return the ids filed under ``day`` (empty if none)."""
    chunks = cal.pop(day, None)
    if not chunks:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(chunks)
