"""Model behaviour: determinism, conservation, bounds, and the direction of basic mechanisms."""

import numpy as np
import pandas as pd
import pytest

from sim.collect import MARKET_COLUMNS
from sim.domain import Channel, MarketStatus
from sim.market.escrow import HELD, OrderState, Outcome
from sim.market.reputation import reputation_score
from sim.market.trade import place_orders
from sim.model import CryptoMarketModel
from sim.runner import compose
from tests.conftest import TINY, tiny_run


def test_same_seed_gives_identical_tables():
    _, a = tiny_run("seed=1")
    _, b = tiny_run("seed=1", "run.progress=false")  # a different cache key, same config
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=f"{name} table")


def test_different_seeds_give_different_tables():
    _, a = tiny_run("seed=1")
    _, b = tiny_run("seed=2")
    assert not a["daily"].equals(b["daily"]), "two seeds must not give the same daily table"


def test_money_is_conserved_every_day(tiny):
    model, t = tiny
    d = t["daily"]
    scale = d["money_paid_eur"].max()
    assert scale > 0, "the run must have online sales"
    assert d["money_imbalance_eur"].abs().max() < 1e-6 * scale, (
        "payments must equal receipts + commissions + escrow + refunds + losses"
    )
    ob = model.orders
    held = np.isin(ob.column("state"), HELD)
    by_market = np.bincount(ob.column("market")[held], weights=ob.column("price")[held], minlength=model.m_cap)
    assert np.allclose(by_market, model.market_table.escrow), "each market's escrow balance must equal its held orders"


def test_trust_stays_in_unit_interval(tiny):
    model, t = tiny
    pop = model.buyers
    trust = pop.trust[: pop.n_market_rows][pop.aware[: pop.n_market_rows]]
    assert trust.min() >= 0 and trust.max() <= 1, "trust must lie in [0, 1]"
    tr = t["markets"]["trust"].dropna()
    assert tr.between(0, 1).all(), "market mean trust must lie in [0, 1]"


def test_buyers_without_tor_never_use_cryptomarkets(tiny):
    model, _ = tiny
    ob = model.orders
    kinds = model.market_table.kind[ob.column("market")]
    hidden = np.isin(kinds, (Channel.CRYPTOMARKET, Channel.DECENTRALISED))
    assert hidden.sum() > 50, "the test needs cryptomarket orders"
    assert model.buyers.tech[ob.column("buyer")[hidden]].all(), "only Tor-skilled buyers may order on hidden markets"


def test_orders_have_delays_and_outcomes(tiny):
    model, t = tiny
    ob = model.orders
    delay = ob.column("outcome_day") - ob.column("day")
    assert delay.min() >= 1, "nothing arrives on the day it is paid for"
    out = np.bincount(ob.column("outcome"), minlength=5)
    assert out[Outcome.DELIVERED] / out.sum() > 0.7, "most orders arrive as described"
    assert out[Outcome.NOT_SHIPPED] > 0 and out[Outcome.SEIZED] > 0, "scams and customs seizures happen in the baseline"


def _fresh_model(*extra):
    cfg = compose(TINY + ["seed=3", "run.burn_in_days=0", "model.escrow.feedback_prob=1.0", *extra])
    return CryptoMarketModel(cfg)


def test_scam_lowers_buyer_trust_and_vendor_reputation():
    model = _fresh_model()
    model.step()  # day 0
    m = next(mk for mk in model.markets if mk.kind == Channel.CRYPTOMARKET and mk.active)
    v = next(a for a in model.vendor_agents if m.idx in a.markets)
    model.vend.scam_prob[v.idx] = 1.0  # this vendor ships nothing
    buyer = int(np.flatnonzero(model.buyers.tech)[0])
    model.buyers.make_aware(np.array([buyer]), m.idx, 0.6)
    trust0 = float(model.buyers.trust_of(np.array([buyer]), np.array([m.idx]))[0])
    prior = (model.cfg.model.vendors.rating_prior_good, model.cfg.model.vendors.rating_prior_count)
    score0 = reputation_score(model.vend.fb_sum[v.idx, m.idx], model.vend.fb_count[v.idx, m.idx], *prior)
    ids = place_orders(model, np.array([buyer]), np.array([m.idx]), np.array([v.idx]), np.array([v.substances[0]]))
    assert model.orders.outcome[ids[0]] == Outcome.NOT_SHIPPED, "a vendor with scam probability 1 ships nothing"
    for _ in range(int(model.orders.outcome_day[ids[0]]) - model.day):
        model.step()
    trust1 = float(model.buyers.trust_of(np.array([buyer]), np.array([m.idx]))[0])
    score1 = reputation_score(model.vend.fb_sum[v.idx, m.idx], model.vend.fb_count[v.idx, m.idx], *prior)
    assert trust1 < trust0 - 0.05, f"scammed buyer's trust must fall ({trust0:.3f} -> {trust1:.3f})"
    assert score1 < score0, f"scamming vendor's reputation must fall ({score0:.3f} -> {score1:.3f})"


def test_closed_market_gets_no_sales():
    model = _fresh_model()
    for _ in range(40):
        model.step()
    target = max(
        (mk for mk in model.markets if mk.active and mk.kind == Channel.CRYPTOMARKET),
        key=lambda mk: model.market_table.sales30[mk.idx],
    )
    assert model.market_table.sales30[target.idx] > 0, "the largest market must have been trading"
    target.close(MarketStatus.CLOSED, reason="test")
    closed_day = model.day
    for _ in range(30):
        model.step()
    mk = model.recorder.tables(model)["markets"]
    after = mk[(mk.market == target.name) & (mk.day > closed_day)]
    assert len(after) == 30 and after["sales"].sum() == 0, "a closed market must get no sales"
    assert (after["status"] == "closed").all(), "status must say closed"


def test_exit_scam_takes_exactly_the_escrow():
    model = _fresh_model()
    for _ in range(30):
        model.step()
    target = max((mk for mk in model.markets if mk.active and mk.escrow), key=lambda mk: model.market_table.escrow[mk.idx])
    held = float(model.market_table.escrow[target.idx])
    assert held > 0, "the market must hold escrow"
    before = model.ledger.exit_scammed
    target.close(MarketStatus.EXIT_SCAMMED, reason="test")
    assert model.ledger.exit_scammed - before == pytest.approx(held), "an exit scam steals exactly the escrow held"
    assert model.market_table.escrow[target.idx] == 0.0, "nothing is left in escrow"
    ob = model.orders
    mine = ob.column("market") == target.idx
    assert not np.isin(ob.column("state")[mine], HELD).any(), "no order of the market is still held"
    assert (ob.column("state")[mine] == OrderState.EXIT_SCAMMED).any(), "held orders are marked exit-scammed"


def test_daily_table_has_contract_columns(tiny):
    _, t = tiny
    cols = set(t["daily"].columns)
    need = {
        "day",
        "active_markets",
        "active_vendors",
        "active_buyers_online",
        "mean_trust_online",
        "hhi",
        "arrests_vendors",
        "arrests_buyers",
        "parcels_seized",
        "escrow_lost_eur",
        "harm",
    }
    for c in ("offline", "webshop", "cryptomarket", "decentralised"):
        need |= {f"sales_{c}", f"value_{c}_eur"}
    assert need <= cols, f"missing daily columns: {need - cols}"
    assert set(t["markets"].columns) >= set(MARKET_COLUMNS), "markets.parquet contract columns"
    assert set(t["substances"].columns) >= {
        "day",
        "substance",
        "channel",
        "sales",
        "value_eur",
        "median_price_eur",
        "mean_purity",
    }
    assert list(t["events"].columns) == ["day", "event", "target", "detail"]
    assert t["daily"]["day"].tolist() == list(range(150)), "one row per recorded day, burn-in excluded"


def test_vendor_panel_adds_up_to_the_online_sales_of_its_weeks(tiny):
    """vendors.parquet: one row per week and vendor; a week's vendor sales are that week's online orders."""
    from sim.collect import VENDOR_COLUMNS

    _, t = tiny
    v, d = t["vendors"], t["daily"].set_index("day")
    assert list(v.columns) == list(VENDOR_COLUMNS), "vendors.parquet contract columns, in order"
    assert len(v) > 0 and not v.duplicated(["day", "vendor"]).any(), "at most one row per week and vendor"
    days = sorted(v["day"].unique())
    assert days[0] >= 6 and all(b - a == 7 for a, b in zip(days, days[1:])), f"weekly rows on whole weeks: {days[:5]}"
    online = d[["sales_webshop", "sales_cryptomarket", "sales_decentralised"]].sum(axis=1)
    value = d[["value_webshop_eur", "value_cryptomarket_eur", "value_decentralised_eur"]].sum(axis=1)
    for day in days:
        week = slice(day - 6, day)
        got = v[v.day == day]
        assert got["sales"].sum() == online.loc[week].sum(), f"week ending {day}: vendor sales = online orders"
        assert got["value_eur"].sum() == pytest.approx(value.loc[week].sum()), f"week ending {day}: value"
        assert got["wholesale_sales"].sum() == d.loc[week, "sales_wholesale"].sum(), f"week ending {day}: wholesale lots"
    assert set(v["status"]) <= {"active", "quit", "arrested"} and set(v["origin"]) <= {"domestic", "eu", "non_eu"}
    assert (v["reputation"].between(0, 1)).all() and (v.loc[v.status == "active", "markets"] >= 1).all(), (
        "reputation is a score in [0, 1]; an active vendor lists somewhere"
    )
