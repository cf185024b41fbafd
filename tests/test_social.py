"""Social supply: users who buy online for friends and pass it on at cost (sim/agents/social.py)."""

from __future__ import annotations

import functools

import numpy as np

from sim.agents.social import SocialSupply
from sim.config import SocialSupplyConfig
from tests.conftest import ONLINE_RICH, run_with_all_cryptomarkets_taken_down

T0 = 120  #: day of the takedown below
#: a world with no new hidden markets, so that a takedown of the cryptomarkets leaves none
NO_NEW_MARKETS = [
    *ONLINE_RICH,
    "model.n_buyers=20000",
    "run.days=240",
    "run.burn_in_days=30",
    "seed=3",
    "model.markets.new_cryptomarkets_per_year=0",
    "model.markets.initial_decentralised=0",
    "model.markets.new_decentralised_per_year=0",
]


def network(n=50_000, seed=0, **cfg):
    rate = np.full(n, 1.0)
    primary = np.random.default_rng(9).integers(0, 5, n)
    return SocialSupply(SocialSupplyConfig(**cfg), rate, primary, np.random.default_rng(seed)), primary


def test_the_friendship_network_has_the_configured_shares_and_no_self_supply():
    sup, _ = network(supplier_share=0.2, friends_per_supplier=2.0)
    n = len(sup.supplier)
    assert abs(sup.is_supplier.mean() - 0.2) < 0.01, f"share of suppliers {sup.is_supplier.mean():.3f}"
    friends = sup.supplier >= 0
    assert not (friends & sup.is_supplier).any(), "a supplier has no supplier of their own"
    assert sup.is_supplier[sup.supplier[friends]].all(), "everyone's supplier is a supplier"
    per_supplier = friends.sum() / sup.is_supplier.sum()
    assert abs(per_supplier - 2.0) < 0.1, f"friends per supplier {per_supplier:.2f}"
    assert friends.sum() < n, "not everyone has a supplier friend"


def test_friends_mostly_use_their_suppliers_substance_and_the_mix_is_kept():
    before = np.random.default_rng(9).integers(0, 5, 50_000)
    sup, primary = network(shared_drug_prob=0.8)
    friends = np.flatnonzero(sup.supplier >= 0)
    same = (primary[friends] == primary[sup.supplier[friends]]).mean()
    assert 0.8 < same < 0.9, f"friends share their supplier's substance ({same:.2f}: 0.8 plus chance matches)"
    mix_before, mix_after = np.bincount(before, minlength=5) / len(before), np.bincount(primary, minlength=5) / len(primary)
    assert np.abs(mix_after - mix_before).max() < 0.01, f"the population's mix is kept: {mix_before} -> {mix_after}"


def test_portions_are_the_friends_occasions_between_the_suppliers_own_capped():
    rate = np.array([1.0, 2.0, 2.0, 0.1, 5.0, 5.0])
    primary = np.zeros(6, dtype=np.int64)
    sup = SocialSupply(SocialSupplyConfig(supplier_share=0.0), rate, primary, np.random.default_rng(0))
    sup.is_supplier[[0, 3]] = True
    sup.supplier[[1, 2]], sup.supplier[[4, 5]] = 0, 3
    # recomputed as the constructor does, for a hand-made network
    friends_rate = np.bincount(sup.supplier[sup.supplier >= 0], weights=rate[sup.supplier >= 0], minlength=6)
    sup.portions = np.where(sup.is_supplier, np.clip(np.round(friends_rate / rate), 1, sup.cfg.max_portions), 0).astype(np.int64)
    assert sup.portions.tolist() == [4, 0, 0, 8, 0, 0], f"4 friends' occasions per own one; 100 capped at 8: {sup.portions}"
    k = sup.friends_portions(np.array([0, 1, 3]))
    assert k.tolist() == [4, 0, 8] and sup.pending[[0, 3]].all(), "suppliers with no stock order for friends, and wait"
    assert sup.friends_portions(np.array([0])).tolist() == [0], "no second order for friends while one is on its way"


def test_friends_take_portions_until_the_stock_runs_out():
    sup, _ = network(n=10)
    sup.supplier[:] = -1
    sup.supplier[[1, 2, 3]] = 0
    sup.receive(np.array([0]), np.array([4]), np.array([2]), np.array([10.0]), np.array([0.5]), np.array([False]))
    ok, price = sup.offer(np.array([1, 2, 5]), np.array([[4, 3], [3, 1], [4, 4]]))
    assert ok.tolist() == [[True, False], [False, False], [False, False]], "only the held substance, only for friends"
    assert price[0] == 10.0 * sup.cfg.markup, "at the supplier's unit price times the markup"
    assert np.isnan(price[2]), "no price where no friend holds anything"
    got = sup.hand_over(np.array([3, 1, 2]))
    assert got.tolist() == [True, True, False] and sup.stock[0] == 0, "two portions for three friends: the first two in line"


@functools.cache
def world(takedown: bool, *extra: str):
    return run_with_all_cryptomarkets_taken_down(NO_NEW_MARKETS + list(extra), T0 if takedown else None)


#: no web shops either: every supplier buys on cryptomarkets
NO_WEBSHOPS = ("model.markets.initial_webshops=0", "model.markets.new_webshops_per_year=0")


def test_friends_buy_what_suppliers_bought_online_and_lose_it_when_the_markets_go():
    model, cf = world(False, *NO_WEBSHOPS)
    _, td = world(True, *NO_WEBSHOPS)
    d, dt = cf["daily"], td["daily"]
    ob = model.orders
    extra = ob.portions[: ob.n] - 1
    assert (ob.vendor[: ob.n] >= 0).all() and (ob.market[: ob.n] >= 0).all(), "purchases from friends never become orders"
    assert d["sales_social"].sum() > 200, "friends buy from suppliers every week"
    assert d["sales_social"].sum() <= extra.sum(), "friends cannot take more portions than suppliers ordered for them"
    assert (d["sales_social"] <= d["sales_offline"]).all(), "purchases from friends are offline purchases"
    before = dt.loc[dt.day < T0, "sales_social"].sum() / d.loc[d.day < T0, "sales_social"].sum()
    assert before == 1.0, f"the same seed is the same world until the takedown ({before:.3f})"
    # suppliers cannot restock; what they hold lasts a while (stocks do not expire; about 0.3 at seed 3)
    late = dt.loc[dt.day >= T0 + 30, "sales_social"].sum() / d.loc[d.day >= T0 + 30, "sales_social"].sum()
    assert late < 0.4, f"with no online market left, friends lose most of their supply ({late:.2f} of the counterfactual)"
    off_street = (dt["sales_offline"] - dt["sales_social"])[dt.day >= T0].sum()
    street = off_street / (d["sales_offline"] - d["sales_social"])[d.day >= T0].sum()
    assert street > 1.0, f"buyers who lost their online supply, friends included, turn to the street ({street:.3f})"


def test_without_suppliers_there_is_no_social_supply_and_no_order_for_friends():
    model, t = world(False, "model.social.supplier_share=0")
    assert t["daily"]["sales_social"].sum() == 0 and t["daily"]["value_social_eur"].sum() == 0, "no supplier, no friend's sale"
    assert (model.orders.portions[: model.orders.n] == 1).all(), "every order is one purchase-sized portion"
