"""Geography: vendors' origins, customs risk by route, route-targeted parcel interdiction, buyers' response.

Small worlds with fixed seeds; each test says which world it uses and why.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from sim.config import InterventionConfig
from sim.domain import Origin
from sim.errors import ConfigError
from sim.market.escrow import Outcome
from sim.market.routes import customs_by_origin, seizure_prob
from sim.runner import compose, simulate, validate_config
from tests.conftest import ONLINE_RICH

T0 = 60  #: start day of the interdictions
#: the interventions tests' world: 5,000 buyers, 150 days (about 1,000 online orders after T0)
WORLD = [
    "model.n_buyers=5000",
    "run.days=150",
    "run.burn_in_days=30",
    "run.figures=false",
    "run.progress=false",
    "seed=11",
    *ONLINE_RICH,
]
#: the same with more online buying and more non-EU vendors, so that each route carries
#: thousands of orders (about 5,000 after T0, a third of them non-EU)
BUSY = [
    *WORLD,
    "model.buyers.tech_skill_share=0.2",
    "model.vendors.origin_eu_share=0.2",
    "model.vendors.origin_non_eu_share=0.5",
]


def config(overrides: list[str], **params):
    """The world's config with a parcel interdiction of ``params`` at T0 (none without params)."""
    cfg = compose(overrides)
    if params:
        cfg.scenario.name = "under_test"
        cfg.scenario.interventions = [InterventionConfig(name="parcel_interdiction", start_day=T0, params=params)]
    validate_config(cfg)
    return cfg


@functools.cache
def run(world: tuple[str, ...], **params):
    """(model, tables) of ``world`` with a parcel interdiction of ``params`` (cached; tuples are lists)."""
    return simulate(config(list(world), **{k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}))


def orders_after(model, lo: int = T0):
    """(origin, seized) of the users' orders placed from day ``lo`` on; origin as placed."""
    o, n = model.orders, model.orders.n
    sel = o.day[:n] >= lo
    return o.origin[:n][sel], o.outcome[:n][sel] == Outcome.SEIZED


# ----------------------------------------------------------------------------- rules
def test_eu_parcels_are_seized_less_than_non_eu_ones_at_the_same_stealth():
    """The route rule: domestic never, EU a share of the non-EU rate, stealth lowering both alike."""
    cfg = compose([])
    esc, vc = cfg.model.escrow, cfg.model.vendors
    customs = customs_by_origin(esc.customs_seizure_prob, esc.route_customs_factor_eu)
    stealth = np.linspace(0.0, 0.9, 10)
    p = {o: seizure_prob(customs, np.full(10, int(o)), stealth) for o in Origin}
    assert (p[Origin.DOMESTIC] == 0).all(), f"domestic parcels cross no border: {p[Origin.DOMESTIC]}"
    assert (p[Origin.EU] < p[Origin.NON_EU]).all(), (
        f"EU parcels are seized less at every stealth: {p[Origin.EU]} vs {p[Origin.NON_EU]}"
    )
    assert p[Origin.EU] == pytest.approx(esc.route_customs_factor_eu * p[Origin.NON_EU]), (
        "EU = factor x non-EU at the same stealth"
    )
    assert (np.diff(p[Origin.NON_EU]) < 0).all(), "stealth lowers the seizure probability"
    # the default shares keep the mean cross-border rate near the single rate of 0.06 used before routes
    mean = (vc.origin_eu_share * customs[Origin.EU] + vc.origin_non_eu_share * customs[Origin.NON_EU]) / (
        vc.origin_eu_share + vc.origin_non_eu_share
    )
    assert 0.05 <= mean <= 0.07, f"mean cross-border seizure rate at zero stealth by default: {mean:.4f} (was 0.06)"


def test_origin_draw_keeps_the_domestic_vendors_when_the_foreign_split_changes():
    """Common random numbers: one uniform per vendor by inverse CDF, so moving vendors between the
    EU and non-EU routes leaves the domestic ones, and every other draw, as they were."""
    from sim.model import CryptoMarketModel

    # more Tor-skilled buyers and vendors per 1,000 of them, so that a small world has about a hundred vendors
    small = [
        "model.n_buyers=5000",
        "run.days=10",
        "run.burn_in_days=0",
        "seed=3",
        "model.buyers.tech_skill_share=0.2",
        "model.vendors.vendors_per_1000_online_buyers=100",
    ]
    a = CryptoMarketModel(compose(small))
    b = CryptoMarketModel(compose([*small, "model.vendors.origin_eu_share=0.1", "model.vendors.origin_non_eu_share=0.45"]))
    n = a.vend.n
    assert n == b.vend.n and n > 20, f"the same vendors are drawn ({n} vs {b.vend.n})"
    dom_a, dom_b = a.vend.origin[:n] == Origin.DOMESTIC, b.vend.origin[:n] == Origin.DOMESTIC
    assert np.array_equal(dom_a, dom_b), "the same vendors are domestic"
    assert (b.vend.origin[:n] == Origin.NON_EU).sum() > (a.vend.origin[:n] == Origin.NON_EU).sum(), "more non-EU vendors"
    assert np.array_equal(a.vend.stealth[:n], b.vend.stealth[:n]), "other vendor draws are unchanged"


def test_interdiction_of_the_non_eu_route_seizes_more_non_eu_parcels_and_no_more_eu_ones():
    """The same parcels (same vendors, same random numbers) before and after the interdiction starts:
    non-EU parcels are seized at inspection_rate / customs_seizure_prob times the rate, EU ones
    exactly as before; users' orders and dealers' lots alike; reverting restores the rates."""
    from sim.agents.dealer import _lot_arrives
    from sim.interventions.parcel_interdiction import ParcelInterdiction
    from sim.market.trade import _draw_outcomes
    from sim.model import CryptoMarketModel

    model = CryptoMarketModel(config(["model.n_buyers=2000", "run.days=30", "run.burn_in_days=10", "seed=4"]))
    for _ in range(15):
        model.step()
    vend = model.vend
    rows = np.flatnonzero(vend.active[: vend.n] & ~vend.webshop[: vend.n] & (vend.origin[: vend.n] != Origin.DOMESTIC))
    assert {Origin.EU, Origin.NON_EU} <= set(vend.origin[rows].tolist()), "the world has vendors on both routes"
    vendors = np.repeat(rows, 4000)
    subs = np.zeros(len(vendors), dtype=np.int64)
    u = np.random.default_rng(0).random((len(vendors), 4))

    def seized():
        outcome, _, _ = _draw_outcomes(model, np.random.default_rng(1), vendors, subs, np.ones(len(vendors), bool), u)
        lots_lost = ~_lot_arrives(model, np.random.default_rng(2), vendors)
        return outcome == Outcome.SEIZED, lots_lost

    before, lots_before = seized()
    action = ParcelInterdiction(
        model, InterventionConfig(name="parcel_interdiction", start_day=16, params={"routes": ["non_eu"]}), 0
    )
    action.apply()
    after, lots_after = seized()
    eu, non = vend.origin[vendors] == Origin.EU, vend.origin[vendors] == Origin.NON_EU
    assert np.array_equal(before[eu], after[eu]), "EU parcels: the same parcels are seized as before"
    assert np.array_equal(lots_before[eu], lots_after[eu]), "EU wholesale lots: the same lots fail as before"
    ratio = after[non].mean() / before[non].mean()
    expected = 0.3 / model.cfg.model.escrow.customs_seizure_prob
    assert ratio == pytest.approx(expected, rel=0.1), f"non-EU seizures x{ratio:.2f}, expected x{expected:.2f}"
    assert lots_after[non].mean() > 1.5 * lots_before[non].mean(), "non-EU wholesale lots fail more often"
    assert not (after & (vend.origin[vendors] == Origin.DOMESTIC)).any(), "no domestic parcel is seized"
    action.revert()
    restored, _ = seized()
    assert np.array_equal(before, restored), "reverting restores every route's rate"


# ----------------------------------------------------------------------------- in a run
def test_interdiction_of_the_non_eu_route_in_a_run():
    """In a run, against the same seed's counterfactual: non-EU orders are seized far more often,
    and only the non-EU vendors adapt (EU vendors keep their stealth and their origin)."""
    base_model, _ = run(tuple(BUSY))
    model, t = run(tuple(BUSY), routes=("non_eu",))
    # seizures per unit of exposure, sum(seized) / sum(1 - stealth) over orders: the route's
    # inspection rate whatever vendors the buyers pick (under interdiction they pick stealthier
    # ones, which takes back part of the rise in the raw share seized); in a run whose vendors keep
    # their stealth, so that each order's exposure is its vendor's stealth now
    fixed, _ = run(tuple(BUSY), routes=("non_eu",), stealth_gain_weekly=0.0, domestic_shift_weekly_prob=0.0)

    def inspection(m):
        o, n = m.orders, m.orders.n
        after = o.day[:n] >= T0
        seized = o.outcome[:n] == Outcome.SEIZED
        exposure = 1.0 - m.vend.stealth[o.vendor[:n]]
        return {
            k: seized[after & (o.origin[:n] == k)].sum() / exposure[after & (o.origin[:n] == k)].sum()
            for k in (Origin.EU, Origin.NON_EU)
        }, int((after & (o.origin[:n] == Origin.NON_EU)).sum())

    base_rate, _ = inspection(base_model)
    rate, n_non = inspection(fixed)
    assert n_non >= 100, f"enough non-EU orders to measure their seizure rate: {n_non}"
    # about 0.12 and 0.3 less the parcels never shipped (scams); some 50-90 seizures each, so +- 0.04
    assert 0.08 < base_rate[Origin.NON_EU] < 0.16 and 0.2 < rate[Origin.NON_EU] < 0.34, (
        f"non-EU seizures per unit of exposure {base_rate[Origin.NON_EU]:.3f} -> {rate[Origin.NON_EU]:.3f} (inspection 0.12 -> 0.3)"
    )
    assert rate[Origin.EU] < 0.1, (
        f"EU parcels are inspected as before (0.036; a few dozen seizures): {base_rate[Origin.EU]:.3f} -> {rate[Origin.EU]:.3f}"
    )
    # vendors present at the start, by their origin then (origins change only by moving home)
    v = t["vendors"]
    start = v[v.day == v.day[v.day < T0].max()].set_index("vendor")
    rows = start.index.to_numpy()
    eu = rows[(start.origin == "eu").to_numpy()]
    non = rows[(start.origin == "non_eu").to_numpy()]
    assert len(eu) >= 5 and len(non) >= 5, f"vendors on both routes at the start ({len(eu)} EU, {len(non)} non-EU)"
    assert np.array_equal(model.vend.stealth[eu], base_model.vend.stealth[eu]), "EU vendors' stealth is left alone"
    assert (model.vend.origin[eu] == Origin.EU).all(), "no EU vendor moves home under a non-EU interdiction"
    gained = model.vend.stealth[non] - base_model.vend.stealth[non]
    # those who quit before the first weekly adaptation keep theirs
    assert (gained >= 0).all() and (gained > 0).mean() > 0.5, f"non-EU vendors improve their stealth: {gained.round(2)}"
    assert (model.vend.origin[non] == Origin.DOMESTIC).any(), "some non-EU vendors move to domestic shipping"


def test_interdiction_raises_the_share_of_online_orders_from_domestic_vendors():
    """Buyers turn to listings that ship from their own country (seizure risk in the listing
    utility, model.choice.beta_seizure_risk), and vendors move home: against the same seed's
    counterfactual the domestic share of online orders rises. Rough size: at inspection 0.3 a
    foreign listing of mean stealth (0.4) loses 5 x 0.3 x 0.6 = 0.9 logit units against about 0.1
    (EU) to 0.4 (non-EU) before, which alone takes a domestic share of about 0.5 to about 0.7; seized
    parcels also cost foreign vendors ratings and their markets trust, so more. Measured here over
    the 90 days from the start: 0.57 -> 0.84 with the default interdiction, 0.57 -> 0.88 from the
    buyers' choice alone (vendors who improve their stealth keep more of their buyers)."""
    base_model, _ = run(tuple(WORLD))
    both, _ = run(tuple(WORLD), domestic_shift_weekly_prob=0.05)  # the default interdiction
    choice, _ = run(tuple(WORLD), domestic_shift_weekly_prob=0.0, stealth_gain_weekly=0.0)

    def domestic_share(m, lo=T0, hi=T0 + 90):
        o, n = m.orders, m.orders.n
        sel = (o.day[:n] >= lo) & (o.day[:n] < hi)
        return float((o.origin[:n][sel] == Origin.DOMESTIC).mean()), int(sel.sum())

    (b, nb), (d, nd), (c, nc) = domestic_share(base_model), domestic_share(both), domestic_share(choice)
    assert min(nb, nd, nc) >= 500, f"enough online orders to compare shares ({nb}, {nd}, {nc})"
    assert domestic_share(base_model, 0, T0)[0] == pytest.approx(domestic_share(both, 0, T0)[0]), (
        "identical to the counterfactual before the start (common random numbers)"
    )
    assert 0.10 <= d - b <= 0.45, f"domestic share of online orders {b:.2f} -> {d:.2f} (default interdiction)"
    assert 0.05 <= c - b <= 0.45, f"domestic share {b:.2f} -> {c:.2f} from the buyers' choice alone (no vendor moves home)"


# ----------------------------------------------------------------------------- input checks
@pytest.mark.parametrize(
    "routes, message",
    [
        (["domestic"], "unknown route 'domestic'"),
        (["eu", "mars"], "unknown route 'mars'"),
        ("usa", "unknown route 'usa'"),
        ([], "name at least one route"),
    ],
)
def test_bad_routes_are_refused(routes, message):
    cfg = compose(["run.days=100"])
    cfg.scenario.name = "under_test"
    cfg.scenario.interventions = [InterventionConfig(name="parcel_interdiction", start_day=10, params={"routes": routes})]
    with pytest.raises(ConfigError, match=message):
        validate_config(cfg)


def test_a_single_route_may_be_named_without_a_list():
    from sim.interventions.parcel_interdiction import ParcelInterdiction

    assert ParcelInterdiction.parse_params({"routes": "eu"}, "x").routes == ["eu"], "routes: eu means [eu]"
    assert ParcelInterdiction.parse_params({}, "x").routes == ["eu", "non_eu"], "both routes by default"


def test_origin_shares_above_one_are_refused():
    with pytest.raises(ConfigError, match=r"origin_eu_share=0\.7.*add up to at most 1"):
        compose(["model.vendors.origin_eu_share=0.7", "model.vendors.origin_non_eu_share=0.4"])
