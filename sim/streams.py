"""Named random streams: each process of the model draws only from its own generator.

Streams are derived from the seed and the stream's name, independent of one another and of their
order, so a scenario and its counterfactual draw the same numbers for everything the intervention
does not touch (common random numbers).
"""

from __future__ import annotations

import functools
import zlib

import numpy as np

#: named random streams; each process draws only from its own (common random numbers)
STREAMS = (
    "buyers_init",
    "vendors_init",
    "markets",
    "purchase",
    "orders",
    "outcomes",
    "forum",
    "vendors",
    "enforcement",
    "interventions",
    "demand",
    "dealers",  # set-up of the dealers; their weekly restocking draws from keyed_stream
    "buyers_opsec",  # set-up of the buyers' operational security (PGP use), apart from their other traits
    "social",  # set-up of social supply (who buys for friends, and whose friend each person is)
)


def stream_seed(seed: int, name: str) -> np.random.SeedSequence:
    """Seed of a named stream: independent of the other streams and of their order."""
    return np.random.SeedSequence([int(seed), zlib.crc32(name.encode())])


def keyed_stream(seed: int, name: str, *keys: int) -> np.random.Generator:
    """A generator for one occasion of a process (e.g. one week and substance of restocking).

    Its draws depend only on the seed, the name and the keys, not on how many numbers other
    occasions used: an intervention that changes one occasion's draws leaves the others as they
    were (common random numbers where one stream's use would depend on the state of the run).
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode()), *map(int, keys)]))


def make_streams(seed: int) -> dict[str, np.random.Generator]:
    """One generator per named stream."""
    return {name: np.random.default_rng(stream_seed(seed, name)) for name in STREAMS}


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a well-mixed 64-bit hash of each element (wraps around on purpose).

    In place on a copy: array operations wrap around silently (only numpy scalars warn), and
    the in-place steps allocate nothing.
    """
    x = np.array(x, dtype=np.uint64, copy=True)
    x += _GOLDEN
    x ^= x >> _S30
    x *= _MIX1
    x ^= x >> _S27
    x *= _MIX2
    x ^= x >> _S31
    return x


_GOLDEN, _MIX1, _MIX2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S24, _S11 = (np.uint64(k) for k in (30, 27, 31, 24, 11))


@functools.lru_cache(maxsize=64)
def _salt(seed: int, name: str) -> np.uint64:
    """The hash salt of a (seed, name) pair."""
    return np.uint64((int(seed) * 0x100000001B3 + zlib.crc32(name.encode())) % (1 << 64))


def pair_normal(seed: int, name: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """A standard normal value for every (row, column) pair, fixed for the run: rows x cols matrix.

    A hash of (seed, name, row, column), not a draw from a stream: the same pair always gets the
    same value, whenever and however often it is asked for, and asking uses no random numbers
    (so it cannot shift any stream). Used for persistent tastes, e.g. a buyer's liking for a market.
    """
    return cell_normal(seed, name, np.asarray(rows)[:, None], np.asarray(cols)[None, :])


def cell_normal(seed: int, name: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """:func:`pair_normal` for the cells ``(rows[i], cols[i])`` only (arrays that broadcast together).

    The same value as ``pair_normal`` gives the same (row, column): for a few cells of a large grid.
    """
    key = (np.asarray(rows, dtype=np.uint64) << _S24) ^ np.asarray(cols, dtype=np.uint64)
    key ^= _salt(int(seed), name)
    h1 = _splitmix64(key)
    h2 = _splitmix64(h1)
    u1 = ((h1 >> _S11).astype(np.float64) + 0.5) / float(1 << 53)
    u2 = (h2 >> _S11).astype(np.float64) / float(1 << 53)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
