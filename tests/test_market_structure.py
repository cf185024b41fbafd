"""Mechanisms of market structure: buyers' lasting tastes, directory sites, where vendors list.

Small worlds, fixed seeds; each test checks one mechanism against the same seed without it.
"""

from __future__ import annotations

import functools

import numpy as np

from sim.agents.vendor import market_opportunity
from sim.domain import Channel
from sim.runner import compose, simulate
from sim.streams import pair_normal

WORLD = ["model.n_buyers=20000", "run.days=150", "run.burn_in_days=30", "run.figures=false", "run.progress=false", "seed=7"]


def test_market_taste_is_fixed_per_buyer_and_market_and_uses_no_random_numbers():
    rows, cols = np.arange(3000), np.arange(6)
    z = pair_normal(1, "market_taste", rows, cols)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05, f"standard normal: mean {z.mean():.3f}, sd {z.std():.3f}"
    again = pair_normal(1, "market_taste", rows[::-1][:10], cols[2:4])
    assert np.array_equal(again, z[rows[::-1][:10]][:, 2:4]), "the same pair gets the same value, asked in any order"
    assert not np.allclose(pair_normal(2, "market_taste", rows, cols), z), "another seed, other tastes"
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 0.06, "tastes for two markets are independent"


@functools.cache
def world(*overrides: str):
    return simulate(compose([*WORLD, *overrides]))


def test_taste_spreads_buyers_over_markets():
    """The same buyers in the same state choose among the hidden markets they know: with lasting
    tastes their choices are spread over more markets than without. Three worlds (seeds): how much
    depends on how many markets a world has and how unequal they are, so the size is asked of
    their mean and the direction of each."""
    from sim.agents.buyer import choose_purchases

    drops = []
    for seed in (7, 1, 2):
        model, _ = world(f"seed={seed}")
        pop = model.buyers
        hidden = np.array([m.idx for m in model.markets if m.active and m.kind != Channel.WEBSHOP])
        everyone = np.arange(pop.n)
        ids = np.flatnonzero(pop.tech & pop.active & (pop.aware_grid(everyone, hidden).sum(axis=1) >= 2))
        assert len(ids) > 100, f"seed {seed}: buyers who know two hidden markets or more: {len(ids)}"

        def shares(sd: float, model=model, hidden=hidden, ids=ids) -> np.ndarray:
            model.cfg.model.choice.market_taste_sd = sd
            picks = []
            for _ in range(5):
                p = choose_purchases(model, ids)
                picks.append(p["market"][np.isin(p["market"], hidden)])
            counts = np.bincount(np.concatenate(picks), minlength=model.m_cap)[hidden]
            return counts / counts.sum()

        hhi_without, hhi_with = float((shares(0.0) ** 2).sum()), float((shares(2.0) ** 2).sum())
        model.cfg.model.choice.market_taste_sd = 2.0
        assert hhi_with < hhi_without, f"seed {seed}: tastes spread choices: concentration {hhi_without:.3f} -> {hhi_with:.3f}"
        drops.append(hhi_without - hhi_with)
    assert np.mean(drops) > 0.05, f"tastes lower the concentration of choices by {np.round(drops, 3)} (mean above 0.05 expected)"


def test_directory_sites_make_quiet_markets_known():
    """A new market nobody talks about is learned of through directory sites, and only through them."""
    from sim.agents.marketplace import open_market
    from sim.environment.forum import read_forum

    def learned(directory: float) -> int:
        model, _ = simulate(compose([*WORLD, "run.days=30", f"model.forum.directory_learn_prob={directory}"]))
        quiet = open_market(model, Channel.CRYPTOMARKET, seed_share=0.0)
        assert model.buyers.aware_count[quiet.idx] == 0, "nobody knows the new market yet"
        for _ in range(10):
            read_forum(model)
        return int(model.buyers.aware_count[quiet.idx])

    assert learned(0.0) == 0, "without directories a market nobody posts about stays unknown"
    assert learned(0.01) > 0, "directory sites make it known to some readers"


def test_vendors_see_most_opportunity_where_buyers_are_many():
    """Expected orders for one more vendor grow with a market's audience and never fall below the floor."""
    model, _ = world()
    hidden = np.array([m.idx for m in model.markets if m.active and m.kind != Channel.WEBSHOP])
    floor = model.cfg.model.vendors.new_market_pull_orders_per_1000_online_buyers * model.buyers.online_per_1000 * 7 / 30
    base = market_opportunity(model, hidden)
    assert np.all(base >= floor - 1e-12), "every market is worth at least the floor, so a new one can attract vendors"
    busiest = int(np.argmax(base))
    assert base[busiest] > floor, "some market offers more than the floor"
    model.buyers.aware_count[hidden[busiest]] *= 2  # twice the audience, the same vendors
    more = market_opportunity(model, hidden)
    model.buyers.aware_count[hidden[busiest]] /= 2
    assert more[busiest] > 1.05 * base[busiest], f"twice the audience, more orders: {base[busiest]:.2f} -> {more[busiest]:.2f}"
