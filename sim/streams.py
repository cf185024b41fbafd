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
    "dealers",
)


def stream_seed(seed: int, name: str) -> np.random.SeedSequence:
    """Seed of a named stream: independent of the other streams and of their order."""
    return np.random.SeedSequence([int(seed), zlib.crc32(name.encode())])


def make_streams(seed: int) -> dict[str, np.random.Generator]:
    """One generator per named stream."""
    return {name: np.random.default_rng(stream_seed(seed, name)) for name in STREAMS}
