"""Vendor reputation: a Bayesian mean of 0/1 ratings (a pure rule, used by vendors, buyers and trade)."""

from __future__ import annotations

import numpy as np

#: Bayesian prior on ratings (pseudo-counts): a new vendor's score is 4/5 = 0.8 (assumption)
PRIOR_GOOD, PRIOR_N = 4.0, 5.0


def reputation_score(fb_sum: np.ndarray, fb_count: np.ndarray) -> np.ndarray:
    """Bayesian mean rating in [0, 1] from feedback sums and counts (ratings are 0 or 1)."""
    return (fb_sum + PRIOR_GOOD) / (fb_count + PRIOR_N)
