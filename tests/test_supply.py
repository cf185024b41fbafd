"""The street's supply: dealers restock weekly, partly with wholesale lots bought online (sim/agents/dealer.py)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from sim.environment.offline import StreetMarket
from sim.runner import compose
from sim.substances import SubstanceTable
from tests.conftest import ONLINE_RICH, run_with_all_cryptomarkets_taken_down

T0 = 120  #: day of the takedowns below
#: a world whose dealers lean on online wholesale, with no new markets to replace those taken down
ONLINE_DEALERS = [
    *ONLINE_RICH,
    "model.n_buyers=20000",
    "run.days=200",
    "run.burn_in_days=30",
    "seed=3",
    "model.street.online_dealer_share=1.0",
    "model.street.online_sourcing_share=0.5",
    "model.markets.new_cryptomarkets_per_year=0",
    "model.markets.initial_decentralised=0",  # a takedown cannot close a decentralised market
    "model.markets.new_decentralised_per_year=0",
]


@functools.cache
def run(takedown: bool):
    return run_with_all_cryptomarkets_taken_down(ONLINE_DEALERS, T0 if takedown else None)


def test_short_supply_raises_the_street_price_and_lowers_availability():
    """A pure rule: the supply ratio sets availability (capped at 1) and price (ratio ** -response)."""
    table = SubstanceTable.from_config(compose([]).substances)
    street = StreetMarket(table, price_logsd=0.1)
    ratio = np.ones(len(table))
    ratio[0], ratio[1] = 0.5, 2.0
    street.set_supply(ratio, price_response=0.5)
    assert street.current_availability[0] == pytest.approx(0.5 * table.street_availability[0]), "half supplied, half available"
    assert street.current_price[0] == pytest.approx(table.street_price[0] * 2**0.5), "short supply raises the price"
    assert street.current_availability[1] == pytest.approx(table.street_availability[1]), "a surplus cannot raise availability"
    assert street.current_price[1] < table.street_price[1], "a surplus lowers the price"
    assert np.allclose(street.current_price[2:], table.street_price[2:]), "supplied substances keep their price"


def test_dealers_buy_wholesale_lots_online():
    _, t = run(False)
    d = t["daily"]
    online = d["value_cryptomarket_eur"].sum() + d["value_decentralised_eur"].sum()
    assert d["sales_wholesale"].sum() > 20, "dealers place wholesale lots every week"
    share = d["value_wholesale_eur"].sum() / (online + d["value_wholesale_eur"].sum())
    assert 0.2 < share < 0.9, (
        f"with every dealer sourcing half its stock online, wholesale is a large share of hidden-market trade ({share:.2f})"
    )
    lots = d.loc[d["sales_wholesale"] > 0]
    per_lot = lots["value_wholesale_eur"].sum() / lots["sales_wholesale"].sum()
    assert per_lot > 500, f"a lot is wholesale-sized ({per_lot:.0f} EUR)"


def test_removing_online_wholesale_raises_street_prices_and_lowers_availability():
    """Taking every hidden market down leaves online-sourcing dealers short: the street feels it."""
    _, cf = run(False)
    _, t = run(True)

    def hidden_lots(tables):
        v = tables["vendors"]
        return v.loc[(v.day >= T0 + 7) & ~v.webshop, "wholesale_sales"].sum()

    assert hidden_lots(t) == 0, "no hidden market, no wholesale lot from a hidden-market vendor"
    assert hidden_lots(cf) > 20, "without the takedowns dealers keep buying on hidden markets"

    def street(tables, lo, hi):
        su = tables["substances"]
        off = su[(su.channel == "offline") & (su.day >= lo) & (su.day < hi)]
        return off.groupby("substance").agg(price=("median_price_eur", "mean"), sales=("sales", "sum"))

    table = SubstanceTable.from_config(compose([]).substances)
    classic = [n for n, nps in zip(table.names, table.webshop_sellable) if not nps]  # web shops still sell NPS in bulk
    early_cf, early = street(cf, T0 + 7, T0 + 28), street(t, T0 + 7, T0 + 28)
    late_cf, late = street(cf, T0 + 56, T0 + 84), street(t, T0 + 56, T0 + 84)
    # the substances concerned: sold on the street and on hidden markets (where dealers find lots)
    su = cf["substances"]
    hidden = su[(su.channel.isin(["cryptomarket", "decentralised"])) & (su.day >= T0 - 28) & (su.day < T0)]
    online = hidden.groupby("substance")["sales"].sum()
    concerned = online.index[online > 20]
    sold = early_cf.index[(early_cf.sales > 200) & early_cf.index.isin(classic) & early_cf.index.isin(concerned)]
    rise = early.loc[sold, "price"] / early_cf.loc[sold, "price"]
    assert len(sold) >= 4 and (rise > 1.03).all(), f"street prices rise where online wholesale is gone: {rise.round(3).to_dict()}"
    fewer = early.loc[sold, "sales"].sum() / early_cf.loc[sold, "sales"].sum()
    assert fewer < 0.97, f"fewer street deals: dealers are out of stock more often ({fewer:.3f} of the counterfactual)"
    later = late.loc[sold, "price"] / late_cf.loc[sold, "price"]
    assert later.mean() < rise.mean() - 0.02, (
        f"the street recovers as dealers turn to offline sources ({rise.mean():.3f} -> {later.mean():.3f})"
    )


def test_online_dealers_hold_their_share_of_street_trade_even_when_few():
    """Dealers in random order buy online until they hold ``online_dealer_share`` of each substance's
    street trade; the one at the boundary buys online for the part that completes it (a small world
    with a few dealers per substance must not source far more online)."""
    from sim.agents.dealer import StreetSupply

    cfg = compose(["model.n_buyers=800"])
    table = SubstanceTable.from_config(cfg.substances)
    sup = StreetSupply(cfg.model.street, table.demand_p, table.street_availability > 0, 800, np.random.default_rng(1))
    d = sup.dealers
    for s in np.unique(d.substance[: d.n]).tolist():
        mine = d.substance[: d.n] == s
        size = d.size[: d.n][mine]
        online = (size * d.preferred_online[: d.n][mine] / cfg.model.street.online_sourcing_share).sum() / size.sum()
        assert online == pytest.approx(cfg.model.street.online_dealer_share), f"substance {s}: online dealers hold {online:.3f}"
