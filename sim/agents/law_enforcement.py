"""Law enforcement: background enforcement and the scenario's scheduled actions.

Most arrests come from the physical world (docs/ODD.md, entities): controlled deliveries after
customs seizures, cash-out and informants. Background vendor arrests follow a daily hazard that
grows with recent sales and falls with operational security. Interventions (site blocking,
takedowns ...) are objects held in :attr:`LawEnforcement.actions`; each is scheduled with
``model.schedule_event`` and fires at the dawn of its day, before the day's trade. They are kept
referenced here because Mesa holds scheduled callbacks by weak reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import mesa
import numpy as np

from sim.arrays import sorted_unique

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel


class ScheduledAction(Protocol):
    """What the model needs of an intervention (:class:`sim.interventions.base.Intervention`).

    A start day and a callback for its dawn; whether it has fired; which buyers it keeps from
    which markets (None: none); and a look at each day's purchases.
    """

    start_day: int
    fired: bool
    #: position in the scenario list, what it did (summary.json), and the markets it targets
    index: int
    record: dict
    targets: list

    def fire(self) -> None:  # pragma: no cover - protocol
        """Run at the dawn of the start day."""
        ...

    def restrict_access(self, buyers: np.ndarray, markets: np.ndarray) -> np.ndarray | None:  # pragma: no cover
        """Which buyers can reach which markets (None: no restriction)."""
        ...

    def observe(self, log) -> None:  # pragma: no cover - protocol
        """See the day's purchases."""
        ...


class LawEnforcement(mesa.Agent):
    """The police and customs of the buyers' country (one agent)."""

    def __init__(self, model: CryptoMarketModel) -> None:
        super().__init__(model)
        self.actions: list[ScheduledAction] = []

    def schedule(self, action: ScheduledAction) -> None:
        """Keep ``action`` and run its ``fire`` at the dawn of its start day (time day + 0.5)."""
        self.actions.append(action)
        self.model.schedule_event(action.fire, at=self.model.mesa_time_of_dawn(action.start_day))

    def access_mask(self, buyers: np.ndarray, markets: np.ndarray) -> np.ndarray:
        """Whether each buyer can reach each market: the interventions' access restrictions combined."""
        mask = np.ones((len(buyers), len(markets)), dtype=bool)
        for action in self.actions:
            allowed = action.restrict_access(buyers, markets)
            if allowed is not None:
                mask &= allowed
        return mask

    def daily(self) -> None:
        """Background arrests of vendors (hazard from recent sales, reduced by opsec)."""
        model = self.model
        cfg = model.cfg.model.enforcement
        vend = model.vend
        idx = np.flatnonzero(vend.active[: vend.n] & ~vend.webshop[: vend.n])
        if len(idx) == 0:
            return
        orders30 = model.vend.ring[idx].sum(axis=1)
        hazard = (
            (
                cfg.vendor_arrest_hazard
                + (cfg.vendor_arrest_hazard_per_100_orders + model.levers.cashout_hazard_per_100) * orders30 / 100.0
            )
            * cfg.zero_opsec_hazard_multiplier
            * (1.0 - vend.opsec[idx])
        )
        hit = idx[model.streams["enforcement"].random(len(idx)) < hazard]
        for v in hit.tolist():
            self.arrest_vendor(v, reason="background enforcement")

    def arrest_vendor(self, v: int, reason: str) -> None:
        """Arrest vendor ``v``: it stops trading and takes no new orders.

        Its open orders run their course: a vendor ships on the day an order is paid (the outcome
        and arrival day are drawn then, ``sim.market.trade.place_orders``), so every open order of
        an arrested vendor is already in the post and arrives, or is seized or lost, as drawn.
        """
        if not self.model.vend.active[v]:
            return
        self.model.vendor_agents[v].arrest(reason)  # agents are stored in idx order
        self.model.today.arrests_vendors += 1

    def arrest_buyers(self, buyers: np.ndarray, online: bool = True) -> None:
        """Arrest buyers; specific deterrence follows (:meth:`sim.agents.buyer.BuyerPopulation.arrest`).

        ``online``: after a controlled delivery or from a market's records; else on the street.
        """
        model = self.model
        model.today.cessations += model.buyers.arrest(model.streams["demand"], buyers, model.day, online)
        model.today.arrests_buyers += len(sorted_unique(buyers))
