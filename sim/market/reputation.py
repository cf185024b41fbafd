"""Vendor reputation: a Bayesian mean of 0/1 ratings (a pure rule, used by vendors, buyers and trade)."""

from __future__ import annotations


def reputation_score(fb_sum, fb_count, prior_good: float, prior_count: float):
    """Bayesian mean rating in [0, 1] from feedback sums and counts (ratings are 0 or 1).

    The prior is ``prior_good`` good ratings out of ``prior_count`` (``model.vendors.rating_prior_*``),
    so a vendor without feedback scores ``prior_good / prior_count``.
    """
    return (fb_sum + prior_good) / (fb_count + prior_count)
