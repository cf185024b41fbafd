"""A day calendar of ids for a reader that takes each day's ids once, in ascending order.

The buyers' purchase occasions are filed in daily batches whose gaps spread each batch over a
hundred or more future days. Filing them as one small array per (batch, day) and concatenating
those arrays on their day costs a memory allocation per piece, read back days later from all
over the heap: most of the calendar's cost at small populations. Here the days of the next
``window`` are the rows of one array (a batch is scattered into its days' rows in one step; a
day's ids are one sorted copy of its row), and later days wait in a pool that is moved into
the rows as the window moves on, every ``window / 2`` days.
"""

from __future__ import annotations

import numpy as np

#: days ahead held in the ring of per-day buffers (92% of a day's filings fall within 64 days)
WINDOW_DAYS = 64
INT32_MAX = np.iinfo(np.int32).max


class IdCalendar:
    """Ids filed under days; :meth:`pop` returns a day's ids in ascending order, days read one after another.

    Ids must fit in int32 (the buffers' type; :meth:`pop` returns int64). A day's ids come back
    as a set: the order they were filed in is not kept.
    """

    def __init__(self, window: int = WINDOW_DAYS) -> None:
        if window < 2:
            raise ValueError(f"window={window}: must be at least 2 days")
        self.window = window
        #: row ``day % window``: the ids filed under that day (the first ``_counts`` of the row)
        self._rows = np.empty((window, 64), dtype=np.int32)
        self._counts = np.zeros(window, dtype=np.int64)
        #: the next day to read (None before the first read) and the first day not in the ring
        self.next_day: int | None = None
        self._horizon: int | None = None
        self._pool_ids: list[np.ndarray] = []
        self._pool_days: list[np.ndarray] = []

    def file(self, ids: np.ndarray, days: np.ndarray | int) -> None:
        """File ``ids`` under ``days`` (one day per id, or one for all); days already read are refused."""
        ids = np.asarray(ids)
        if len(ids) == 0:
            return
        days = np.asarray(days, dtype=np.int64)
        if days.ndim == 0:
            days = np.full(len(ids), int(days))
        if self.next_day is not None and int(days.min()) < self.next_day:
            raise ValueError(f"an id was filed under day {int(days.min())}, already read (next day {self.next_day})")
        if int(ids.min()) < 0 or int(ids.max()) > INT32_MAX:
            raise ValueError(f"ids must lie in [0, {INT32_MAX}]; got {int(ids.min())} to {int(ids.max())}")
        if self._horizon is None:
            self._to_pool(ids, days)
            return
        near = days < self._horizon
        if near.all():
            self._to_ring(ids, days)
        else:
            if near.any():
                self._to_ring(ids[near], days[near])
            far = ~near
            self._to_pool(ids[far], days[far])

    def pop(self, day: int) -> np.ndarray:
        """Remove and return the ids filed under ``day`` (ascending, int64); ``day`` is the next day to read."""
        if self.next_day is None:
            self.next_day = day
        if day != self.next_day:
            raise ValueError(f"day {day} read out of turn: the next day to read is {self.next_day}")
        if self._horizon is None or self._horizon - day < self.window // 2:
            self._refill(day + self.window)
        slot = day % self.window
        out = np.sort(self._rows[slot, : self._counts[slot]]).astype(np.int64)
        self._counts[slot] = 0
        self.next_day = day + 1
        return out

    def pending(self) -> tuple[np.ndarray, np.ndarray]:
        """Every id still filed and its day (ids, days), in no particular order."""
        ids, days = [], []
        if self.next_day is not None:
            for day in range(self.next_day, self.next_day + self.window):
                slot = day % self.window
                ids.append(self._rows[slot, : self._counts[slot]].astype(np.int64))
                days.append(np.full(self._counts[slot], day, dtype=np.int64))
        ids += [p.astype(np.int64) for p in self._pool_ids]
        days += self._pool_days
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(ids), np.concatenate(days)

    def _to_pool(self, ids: np.ndarray, days: np.ndarray) -> None:
        self._pool_ids.append(ids.astype(np.int32))
        self._pool_days.append(np.array(days, dtype=np.int64))

    def _refill(self, horizon: int) -> None:
        """Move the window on to ``horizon`` (exclusive): pooled ids due before it go into the ring."""
        self._horizon = horizon
        if not self._pool_ids:
            return
        ids, days = np.concatenate(self._pool_ids), np.concatenate(self._pool_days)
        if self.next_day is not None and int(days.min()) < self.next_day:
            raise ValueError(f"an id was filed under day {int(days.min())}, before the first day read ({self.next_day})")
        near = days < horizon
        self._pool_ids, self._pool_days = ([ids[~near]], [days[~near]]) if not near.all() else ([], [])
        self._to_ring(ids[near], days[near])

    def _to_ring(self, ids: np.ndarray, days: np.ndarray) -> None:
        """Copy ids due within the ring into their days' rows (one scatter, no loop over days)."""
        n = len(ids)
        if n == 0:
            return
        slot = (days % self.window).astype(np.int16)
        order = np.argsort(slot, kind="stable")  # (a radix sort of small integers)
        slot = slot[order]
        added = np.bincount(slot, minlength=self.window)
        group_start = np.cumsum(added) - added
        # each id's place in its day's row: after the ids already there, in filing order
        place = self._counts[slot] + (np.arange(n) - group_start[slot])
        self._counts += added
        need = int(self._counts.max())
        if need > self._rows.shape[1]:
            grown = np.empty((self.window, max(2 * self._rows.shape[1], need)), dtype=np.int32)
            grown[:, : self._rows.shape[1]] = self._rows
            self._rows = grown
        self._rows[slot, place] = ids[order]
