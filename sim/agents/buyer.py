"""Buyers: the drug users of the modelled population (docs/ODD.md, entities).

Buyers are a vectorised population, not one Mesa agent each: their state lives in the columns of
a :class:`BuyerPopulation` (owned by the model as ``model.buyers``), so that the day's purchases
(all buyers whose purchase is due) are decided in one vectorised pass, and a run scales to
hundreds of thousands of buyers. ``model.buyer(i)`` gives a :class:`Buyer`, a read-only view of
buyer ``i`` and its state, for notebooks, tests and visualisation. A buyer acts only when its next purchase is due: purchase times
sit in a day calendar, so no day touches every buyer.

Each purchase occasion is a nested choice (docs/ODD.md, demand): not buying, or buying a
substance of the buyer's substitution nest on a channel (offline street, web shop, cryptomarket,
decentralised), then a market, then a listing. Market utility = channel convenience + trust +
listing inclusive value (price, quality, reputation) - perceived risk; buyers only see markets
they know and can reach (Tor skill for cryptomarkets and decentralised markets). The population
also holds people at risk who do not use yet (or any more): they start with an attempt that ends
in a purchase; users stop with a hazard that is higher when they do not buy. Skill with Tor
spreads at occasions (a Bass diffusion), arrests pause or end use and deter from the channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.arrays import categories_of, draw_categorical, last_occurrences, sorted_unique
from sim.calendar import IdCalendar
from sim.columns import doubled, resized
from sim.config import BuyerConfig, DemandConfig
from sim.domain import Channel
from sim.market.choice import NEG_INF, logsumexp_rows_weights, pick_by_weights
from sim.market.harm import consumption_harm
from sim.market.records import Purchases
from sim.market.trade import place_orders
from sim.streams import cell_normal

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel
    from sim.substances import SubstanceTable


#: a purchase gap longer than any horizon (days): caps the gaps of buyers whose rate is ~0, so that
#: day numbers stay finite integers
NEVER_DAYS = 1e9
#: the window of ``users_active_30d``, days
ACTIVE_WINDOW_DAYS = 30


class Buyer:
    """A read-only view of buyer ``idx``: row ``idx`` of the model's :class:`BuyerPopulation`."""

    def __init__(self, model: CryptoMarketModel, idx: int) -> None:
        if not 0 <= idx < model.buyers.n:
            raise IndexError(f"buyer {idx}: the population has buyers 0 to {model.buyers.n - 1}")
        self.model = model
        self.idx = idx

    @property
    def _pop(self) -> BuyerPopulation:
        return self.model.buyers

    @property
    def using(self) -> bool:
        """Uses drugs now (False: a person at risk who has not started, or has stopped)."""
        return bool(self._pop.active[self.idx])

    @property
    def tech_skill(self) -> bool:
        """Can use Tor and cryptocurrency."""
        return bool(self._pop.tech[self.idx])

    @property
    def offline_access(self) -> bool:
        """Has access to a street dealer."""
        return bool(self._pop.offline[self.idx])

    @property
    def purchases_per_month(self) -> float:
        """Mean purchase occasions per month (any channel; some end without a purchase)."""
        return float(self._pop.rate[self.idx])

    def trust_in(self, market: int) -> float | None:
        """Trust in market ``market`` (column index), None if the buyer does not know it."""
        one, col = np.array([self.idx]), np.array([market])
        if not self._pop.aware_of(one, col)[0]:
            return None
        return float(self._pop.trust_of(one, col)[0])

    @property
    def favourite_vendor(self) -> tuple[int, float] | None:
        """(vendor index, trust in it) of the vendor this buyer returns to, if any."""
        v = int(self._pop.fav_vendor[self.idx])
        return None if v < 0 else (v, float(self._pop.fav_trust[self.idx]))


class BuyerPopulation:
    """Columns of buyer state plus trust and awareness per market.

    Rows ``0 .. n_users-1`` use at the start; the rest (``potential_users_per_user`` per user) are
    people at risk who do not. Trust changes go through :meth:`set_trust`, which keeps per-market
    sums so that mean trust is read without a pass over all buyers; users, skilled people and users
    active in the last 30 days are counted incrementally for the same reason.

    Trust, awareness and "has bought there" per market are held only for buyers who can reach some
    online market (web-shop users, the Tor-skilled among them): only they ever learn of a market,
    and they are a small share of the population. ``market_row[b]`` is buyer ``b``'s row in those
    matrices; row 0 belongs to nobody and stays empty, so the other buyers read as "does not know
    the market, trust 0" without a branch. Read and write them through the methods below.
    """

    def __init__(
        self,
        cfg: BuyerConfig,
        demand: DemandConfig,
        n_users: int,
        n_subs: int,
        demand_p: np.ndarray,
        rng: np.random.Generator,
        market_cap: int,
        opsec_rng: np.random.Generator,
    ):
        self.cfg = cfg
        self.demand = demand
        n = n_users + int(round(n_users * demand.potential_users_per_user))
        self.n = n
        self.n_users_start = n_users
        mean = cfg.purchases_per_month_mean
        sd = cfg.purchases_per_month_logsd
        # lognormal with the configured arithmetic mean
        self.rate = rng.lognormal(np.log(mean) - sd**2 / 2, sd, n)
        self.tech = rng.random(n) < cfg.tech_skill_share
        self.offline = rng.random(n) < cfg.offline_access_share
        self.webshop = self.tech | (rng.random(n) < cfg.webshop_use_share)
        self.checking = rng.random(n) < cfg.drug_checking_share
        self.price_sens = rng.lognormal(0.0, cfg.price_sensitivity_logsd, n)
        self.risk = rng.beta(cfg.risk_aversion_a, cfg.risk_aversion_b, n)
        self.primary = rng.choice(n_subs, size=n, p=demand_p).astype(np.int16)
        #: encrypts the shipping address to the vendor's PGP key (from a stream of its own, so that
        #: the share changes no other draw)
        self.pgp = opsec_rng.random(n) < cfg.pgp_share
        #: pays with privacy coins or mixers (switched when payment controls started; the payment
        #: intervention sets and clears it)
        self.privacy_coin = np.zeros(n, dtype=bool)
        self.fav_vendor = np.full(n, -1, dtype=np.int32)
        self.fav_trust = np.zeros(n, dtype=np.float32)
        self.last_online_day = np.full(n, -(10**6), dtype=np.int32)
        #: day of the last purchase on a hidden market (cryptomarket or decentralised)
        self.last_hidden_day = np.full(n, -(10**6), dtype=np.int32)
        #: day of the last purchase on any channel
        self.last_purchase_day = np.full(n, -(10**6), dtype=np.int32)
        self.migrant_from = np.full(n, -1, dtype=np.int32)
        #: uses now; stopped for good (after an arrest: never starts again)
        self.active = np.arange(n) < n_users
        self.quit = np.zeros(n, dtype=bool)
        self.arrested = np.zeros(n, dtype=bool)
        #: arrested: no purchase before this day; avoids the street / online channels afterwards
        self.paused_until = np.full(n, -(10**6), dtype=np.int32)
        self.deterred_street = np.zeros(n, dtype=bool)
        self.deterred_online = np.zeros(n, dtype=bool)
        #: per (buyer, substance): a drug check found it not as described (the buyer avoids it)
        self.distrust = np.zeros((n, n_subs), dtype=bool)
        #: per buyer: distrusts some substance (so that a choice reads ``distrust`` only for these rows)
        self.distrusts_any = np.zeros(n, dtype=bool)
        #: prevention campaigns: the day a person was reached, the effect then, its half-life
        self.campaign_day = np.zeros(n, dtype=np.int32)
        self.campaign_effect = np.zeros(n, dtype=np.float32)
        self.campaign_half_life = np.ones(n, dtype=np.float32)
        self.online_capable = np.flatnonzero(self.webshop)
        #: row of each buyer in the per-market matrices (0: none, an empty row)
        self.market_row = np.zeros(n, dtype=np.int32)
        self.n_market_rows = 1
        rows = doubled(64, 1 + len(self.online_capable))
        self.trust = np.zeros((rows, market_cap), dtype=np.float32)
        self.aware = np.zeros((rows, market_cap), dtype=bool)
        self.bought = np.zeros((rows, market_cap), dtype=bool)
        #: the buyer of each row (-1: row 0 and unused rows)
        self.buyer_of_row = np.full(rows, -1, dtype=np.int64)
        self._give_market_rows(self.online_capable)
        self.trust_sum = np.zeros(market_cap)
        self.aware_count = np.zeros(market_cap)
        #: online-capable users at the start, in thousands: rates "per 1,000 online-capable buyers"
        #: times this are counts (fixed over the run: it sets the scale of the modelled country); a
        #: population too small to have any counts as having one, so that rates stay defined
        self.online_per_1000 = max(1, int(np.count_nonzero(self.webshop[:n_users]))) / 1000.0
        #: counters kept up to date by every change (no pass over all buyers)
        self.n_active = int(n_users)
        self.n_tech = int(np.count_nonzero(self.tech))
        #: buyers whose last purchase (any channel / online) fell on day d, for the last 30 days
        #: (slot d % 30): counts of recent buyers without a pass over all buyers
        self.last_day_ring = np.zeros(ACTIVE_WINDOW_DAYS, dtype=np.int64)
        self.last_online_ring = np.zeros(ACTIVE_WINDOW_DAYS, dtype=np.int64)
        #: each buyer's next occasion (a purchase, or a start attempt), by day
        self.calendar = IdCalendar()
        #: purchase occasions and start attempts decided so far (burn-in included; benchmarks/scale.py)
        self.occasions = 0

    # ----------------------------------------------------------------- capacity
    def _give_market_rows(self, buyers: np.ndarray) -> None:
        """Buyers who became able to reach an online market get (empty) rows in the per-market matrices."""
        need = self.n_market_rows + len(buyers)
        if need > len(self.buyer_of_row):
            cap = doubled(len(self.buyer_of_row), need)
            for name in ("trust", "aware", "bought"):
                setattr(self, name, resized(getattr(self, name), cap, axis=0))
            self.buyer_of_row = resized(self.buyer_of_row, cap, fill=-1)
        rows = np.arange(self.n_market_rows, need)
        self.market_row[buyers] = rows
        self.buyer_of_row[rows] = buyers
        self.n_market_rows = need

    def grow_markets(self, cap: int) -> None:
        """Make room for ``cap`` market columns."""
        if cap <= self.trust.shape[1]:
            return
        for name in ("trust", "aware", "bought"):
            setattr(self, name, resized(getattr(self, name), cap, axis=1))
        for name in ("trust_sum", "aware_count"):
            setattr(self, name, resized(getattr(self, name), cap))

    # ----------------------------------------------------------------- counts
    def tech_users(self) -> int:
        """Users with Tor skill now (one vectorised pass; called weekly by vendor entry)."""
        return int(np.count_nonzero(self.tech & self.active))

    def open_day(self, day: int) -> None:
        """Purchases made 30 days ago leave the 30-day window."""
        self.last_day_ring[day % ACTIVE_WINDOW_DAYS] = 0
        self.last_online_ring[day % ACTIVE_WINDOW_DAYS] = 0

    @property
    def users_active_30d(self) -> int:
        """Buyers with a purchase in the last 30 days (today included)."""
        return int(self.last_day_ring.sum())

    @property
    def online_active_30d(self) -> int:
        """Buyers with an online purchase in the last 30 days (today included)."""
        return int(self.last_online_ring.sum())

    def record_purchases(self, buyers: np.ndarray, day: int, online: bool = False) -> None:
        """Buyers who bought today: move their last (online) purchase day and the 30-day count to ``day``."""
        ring, last = (self.last_online_ring, self.last_online_day) if online else (self.last_day_ring, self.last_purchase_day)
        # the day's buyers usually come unique and ascending (no sort needed then)
        b = buyers if len(buyers) < 2 or bool((buyers[1:] > buyers[:-1]).all()) else sorted_unique(buyers)
        old = last[b].astype(np.int64)
        inside = (day - old < ACTIVE_WINDOW_DAYS) & (old != day)
        np.subtract.at(ring, old[inside] % ACTIVE_WINDOW_DAYS, 1)
        ring[day % ACTIVE_WINDOW_DAYS] += int(np.count_nonzero(old != day))
        last[b] = day

    # ----------------------------------------------------------------- events others report
    def arrest(self, rng: np.random.Generator, buyers: np.ndarray, day: int, online: bool) -> int:
        """Specific deterrence: arrested buyers stop for good, or pause, and avoid that channel after.

        Quitters stop at once (they never start again); a pause never shortens one already running.

        Returns:
            The number of users who stopped for good (cessations today).
        """
        d = self.demand
        b = sorted_unique(buyers)
        self.arrested[b] = True
        if online:
            self.deterred_online[b] = True
        else:
            self.deterred_street[b] = True
        u = rng.random((len(b), 2))
        quits = u[:, 0] < d.arrest_quit_prob
        stop, pause = b[quits], b[~quits]
        self.quit[stop] = True
        ceasing = stop[self.active[stop]]
        self.stop(ceasing)
        until = day + np.rint(-np.log1p(-u[~quits, 1]) * d.arrest_pause_days_mean).astype(np.int64)
        self.paused_until[pause] = np.maximum(self.paused_until[pause], until)
        return len(ceasing)

    def mark_migrants(self, market: int) -> np.ndarray:
        """Buyers who ever bought on ``market`` (now closed) look for another; returns them."""
        users = self.bought_on(market)
        self.migrant_from[users] = market
        return users

    def record_exposure(self, buyers: np.ndarray, pgp_protection: float) -> np.ndarray:
        """How exposed each of ``buyers`` is in a seized market's records, 0-1.

        1, or ``1 - pgp_protection`` for those who encrypted their address to the vendor's PGP key.
        Multiplies the arrest probability of a buyer found in the records (takedown, honeypot).
        """
        return np.where(self.pgp[buyers], 1.0 - pgp_protection, 1.0)

    def set_privacy_coin(self, buyers: np.ndarray, on: bool) -> None:
        """``buyers`` pay with privacy coins or mixers from now on (or no longer)."""
        self.privacy_coin[buyers] = on

    def distrust_substances(self, buyers: np.ndarray, subs: np.ndarray) -> None:
        """A drug check showed ``buyers`` that their ``subs`` was not as described: they avoid it from now on."""
        self.distrust[buyers, subs] = True
        self.distrusts_any[buyers] = True

    def set_drug_checking(self, buyers: np.ndarray, on: bool) -> None:
        """Give (or take back) drug checking to ``buyers``."""
        self.checking[buyers] = on

    def learn_skill(self, buyers: np.ndarray) -> None:
        """``buyers`` (not yet skilled) learn to use Tor and cryptocurrency."""
        if len(buyers) == 0:
            return
        self.tech[buyers] = True
        self.n_tech += len(buyers)
        new_online = buyers[~self.webshop[buyers]]
        self.webshop[buyers] = True
        if len(new_online):
            self.online_capable = np.concatenate([self.online_capable, new_online])
            self._give_market_rows(new_online)

    def start(self, buyers: np.ndarray) -> None:
        """``buyers`` start using."""
        self.active[buyers] = True
        self.n_active += len(buyers)

    def stop(self, buyers: np.ndarray) -> None:
        """``buyers`` stop using."""
        self.active[buyers] = False
        self.n_active -= len(buyers)

    def campaign_utility(self, buyers: np.ndarray, day: int) -> np.ndarray:
        """Extra utility of not buying from prevention campaigns, decayed since each buyer was reached."""
        eff = self.campaign_effect[buyers]
        if not eff.any():
            return np.zeros(len(buyers))
        age = np.maximum(0, day - self.campaign_day[buyers])
        reached = eff != 0  # the others have no half-life (0): no 0 / 0
        out = np.zeros(len(buyers))
        age_r, half = age[reached].astype(np.float64), self.campaign_half_life[buyers][reached].astype(np.float64)
        # a half-life below the storage precision is stored as 0: the effect is gone after day 0
        halvings = np.divide(age_r, half, out=np.where(age_r > 0, np.inf, 0.0), where=half > 0)
        out[reached] = eff[reached] * np.exp2(-halvings)
        return out

    # ----------------------------------------------------------------- trust store
    def _rows(self, buyers: np.ndarray) -> np.ndarray:
        """Rows of ``buyers`` that are to be written: each must be able to reach an online market."""
        rows = self.market_row[buyers]
        if len(rows) and not rows.all():
            bad = np.asarray(buyers)[rows == 0][:5].tolist()
            raise ValueError(f"buyers {bad} cannot reach any online market: they have no trust or awareness to set")
        return rows

    def trust_of(self, buyers: np.ndarray, markets: np.ndarray) -> np.ndarray:
        """Trust of each (buyer, market) pair (0 where the buyer does not know the market)."""
        return self.trust[self.market_row[buyers], markets]

    def aware_of(self, buyers: np.ndarray, markets: np.ndarray) -> np.ndarray:
        """Whether each buyer of ``buyers`` knows the market of the same position in ``markets``."""
        return self.aware[self.market_row[buyers], markets]

    def trust_grid(self, buyers: np.ndarray, markets: np.ndarray) -> np.ndarray:
        """Trust, buyers x markets (0 where unknown)."""
        return self.trust.take(self.market_row[buyers], axis=0).take(markets, axis=1)

    def aware_grid(self, buyers: np.ndarray, markets: np.ndarray) -> np.ndarray:
        """Awareness, buyers x markets."""
        # whole rows first, then the columns: faster than one gather of scattered cells
        return self.aware.take(self.market_row[buyers], axis=0).take(markets, axis=1)

    def knowers(self, market: int) -> np.ndarray:
        """Buyers who know ``market``, ascending ids."""
        return np.sort(self.buyer_of_row[np.flatnonzero(self.aware[: self.n_market_rows, market])])

    def bought_on(self, market: int) -> np.ndarray:
        """Buyers who ever bought on ``market``, ascending ids."""
        return np.sort(self.buyer_of_row[np.flatnonzero(self.bought[: self.n_market_rows, market])])

    def mark_bought(self, buyers: np.ndarray, markets: np.ndarray) -> np.ndarray:
        """Record that each buyer bought on the paired market; returns which pairs are first purchases."""
        rows = self._rows(buyers)
        new = ~self.bought[rows, markets]
        self.bought[rows, markets] = True
        return new

    def make_aware(self, buyers: np.ndarray, market: int, trust: float | np.ndarray) -> None:
        """Buyers learn of ``market`` with initial ``trust`` (already aware ones are left alone).

        ``trust``: one value for all, or one per buyer (then ``buyers`` must be unique).
        """
        if np.ndim(trust):
            buyers, first = np.unique(buyers, return_index=True)
            each = np.asarray(trust, dtype=np.float32)[first]
        else:
            buyers = sorted_unique(buyers)
            each = np.full(len(buyers), trust, dtype=np.float32)
        rows = self._rows(buyers)
        fresh = ~self.aware[rows, market]
        new = rows[fresh]
        if len(new) == 0:
            return
        values = each[fresh]
        self.aware[new, market] = True
        self.trust[new, market] = values
        self.aware_count[market] += len(new)
        self.trust_sum[market] += float(values.astype(np.float64).sum())

    def make_aware_pairs(self, buyers: np.ndarray, markets: np.ndarray, trust: float) -> None:
        """Each buyer learns of the paired market with initial ``trust`` (pairs unique; aware ones are left alone).

        :meth:`make_aware` for many markets at once, with one trust for all: the same state and
        sums as calling it market by market (a sum of equal float32 values is exact in float64).
        """
        if len(buyers) == 0:
            return
        rows = self._rows(buyers)
        fresh = ~self.aware[rows, markets]
        rows, markets = rows[fresh], markets[fresh]
        if len(rows) == 0:
            return
        value = np.float32(trust)
        self.aware[rows, markets] = True
        self.trust[rows, markets] = value
        hit, count = np.unique(markets, return_counts=True)
        self.aware_count[hit] += count
        self.trust_sum[hit] += count * float(value)

    def forget(self, buyers: np.ndarray, market: int) -> None:
        """Buyers lose their way to ``market`` (its discovery site is gone): they must learn of it again."""
        rows = self.market_row[sorted_unique(buyers)]
        known = rows[self.aware[rows, market] & (rows > 0)]
        if len(known) == 0:
            return
        self.trust_sum[market] -= float(self.trust[known, market].astype(np.float64).sum())
        self.aware[known, market] = False
        self.trust[known, market] = 0.0
        self.aware_count[market] -= len(known)

    def set_trust(self, buyers: np.ndarray, markets: np.ndarray, values: np.ndarray) -> None:
        """Set trust of (buyer, market) pairs to ``values`` clipped to [0, 1]; pairs must be unique."""
        values = np.clip(values, 0.0, 1.0).astype(np.float32)
        rows = self._rows(buyers)
        old = self.trust[rows, markets]
        self.trust[rows, markets] = values
        np.add.at(self.trust_sum, markets, (values - old).astype(np.float64))

    def mean_trust(self, market: int) -> float:
        """Mean trust in ``market`` among buyers who know it (NaN if none)."""
        c = self.aware_count[market]
        return float(self.trust_sum[market] / c) if c > 0 else float("nan")

    # ----------------------------------------------------------------- calendar
    def schedule_next(self, rng: np.random.Generator, buyers: np.ndarray, day: int, into: list | None = None) -> None:
        """Put each user's next purchase occasion on the calendar (exponential gaps, at least one day).

        With ``into``, the (buyers, days) are appended there for one :meth:`schedule_at` later.
        """
        if len(buyers) == 0:
            return
        gap = np.minimum(rng.exponential(30.0 / self.rate[buyers]), NEVER_DAYS)  # a rate of ~0 never buys again
        self._file(buyers, day + np.maximum(1, np.rint(gap)).astype(np.int64), into)

    def schedule_attempt(self, rng: np.random.Generator, buyers: np.ndarray, day: int, into: list | None = None) -> None:
        """Put each non-user's next start attempt on the calendar (exponential gaps, at least one day)."""
        if len(buyers) == 0:
            return
        rate = self.demand.start_attempts_per_month
        gap = np.full(len(buyers), NEVER_DAYS) if rate <= 0 else np.minimum(rng.exponential(30.0 / rate, len(buyers)), NEVER_DAYS)
        self._file(buyers, day + np.maximum(1, np.rint(gap)).astype(np.int64), into)

    def _file(self, buyers: np.ndarray, days: np.ndarray, into: list | None) -> None:
        if into is None:
            self.calendar.file(buyers, days)
        else:
            into.append((buyers, days))

    def schedule_at(self, buyers: np.ndarray, days: np.ndarray) -> None:
        """Put ``buyers`` on the calendar on ``days`` (arrested buyers after their pause; a day's batch)."""
        self.calendar.file(buyers, days)

    def schedule_first(self, rng: np.random.Generator, day: int) -> None:
        """Put users' first purchases and non-users' first start attempts on the calendar.

        Users' first purchases fall uniformly over their first interval from ``day`` (the first
        day run); people at risk make a first start attempt after an exponential wait.
        """
        users = np.flatnonzero(self.active)
        gap = np.minimum(rng.random(len(users)) * 30.0 / self.rate[users], NEVER_DAYS)
        self.calendar.file(users, day + np.floor(gap).astype(np.int64))
        self.schedule_attempt(rng, np.flatnonzero(~self.active), day - 1)

    def pop_due(self, day: int) -> np.ndarray:
        """Buyers whose occasion is due on ``day`` (ascending ids, deterministic)."""
        return self.calendar.pop(day)

    # ----------------------------------------------------------------- learning
    def learn(self, buyers: np.ndarray, markets: np.ndarray, vendors: np.ndarray, good: np.ndarray) -> None:
        """Update trust in market and vendor after own outcomes (bounded in [0, 1]).

        Good outcomes raise trust by ``trust_gain * (1 - t)``; bad ones cut it by ``trust_loss * t``.
        Where a buyer has several outcomes on one day on the same market, the last one counts.
        """
        if len(buyers) == 0:
            return
        cfg = self.cfg
        # keep the last outcome per (buyer, market) pair so set_trust sees unique pairs
        key = buyers.astype(np.int64) * self.trust.shape[1] + markets
        keep = last_occurrences(key)
        b, m, g = buyers[keep], markets[keep], good[keep]
        t = self.trust_of(b, m).astype(np.float64)
        new = np.where(g, t + cfg.trust_gain * (1 - t), t - cfg.trust_loss * t)
        self.set_trust(b, m, new)
        # favourite vendor
        kb = last_occurrences(buyers)
        b, v, g = buyers[kb], vendors[kb], good[kb]
        same = self.fav_vendor[b] == v
        ft = self.fav_trust[b].astype(np.float64)
        ft_new = np.where(
            g,
            np.where(same, ft + cfg.trust_gain * (1 - ft), np.maximum(ft, cfg.initial_trust)),
            np.where(same, ft - cfg.trust_loss * ft, ft),
        )
        fav_new = np.where(g, v, self.fav_vendor[b])
        forget = ft_new < cfg.vendor_forget_threshold
        fav_new = np.where(forget & ~g, -1, fav_new)
        ft_new = np.where(fav_new < 0, 0.0, ft_new)
        self.fav_vendor[b] = fav_new
        self.fav_trust[b] = ft_new


def choose_purchases(model: CryptoMarketModel, ids: np.ndarray, outside: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Decide the occasions of buyers ``ids`` (all due today) in one vectorised pass.

    A three-level nested logit (docs/ODD.md, demand): not buying (utility ``outside``, default
    ``model.demand.abstain_utility`` plus campaigns) against a nest (dissimilarity
    ``buy_nest_lambda``) of (substance, channel) nests, each a nest (``choice.nest_lambda``) of the
    markets of that channel. Candidate substances are the focal one of the occasion (the usual one
    with probability ``usual_substance_prob``, else one of the population's mix) and the others of
    its substitution nest, at a utility penalty.

    Returns:
        Arrays over the buyers who bought: ``buyer``, ``substance``, ``channel`` and, for online
        purchases, ``market`` and ``vendor`` (``-1`` offline); plus ``abstained`` (buyers who
        chose not to buy) and ``no_option`` (buyers with nothing available).
    """
    rng = model.streams["purchase"]
    pop = model.buyers
    ch = model.cfg.model.choice
    dm = model.cfg.model.demand
    subs = model.subs
    n = len(ids)
    # the focal substance of the occasion and its substitution nest
    usual = rng.random(n) < pop.cfg.usual_substance_prob
    # otherwise one of the population's mix (a uniform drawn for every occasion, for common random numbers)
    focal = pop.primary[ids].astype(np.int64)
    u_mix = rng.random(n)
    other = np.flatnonzero(~usual)
    focal[other] = categories_of(u_mix[other], subs.demand_p)
    # candidates and their taste depend on the focal substance alone: one row of a table each
    nest_taste = cached_candidate_taste(subs, dm.analogue_penalty, dm.substitute_penalty)
    # (np.take: a row gather, about twice as fast as fancy indexing on these narrow rows)
    members = np.maximum(subs.nest_members, 0)
    csub = members.take(focal, axis=0)  # n x K (padding reads substance 0, at taste -inf)
    K = csub.shape[1]
    taste = nest_taste.take(focal, axis=0)
    wary = np.flatnonzero(pop.distrusts_any[ids])  # few rows: the others have nothing to subtract
    taste[wary] -= dm.distrust_penalty * pop.distrust[ids[wary, None], csub[wary]]
    # red alerts: reached buyers leave the substance out of this occasion
    # (drawn for every cell, alert or not, for common random numbers; a uniform in [0, 1) is never
    # at or above a factor of 1, so without a red alert nothing is left out)
    alert_draw = rng.random((n, K))
    factor = model.levers.demand_factor
    if (factor < 1.0).any():
        taste[alert_draw >= factor[csub]] = NEG_INF
    # street: available with the dealer's availability, priced at today's street price
    ref = subs.street_price
    ps = pop.price_sens[ids]
    risk_b = pop.risk[ids]
    street_ok = pop.offline[ids][:, None] & (rng.random((n, K)) < model.street.current_availability[members].take(focal, axis=0))
    # conv - risk - price - deterrence, evaluated in that order as one expression would, with one
    # (occasions x K) array instead of one per term
    price_term = np.log(model.street.current_price / ref)[members].take(focal, axis=0)
    price_term *= (ps * ch.beta_price)[:, None]
    u_street = (ch.conv_offline - ch.beta_risk * risk_b * ch.risk_offline)[:, None] - price_term
    u_street -= np.where(pop.deterred_street[ids], dm.arrest_channel_penalty, 0.0)[:, None]
    u_street = np.where(street_ok, u_street, NEG_INF)
    # a friend who bought online for friends and holds the substance (social supply): beside the
    # street in the offline nest, at the friend's unit price, more trusted and less risky
    sc = model.cfg.model.social
    friend_ok, friend_price = model.social.offer(ids, csub)
    # computed only where a friend holds the substance (few cells): elsewhere the offline nest is the street
    fr, fk = np.nonzero(friend_ok)  # row-major: ``fr * K + fk`` ascending
    u_offline = u_street.copy()
    with np.errstate(divide="ignore"):
        u_friend = (
            ch.conv_offline
            + sc.friend_utility
            - ch.beta_risk * risk_b[fr] * ch.risk_offline * sc.friend_risk_share
            - ps[fr] * ch.beta_price * np.log(friend_price[fr] / ref[csub[fr, fk]])
        )
    u_offline[fr, fk] = np.logaddexp(u_street[fr, fk], u_friend)
    # online markets usable today: the substance-free part of their utility first
    act = model.market_table.usable_columns()
    kinds = model.market_table.kind[act]
    M = len(act)
    lam_b = dm.buy_nest_lambda
    # dissimilarity of each channel's nest of markets: web shops sell the same legal-grey range, so
    # many shops are closer substitutes of one another than several cryptomarkets are
    lam_of = np.array([1.0, ch.nest_lambda_webshop, ch.nest_lambda, ch.nest_lambda])
    # (a channel without a market usable today has no nest: its value stays -inf, nobody picks it)
    nests = [(c, cols) for c in (1, 2, 3) if len(cols := np.flatnonzero(kinds == c))]
    on_rows = np.flatnonzero(pop.webshop[ids]) if M else np.zeros(0, dtype=np.int64)  # webshop users include the Tor-skilled
    if len(on_rows):
        ido = ids[on_rows]
        risk_kind = np.array([ch.risk_offline, ch.risk_webshop, ch.risk_cryptomarket, ch.risk_decentralised])
        conv_kind = np.array([ch.conv_offline, ch.conv_webshop, ch.conv_cryptomarket, ch.conv_decentralised])
        perceived = risk_kind[kinds] + model.levers.risk_shock[act] + model.levers.news_risk * (kinds != Channel.WEBSHOP)
        reach = np.where(kinds[None, :] == Channel.WEBSHOP, pop.webshop[ido][:, None], pop.tech[ido][:, None])
        ok = reach & pop.aware_grid(ido, act) & model.police.access_mask(ido, act)
        keep = ok.any(axis=1)
        on_rows, ido, ok = on_rows[keep], ido[keep], ok[keep]
        # the utility of each market a row can use (a buyer knows few: most cells stay -inf)
        r, col = np.nonzero(ok)
        # a buyer's lasting liking for a hidden market (interface, community, language, admins);
        # clearnet shops selling the same range are not told apart this way (0 for them)
        liking = np.zeros(len(r))
        hidden = kinds[col] != Channel.WEBSHOP
        liking[hidden] = ch.market_taste_sd * cell_normal(model.cfg.seed, "market_taste", ido[r[hidden]], act[col[hidden]])
        cells = (
            conv_kind[kinds][col]
            - ch.beta_risk * risk_b[on_rows][r] * perceived[col]
            + ch.beta_trust * (pop.trust_of(ido[r], act[col]) - pop.cfg.initial_trust)  # centred: initial trust = 0
            + liking
            - np.where(pop.deterred_online[ido], dm.arrest_channel_penalty, 0.0)[r]
        )
        lv = model.levers
        if lv.payment_friction or lv.payment_friction_skilled or lv.payment_friction_privacy:
            # exchange KYC: paying online costs everyone, and low-skill buyers most; buyers who moved
            # to privacy coins or mixers pay their cost instead
            friction = np.where(pop.tech[ido], lv.payment_friction_skilled, lv.payment_friction)
            cells -= np.where(pop.privacy_coin[ido], lv.payment_friction_privacy, friction)[r]
        base = np.full((len(on_rows), M), NEG_INF)
        base[r, col] = cells
    # the value of each (substance, channel) nest, only for the rows that reach an online market;
    # every other row (most buyers) has the offline nest alone, so its choice is over K columns
    nest_value = np.full((len(on_rows), K, 4), NEG_INF)
    nest_value[:, :, 0] = u_offline.take(on_rows, axis=0)
    # utilities of every market for each (online row, candidate) pair whose candidate is on offer,
    # all candidates stacked in one matrix (one pass, not one per candidate: at small populations
    # the passes' fixed cost dominates); ``position[i, k]`` is the row there of online row i's
    # candidate k (-1: none)
    position = np.full((len(on_rows), K), -1, dtype=np.int64)
    um = np.zeros((0, M))
    nest_weights: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # channel -> (pair's row in w, w)
    if len(on_rows):
        inclusive = model.listings.inclusive[act].T.copy()  # substances x markets
        k_all, local = np.nonzero(np.isfinite(taste.take(on_rows, axis=0)).T)  # candidate-major, rows ascending
        rows_k = on_rows[local]
        sk = csub[rows_k, k_all]
        um = base.take(local, axis=0)
        um += inclusive.take(sk, axis=0)
        um -= ((ps[rows_k] - 1.0) * ch.beta_price * model.listings.log_price_index[sk])[:, None]
        # loyalty: the market where the favourite vendor sells this substance
        row, mcol = model.listings.favourite_cells(pop.fav_vendor[ido[local]], sk, act, model.m_cap)
        um[row, mcol] += ch.beta_loyalty * pop.fav_trust[ido[local[row]]]
        # a pair's market utility is finite where its row can use the market (Tor skill, awareness,
        # access) and the market lists its candidate substance
        offered = np.isfinite(um)
        for c, cols in nests:
            # only the pairs with a market of this nest to buy from: few for the hidden markets;
            # the others' nest value stays -inf
            sel = np.flatnonzero(offered[:, cols].any(axis=1))
            if len(sel):
                scaled = um.take(sel, axis=0).take(cols, axis=1)  # (C-ordered, as um[np.ix_(sel, cols)])
                scaled /= lam_of[c]
                lse, w = logsumexp_rows_weights(scaled)
                nest_value[local[sel], k_all[sel], c] = lam_of[c] * lse
                # the weights serve the pick of a market below (the pair's row among ``sel``)
                slot = np.full(len(rows_k), -1, dtype=np.int64)
                slot[sel] = np.arange(len(sel))
                nest_weights[c] = (slot, w)
        position[local, k_all] = np.arange(len(rows_k))
    # buying against not buying: offline-only rows over their K offline nests, online rows over all
    # 4K (substance, channel) nests (a column of -inf adds nothing to either sum)
    on_index = np.full(n, -1, dtype=np.int64)  # each row's index among the online rows (-1: offline only)
    on_index[on_rows] = np.arange(len(on_rows))
    off_rows = np.flatnonzero(on_index < 0)
    flat_off = u_offline.take(off_rows, axis=0)
    flat_off += taste.take(off_rows, axis=0)
    flat_off /= lam_b
    flat_on = (nest_value + taste[on_rows, :, None]).reshape(len(on_rows), K * 4) / lam_b
    buy_value = np.empty(n)
    lse_off, w_off = logsumexp_rows_weights(flat_off)  # the weights serve the pick below
    buy_value[off_rows] = lam_b * lse_off
    lse_on, w_on = logsumexp_rows_weights(flat_on)
    buy_value[on_rows] = lam_b * lse_on
    u0 = dm.abstain_utility + pop.campaign_utility(ids, model.day) if outside is None else outside
    no_option = ~np.isfinite(buy_value)
    with np.errstate(over="ignore"):
        p_buy = np.where(no_option, 0.0, 1.0 / (1.0 + np.exp(np.minimum(u0 - buy_value, 700.0))))
    buys = rng.random(n) < p_buy
    # the (substance, channel) nest of each buyer: one uniform per buying row, in row order
    pick = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(buys)
    uniform = np.full(n, np.nan)
    uniform[rows] = rng.random(len(rows))
    buy_off, buy_on = np.flatnonzero(buys[off_rows]), np.flatnonzero(buys[on_rows])
    pick[off_rows[buy_off]] = 4 * pick_by_weights(w_off.take(buy_off, axis=0), uniform[off_rows[buy_off]])
    # (a buying row has a finite maximum: its weights are exp(u - max), a logit's over its nests)
    pick[on_rows[buy_on]] = pick_by_weights(w_on.take(buy_on, axis=0), uniform[on_rows[buy_on]])
    k_of, channel = pick // 4, pick % 4
    sub = np.where(buys, csub[np.arange(n), np.maximum(k_of, 0)], -1)
    # offline: from the friend or on the street (one draw per occasion, used or not, for common
    # random numbers); a friend who runs out sends the rest to the street, or home without a purchase
    u_side = rng.random(n)
    kk = np.maximum(k_of, 0)
    rows_n = np.arange(n)
    # the friend's share of the offline nest (0 where no friend holds the substance)
    p_friend = np.zeros(n)
    has_friend = np.flatnonzero(friend_ok[rows_n, kk])
    u_f = u_friend[np.searchsorted(fr * K + fk, has_friend * K + kk[has_friend])]
    usable = np.isfinite(u_f)
    has_friend = has_friend[usable]
    p_friend[has_friend] = np.exp(u_f[usable] - u_offline[has_friend, kk[has_friend]])
    friend = buys & (channel == 0) & (u_side < p_friend)
    if friend.any():
        asked = np.flatnonzero(friend)
        got = model.social.hand_over(ids[asked])
        short = asked[~got]
        friend[short] = False
        buys[short[~street_ok[short, kk[short]]]] = False
    market = np.full(n, -1, dtype=np.int64)
    online_buys = np.flatnonzero(buys & (channel > 0))
    if len(online_buys):
        # the market inside the chosen (substance, channel) nest, for all online buyers in one draw
        # one uniform per buyer in row order, then each channel's buyers pick among its markets only
        # (the other markets' weights are 0: the same pick as over all markets)
        uniform_m = rng.random(len(online_buys))
        for c, cols in nests:
            sel = np.flatnonzero(channel[online_buys] == c)
            if len(sel):
                rows_c = online_buys[sel]
                slot, w = nest_weights[c]
                w_pick = w.take(slot[position[on_index[rows_c], k_of[rows_c]]], axis=0)
                market[rows_c] = act[cols[pick_by_weights(w_pick, uniform_m[sel])]]
    vendor = np.full(n, -1, dtype=np.int64)
    online = np.flatnonzero(buys & (channel > 0))
    if len(online):
        buyers = ids[online]
        loyalty = ch.beta_loyalty * pop.fav_trust[buyers]
        vendor[online] = model.listings.choose(rng, market[online], sub[online], pop.fav_vendor[buyers], loyalty)
    return {
        "buyer": ids[buys],
        "substance": sub[buys],
        "channel": channel[buys],
        "market": market[buys],
        "vendor": vendor[buys],
        "from_friend": friend[buys],
        "friend_unit_price": friend_price[buys],
        "abstained": ids[~buys & ~no_option],
        "no_option": ids[no_option],
        "bought_mask": buys,
        "no_option_mask": no_option,
    }


def cached_candidate_taste(subs: SubstanceTable, analogue_penalty: float, substitute_penalty: float) -> np.ndarray:
    """:func:`candidate_taste`, computed again only when the substances on the market or the penalties change.

    Read-only: callers take rows of it (``take`` copies), they never write into it.
    """
    key = (subs.present.tobytes(), analogue_penalty, substitute_penalty)
    cache = subs.derived.get("candidate_taste")
    if cache is None or cache[0] != key:
        cache = (key, candidate_taste(subs, analogue_penalty, substitute_penalty))
        cache[1].flags.writeable = False
        subs.derived["candidate_taste"] = cache
    return cache[1]


def candidate_taste(subs: SubstanceTable, analogue_penalty: float, substitute_penalty: float) -> np.ndarray:
    """Taste of each candidate of each focal substance's nest, focal substances x K.

    0 for the focal substance itself, minus a penalty for its analogues and for the other
    substitutes, ``-inf`` for padding and for substances not on the market (not yet present).
    """
    cand = subs.nest_members
    csub = np.maximum(cand, 0)
    focal = np.arange(len(cand))[:, None]
    analogue = subs.analogue_of[csub] == focal
    taste = np.where(cand == focal, 0.0, np.where(analogue, -analogue_penalty, -substitute_penalty))
    return np.where((cand >= 0) & subs.present[csub], taste, NEG_INF)


def _learn_skill_at_occasions(model: CryptoMarketModel, ids: np.ndarray, gap_months: np.ndarray) -> None:
    """Bass diffusion of Tor skill, checked at occasions: hazard innovation + imitation x share skilled + news."""
    pop, dm = model.buyers, model.cfg.model.demand
    learners = ids[~pop.tech[ids]]
    if len(learners) == 0:
        return
    hazard = dm.skill_innovation_per_month + dm.skill_imitation_per_month * pop.n_tech / pop.n + model.levers.skill_interest
    gap = gap_months[~pop.tech[ids]]
    rng = model.streams["demand"]
    new = learners[rng.random(len(learners)) < -np.expm1(-hazard * gap)]
    if len(new) == 0:
        return
    pop.learn_skill(new)
    model.today.skill_learned += len(new)
    # a new user of hidden markets learns of one, where their contact buys: by 30-day sales
    mt = model.market_table
    open_cols = mt.open_columns()
    hidden = open_cols[mt.kind[open_cols] != Channel.WEBSHOP]
    if len(hidden) == 0:
        return
    w = mt.ring[hidden].sum(axis=1) + 1e-9  # (each row's sum: the bits of ring[i].sum())
    pick = draw_categorical(rng, w / w.sum(), len(new))
    for j, market in enumerate(hidden.tolist()):
        who = new[pick == j]
        if len(who):
            pop.make_aware(who, market, pop.cfg.initial_trust)


def make_purchases(model: CryptoMarketModel) -> None:
    """The purchase phase: occasions due today are decided; street deals complete, online orders are placed.

    Users who are paused after an arrest wait; users arrested into quitting stop. The rest choose
    (:func:`choose_purchases`); people at risk who choose to buy start using. Users who did not buy
    stop with a higher hazard than those who did.
    """
    pop, dm, day = model.buyers, model.cfg.model.demand, model.day
    rng_d = model.streams["demand"]
    t = model.today
    due = model.buyers.pop_due(day)
    if len(due) == 0:
        return
    # arrested: those who quit for good leave the calendar (they stopped when arrested); the paused
    # (users, or people at risk arrested from old records) wait until the pause ends
    due = due[~pop.quit[due]]
    later: list[tuple[np.ndarray, np.ndarray]] = []  # the day's calendar entries, filed at once
    wait = pop.paused_until[due] > day
    paused = due[wait]
    if len(paused):
        later.append((paused, pop.paused_until[paused].astype(np.int64)))
        t.forgone_paused += int(np.count_nonzero(pop.active[paused]))
    # deciding today: users not paused, and people at risk making a start attempt (ascending ids)
    ids = due[~wait]
    pop.occasions += len(ids)
    gap_months = np.where(pop.active[ids], 1.0 / np.maximum(pop.rate[ids], 1e-9), 1.0 / max(dm.start_attempts_per_month, 1e-9))
    _learn_skill_at_occasions(model, ids, gap_months)
    using = pop.active[ids]
    p = choose_purchases(model, ids)
    bought, no_option = p["bought_mask"], p["no_option_mask"]
    # starting: people at risk whose attempt ended in a purchase
    new_users = ids[bought & ~using]
    pop.start(new_users)
    t.initiations += len(new_users)
    pop.schedule_attempt(model.streams["purchase"], ids[~bought & ~using], day, into=later)
    # stopping: a hazard per month, higher at occasions without a purchase
    t.forgone_abstained += int(np.count_nonzero(using & ~bought & ~no_option))
    t.unmet += int(np.count_nonzero(using & no_option))
    stays = using | bought
    went = ids[stays]
    mult = np.where(bought[stays], 1.0, dm.abstain_stop_multiplier)
    hazard = dm.stop_hazard_per_month * mult / np.maximum(pop.rate[went], 1e-9)
    stop = rng_d.random(len(went)) < -np.expm1(-hazard)
    stopping = went[stop]
    pop.stop(stopping)
    t.cessations += len(stopping)
    pop.schedule_attempt(model.streams["purchase"], stopping, day, into=later)
    pop.schedule_next(model.streams["purchase"], went[~stop], day, into=later)
    if later:
        pop.schedule_at(np.concatenate([b for b, _ in later]), np.concatenate([d for _, d in later]))
    if len(p["buyer"]) == 0:
        return
    pop.record_purchases(p["buyer"], day)
    off = p["channel"] == Channel.OFFLINE
    _from_friends(model, p, off & p["from_friend"])
    off &= ~p["from_friend"]
    # street purchases complete at once
    rng = model.streams["purchase"]
    sb, ss = p["buyer"][off], p["substance"][off]
    price, purity = model.street.deal(rng, ss)
    model.street_supply.record_street_sales(ss, model.units[ss])
    nad = rng.random(len(sb)) < model.subs.nad_offline[ss]
    purity = purity * np.where(nad, model.cfg.model.escrow.not_as_described_purity_factor, 1.0)
    value = price * model.units[ss]
    t.sales[0] += len(sb)
    t.value[0] += float(value.sum())
    street = np.zeros(len(sb), dtype=np.int64)
    t.purchases.append(Purchases(sb, ss, street, np.full(len(sb), -1), price, purity, value))
    t.harm += float(consumption_harm(model, sb, ss, purity, nad, online=False).sum())
    caught = sb[rng.random(len(sb)) < model.cfg.model.enforcement.street_buyer_arrest_prob]
    if len(caught):
        model.police.arrest_buyers(caught, online=False)
    # online orders
    on = p["channel"] != Channel.OFFLINE
    b, m, v, s = p["buyer"][on], p["market"][on], p["vendor"][on], p["substance"][on]
    ids_o = place_orders(model, b, m, v, s, portions=1 + model.social.friends_portions(b))
    if len(ids_o) == 0:
        return
    price = model.orders.price[ids_o]
    chan = model.market_table.kind[m]
    np.add.at(model.market_table.ring[:, 0], m, 1.0)
    np.add.at(model.vend.ring[:, 0], v, 1.0)
    # orders of wholesale size (social suppliers' largest) count as wholesale, not as users' retail
    # orders, like dealers' lots: the two never overlap in the tables
    big = price >= model.cfg.model.social.wholesale_min_eur
    retail = ~big
    np.add.at(t.sales, chan[retail], 1)
    np.add.at(t.value, chan[retail], price[retail])
    np.add.at(t.m_sales, m[retail], 1)
    np.add.at(t.m_value, m[retail], price[retail])
    np.add.at(model.vend.week_sales, v[retail], 1.0)
    np.add.at(model.vend.week_value, v[retail], price[retail])
    if big.any():
        t.wholesale_sales += int(big.sum())
        t.wholesale_value += float(price[big].sum())
        np.add.at(model.vend.week_wholesale_sales, v[big], 1.0)
        np.add.at(model.vend.week_wholesale_value, v[big], price[big])
    pairs = sorted_unique(b.astype(np.int64) * model.m_cap + m)
    pm = pairs % model.m_cap
    np.add.at(t.m_buyers, pm, 1)
    pb = pairs // model.m_cap
    new = model.buyers.mark_bought(pb, pm)
    np.add.at(t.m_new_buyers, pm[new], 1)
    t.purchases.append(Purchases(b, s, chan, m, model.vend.price[v, s], model.orders.purity[ids_o], price))
    model.buyers.record_purchases(b, model.day, online=True)
    model.buyers.last_hidden_day[b[chan != Channel.WEBSHOP]] = model.day
    mig = model.buyers.migrant_from[b] >= 0
    for bb, mm in zip(b[mig].tolist(), m[mig].tolist()):
        if model.buyers.migrant_from[bb] >= 0:
            model.migrations.append((int(model.buyers.migrant_from[bb]), mm, model.day))
            model.buyers.migrant_from[bb] = -1


def _from_friends(model: CryptoMarketModel, p: dict[str, np.ndarray], mine: np.ndarray) -> None:
    """Purchases from a friend who bought online for friends (social supply): no dealer, no street arrest.

    Counted as offline purchases (the buyer did not buy online) and in ``sales_social``; the
    friend's stock already lost the portions (:meth:`sim.agents.social.SocialSupply.hand_over`).
    """
    if not mine.any():
        return
    t = model.today
    b, s = p["buyer"][mine], p["substance"][mine]
    sup = model.social.supplier[b]
    unit_price = p["friend_unit_price"][mine]
    purity = model.social.stock_purity[sup]
    nad = model.social.stock_not_as_described[sup]
    value = unit_price * model.units[s]
    t.sales[0] += len(b)
    t.value[0] += float(value.sum())
    t.social_sales += len(b)
    t.social_value += float(value.sum())
    t.purchases.append(Purchases(b, s, np.zeros(len(b), dtype=np.int64), np.full(len(b), -1), unit_price, purity, value))
    t.harm += float(consumption_harm(model, b, s, purity, nad, online=True).sum())
