"""Micro-benchmark: the choice's picks block by block (``pick_by_weights``) against one pass over all rows.

    python benchmarks/pick_blocks.py            # rows of 6 weights, 20,000 to 1,500,000 rows
    python benchmarks/pick_blocks.py --width 3

Prints nanoseconds per row for each: the one pass (``_pick_by_weights``, what ``pick_by_weights``
did before commit ca4cf0b) and the blocked pass (``ROW_BLOCK`` rows at a time), after checking
that both pick the same columns. docs/performance.md ("At 10,000,000 buyers, measured") quotes it.
"""

from __future__ import annotations

import argparse
import functools
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.market.choice import ROW_BLOCK, _pick_by_weights, pick_by_weights  # noqa: E402

ROWS = (20_000, 100_000, 500_000, 1_500_000)


def main(argv: list[str] | None = None) -> int:
    """Time both passes at each size; 0 when they agree everywhere."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=6, help="weights per row (a day's candidates: up to 6)")
    a = p.parse_args(argv)
    if not 1 <= a.width <= 64:
        p.error(f"--width {a.width}: use 1 to 64")
    rng = np.random.default_rng(0)
    print(f"rows of {a.width} weights; blocks of {ROW_BLOCK:,} rows; ns per row (best of 3)")
    for n in ROWS:
        w, uniform = rng.random((n, a.width)), rng.random(n)
        if not np.array_equal(pick_by_weights(w, uniform), _pick_by_weights(w, uniform)):
            print(f"{n:>10,} rows: the two passes pick differently", file=sys.stderr)
            return 1
        number = max(1, 2_000_000 // n)
        one, blocked = (
            min(timeit.repeat(functools.partial(fn, w, uniform), number=number, repeat=3)) / number
            for fn in (_pick_by_weights, pick_by_weights)
        )
        print(f"{n:>10,} rows   one pass {1e9 * one / n:6.1f}   blocked {1e9 * blocked / n:6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
