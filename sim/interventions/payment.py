"""Payment intervention: exchange KYC and monitoring (the financial level).

Buying online gets a utility penalty ``friction`` (full for buyers without crypto skill, 30% for
skilled ones), which lowers online use most among low-skill buyers; vendors cashing out face an
extra arrest hazard ``cashout_hazard_per_100_orders`` per 100 orders in the last 30 days.
Rates are modelling judgements.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.interventions.base import Intervention
from sim.params import nonneg, prob


class PaymentIntervention(Intervention):
    """Exchange KYC: friction for buyers, cash-out detection for vendors."""

    name = "payment"
    uses_target = False

    @dataclass
    class Params:
        """Parameters of the payment intervention (ranges declared per field)."""

        friction: float = nonneg(1.0)  #: utility penalty (logit units) of paying online, low-skill buyers
        #: the penalty for buyers skilled with Tor and cryptocurrency, as a share of ``friction``
        #: (assumption: they use non-KYC exchanges or privacy coins)
        skilled_share: float = prob(0.3)
        cashout_hazard_per_100_orders: float = nonneg(0.002)  #: extra daily vendor arrest hazard per 100 orders

    def apply(self) -> None:
        """Add payment friction for buyers and a cash-out arrest hazard for vendors."""
        model, p = self.model, self.params
        lv = model.levers
        self.saved = {
            "friction": lv.payment_friction,
            "friction_skilled": lv.payment_friction_skilled,
            "cashout": lv.cashout_hazard_per_100,
        }
        lv.payment_friction += p.friction
        lv.payment_friction_skilled += p.friction * p.skilled_share
        lv.cashout_hazard_per_100 += p.cashout_hazard_per_100_orders

    def revert(self) -> None:
        """Restore the payment levers."""
        lv = self.model.levers
        lv.payment_friction = self.saved["friction"]
        lv.payment_friction_skilled = self.saved["friction_skilled"]
        lv.cashout_hazard_per_100 = self.saved["cashout"]
