"""The buyers' day calendar returns each day exactly the ids filed under it, and refuses misuse."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from sim.calendar import IdCalendar


def test_each_day_returns_exactly_its_ids_in_ascending_order():
    """Random daily batches over gaps of 1 to 400 days (past the window), read day by day, against a dict."""
    rng = np.random.default_rng(4)
    cal, reference = IdCalendar(window=16), defaultdict(list)
    first = 100
    ids = np.arange(5000)
    start_days = first + rng.integers(0, 30, len(ids))
    cal.file(ids, start_days)  # before the first read: all pooled
    for i, d in zip(ids.tolist(), start_days.tolist()):
        reference[d].append(i)
    for day in range(first, first + 300):
        got = cal.pop(day)
        expected = np.sort(np.array(reference.pop(day, []), dtype=np.int64))
        assert got.dtype == np.int64, "ids come back as int64"
        assert np.array_equal(got, expected), f"day {day}: {len(got)} ids instead of {len(expected)}"
        if len(got):  # each id read files its next day
            gaps = np.where(rng.random(len(got)) < 0.1, rng.integers(17, 400, len(got)), rng.integers(1, 16, len(got)))
            cal.file(got, day + gaps)
            for i, d in zip(got.tolist(), (day + gaps).tolist()):
                reference[d].append(i)
        cal.file(np.array([], dtype=np.int64), day + 1)  # nothing to file: nothing happens
    pending_ids, pending_days = cal.pending()
    expected_pending = sorted((d, i) for d, lst in reference.items() for i in lst)
    assert sorted(zip(pending_days.tolist(), pending_ids.tolist())) == expected_pending, "pending() lists what is left"


def test_misuse_is_refused():
    cal = IdCalendar(window=8)
    cal.file(np.array([3, 4]), 10)
    with pytest.raises(ValueError, match="before the first day read"):
        cal.pop(11)  # day 10's ids would be lost
    cal = IdCalendar(window=8)
    cal.file(np.array([3, 4]), 10)
    assert cal.pop(10).tolist() == [3, 4], "the first read returns the first day's ids"
    with pytest.raises(ValueError, match="already read"):
        cal.file(np.array([5]), 10)
    with pytest.raises(ValueError, match="out of turn"):
        cal.pop(12)
    with pytest.raises(ValueError, match="ids must lie in"):
        cal.file(np.array([2**31]), 20)
    with pytest.raises(ValueError, match="window"):
        IdCalendar(window=1)
