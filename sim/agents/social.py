"""Social supply: users who buy online for a few friends too, and pass the drugs on at cost.

A share of people (``model.social.supplier_share``) buy for friends whenever they buy online; each
other person has such a supplier friend with a probability that gives each supplier
``friends_per_supplier`` friends on average (a static network drawn at set-up from the ``social``
stream). When a supplier whose stock is used up orders online, the order holds the supplier's own
portion plus enough for the friends until the supplier's next purchase (their purchase rates
against the supplier's, capped at ``max_portions``). What arrives (delivered, or not as described)
becomes the supplier's stock of that substance; friends who want it take a portion at the
supplier's unit price times ``markup``, as one more option of their "offline" choice, beside the
street (:func:`sim.agents.buyer.choose_purchases`). So the friends of online buyers need no street
dealer, and an online intervention reaches them when their supplier's orders fail.

Sources: Coomber & Turnbull 2007 (social supply among friends, mostly at cost); Demant,
Munksgaard & Houborg 2016 (cryptomarket purchases for personal use, social supply and
redistribution). Parameters are assumptions (sim/config.py, ``SocialSupplyConfig``).

Scale: the set-up is one pass over people; afterwards work is per order and per purchase occasion.
"""

from __future__ import annotations

import numpy as np


class SocialSupply:
    """Who supplies whom, and what each supplier holds for friends now.

    Args:
        cfg: ``model.social``.
        rate: every person's purchase occasions per month (the buyers' ``rate``).
        primary: every person's usual substance (the buyers' ``primary``; friends take their
            supplier's with probability ``shared_drug_prob``, in place).
        rng: the ``social`` stream.
    """

    def __init__(self, cfg, rate: np.ndarray, primary: np.ndarray, rng: np.random.Generator) -> None:
        self.cfg = cfg
        n = len(rate)
        #: buys for friends when buying online
        self.is_supplier = rng.random(n) < cfg.supplier_share
        suppliers = np.flatnonzero(self.is_supplier)
        p_friend = min(1.0, cfg.supplier_share * cfg.friends_per_supplier / max(1.0 - cfg.supplier_share, 1e-12))
        has = (~self.is_supplier) & (rng.random(n) < p_friend)
        #: each person's supplier friend (-1: none)
        self.supplier = np.full(n, -1, dtype=np.int64)
        if len(suppliers):
            self.supplier[has] = suppliers[rng.integers(0, len(suppliers), int(has.sum()))]
        # friends mostly use what their supplier uses (homophily); both were drawn from the same
        # mix, so the population's mix of usual substances is unchanged in expectation
        same = has & (rng.random(n) < cfg.shared_drug_prob)
        primary[same] = primary[self.supplier[same]]
        #: friends' portions a supplier adds to an order: the friends' purchase occasions between two
        #: of the supplier's own
        friends_rate = np.bincount(self.supplier[has], weights=rate[has], minlength=n)
        self.portions = np.where(
            self.is_supplier & (friends_rate > 0),
            np.clip(np.round(friends_rate / np.maximum(rate, 1e-9)), 1, cfg.max_portions),
            0,
        ).astype(np.int64)
        #: the stock each supplier holds for friends: portions, substance, EUR per unit paid, purity
        self.stock = np.zeros(n, dtype=np.int64)
        self.stock_substance = np.full(n, -1, dtype=np.int64)
        self.stock_unit_price = np.zeros(n)
        self.stock_purity = np.zeros(n)
        self.stock_not_as_described = np.zeros(n, dtype=bool)
        #: an order with friends' portions is on its way (no second one until it arrives or fails)
        self.pending = np.zeros(n, dtype=bool)

    def friends_portions(self, buyers: np.ndarray) -> np.ndarray:
        """Portions for friends that ``buyers`` add to an online order now, and mark those orders pending.

        0 unless the buyer supplies friends, has used up their stock and has no such order on its way.
        """
        k = np.where((self.stock[buyers] == 0) & ~self.pending[buyers], self.portions[buyers], 0)
        self.pending[buyers[k > 0]] = True
        return k

    def receive(
        self,
        suppliers: np.ndarray,
        subs: np.ndarray,
        portions: np.ndarray,
        unit_price: np.ndarray,
        purity: np.ndarray,
        not_as_described: np.ndarray,
    ) -> None:
        """What arrived for friends becomes the suppliers' stock (replacing anything left)."""
        self.stock[suppliers] = portions
        self.stock_substance[suppliers] = subs
        self.stock_unit_price[suppliers] = unit_price * self.cfg.markup
        self.stock_purity[suppliers] = purity
        self.stock_not_as_described[suppliers] = not_as_described

    def settled(self, suppliers: np.ndarray) -> None:
        """Orders with friends' portions arrived or failed: the suppliers may order for friends again."""
        self.pending[suppliers] = False

    def offer(self, buyers: np.ndarray, subs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each buyer's supplier holds substance ``subs`` (buyers x candidates), and its unit price.

        The price is NaN for buyers whose supplier holds nothing (or who have none).
        """
        sup = self.supplier[buyers]
        has = np.flatnonzero(sup >= 0)
        holds = has[self.stock[sup[has]] > 0]  # few buyers have a stocked friend
        ok = np.zeros(subs.shape, dtype=bool)
        ok[holds] = self.stock_substance[sup[holds]][:, None] == subs[holds]
        price = np.full(len(buyers), np.nan)
        price[holds] = self.stock_unit_price[sup[holds]]
        return ok, price

    def hand_over(self, buyers: np.ndarray) -> np.ndarray:
        """Friends ``buyers`` each take a portion; returns who got one (a supplier runs out in buyer order)."""
        sup = self.supplier[buyers]
        order = np.argsort(sup, kind="stable")
        ss = sup[order]
        first = np.ones(len(ss), dtype=bool)
        np.not_equal(ss[1:], ss[:-1], out=first[1:])
        # each position minus the start of its run of equal suppliers (a running maximum of the starts:
        # the same ranks as repeating each start over its run, without np.diff's concatenation)
        position = np.arange(len(ss))
        rank = position - np.maximum.accumulate(np.where(first, position, 0))
        got = np.zeros(len(buyers), dtype=bool)
        got[order] = rank < self.stock[ss]
        np.subtract.at(self.stock, sup[got], 1)
        return got
