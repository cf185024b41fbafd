"""Vendor pricing as plain functions (no model needed, tested directly).

A vendor's price per unit is its unit cost times a markup. The cost is what the vendor pays
and loses per unit sold: acquisition (upstream, the street price level times the substance's
``online_cost_factor`` and ``acquisition_cost_share``), shipping per order spread over the order's units, a risk premium,
and the market's commission and cash-out losses, which come off the price. The markup is the
profit-maximising (Lerner) markup of a seller facing the buyers' nested-logit demand (Berry
1994): a listing's own-price elasticity is

    elasticity = beta x (1 / (1 - rho) - rho / (1 - rho) x within_share)

where ``beta`` is the buyers' coefficient on log price, ``within_share`` the listing's logit
share among the listings of the same substance on the same market, and ``rho`` in [0, 1) how
much closer substitutes listings on one market are than other markets or the street. The
markup ``elasticity / (elasticity - 1)`` falls with the number and quality of competitors and
rises when they leave. On top: a reputation premium (Eschenbaum & Liebert 2021 measured an
almost one-for-one price premium of reputation), and a surcharge when orders exceed capacity.
Vendors move their markup a share of the way to the target each week (prices are sticky), so
prices can fall as well as rise after a shock; cost changes pass through at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PriceRule:
    """Parameters of the vendors' pricing rule.

    Attributes:
        price_coefficient: buyers' utility coefficient on log price (logit units); > 1 for a finite markup.
        nest_correlation: rho in [0, 1): substitutability of listings within a market beyond the rest.
        max_markup: ceiling of the competitive markup over unit cost (buyers' outside options; it
            binds whenever e / (e - 1) exceeds it, and always when the elasticity is at most 1).
        reputation_premium: price premium at the best reputation, share of the price.
        load_surcharge: price rise per unit of load (orders / capacity) above 1.
        adjustment: share of the gap (in logs) between the current and target markup closed per week.
    """

    price_coefficient: float
    nest_correlation: float
    max_markup: float
    reputation_premium: float
    load_surcharge: float
    adjustment: float


def unit_cost(
    acquisition: np.ndarray,
    shipping_per_unit: np.ndarray,
    risk_premium: np.ndarray | float,
    commission: np.ndarray | float,
    cashout_cost_share: float = 0.0,
) -> np.ndarray:
    """Cost per unit sold, EUR: (acquisition + shipping) x (1 + risk), grossed up for what comes off the price."""
    kept = (1.0 - commission) * (1.0 - cashout_cost_share)
    return (np.asarray(acquisition) + shipping_per_unit) * (1.0 + np.asarray(risk_premium)) / kept


def competitive_markup(within_share: np.ndarray, rule: PriceRule) -> np.ndarray:
    """Lerner markup (price / cost) under nested-logit demand, capped at ``rule.max_markup``."""
    rho = rule.nest_correlation
    share = np.clip(np.asarray(within_share, dtype=np.float64), 0.0, 1.0)
    elasticity = rule.price_coefficient * (1.0 / (1.0 - rho) - rho / (1.0 - rho) * share)
    with np.errstate(divide="ignore", invalid="ignore"):
        markup = np.where(elasticity > 1.0, elasticity / (elasticity - 1.0), np.inf)
    return np.minimum(markup, rule.max_markup)


def target_markup(
    within_share: np.ndarray, reputation: np.ndarray | float, load: np.ndarray | float, rule: PriceRule
) -> np.ndarray:
    """Markup a vendor aims at: competitive markup x reputation premium x load surcharge.

    ``reputation`` in [0, 1] (0 = a new vendor's score, 1 = perfect); ``load`` = recent orders / capacity
    (one value, or one per entry of ``within_share``).
    """
    premium = 1.0 + rule.reputation_premium * np.clip(reputation, 0.0, 1.0)
    surcharge = 1.0 + rule.load_surcharge * np.maximum(0.0, np.asarray(load) - 1.0)
    return competitive_markup(within_share, rule) * premium * surcharge


def adjust_markup(current: np.ndarray, target: np.ndarray, rule: PriceRule) -> np.ndarray:
    """This week's markup: a share ``rule.adjustment`` of the way (in logs) from ``current`` to ``target``.

    A markup not yet set (``current`` <= 0: a new listing) starts at the target.
    """
    current = np.asarray(current, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    fresh = current <= 0
    safe = np.where(fresh, target, current)
    moved = np.exp(np.log(safe) + rule.adjustment * (np.log(target) - np.log(safe)))
    return np.where(fresh, target, moved)
