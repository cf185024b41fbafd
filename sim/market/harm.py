"""Harm of consumption as a plain function of what was consumed (docs/ODD.md, harm)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel


def consumption_harm(
    model: CryptoMarketModel, buyers: np.ndarray, subs: np.ndarray, purity: np.ndarray, nad: np.ndarray, online: bool
) -> np.ndarray:
    """Harm of consuming products (docs/ODD.md, harm): from content uncertainty, not a fixed multiplier.

    As described: harm weight x (content / the content the buyer expects) ** ``dose_harm_exponent``
    (unexpected strength harms more than proportionally), where buyers who check their drugs know
    the content and dose for it (relative dose 1). Not as described (unknown identity): harm weight
    x ``not_as_described_harm_factor``, of which checkers avoid ``drug_checking_harm_reduction``.
    A checked product that is not as described makes the buyer avoid that substance.
    """
    t = model.subs
    expected = (t.purity_on_mean if online else t.purity_off_mean)[subs]
    checks = model.buyers.checking[buyers]
    cfg = model.cfg.model
    harm = dose_harm(
        t.harm_weight[subs],
        purity / expected,
        nad,
        checks,
        cfg.escrow.not_as_described_harm_factor,
        cfg.buyers.drug_checking_harm_reduction,
        cfg.demand.dose_harm_exponent,
    )
    caught = nad & checks
    if caught.any():
        model.buyers.distrust_substances(buyers[caught], subs[caught])
    return harm


def dose_harm(
    weight: np.ndarray,
    relative_content: np.ndarray,
    not_as_described: np.ndarray,
    checked: np.ndarray,
    mis_sold_factor: float,
    checking_reduction: float,
    exponent: float,
) -> np.ndarray:
    """Harm of each consumed product, a pure rule (tested without a model).

    Args:
        weight: harm weight of the substance (cannabis = 1).
        relative_content: content / the content the buyer expects.
        not_as_described: the product is another substance or far weaker (identity unknown).
        checked: the buyer checked it (knows its content and identity).
        mis_sold_factor: harm of a mis-sold product relative to the weight.
        checking_reduction: share of a mis-sold product's harm a check avoids.
        exponent: convexity of dose harm in relative content.
    """
    rel = np.where(checked, 1.0, relative_content)
    return np.where(
        not_as_described,
        weight * mis_sold_factor * np.where(checked, 1.0 - checking_reduction, 1.0),
        weight * rel**exponent,
    )
