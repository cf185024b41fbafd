"""The set operations of sim/arrays.py return exactly what numpy's do (values, order and dtype)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sim.arrays import isin_few, last_occurrences, sorted_unique

INT_DTYPES = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint64])


@settings(max_examples=300, deadline=None)
@given(dtype=INT_DTYPES, data=st.data())
def test_sorted_unique_is_numpys_unique(dtype, data):
    values = data.draw(arrays(dtype, st.integers(0, 300), elements=st.integers(0, 120)), label="values")
    got, expected = sorted_unique(values), np.unique(values)
    assert got.dtype == expected.dtype, f"dtype {got.dtype} instead of numpy's {expected.dtype}"
    assert np.array_equal(got, expected), f"sorted_unique({values.tolist()}) = {got.tolist()}, numpy: {expected.tolist()}"


@settings(max_examples=300, deadline=None)
@given(dtype=INT_DTYPES, data=st.data())
def test_isin_few_is_numpys_isin(dtype, data):
    values = data.draw(arrays(dtype, st.integers(0, 300), elements=st.integers(0, 60)), label="values")
    few = data.draw(st.lists(st.integers(0, 60), max_size=12), label="few")
    got, expected = isin_few(values, few), np.isin(values, few)
    assert np.array_equal(got, expected), f"isin_few differs from np.isin for test values {few}"


def test_on_larger_arrays():
    """Sizes where numpy's unique hashes and its isin builds a table (a day's ids at 200,000 buyers)."""
    rng = np.random.default_rng(3)
    for n in (2_000, 50_000):
        values = rng.integers(0, 10**6, n)
        assert np.array_equal(sorted_unique(values), np.unique(values)), f"sorted_unique differs at {n} values"
        few = rng.integers(0, 10**6, 5)
        few[0] = values[17]  # at least one hit
        assert np.array_equal(isin_few(values, few), np.isin(values, few)), f"isin_few differs at {n} values"
        assert isin_few(values, few).sum() >= 1, "the planted hit is found"
        many = rng.integers(0, 10**6, 50)  # more test values than FEW_VALUES: numpy's own isin
        many[3] = values[5]
        assert np.array_equal(isin_few(values, many), np.isin(values, many)), f"isin_few differs for 50 test values at {n} values"


def test_calendar_files_every_id_under_its_day_and_frees_old_batches():
    """bucket/pop_day: each id comes back on its day; far chunks of a small batch do not keep it alive."""
    from collections import defaultdict

    from sim.market.orders import VIEW_BATCH, VIEW_DAYS, bucket, pop_day

    rng = np.random.default_rng(8)
    for n in (5, VIEW_BATCH, VIEW_BATCH + 1):
        cal: dict[int, list[np.ndarray]] = defaultdict(list)
        ids = rng.permutation(10 * n)[:n]
        days = 10 + rng.integers(1, 3 * VIEW_DAYS, n)
        bucket(cal, ids, days)
        for d in np.unique(days).tolist():
            chunks = cal[d]
            assert len(chunks) == 1, f"one chunk per day of a batch (day {d})"
            shares = chunks[0].base is not None
            assert shares == (n <= VIEW_BATCH and d < days.min() + VIEW_DAYS), (
                f"{n} ids, day {d}: a view only for a small batch's first {VIEW_DAYS} days"
            )
            got = pop_day(cal, d)
            assert np.array_equal(got, ids[days == d]), f"day {d} returns its ids in filing order"
        assert not cal, "every day was popped"


def test_draw_categorical_is_numpys_choice():
    """The same values as rng.choice(len(p), size=n, p=p), and the generator left in the same state."""
    from sim.arrays import draw_categorical

    for seed in range(60):
        p = np.random.default_rng(seed).dirichlet(np.ones(1 + seed % 11 if seed < 40 else 30 + seed))  # both paths
        if len(p) > 1:
            p[seed % len(p)] = 0.0  # a category never drawn
            p /= p.sum()
        for n in (0, 1, 7, 1000):
            a, b = np.random.default_rng(seed + 100), np.random.default_rng(seed + 100)
            expected = a.choice(len(p), size=n, p=p)
            got = draw_categorical(b, p, n)
            assert got.dtype == expected.dtype and np.array_equal(got, expected), f"seed {seed}, {n} draws differ from rng.choice"
            assert a.random() == b.random(), f"seed {seed}: the stream is used as by rng.choice"


def test_favourite_cells_with_an_empty_listing_index():
    """Buyers with a favourite vendor while nothing is listed (all markets down or closed): no cell."""
    from sim.market.listings import ListingIndex

    index = ListingIndex(n_subs=3, m_cap=4)
    rows, cols = index.favourite_cells(np.array([2, -1, 5]), np.array([0, 1, 2]), np.array([0, 1]), m_cap=4)
    assert len(rows) == 0 and len(cols) == 0, f"no (row, column) pair without listings, got {rows}, {cols}"


@settings(max_examples=300, deadline=None)
@given(dtype=INT_DTYPES, data=st.data())
def test_last_occurrences_is_numpys_reversed_unique(dtype, data):
    values = data.draw(arrays(dtype, st.integers(0, 300), elements=st.integers(0, 40)), label="values")
    expected = len(values) - 1 - np.unique(values[::-1], return_index=True)[1]
    got = last_occurrences(values)
    assert np.array_equal(got, expected), f"last_occurrences({values.tolist()}) = {got.tolist()}, numpy: {expected.tolist()}"
