"""Parcel interdiction: customs and postal inspection with controlled deliveries.

Cross-border parcels are seized with ``inspection_rate x (1 - stealth)``; seized parcels lead to
controlled deliveries (buyer arrests, ``controlled_delivery_prob``) and traced vendors
(``vendor_trace_prob``). Vendors adapt: each week a cross-border vendor moves to domestic shipping
with ``domestic_shift_weekly_prob`` and improves stealth by ``stealth_gain_weekly`` (share of the
gap to 1). Revert restores the inspection levers (vendors' adaptation stays).
Sources: Decary-Hetu et al. 2016 (shipping and customs risk); modelling judgement for rates.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.interventions.base import Intervention
from sim.params import prob


class ParcelInterdiction(Intervention):
    """Raise customs inspection and controlled deliveries; vendors adapt."""

    name = "parcel_interdiction"
    active = False
    uses_target = False

    @dataclass
    class Params:
        """Parameters of the interdiction (ranges declared per field)."""

        inspection_rate: float = prob(0.3)  #: seizure probability of a cross-border parcel at zero stealth
        controlled_delivery_prob: float = prob(0.3)  #: chance a seized parcel leads to a buyer arrest
        vendor_trace_prob: float = prob(0.1)  #: chance a seized parcel leads to the vendor's arrest
        domestic_shift_weekly_prob: float = prob(0.05)  #: weekly chance a cross-border vendor ships domestically
        stealth_gain_weekly: float = prob(0.05)  #: weekly stealth improvement, share of the gap to 1

    def apply(self) -> None:
        """Raise customs inspection, controlled deliveries and tracing; vendors start adapting."""
        model, p = self.model, self.params
        lv = model.levers
        self.saved = {"customs": lv.customs_prob, "cd": lv.controlled_delivery_prob, "trace": lv.trace_prob}
        lv.customs_prob = p.inspection_rate
        lv.controlled_delivery_prob = p.controlled_delivery_prob
        lv.trace_prob = p.vendor_trace_prob
        self.active = True
        self.schedule_daily(self.adapt)

    def adapt(self) -> None:
        """Weekly vendor adaptation (runs daily, acts every 7th day)."""
        model, p = self.model, self.params
        if not self.active or (model.day - self.start_day) % 7 != 6:
            return
        model.vend.adapt_to_interdiction(model.streams["interventions"], p.domestic_shift_weekly_prob, p.stealth_gain_weekly)

    def revert(self) -> None:
        """Restore the customs, controlled-delivery and tracing levers."""
        model = self.model
        lv = model.levers
        lv.customs_prob = self.saved["customs"]
        lv.controlled_delivery_prob = self.saved["cd"]
        lv.trace_prob = self.saved["trace"]
        self.active = False
        self.stop_daily()
