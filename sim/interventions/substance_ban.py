"""Substance ban: individual substances or a blanket NPS ban (docs/ODD.md, substances).

The substances become controlled. Web shops comply (delist; a shop left with nothing closes) with
probability ``domestic_compliance`` if domestic, ``foreign_compliance`` if foreign (Wadsworth et al.
2017: after the UK Psychoactive Substances Act only 24% of UK shops stayed open, mostly foreign ones
did). Cryptomarket vendors keep selling at a price premium ``risk_premium``; street prices rise by
``street_price_factor`` and availability changes by ``street_availability_factor`` (UK Home Office
2018 review: NPS use fell, supply moved to street dealers and prices rose).

Analogues: substances of the table with ``analogue_of`` a banned substance enter the market. A share
``analogue_webshop_share`` of web shops list them at once (they are not controlled); each cryptomarket vendor of the banned substance
adds its analogue with probability ``analogue_uptake``. Buyers of the banned substance see them as
close substitutes (``model.demand.analogue_penalty``). Their harm follows from their uncertain
content (wide purity spread, a high share not as described: sim/market/harm.py), not a multiplier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.domain import Channel, MarketStatus
from sim.errors import ConfigError
from sim.interventions.base import Intervention
from sim.params import nonneg, positive, prob

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
        #: cryptomarket price rise for banned substances (share)
        risk_premium: float = nonneg(0.3, why="a share of cost; at 10 prices are elevenfold", hi=10.0)
        street_availability_factor: float = prob(1.0)  #: street availability multiplier (assumption: dealers keep supplying)
        #: street price multiplier (assumption: "prices rose", Home Office 2018)
        street_price_factor: float = positive(1.2, why="a multiplier of street prices; at 100 they are a hundredfold", hi=100.0)
        #: share of cryptomarket vendors of a banned substance who add its analogue (assumption)
        analogue_uptake: float = prob(0.5)
        analogue_webshop_share: float = prob(1.0)  #: share of web shops that list the analogues (assumption: they are legal)

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
        """Indices of the banned substances.

        ``nps`` expands to every NPS on the market at the start; analogues that enter after the ban
        are not covered by it (they are the ban's loophole).
        """
        t = self.model.subs
        ids: set[int] = set()
        for name in self.params.substances:
            if name == "nps":
                ids.update(np.flatnonzero(t.is_nps & (t.analogue_of < 0)).tolist())
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
            "delisted": set(model.levers.delisted),
        }
        t.controlled[s] = True
        model.street.availability[s] *= p.street_availability_factor
        model.street.price[s] *= p.street_price_factor
        model.levers.ban_price_factor[s] *= 1.0 + p.risk_premium
        self.analogues_enter()
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

    def analogues_enter(self) -> None:
        """The analogues of the banned substances come on the market (web shops, some vendors)."""
        model = self.model
        t = model.subs
        a = t.analogues(self.subs)
        self.analogue_ids = a[~t.present[a]]
        self.analogue_sellers: list[tuple[int, int]] = []
        if len(self.analogue_ids) == 0:
            return
        rng = model.streams["interventions"]
        self.saved_sellable = t.webshop_sellable[self.analogue_ids].copy()
        t.present[self.analogue_ids] = True
        t.webshop_sellable[self.analogue_ids] = True
        for agent in model.vendor_agents:
            if not model.vend.active[agent.idx] or agent.webshop:  # shops decide in enforce_on_shops
                continue
            for sid in self.analogue_ids.tolist():
                parent = int(t.analogue_of[sid])
                if parent in agent.substances and rng.random() < self.params.analogue_uptake:
                    self.add_analogue(agent, sid)
        model.listings.mark_dirty()
        self.record["analogues"] = [t.names[i] for i in self.analogue_ids.tolist()]
        self.record["analogue_sellers"] = len(self.analogue_sellers)

    def add_analogue(self, agent, sid: int) -> None:
        """``agent`` lists analogue ``sid`` (priced now, like its other substances)."""
        if sid not in agent.substances:
            agent.substances.append(sid)
            agent.set_prices(only=[sid])
            self.analogue_sellers.append((agent.idx, sid))

    def analogues_leave(self) -> None:
        """Lifting the ban: the analogues that entered with it leave the market."""
        model = self.model
        t = model.subs
        if len(getattr(self, "analogue_ids", ())) == 0:
            return
        t.present[self.analogue_ids] = False
        t.webshop_sellable[self.analogue_ids] = self.saved_sellable
        for v, sid in self.analogue_sellers:
            agent = model.vendor_agents[v]
            if sid in agent.substances:
                agent.substances.remove(sid)
        model.listings.mark_dirty()

    def enforce_on_shops(self) -> tuple[int, int]:
        """Each open web shop not yet decided lists the analogues (or not), then complies or not.

        Complying means delisting the banned substances, and closing if nothing is left to sell.
        """
        model, p = self.model, self.params
        if not self.active:
            return 0, 0
        rng = model.streams["interventions"]
        sellers = {next(iter(a.markets)): a for a in model.vendor_agents if a.webshop and a.markets}
        delisting = closed = 0
        for m in model.markets:
            if not (m.active and m.kind == Channel.WEBSHOP) or m.idx in self.decided:
                continue
            self.decided.add(m.idx)
            seller = sellers.get(m.idx)
            if seller is not None and rng.random() < p.analogue_webshop_share:
                for sid in self.analogue_ids.tolist():
                    self.add_analogue(seller, sid)
                model.listings.mark_dirty()
            if rng.random() >= (p.domestic_compliance if m.domestic else p.foreign_compliance):
                continue
            delisting += 1
            for sid in self.subs.tolist():
                model.levers.delisted.add((m.idx, sid))
            model.listings.mark_dirty()
            offered = seller.substances if seller is not None else []
            if all((m.idx, sid) in model.levers.delisted or not model.subs.webshop_sellable[sid] for sid in offered):
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
        # divide out its own factors, so that overlapping interventions keep theirs
        model.levers.ban_price_factor[s] /= 1.0 + self.params.risk_premium
        model.street.price[s] /= self.params.street_price_factor
        model.levers.delisted = self.saved["delisted"]
        self.analogues_leave()
        model.listings.mark_dirty()  # prices return at the vendors' next weekly decision
