"""The forum: reports of good and bad purchases, and news, spread with a delay.

Posts are counted per market and day in a ring buffer; each day a random share of online-capable
buyers reads the posts of the last ``window_days`` (those older than ``delay_days``). Readers
move their trust in the markets they know towards the share of good reports, weighted by how
much is being said, and learn of markets in proportion to each market's share of the talk.
News (closures, takedowns) adds talk about the alternatives in proportion to their visible
trade. Directory sites make every open market known to a few readers a day, whatever its size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.arrays import sorted_unique
from sim.columns import resized
from sim.domain import Channel

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel


class Forum:
    """Counts of posts per (day slot, market) with delayed, partial reading."""

    def __init__(self, cfg, n_market_cap: int) -> None:
        self.cfg = cfg
        self.slots = cfg.window_days + cfg.delay_days + 1
        self.good = np.zeros((self.slots, n_market_cap))
        self.bad = np.zeros((self.slots, n_market_cap))
        self.news = np.zeros((self.slots, n_market_cap))

    def grow(self, n_market_cap: int) -> None:
        """Make room for more markets."""
        for name in ("good", "bad", "news"):
            setattr(self, name, resized(getattr(self, name), n_market_cap, axis=1))

    def post(self, day: int, markets: np.ndarray, good: np.ndarray) -> None:
        """Record posts written on ``day`` about ``markets`` (``good`` True = good report)."""
        slot = day % self.slots
        np.add.at(self.good[slot], markets[good], 1.0)
        np.add.at(self.bad[slot], markets[~good], 1.0)

    def add_news(self, day: int, weights: np.ndarray) -> None:
        """Add news talk (in post-equivalents) about markets, e.g. recommendations after a closure."""
        self.news[day % self.slots, : len(weights)] += weights

    def clear_day(self, day: int) -> None:
        """Free the slot that ``day`` will use (called at the start of the day)."""
        slot = day % self.slots
        self.good[slot] = 0.0
        self.bad[slot] = 0.0
        self.news[slot] = 0.0

    def readable(self, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(good, bad, news) per market summed over posts visible on ``day``."""
        d = self.cfg.delay_days
        ages = np.arange(d, d + self.cfg.window_days)
        slots = (day - ages) % self.slots
        return self.good[slots].sum(0), self.bad[slots].sum(0), self.news[slots].sum(0)


def read_forum(model: CryptoMarketModel) -> None:
    """Readers move trust towards the share of good reports and learn of talked-about markets."""
    fc = model.cfg.model.forum
    rng = model.streams["forum"]
    pool = model.buyers.online_capable
    k = int(rng.binomial(len(pool), fc.daily_read_share))
    if k == 0:
        return
    readers = sorted_unique(pool[rng.integers(0, len(pool), k)])
    good, bad, news = model.forum.readable(model.day)
    act = model.market_table.open_columns()
    if len(act) == 0:
        return
    g, bd = good[act], bad[act]
    n_posts = g + bd
    talked = n_posts > 0
    if talked.any():
        mk = act[talked]
        target = (g[talked] + 1.0) / (n_posts[talked] + 2.0)
        full = fc.full_weight_posts_per_1000_online_buyers * model.buyers.online_per_1000
        weight = fc.trust_weight * np.minimum(1.0, n_posts[talked] / full)
        aw = model.buyers.aware_grid(readers, mk)
        rr, cc = np.nonzero(aw)
        if len(rr):
            bsel, msel = readers[rr], mk[cc]
            t = model.buyers.trust_of(bsel, msel).astype(np.float64)
            model.buyers.set_trust(bsel, msel, t + weight[cc] * (target[cc] - t))
    buzz = n_posts + news[act]
    total = buzz.sum()
    # talk makes the talked-about markets known; directory sites (market lists with reviews, such as
    # DeepDotWeb or dark.fail) show every open market whatever its size
    p_learn = fc.awareness_prob * buzz / total if total > 0 else np.zeros(len(act))
    p_learn = p_learn + fc.directory_learn_prob
    u = rng.random((len(readers), len(act)))
    # hidden markets need Tor skill, web shops do not; all markets learnt of in one pass
    can = model.buyers.tech[readers][:, None] | (model.market_table.kind[act] == Channel.WEBSHOP)[None, :]
    rr, cc = np.nonzero((u < p_learn[None, :]) & (p_learn > 0)[None, :] & can)
    model.buyers.make_aware_pairs(readers[rr], act[cc], model.cfg.model.buyers.new_market_trust)
