"""Payment intervention: exchange KYC and monitoring (the financial level).

Buying online gets a utility penalty ``friction`` (full for buyers without crypto skill,
``skilled_share`` of it for skilled ones), which lowers online use most among low-skill buyers.
When the controls start, ``privacy_coin_share`` of the Tor-skilled buyers switch to privacy coins
or mixers: they pay ``privacy_coin_cost`` instead of the skilled friction (buyers who learn the
skill later do not switch). Vendors cashing out face an extra arrest hazard
``cashout_hazard_per_100_orders`` per 100 orders in the last 30 days, and lose
``cashout_cost_share`` of their revenue to cash-out fees and laundering, which they pass into
their prices at their next weekly re-pricing (price / (1 - share)). Revert restores the levers and
the switched buyers' means of payment. Rates are modelling judgements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import ConfigError
from sim.interventions.base import Intervention
from sim.params import coefficient, prob, ranged
from sim.streams import keyed_stream


class PaymentIntervention(Intervention):
    """Exchange KYC: friction for buyers (privacy coins for some), cash-out detection and costs for vendors."""

    name = "payment"
    uses_target = False

    @dataclass
    class Params:
        """Parameters of the payment intervention (ranges declared per field)."""

        friction: float = coefficient(1.0)  #: utility penalty (logit units) of paying online, low-skill buyers
        #: the penalty for buyers skilled with Tor and cryptocurrency, as a share of ``friction``
        #: (assumption: they use non-KYC exchanges or privacy coins)
        skilled_share: float = prob(0.3)
        #: extra daily vendor arrest hazard per 100 orders
        cashout_hazard_per_100_orders: float = prob(0.002, why="a daily probability per 100 orders")
        #: share of the Tor-skilled buyers who switch to privacy coins or mixers when the controls
        #: start (assumption)
        privacy_coin_share: float = prob(0.5)
        #: utility penalty (logit units) of paying with privacy coins or mixers, paid by the switched
        #: buyers instead of the skilled friction; at most that friction, ``friction x skilled_share``
        #: (buyers switch to pay less; assumption: a third of the default skilled friction, 0.3)
        privacy_coin_cost: float = coefficient(0.1)
        #: share of vendors' revenue lost to cash-out fees and laundering under the controls; vendors
        #: raise their prices by 1 / (1 - share) (assumption)
        cashout_cost_share: float = ranged(0.05, lo=0.0, hi=1.0, hi_open=True, why="a share of revenue; 1 would leave nothing")

    @classmethod
    def check(cls, params, where: str) -> None:
        """Refuse a privacy-coin cost above the skilled friction it replaces, when anyone switches (ConfigError)."""
        skilled = params.friction * params.skilled_share
        if params.privacy_coin_share > 0 and params.privacy_coin_cost > skilled + 1e-12:
            raise ConfigError(
                f"{where}.params.privacy_coin_cost={params.privacy_coin_cost}: must be at most the skilled buyers' friction, "
                f"friction x skilled_share = {skilled:g} (buyers switch to privacy coins to pay less); "
                "or set privacy_coin_share=0"
            )

    def apply(self) -> None:
        """Add payment friction for buyers, switch some skilled buyers to privacy coins; cash-out hazard and costs."""
        model, p = self.model, self.params
        lv = model.levers
        pop = model.buyers
        self.saved = {
            "friction": lv.payment_friction,
            "friction_skilled": lv.payment_friction_skilled,
            "friction_privacy": lv.payment_friction_privacy,
            "cashout": lv.cashout_hazard_per_100,
            "cashout_cost": lv.cashout_cost_share,
        }
        lv.payment_friction += p.friction
        lv.payment_friction_skilled += p.friction * p.skilled_share
        lv.payment_friction_privacy += p.privacy_coin_cost
        lv.cashout_hazard_per_100 += p.cashout_hazard_per_100_orders
        # costs of two controls compound: the vendor keeps (1 - a)(1 - b) of the price
        lv.cashout_cost_share += p.cashout_cost_share * (1.0 - lv.cashout_cost_share)
        # one number per person from a generator of its own: the same whatever the share, and the
        # other interventions' draws are left as they were (common random numbers)
        u = keyed_stream(model.cfg.seed, "privacy_coins", self.index).random(pop.n)
        #: the buyers who switched to privacy coins (and did not pay with them before)
        self.switched = np.flatnonzero(pop.tech & ~pop.privacy_coin & (u < p.privacy_coin_share))
        pop.set_privacy_coin(self.switched, True)
        self.record["privacy_coin_switchers"] = len(self.switched)

    def revert(self) -> None:
        """Restore the payment levers and the switched buyers' means of payment."""
        lv = self.model.levers
        lv.payment_friction = self.saved["friction"]
        lv.payment_friction_skilled = self.saved["friction_skilled"]
        lv.payment_friction_privacy = self.saved["friction_privacy"]
        lv.cashout_hazard_per_100 = self.saved["cashout"]
        lv.cashout_cost_share = self.saved["cashout_cost"]
        self.model.buyers.set_privacy_coin(self.switched, False)
