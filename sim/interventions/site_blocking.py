"""Site blocking: a share of buyers lose access to the blocked markets' domains.

Each buyer draws once whether the block reaches them; the reached share starts at ``block_share``
and decays as operators add mirrors (Poisson, ``mirror_rate`` per day, each mirror halving the
blocked share of the remaining domains) and as buyers learn workarounds (``workaround_rate`` per
day). Buyers with Tor skill bypass blocks of clearnet web shops when ``tor_bypass`` is set.
Blocking one site (``target: shop_3``) and many (``target: all:webshop``) are both expressible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.domain import Channel
from sim.interventions.base import Intervention
from sim.params import prob


class SiteBlocking(Intervention):
    """Block the domains of target markets for a decaying share of buyers."""

    name = "site_blocking"
    active = False  # becomes True at the start day

    @dataclass
    class Params:
        """Parameters of the block (ranges declared per field)."""

        block_share: float = prob(0.9)  #: share of buyers who lose access at first
        mirror_rate: float = prob(0.02)  #: new mirrors per day per blocked market (0 = no mirrors)
        workaround_rate: float = prob(0.01)  #: share of blocked buyers learning a workaround per day
        tor_bypass: bool = True  #: Tor users are not affected by blocks of clearnet shops

    def apply(self) -> None:
        """Block the target domains for a share of buyers; mirrors and workarounds follow."""
        model = self.model
        rng = model.streams["interventions"]
        self.u = rng.random(model.buyers.n)  # who the block reaches (fixed per buyer)
        self.blocked = np.array([m.idx for m in self.targets], dtype=np.int64)
        self.mirrors = np.zeros(len(self.blocked))
        self.active = True
        self.started = model.day
        self.schedule_daily(self.add_mirrors)

    def add_mirrors(self) -> None:
        """Daily: new mirrors of the blocked markets."""
        if self.active and self.params.mirror_rate > 0:
            self.mirrors += self.model.streams["interventions"].poisson(self.params.mirror_rate, len(self.blocked))
            for m, k in zip(self.blocked, self.mirrors, strict=True):
                self.model.markets[m].domains = 1 + int(k)

    def blocked_share(self) -> np.ndarray:
        """Current share of buyers blocked from each target market."""
        days = max(0, self.model.day - self.started)
        return self.params.block_share * (1 - self.params.workaround_rate) ** days * 0.5**self.mirrors

    def restrict_access(self, buyers: np.ndarray, markets: np.ndarray) -> np.ndarray:
        """Access mask for the choice (True = reachable)."""
        mask = np.ones((len(buyers), len(markets)), dtype=bool)
        if not self.active:
            return mask
        share = self.blocked_share()
        for j, m in enumerate(markets.tolist()):
            hit = np.flatnonzero(self.blocked == m)
            if len(hit) == 0:
                continue
            cut = self.u[buyers] < share[hit[0]]
            if self.params.tor_bypass and self.model.markets[m].kind == Channel.WEBSHOP:
                cut &= ~self.model.buyers.tech[buyers]
            mask[:, j] = ~cut
        return mask

    def revert(self) -> None:
        """Lift the block."""
        self.active = False
        self.stop_daily()
