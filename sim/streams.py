"""Named random streams: each process of the model draws only from its own generator.

Streams are derived from the seed and the stream's name, independent of one another and of their
order, so a scenario and its counterfactual draw the same numbers for everything the intervention
does not touch (common random numbers).
"""

from __future__ import annotations

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
