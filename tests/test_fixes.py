"""Fixes of what the architecture review found dead or wrong, each proved here."""

from __future__ import annotations

from sim.model import CryptoMarketModel
from sim.runner import compose

SMALL = ["model.n_buyers=2500", "run.burn_in_days=20", "run.figures=false", "run.progress=false"]


def test_dead_state_is_gone():
    from sim.agents.marketplace import Marketplace
    from sim.market import escrow

    model = CryptoMarketModel(compose([*SMALL, "run.days=5"]))
    m = model.markets[0]
    for name in ("domains", "backend_seizable", "risk_shock"):
        assert not hasattr(m, name), f"Marketplace.{name} was never read"
    assert not hasattr(escrow, "BAD_OUTCOMES") and Marketplace.__doc__
