"""Parcel interdiction: customs and postal inspection with controlled deliveries.

Parcels on the inspected ``routes`` (``eu``: from another EU member state; ``non_eu``: from outside
the EU; default both) are seized with ``inspection_rate x (1 - stealth)``; parcels on other routes
keep their usual rate (``model.levers.customs_prob``, sim/market/routes.py), domestic parcels are
never inspected. Seized parcels lead to controlled deliveries (buyer arrests,
``controlled_delivery_prob``) and traced vendors (``vendor_trace_prob``). Vendors on the inspected
routes adapt: each week one moves to domestic shipping with ``domestic_shift_weekly_prob`` and
improves stealth by ``stealth_gain_weekly`` (share of the gap to 1); buyers turn to listings that
ship from their own country through the seizure risk in the listing utility
(``model.choice.beta_seizure_risk``). Revert restores the inspection levers (vendors' adaptation stays).
Sources: Decary-Hetu et al. 2016 (shipping and customs risk); modelling judgement for rates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.domain import ORIGIN_NAMES, Origin
from sim.errors import ConfigError
from sim.interventions.base import Intervention
from sim.params import prob

#: the routes an interdiction may inspect (domestic parcels cross no border)
ROUTES = {ORIGIN_NAMES[Origin.EU]: Origin.EU, ORIGIN_NAMES[Origin.NON_EU]: Origin.NON_EU}


class ParcelInterdiction(Intervention):
    """Raise customs inspection on some routes and controlled deliveries; vendors adapt."""

    name = "parcel_interdiction"
    active = False
    uses_target = False

    @dataclass
    class Params:
        """Parameters of the interdiction (ranges declared per field)."""

        inspection_rate: float = prob(0.3)  #: seizure probability of a parcel on an inspected route at zero stealth
        controlled_delivery_prob: float = prob(0.3)  #: chance a seized parcel leads to a buyer arrest
        vendor_trace_prob: float = prob(0.1)  #: chance a seized parcel leads to the vendor's arrest
        #: weekly chance a vendor on an inspected route ships domestically
        domestic_shift_weekly_prob: float = prob(0.05)
        stealth_gain_weekly: float = prob(0.05)  #: weekly stealth improvement, share of the gap to 1
        #: the routes inspected: ``eu`` (parcels from other EU member states) and/or ``non_eu``
        routes: list[str] = field(default_factory=lambda: list(ROUTES))

    @classmethod
    def normalise(cls, given: dict) -> dict:
        """``routes: non_eu`` means ``[non_eu]``."""
        if isinstance(given.get("routes"), str):
            given["routes"] = [given["routes"]]
        return given

    @classmethod
    def check(cls, params, where: str) -> None:
        """Refuse unknown routes and an empty list (ConfigError)."""
        if not params.routes:
            raise ConfigError(f"{where}.params.routes: name at least one route; allowed: {sorted(ROUTES)}")
        for r in params.routes:
            if r not in ROUTES:
                raise ConfigError(
                    f"{where}.params.routes: unknown route {r!r}; allowed: {sorted(ROUTES)} "
                    "(domestic parcels cross no border and are not inspected)"
                )

    def route_origins(self) -> np.ndarray:
        """The inspected routes as vendor origins (sim.domain.Origin)."""
        return np.array(sorted({int(ROUTES[r]) for r in self.params.routes}), dtype=np.int64)

    def apply(self) -> None:
        """Raise inspection on the routes, controlled deliveries and tracing; vendors start adapting."""
        model, p = self.model, self.params
        lv = model.levers
        self.saved = {"customs": lv.customs_prob.copy(), "cd": lv.controlled_delivery_prob, "trace": lv.trace_prob}
        customs = lv.customs_prob.copy()
        customs[self.route_origins()] = p.inspection_rate
        lv.customs_prob = customs
        lv.controlled_delivery_prob = p.controlled_delivery_prob
        lv.trace_prob = p.vendor_trace_prob
        self.record["routes"] = [ORIGIN_NAMES[o] for o in self.route_origins().tolist()]
        self.active = True
        self.schedule_daily(self.adapt)

    def adapt(self) -> None:
        """Weekly adaptation of the vendors on the inspected routes (runs daily, acts every 7th day)."""
        model, p = self.model, self.params
        if not self.active or (model.day - self.start_day) % 7 != 6:
            return
        model.vend.adapt_to_interdiction(
            model.streams["interventions"], p.domestic_shift_weekly_prob, p.stealth_gain_weekly, self.route_origins()
        )

    def revert(self) -> None:
        """Restore the customs, controlled-delivery and tracing levers."""
        model = self.model
        lv = model.levers
        lv.customs_prob = self.saved["customs"]
        lv.controlled_delivery_prob = self.saved["cd"]
        lv.trace_prob = self.saved["trace"]
        self.active = False
        self.stop_daily()
