"""Random-utility choice as plain functions (no model needed, tested directly).

A choice is a Gumbel-max draw: adding i.i.d. standard Gumbel noise to utilities and taking the
argmax samples the multinomial logit, one vectorised draw for many deciders at once.
Unavailable alternatives carry utility ``-inf``.
"""

from __future__ import annotations

import numpy as np

NEG_INF = -np.inf


#: up to this many columns, a row-wise reduction runs as a loop over columns: numpy's reduction
#: along a short last axis costs about four times as much (it loops over rows)
NARROW = 32
#: ... provided there are at least this many rows per column: on fewer rows the loop's fixed cost
#: per column is more than numpy's reduction costs (both give the same bits; docs/performance.md)
LOOP_ROWS_PER_COLUMN = 40
#: numpy sums fewer than 8 numbers one after another (pairwise above): a loop over columns adds in
#: the same order, so it gives the same bits
SEQUENTIAL_SUM = 8
#: rows per block of a narrow row-wise log-sum-exp: a block's (rows x columns) arrays stay in cache
ROW_BLOCK = 16_384
#: below this, a logit weight ``exp(u - max)`` is taken as 0 (``exp(-700)`` is 1e-304: no sum that
#: also holds the row maximum's weight 1 can tell it from 0)
WEIGHT_CUTOFF = -700.0


def loop_over_columns(u: np.ndarray) -> bool:
    """Whether a row-wise pass over ``u`` is faster as a loop over its columns (many rows of few columns)."""
    width = u.shape[1]
    return 0 < width <= NARROW and u.shape[0] >= LOOP_ROWS_PER_COLUMN * width


def row_max(u: np.ndarray) -> np.ndarray:
    """``u.max(axis=1)`` (the same values: a maximum does not depend on the order), faster for narrow ``u``."""
    if not loop_over_columns(u):
        return u.max(axis=1)
    m = u[:, 0].copy()
    for j in range(1, u.shape[1]):
        np.maximum(m, u[:, j], out=m)
    return m


def row_sum(w: np.ndarray) -> np.ndarray:
    """``w.sum(axis=1)`` with the same bits, faster for rows of fewer than 8 columns."""
    if w.shape[1] >= SEQUENTIAL_SUM or not loop_over_columns(w):
        return w.sum(axis=1)
    s = w[:, 0].copy()
    for j in range(1, w.shape[1]):
        s += w[:, j]
    return s


def exp_weights(w: np.ndarray) -> np.ndarray:
    """``exp(w)`` in place, 0 where ``w < WEIGHT_CUTOFF`` (unavailable alternatives, ``-inf``).

    The same bits as ``np.exp(w)`` wherever ``w >= WEIGHT_CUTOFF``. numpy's vectorised exp leaves
    its fast path for any block holding ``-inf`` or an underflow (about 8x slower per element on
    the rows of the choice, where most cells are unavailable), so those cells are raised to the
    cutoff and their weight set to 0 afterwards.
    """
    keep = w >= WEIGHT_CUTOFF
    np.maximum(w, WEIGHT_CUTOFF, out=w)
    np.exp(w, out=w)
    np.multiply(w, keep, out=w)
    return w


def logsumexp_rows(u: np.ndarray) -> np.ndarray:
    """Row-wise log(sum(exp(u))), ``-inf`` for rows with no available alternative."""
    return logsumexp_rows_weights(u)[0]


def logsumexp_rows_weights(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`logsumexp_rows` and the weights ``exp(u - row max)`` it summed (for :func:`pick_by_weights`)."""
    if u.shape[1] == 0:
        return np.full(u.shape[0], NEG_INF), np.zeros(u.shape)
    if u.shape[1] > NARROW or len(u) <= ROW_BLOCK:
        return _logsumexp_rows_weights(u)
    # many narrow rows: block by block, so that each block's passes (maximum, exp, sum) run in
    # cache; every row's arithmetic is the same, so are its bits
    out, w = np.empty(len(u)), np.empty(u.shape)
    for start in range(0, len(u), ROW_BLOCK):
        block = slice(start, start + ROW_BLOCK)
        out[block], w[block] = _logsumexp_rows_weights(u[block])
    return out, w


def _logsumexp_rows_weights(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = row_max(u)
    finite = np.isfinite(m)
    every = bool(finite.all())  # the usual case: no row without an alternative, nothing to mask
    safe = m if every else np.where(finite, m, 0.0)
    # in place: these run over every occasion of the day, and temporaries cost as much as the arithmetic
    w = exp_weights(u - safe[:, None])
    s = row_sum(w)
    with np.errstate(divide="ignore"):
        np.log(s, out=s)
    s += safe
    if not every:
        s[~finite] = NEG_INF
    return s, w


def pick_by_weights(w: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """One column per row, with probability proportional to the weights ``w`` (rows sum above 0).

    Inverts the cumulative weights with one uniform in [0, 1) per row: the same law as adding
    Gumbel noise to ``log w`` and taking the argmax, with one draw per row instead of one per cell.
    Zero-weight columns are never picked and do not change which other column a uniform picks.
    """
    if len(w) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(w) > ROW_BLOCK:
        # many rows: block by block, so that the passes over each block's columns run in cache
        # (a day's picks at 10,000,000 buyers are about 380,000 rows, extrapolated from 7,700 a day
        # at 200,000); each row's sums and counts are its own, so are its picks
        pick = np.empty(len(w), dtype=np.int64)
        for start in range(0, len(w), ROW_BLOCK):
            block = slice(start, start + ROW_BLOCK)
            pick[block] = _pick_by_weights(w[block], uniform[block])
        return pick
    return _pick_by_weights(w, uniform)


def _pick_by_weights(w: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    width = w.shape[1]
    if not loop_over_columns(w):  # (a running sum along a row adds in order: the same sums as the loop)
        cum = np.cumsum(w, axis=1)
        target = uniform * cum[:, -1]
        pick = np.count_nonzero(cum <= target[:, None], axis=1)
        return np.minimum(pick, width - 1)
    # narrow rows: the same running sums (added in the same order) and counts, column by column
    cum = w.copy()
    for j in range(1, width):
        cum[:, j] += cum[:, j - 1]
    target = uniform * cum[:, -1]
    pick = np.zeros(len(w), dtype=np.int64)
    for j in range(width):
        pick += cum[:, j] <= target
    return np.minimum(pick, width - 1)


def pick_in_ranges(
    uniform: np.ndarray,
    cum: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    fav_cum: np.ndarray | None = None,
    fav_lo: np.ndarray | None = None,
    fav_hi: np.ndarray | None = None,
    fav_extra: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A logit choice among many alternatives without a cell per (decider, alternative).

    Decider i chooses among the alternatives ``lo[i] .. hi[i] - 1`` (non-empty) of an array whose
    running weights are ``cum``, each with probability proportional to its weight. With a
    favourite, the alternatives ``fav_lo[i] .. fav_hi[i] - 1`` of a second ordering (running
    weights ``fav_cum``: e.g. the same alternatives sorted by seller) weigh ``1 + fav_extra[i]``
    times as much (``fav_extra = e^bonus - 1 >= 0``; an empty favourite range adds nothing). The
    favourite's alternatives must be among the decider's own.

    One uniform in [0, 1) per decider is drawn against the running weights, the favourite's extra
    weight placed after all others: the same law as Gumbel noise on every alternative's log weight
    (plus the bonus), at a cost that grows with deciders x log(alternatives).

    Returns:
        (position, favourite): the position chosen, in the favourite ordering where ``favourite`` is True.
    """
    before = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    total = cum[hi - 1] - before
    extra = np.zeros(len(lo))
    fav_before, fav_total = np.zeros(len(lo)), np.zeros(len(lo))
    if fav_cum is not None and fav_lo is not None and fav_hi is not None and fav_extra is not None:
        has = fav_hi > fav_lo
        fav_before = np.where(fav_lo > 0, fav_cum[np.maximum(fav_lo - 1, 0)], 0.0)
        fav_total = np.where(has, fav_cum[np.maximum(fav_hi - 1, 0)] - fav_before, 0.0)
        extra = fav_total * fav_extra
    target = uniform * (total + extra)
    favourite = target >= total
    # (np.minimum(np.maximum(...)) is np.clip, without its slower dispatch)
    position = np.minimum(np.maximum(np.searchsorted(cum, before + np.minimum(target, total), "right"), lo), hi - 1)
    if favourite.any() and fav_cum is not None and fav_lo is not None and fav_hi is not None:
        f = np.flatnonzero(favourite)
        # where in the favourite's weights the draw fell, in the favourite ordering's running sum
        inside = (target[f] - total[f]) / extra[f] * fav_total[f]
        position[f] = np.minimum(np.maximum(np.searchsorted(fav_cum, fav_before[f] + inside, "right"), fav_lo[f]), fav_hi[f] - 1)
    return position, favourite


def gumbel_argmax(u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample one alternative per row with logit probabilities; ``-1`` where none is available."""
    if u.shape[1] == 0:
        return np.full(u.shape[0], -1)
    noisy = u + rng.gumbel(size=u.shape)
    pick = noisy.argmax(axis=1)
    none = ~np.isfinite(u).any(axis=1)
    pick[none] = -1
    return pick


def logit_probabilities(u: np.ndarray) -> np.ndarray:
    """Row-wise logit choice probabilities (for tests and diagnostics)."""
    lse = logsumexp_rows(u)
    with np.errstate(invalid="ignore"):
        return np.exp(u - lse[:, None])


def nested_choice(
    u: np.ndarray,
    nest_of: np.ndarray,
    n_nests: int,
    lam: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Two-level nested logit: choose a nest, then an alternative inside it.

    Args:
        u: utilities, deciders x alternatives (``-inf`` = unavailable).
        nest_of: nest index of each alternative (column).
        n_nests: number of nests.
        lam: dissimilarity parameter in (0, 1]; 1 is a plain multinomial logit.
        rng: generator for the Gumbel draws.

    Returns:
        (nest, alternative) per decider; ``-1`` for deciders with nothing available.
    """
    n = u.shape[0]
    iv = np.full((n, n_nests), NEG_INF)
    scaled = u / lam
    for c in range(n_nests):
        cols = np.flatnonzero(nest_of == c)
        if len(cols):
            iv[:, c] = lam * logsumexp_rows(scaled[:, cols])
    nest = gumbel_argmax(iv, rng)
    alt = np.full(n, -1)
    for c in range(n_nests):
        rows = np.flatnonzero(nest == c)
        if len(rows) == 0:
            continue
        cols = np.flatnonzero(nest_of == c)
        pick = gumbel_argmax(scaled[np.ix_(rows, cols)], rng)
        alt[rows] = cols[pick]
    return nest, alt


def grouped_logsumexp(values: np.ndarray, keys: np.ndarray, n_keys: int) -> np.ndarray:
    """log(sum(exp(values))) per key in ``range(n_keys)``; ``-inf`` for empty keys."""
    out = np.full(n_keys, NEG_INF)
    if len(values) == 0:
        return out
    np.maximum.at(out, keys, values)
    base = np.where(np.isfinite(out), out, 0.0)
    acc = np.zeros(n_keys)
    np.add.at(acc, keys, np.exp(values - base[keys]))
    with np.errstate(divide="ignore"):
        res = np.log(acc) + base
    res[~np.isfinite(out)] = NEG_INF
    return res
