"""The forum: reports of good and bad purchases, and news, spread with a delay.

Posts are counted per market and day in a ring buffer; each day a random share of online-capable
buyers reads the posts of the last ``window_days`` (those older than ``delay_days``). Readers
move their trust in the markets they know towards the share of good reports, weighted by how
much is being said, and learn of markets in proportion to each market's share of the talk.
News (closures, takedowns) adds talk about the alternatives: most of it about the largest
surviving market, which is what makes migration concentrate (ElBahrawy et al. 2020).
"""

from __future__ import annotations

import numpy as np

from sim.columns import resized


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
