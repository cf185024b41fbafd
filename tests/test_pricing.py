"""Prices by competition (sim/market/pricing.py), multi-homing at a cost, migrants following vendors.

Pure rules first (no model), then the model: fewer competitors mean higher markups, a vendor
bond keeps vendors on one market, and a vendor who moves tells its customers.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from sim.domain import Channel
from sim.market.pricing import PriceRule, adjust_markup, competitive_markup, target_markup, unit_cost
from sim.runner import compose, simulate
from tests.conftest import ONLINE_RICH

RULE = PriceRule(
    price_coefficient=2.0, nest_correlation=0.5, max_markup=3.0, reputation_premium=0.12, load_surcharge=0.1, adjustment=0.5
)
WORLD = [
    "model.n_buyers=20000",
    "run.days=200",
    "run.burn_in_days=30",
    "run.figures=false",
    "run.progress=false",
    "seed=5",
    *ONLINE_RICH,
]


def test_markup_falls_with_the_number_of_competitors():
    """Lerner markup under nested-logit demand: 1.33 among many, 2 alone (beta 2, rho 0.5)."""
    shares = np.array([1.0, 0.5, 0.1, 0.01, 0.0])
    m = competitive_markup(shares, RULE)
    assert np.all(np.diff(m) < 0), f"the markup must fall as the share among competitors falls: {m}"
    assert m[0] == pytest.approx(2.0), "alone on its market: elasticity 2, markup 2"
    assert m[-1] == pytest.approx(4.0 / 3.0), "among very many: elasticity 4, markup 4/3"


def test_markup_is_capped_when_demand_is_inelastic():
    rule = PriceRule(1.0, 0.5, 3.0, 0.0, 0.0, 1.0)
    assert competitive_markup(np.array([1.0]), rule)[0] == 3.0, "elasticity 1: the cap, not an infinite price"


def test_costs_pass_through_and_reputation_and_load_raise_the_target():
    base = unit_cost(np.array([10.0]), 1.0, 0.0, 0.0)[0]
    assert base == pytest.approx(11.0), "acquisition plus shipping"
    assert unit_cost(np.array([10.0]), 1.0, 0.1, 0.05)[0] == pytest.approx(11.0 * 1.1 / 0.95), "risk premium and commission"
    low = target_markup(np.array([0.1]), 0.0, 0.5, RULE)[0]
    assert target_markup(np.array([0.1]), 1.0, 0.5, RULE)[0] == pytest.approx(low * 1.12), "full reputation: +12%"
    assert target_markup(np.array([0.1]), 0.0, 2.0, RULE)[0] == pytest.approx(low * 1.1), "twice capacity: +10%"


def test_markups_move_part_of_the_way_both_directions():
    up = adjust_markup(np.array([1.5]), np.array([2.0]), RULE)[0]
    down = adjust_markup(np.array([1.5]), np.array([1.2]), RULE)[0]
    assert 1.5 < up < 2.0 and 1.2 < down < 1.5, f"sticky prices rise and fall towards the target: {up}, {down}"
    assert up == pytest.approx(np.sqrt(1.5 * 2.0)), "half the way in logs"
    assert adjust_markup(np.array([0.0]), np.array([1.7]), RULE)[0] == 1.7, "a new listing starts at the target"


@functools.cache
def world(*overrides: str):
    return simulate(compose([*WORLD, *(overrides if any(o.startswith("seed=") for o in overrides) else ("seed=5", *overrides))]))


def test_listings_with_more_competitors_carry_lower_markups():
    """Across the (market, substance) groups of hidden-market listings in one world, the more
    listings a group has, the lower its mean posted markup (rank correlation). One world has only
    20-30 groups, so the correlation is noisy (-0.16 to -0.77 over four seeds): it is negative in
    every world and below -0.4 on average."""
    from scipy.stats import spearmanr

    rhos = []
    for seed in (5, 6, 7, 8):
        model, _ = world(f"seed={seed}")
        li = model.listings
        hidden = model.market_table.kind[li.market] != Channel.WEBSHOP
        markup = model.vend.markup[li.vendor[hidden], li.substance[hidden]]
        groups, inverse, n = np.unique(li.key[hidden], return_inverse=True, return_counts=True)
        mean = np.bincount(inverse, weights=markup) / n
        assert len(groups) >= 15 and n.max() >= 4, (
            f"seed {seed}: groups of different sizes to compare: {len(groups)}, largest {n.max()}"
        )
        rhos.append(spearmanr(n, mean).statistic)
    assert max(rhos) < 0, f"more competitors, lower markups in every world: rank correlations {np.round(rhos, 2)}"
    assert np.mean(rhos) < -0.4, f"and clearly on average: rank correlations {np.round(rhos, 2)}"


def test_a_vendor_who_moves_tells_its_customers():
    """A vendor lists on a market its customers do not know: they learn of it at the week's end."""
    from sim.agents.vendor import announce_moves

    model, _ = simulate(compose(WORLD[:1] + ["run.days=120", "run.burn_in_days=30", "seed=5"]))
    pop = model.buyers
    fav = pop.fav_vendor
    vendors, counts = np.unique(fav[(fav >= 0) & pop.tech], return_counts=True)
    assert len(vendors), "some Tor-skilled buyers have a favourite vendor after 120 days"
    v = int(vendors[np.argmax(counts)])
    customers = np.flatnonzero((fav == v) & pop.tech)
    hidden = [m.idx for m in model.markets if m.active and m.kind != Channel.WEBSHOP]
    target = min(hidden, key=lambda m: pop.aware_of(customers, np.full(len(customers), m)).mean())

    def knows(who):
        return pop.aware_of(who, np.full(len(who), target))

    unaware = customers[~knows(customers)]
    assert len(unaware), "a market some customers do not know"
    others = np.flatnonzero(pop.tech & (fav != v))
    others = others[~knows(others)]
    model.vendor_moves.append((v, target))
    announce_moves(model)
    assert knows(unaware).all(), "every customer of the moving vendor learns of its new market"
    assert not knows(others).any(), "buyers of other vendors are not told"
    assert model.vendor_moves == [], "announcements are made once"


def test_vendor_bond_keeps_vendors_on_one_market():
    """Free listing against a bond far above any margin: vendors multi-home only when it is cheap."""
    free, tf = world("model.vendors.vendor_bond_eur=0", "model.vendors.add_market_weekly_prob=0.3")
    dear, td = world("model.vendors.vendor_bond_eur=1000000", "model.vendors.add_market_weekly_prob=0.3")

    def mean_markets(t):
        v = t["vendors"]
        last = v[(v.day == v.day.max()) & (v.status == "active") & ~v.webshop]
        return float(last["markets"].mean())

    assert mean_markets(tf) > mean_markets(td) + 0.1, (
        f"a bond must keep vendors on fewer markets: free {mean_markets(tf):.2f}, dear {mean_markets(td):.2f}"
    )


def test_weekly_repricing_of_all_vendors_at_once_equals_one_at_a_time():
    """price_vendors prices the week's vendors in one pass: the same bits as one vendor per call."""
    from sim.agents.vendor import price_vendors

    model, _ = simulate(
        compose(
            [
                "model.n_buyers=3000",
                "run.days=90",
                "run.burn_in_days=20",
                "run.figures=false",
                "run.progress=false",
                "seed=2",
                *ONLINE_RICH,
            ]
        )
    )
    agents = [a for a in model.vendor_agents if a.active]
    assert len(agents) > 5, "a world with several vendors"
    rng = np.random.default_rng(0)
    batch = [(a.idx, a.substances, a.commission(), float(rng.uniform(0.2, 2.5))) for a in agents]
    price0, markup0 = model.vend.price.copy(), model.vend.markup.copy()
    price_vendors(model, batch)
    together = model.vend.price.copy(), model.vend.markup.copy()
    model.vend.price[:], model.vend.markup[:] = price0, markup0
    for entry in batch:
        price_vendors(model, [entry])
    assert np.array_equal(together[0], model.vend.price), "prices of a batch differ from one vendor at a time"
    assert np.array_equal(together[1], model.vend.markup), "markups of a batch differ from one vendor at a time"
    assert not np.array_equal(price0, together[0]), "re-pricing changed some price (the test exercises something)"
