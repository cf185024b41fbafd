"""Random-utility choice as plain functions (no model needed, tested directly).

A choice is a Gumbel-max draw: adding i.i.d. standard Gumbel noise to utilities and taking the
argmax samples the multinomial logit, one vectorised draw for many deciders at once.
Unavailable alternatives carry utility ``-inf``.
"""

from __future__ import annotations

import numpy as np

NEG_INF = -np.inf


def logsumexp_rows(u: np.ndarray) -> np.ndarray:
    """Row-wise log(sum(exp(u))), ``-inf`` for rows with no available alternative."""
    return logsumexp_rows_weights(u)[0]


def logsumexp_rows_weights(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`logsumexp_rows` and the weights ``exp(u - row max)`` it summed (for :func:`pick_by_weights`)."""
    if u.shape[1] == 0:
        return np.full(u.shape[0], NEG_INF), np.zeros(u.shape)
    m = u.max(axis=1)
    finite = np.isfinite(m)
    safe = np.where(finite, m, 0.0)
    w = np.exp(u - safe[:, None])
    with np.errstate(divide="ignore"):
        s = np.log(w.sum(axis=1)) + safe
    return np.where(finite, s, NEG_INF), w


def pick_by_weights(w: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """One column per row, with probability proportional to the weights ``w`` (rows sum above 0).

    Inverts the cumulative weights with one uniform in [0, 1) per row: the same law as adding
    Gumbel noise to ``log w`` and taking the argmax, with one draw per row instead of one per cell.
    Zero-weight columns are never picked and do not change which other column a uniform picks.
    """
    if len(w) == 0:
        return np.zeros(0, dtype=np.int64)
    cum = np.cumsum(w, axis=1)
    target = uniform * cum[:, -1]
    pick = (cum <= target[:, None]).sum(axis=1)
    return np.minimum(pick, w.shape[1] - 1)


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
