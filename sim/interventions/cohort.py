"""Following the buyers an intervention touches, the same way in a run and in its counterfactual.

A :class:`CohortProbe` starts at the dawn of an intervention's start day ``t0``. In the treated
run the intervention starts it (after resolving its targets, before changing anything); in the
counterfactual run (same config and seed, no interventions) the model starts one for the same
day and the same target markets. Common random numbers make both runs identical up to ``t0``, so
both probes choose the same buyers; the difference of what they record afterwards is the effect
(docs/outputs.md, "Effects against a counterfactual").

The cohort is chosen in a window that does not overlap the "before" window (so its spending does
not regress to the mean by construction): buyers who bought on the target markets between
``t0 - 60`` and ``t0 - 31`` (for an intervention without target markets: who bought online
then). Every day from ``t0 - 30`` on it records one row: the cohort's spending by destination,
its mean trust in the open online markets it knows, the trust of its migrants in their new
market, and the share of recent hidden-market buyers that bought there again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.arrays import isin_few, sorted_unique
from sim.domain import Channel
from sim.market.records import Purchases

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel

__all__ = [
    "CohortProbe",
    "COHORT_FROM",
    "COHORT_TO",
    "BEFORE_DAYS",
    "HIDDEN_DAYS",
    "SPEND_GROUPS",
    "COHORT_COLUMNS",
    "COHORT_RING_DAYS",
    "PlannedProbe",
]

#: the cohort bought on the target between t0 - COHORT_FROM and t0 - COHORT_TO (days)
COHORT_FROM, COHORT_TO = 60, 31
#: days before t0 whose target volume the displacement shares divide (t0 - 30 .. t0 - 1)
BEFORE_DAYS = 30
#: buyers with a hidden-market purchase (cryptomarket or decentralised) in the 90 days before t0
HIDDEN_DAYS = 90
#: where the cohort's money goes, one column each (``value_<group>_eur``)
SPEND_GROUPS = ("target", "other_cryptomarkets", "webshop", "decentralised", "offline")
#: columns of cohorts.parquet, in order (docs/outputs.md)
COHORT_COLUMNS = (
    "intervention",
    "day",
    *(f"value_{g}_eur" for g in SPEND_GROUPS),
    "cohort_buyers",
    "cohort_trust",
    "migrants",
    "migrant_trust_destination",
    "hidden_buyers",
    "hidden_bought_again",
)
#: purchase-ring length a probe needs (the model keeps this many days when any probe will start)
COHORT_RING_DAYS = COHORT_FROM


class CohortProbe:
    """One intervention's cohort, followed day by day (rows of ``cohorts.parquet``).

    Args:
        model: the model (treated or counterfactual).
        index: the intervention's position in the scenario list.
        targets: market columns of the target markets (empty: the intervention has no target).
    """

    def __init__(self, model: CryptoMarketModel, index: int, targets: list[int]) -> None:
        self.model = model
        self.index = index
        self.start_day = t0 = model.day
        self.targets = np.array(sorted(targets), dtype=np.int64)
        n = model.buyers.n
        by_day = {t0 - k: log for k, log in enumerate(reversed(model.purchase_ring), start=1)}
        self.members = np.zeros(n, dtype=bool)
        for day in range(t0 - COHORT_FROM, t0 - COHORT_TO + 1):
            log = by_day.get(day)
            if log is not None:
                chosen = isin_few(log.market, self.targets) if len(self.targets) else log.channel != Channel.OFFLINE
                self.members[log.buyer[chosen]] = True
        self.member_ids = np.flatnonzero(self.members)
        #: hidden-market buyers of the 90 days before (one pass over buyers, once, at t0)
        self.hidden = model.buyers.last_hidden_day >= t0 - HIDDEN_DAYS
        self.hidden_n = int(self.hidden.sum())
        self.hidden_again = np.zeros(n, dtype=bool)
        #: destination market of each cohort member's first online purchase off the target after t0
        self.destination = np.full(n, -1, dtype=np.int64)
        self.migrant_ids = np.zeros(0, dtype=np.int64)
        self.hidden_again_n = 0
        self.rows: list[dict] = []
        for day in range(t0 - BEFORE_DAYS, t0):
            log = by_day.get(day)
            row = self._spending(day, log if log is not None else Purchases.empty())
            row.update(cohort_trust=float("nan"), migrants=0, migrant_trust_destination=float("nan"))
            row.update(hidden_buyers=self.hidden_n, hidden_bought_again=0)
            self.rows.append(row)
        # trust at the dawn of t0, before the intervention changes anything: the "before" level
        self.rows[-1]["cohort_trust"] = self._cohort_trust()

    # ------------------------------------------------------------------ daily
    def observe(self, log: Purchases) -> None:
        """Record today's row from today's purchases and the cohort's trust at the end of the day."""
        day = self.model.day
        row = self._spending(day, log)
        online = self.members[log.buyer] & (log.channel != Channel.OFFLINE) & ~isin_few(log.market, self.targets)
        b, m = log.buyer[online], log.market[online]
        first = self.destination[b] < 0
        new = sorted_unique(b[first])
        self.destination[b[first]] = m[first]  # a buyer with two such purchases today: the last one counts
        self.migrant_ids = np.concatenate([self.migrant_ids, new])
        # counted incrementally: no daily pass over all buyers
        hb = sorted_unique(log.buyer[(log.channel == Channel.CRYPTOMARKET) | (log.channel == Channel.DECENTRALISED)])
        fresh = hb[self.hidden[hb] & ~self.hidden_again[hb]]
        self.hidden_again[fresh] = True
        self.hidden_again_n += len(fresh)
        migrants = self.migrant_ids
        dest_trust = self.model.buyers.trust_of(migrants, self.destination[migrants])
        row.update(
            cohort_trust=self._cohort_trust(),
            migrants=len(migrants),
            migrant_trust_destination=float(dest_trust.mean()) if len(migrants) else float("nan"),
            hidden_buyers=self.hidden_n,
            hidden_bought_again=self.hidden_again_n,
        )
        self.rows.append(row)

    def _spending(self, day: int, log: Purchases) -> dict:
        mine = self.members[log.buyer]
        on_target = mine & isin_few(log.market, self.targets)
        other = mine & ~on_target
        by_channel = np.bincount(log.channel[other], weights=log.value[other], minlength=4)
        return {
            "intervention": self.index,
            "day": int(day),
            "value_target_eur": float(log.value[on_target].sum()),
            "value_other_cryptomarkets_eur": float(by_channel[Channel.CRYPTOMARKET]),
            "value_webshop_eur": float(by_channel[Channel.WEBSHOP]),
            "value_decentralised_eur": float(by_channel[Channel.DECENTRALISED]),
            "value_offline_eur": float(by_channel[Channel.OFFLINE]),
            "cohort_buyers": len(self.member_ids),
        }

    def _cohort_trust(self) -> float:
        """Mean over cohort members of their mean trust in the open online markets they know."""
        model = self.model
        act = model.market_table.open_columns()
        if len(self.member_ids) == 0 or len(act) == 0:
            return float("nan")
        known = model.buyers.aware_grid(self.member_ids, act)
        count = known.sum(axis=1)
        total = np.where(known, model.buyers.trust_grid(self.member_ids, act), 0.0).sum(axis=1)
        ok = count > 0
        return float((total[ok] / count[ok]).mean()) if ok.any() else float("nan")


class PlannedProbe:
    """A cohort to start at the dawn of ``start_day`` in a counterfactual run (no intervention there).

    The target markets are those the treated run's intervention resolved on that day; the model
    keeps this object referenced (Mesa holds scheduled callbacks weakly).
    """

    def __init__(self, model: CryptoMarketModel, index: int, start_day: int, targets: list[int]) -> None:
        self.model, self.index, self.start_day, self.targets = model, index, int(start_day), list(targets)

    def fire(self) -> None:
        """Start following the cohort."""
        self.model.probes.append(CohortProbe(self.model, self.index, self.targets))
