"""numpy's set operations and categorical draw with numpy's results, at a lower cost on a day's small arrays.

numpy 2.x answers ``np.unique`` without options by hashing, and ``np.isin`` on integers with a
lookup table over the values' range: on the hundreds of ids a day's phase handles, both cost
several times a sort; ``Generator.choice`` with probabilities checks them on every call and
finds each draw's category by binary search (``docs/performance.md``, "Fewer fixed costs per
day"). The functions here return exactly what numpy returns (``tests/test_arrays.py`` checks it).
"""

from __future__ import annotations

import numpy as np

#: up to this many test values, :func:`isin_few` compares with each in turn; with more, numpy's
#: own choice (a lookup table over the values' range for integers) costs less on large arrays
FEW_VALUES = 8


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)``: the distinct values, ascending (a sort and one comparison pass)."""
    s = np.sort(np.asarray(values).ravel())
    if len(s) < 2:
        return s
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def last_occurrences(values: np.ndarray) -> np.ndarray:
    """Index of the last occurrence of each distinct value, in ascending order of the values.

    ``len(values) - 1 - np.unique(values[::-1], return_index=True)[1]``, from one stable sort.
    """
    values = np.asarray(values).ravel()
    order = np.argsort(values, kind="stable")  # equal values keep their order: a run ends at the last
    s = values[order]
    last = np.ones(len(s), dtype=bool)
    np.not_equal(s[1:], s[:-1], out=last[:-1])
    return order[last]


def isin_few(values: np.ndarray, few: np.ndarray | tuple | list) -> np.ndarray:
    """``np.isin(values, few)`` for a few test values: one comparison pass per test value.

    (What numpy's ``kind="sort"`` does for few test values, without its checks on every call.
    More test values go to ``np.isin`` with its default method: over a week's moved vendors and
    all buyers' favourites at 10,000,000 buyers, ``kind="sort"`` sorts 15 million values.)
    """
    test = np.asarray(few).ravel()
    if len(test) > FEW_VALUES:
        return np.isin(values, test)
    values = np.asarray(values)
    out = np.zeros(values.shape, dtype=bool)
    for value in test:
        out |= values == value
    return out


#: up to this many categories, :func:`draw_categorical` counts by comparisons, not by binary search
FEW_CATEGORIES = 32


def draw_categorical(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    """``rng.choice(len(p), size=n, p=p)``: the same draws (one uniform each) and the same stream use.

    numpy's ``choice`` checks ``p`` (non-negative, summing to 1) on every call, which costs more
    than the draw itself for the few draws of a day; ``p`` here is the caller's normalised weights.
    """
    return categories_of(rng.random(n), p)


def categories_of(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The category each uniform ``u`` picks with probabilities ``p``, as ``rng.choice`` maps its uniforms."""
    cdf = np.cumsum(p, dtype=np.float64)
    cdf /= cdf[-1]
    if len(cdf) > FEW_CATEGORIES:
        return cdf.searchsorted(u, side="right").astype(np.int64, copy=False)
    # few categories: the count of cumulative weights at or below each draw (what searchsorted
    # returns) as one comparison per category, faster than a binary search per draw
    out = np.zeros(len(u), dtype=np.int64)
    for c in cdf.tolist():
        out += c <= u
    return out
