"""Substance ban: individual substances or a blanket NPS ban (docs/ODD.md, substances).

The substances become controlled. Web shops comply (delist; a shop left with nothing closes) with
probability ``domestic_compliance`` if domestic, ``foreign_compliance`` if foreign (Wadsworth et al.
2017: after the UK Psychoactive Substances Act only 24% of UK shops stayed open, mostly foreign ones
did). Cryptomarket vendors keep selling at a price premium ``risk_premium``. Street availability
falls by ``street_availability_factor``. Uncertain analogues: what is still sold online carries
harm weight x ``analogue_harm_factor`` (content unknown to the buyer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.domain import Channel, MarketStatus
from sim.errors import ConfigError
from sim.interventions.base import Intervention
from sim.params import nonneg, prob

#: days after the start at which the domestic web shops still selling are counted (Wadsworth et al. 2017: six months)
FOLLOW_UP_DAYS = 182


class SubstanceBan(Intervention):
    """Make substances controlled; shops delist, vendors charge a premium."""

    name = "substance_ban"
    active = False
    uses_target = False

    @dataclass
    class Params:
        """Parameters of the ban (ranges declared per field)."""

        substances: list[str] = field(default_factory=lambda: ["nps"])  #: names, or "nps" for all NPS
        domestic_compliance: float = prob(0.8)  #: share of domestic web shops that delist
        foreign_compliance: float = prob(0.3)  #: share of foreign web shops that delist
        risk_premium: float = nonneg(0.3)  #: cryptomarket price rise for banned substances (share)
        street_availability_factor: float = prob(0.7)  #: street availability multiplier
        analogue_harm_factor: float = nonneg(1.5)  #: harm multiplier of what is still sold online

    @classmethod
    def normalise(cls, given: dict) -> dict:
        """``substances: nps`` means ``[nps]``."""
        if isinstance(given.get("substances"), str):
            given["substances"] = [given["substances"]]
        return given

    @classmethod
    def check(cls, params, where: str) -> None:
        """Refuse a ban that names no substance."""
        if not params.substances:
            raise ConfigError(f"{where}.params.substances: name at least one substance or 'nps'")

    def ban_ids(self) -> np.ndarray:
        """Indices of the banned substances (``nps`` expands to every NPS)."""
        t = self.model.subs
        ids: set[int] = set()
        for name in self.params.substances:
            if name == "nps":
                ids.update(np.flatnonzero(t.is_nps).tolist())
            else:
                ids.add(t.index(name))
        return np.array(sorted(ids), dtype=np.int64)

    def apply(self) -> None:
        """Control the substances: shops delist or close, prices and harm rise, the street has less."""
        model, p = self.model, self.params
        t = model.subs
        s = self.ban_ids()
        self.subs = s
        self.saved = {
            "controlled": t.controlled[s].copy(),
            "availability": model.street.availability[s].copy(),
            "price_factor": model.levers.ban_price_factor[s].copy(),
            "harm": t.harm_weight[s].copy(),
            "delisted": set(model.levers.delisted),
        }
        t.controlled[s] = True
        model.street.availability[s] *= p.street_availability_factor
        model.levers.ban_price_factor[s] *= 1.0 + p.risk_premium
        t.harm_weight[s] *= p.analogue_harm_factor
        self.decided: set[int] = set()
        self.active = True
        # the domestic web shops selling a banned substance when the ban starts (followed up at 182 days)
        self.selling_at_start = self.domestic_shops_selling()
        delisting, closed = self.enforce_on_shops()
        self.schedule_daily(self.enforce_on_shops)  # shops opening later face the ban too
        # vendors re-price at their weekly decision (within 7 days), as they do after any change
        model.listings.mark_dirty()
        self.record.update(substances=[t.names[i] for i in s], shops_complying=delisting, shops_closed=closed)
        self.record["domestic_shops_selling_at_start"] = len(self.selling_at_start)
        model.schedule_event(self.follow_up, at=model.mesa_time_of_dawn(self.start_day + FOLLOW_UP_DAYS))

    def enforce_on_shops(self) -> tuple[int, int]:
        """Each open web shop not yet decided complies (delists; closes if left empty) or not."""
        model, p = self.model, self.params
        if not self.active:
            return 0, 0
        rng = model.streams["interventions"]
        sellable = np.flatnonzero(model.subs.webshop_sellable).tolist()
        delisting = closed = 0
        for m in model.markets:
            if not (m.active and m.kind == Channel.WEBSHOP) or m.idx in self.decided:
                continue
            self.decided.add(m.idx)
            if rng.random() >= (p.domestic_compliance if m.domestic else p.foreign_compliance):
                continue
            delisting += 1
            for sid in self.subs.tolist():
                model.levers.delisted.add((m.idx, sid))
            model.listings.mark_dirty()
            if all((m.idx, sid) in model.levers.delisted for sid in sellable):
                m.close(MarketStatus.CLOSED, reason="closed after substance ban")
                closed += 1
        return delisting, closed

    def domestic_shops_selling(self) -> set[int]:
        """Open domestic web shops (market columns) where an active seller offers a banned substance not delisted."""
        model = self.model
        banned = set(self.subs.tolist())
        shops = {m.idx for m in model.markets if m.active and m.kind == Channel.WEBSHOP and m.domestic}
        selling = set()
        for a in model.vendor_agents:
            if not model.vend.active[a.idx]:
                continue
            for m in shops.intersection(a.markets):
                if any((m, sid) not in model.levers.delisted for sid in banned.intersection(a.substances)):
                    selling.add(m)
        return selling

    def follow_up(self) -> None:
        """182 days after the start: how many of the domestic shops selling at the start still sell (summary.json)."""
        still = self.selling_at_start & self.domestic_shops_selling()
        n0 = len(self.selling_at_start)
        self.record["domestic_shops_still_selling_182d"] = len(still)
        self.record["domestic_shop_share_selling_182d"] = len(still) / n0 if n0 else None

    def revert(self) -> None:
        """Lift the ban: restore what apply changed."""
        model, s = self.model, self.subs
        self.active = False
        self.stop_daily()
        model.subs.controlled[s] = self.saved["controlled"]
        model.street.availability[s] = self.saved["availability"]
        model.levers.ban_price_factor[s] = self.saved["price_factor"]
        model.subs.harm_weight[s] = self.saved["harm"]
        model.levers.delisted = self.saved["delisted"]
        model.listings.mark_dirty()  # prices return at the vendors' next weekly decision
