"""Logit choice functions: frequencies follow logit probabilities; unavailable is never chosen."""

import itertools

import numpy as np

from sim.market.choice import NEG_INF, grouped_logsumexp, gumbel_argmax, logit_probabilities, nested_choice


def test_gumbel_argmax_samples_logit_probabilities():
    rng = np.random.default_rng(0)
    u = np.tile(np.array([0.0, 1.0, NEG_INF, -0.5]), (40000, 1))
    pick = gumbel_argmax(u, rng)
    freq = np.bincount(pick, minlength=4) / len(pick)
    p = logit_probabilities(u[:1])[0]
    assert freq[2] == 0, "an unavailable alternative must never be chosen"
    assert np.allclose(freq, np.nan_to_num(p), atol=0.01), f"frequencies {freq} differ from logit {p}"


def test_no_alternative_gives_minus_one():
    u = np.full((3, 2), NEG_INF)
    assert (gumbel_argmax(u, np.random.default_rng(1)) == -1).all(), "rows with nothing available choose -1"


def test_nested_with_lambda_one_is_plain_logit():
    rng = np.random.default_rng(2)
    base = np.array([0.3, 0.0, 1.0, -1.0])
    u = np.tile(base, (40000, 1))
    nest, alt = nested_choice(u, np.array([0, 1, 1, 2]), 3, 1.0, rng)
    freq = np.bincount(alt, minlength=4) / len(alt)
    p = np.exp(base) / np.exp(base).sum()
    assert np.allclose(freq, p, atol=0.01), f"nested logit with lambda=1 must equal MNL: {freq} vs {p}"
    assert (nest == np.array([0, 1, 1, 2])[alt]).all(), "the chosen alternative lies in the chosen nest"


def test_nesting_shifts_share_towards_lone_alternative():
    # two near-identical alternatives in one nest compete with each other when lambda < 1
    rng = np.random.default_rng(3)
    u = np.tile(np.array([0.0, 0.0, 0.0]), (40000, 1))
    _, alt_mnl = nested_choice(u, np.array([0, 1, 1]), 2, 1.0, rng)
    _, alt_nl = nested_choice(u, np.array([0, 1, 1]), 2, 0.3, rng)
    assert (alt_nl == 0).mean() > (alt_mnl == 0).mean() + 0.1, "nesting must give the lone alternative more share"


def test_grouped_logsumexp():
    vals = np.array([0.0, np.log(3.0), 1.0])
    out = grouped_logsumexp(vals, np.array([0, 0, 2]), 4)
    assert np.isclose(out[0], np.log(4.0)), "log(1 + 3) for key 0"
    assert out[1] == NEG_INF and out[3] == NEG_INF, "empty keys are -inf"
    assert np.isclose(out[2], 1.0), "single value is itself"


def _chi_square_ok(counts: np.ndarray, probs: np.ndarray) -> tuple[bool, float]:
    """Pearson's test of counts against probabilities (cells of probability 0 must have count 0)."""
    from scipy.stats import chisquare

    live = probs > 0
    assert counts[~live].sum() == 0, f"an alternative of probability 0 was chosen: {counts}"
    expected = probs[live] * counts.sum()
    p_value = float(chisquare(counts[live], expected).pvalue)
    return p_value > 1e-3, p_value


def test_pick_in_ranges_samples_the_logit_with_a_favourite_bonus():
    """Each decider's range and favourite: frequencies match exp(u + bonus) / sum, by a chi-square test."""
    from sim.market.choice import pick_in_ranges

    rng = np.random.default_rng(11)
    u = np.array([0.0, 1.0, -0.5, 2.0, 0.3, -3.0, 0.7])  # two groups: 0..3 and 4..6
    w = np.exp(u - u.max())
    cum = np.cumsum(w)
    # favourite ordering: a permutation (alternatives sorted by seller, say)
    order = np.array([4, 0, 2, 6, 1, 5, 3])
    fav_cum = np.cumsum(w[order])
    n = 60_000
    cases = [  # (lo, hi, favourite range in the ordering, bonus)
        (0, 4, (4, 5), 2.0),  # favourite = alternative 1 (order[4])
        (4, 7, (0, 1), 1.5),  # favourite = alternative 4 (order[0])
        (0, 4, (1, 3), 0.8),  # a seller with two listings in the range: alternatives 0 and 2
        (4, 7, (0, 0), 3.0),  # no favourite
    ]
    for lo, hi, (flo, fhi), bonus in cases:
        position, favourite = pick_in_ranges(
            rng.random(n),
            cum,
            np.full(n, lo),
            np.full(n, hi),
            fav_cum,
            np.full(n, flo),
            np.full(n, fhi),
            np.full(n, np.expm1(bonus)),
        )
        chosen = np.where(favourite, order[position], position)
        fav_alts = set(order[flo:fhi].tolist())
        util = np.array([u[j] + (bonus if j in fav_alts else 0.0) if lo <= j < hi else NEG_INF for j in range(len(u))])
        probs = np.nan_to_num(logit_probabilities(util[None, :])[0])
        ok, p_value = _chi_square_ok(np.bincount(chosen, minlength=len(u)), probs)
        assert ok, f"range {lo}..{hi}, favourite {sorted(fav_alts)}, bonus {bonus}: p = {p_value:.2g}"


def test_listing_choice_is_the_nested_logit_within_a_market_and_substance():
    """ListingIndex.choose: logit over utility / lambda within the (market, substance), favourite's bonus too."""
    from sim.market.listings import ListingIndex

    rows = [(0, v, 0) for v in range(5)] + [(0, 2, 1), (0, 7, 1), (1, 2, 0), (1, 3, 0)]
    index = ListingIndex(n_subs=2, m_cap=2, listing_lambda=0.6)
    index.rebuild(rows)
    rng = np.random.default_rng(5)
    index.set_utility(rng.normal(size=len(index)), np.zeros(len(index)))
    n = 60_000
    for market, sub, fav, loyalty in [(0, 0, 3, 1.2), (0, 0, -1, 0.0), (1, 0, 2, 0.7), (0, 1, 9, 2.0)]:
        chosen = index.choose(rng, np.full(n, market), np.full(n, sub), np.full(n, fav), np.full(n, loyalty))
        mine = (index.market == market) & (index.substance == sub)
        util = np.where(mine, index.utility / 0.6 + np.where(index.vendor == fav, loyalty / 0.6, 0.0), NEG_INF)
        probs = np.nan_to_num(logit_probabilities(util[None, :])[0])
        per_vendor = np.bincount(index.vendor, weights=probs, minlength=10)
        ok, p_value = _chi_square_ok(np.bincount(chosen, minlength=10), per_vendor)
        assert ok, f"market {market}, substance {sub}, favourite {fav}: p = {p_value:.2g}"


def test_row_reductions_have_numpys_bits():
    """row_max / row_sum loop over columns for speed (many rows); they must give exactly numpy's axis-1 results."""
    from sim.market.choice import loop_over_columns, row_max, row_sum

    rng = np.random.default_rng(11)
    looped = set()
    for width, rows in itertools.product((1, 2, 5, 7, 8, 12, 32, 40), (10, 500, 2000)):
        u = rng.normal(scale=30.0, size=(rows, width))
        looped.add(loop_over_columns(u))
        u[rng.random(u.shape) < 0.3] = NEG_INF
        u[:3] = NEG_INF  # rows with no alternative
        w = np.exp(u) * rng.lognormal(size=u.shape)
        assert np.array_equal(row_max(u), u.max(axis=1)), f"row maximum differs from numpy's at width {width}"
        assert np.array_equal(row_sum(w), w.sum(axis=1)), f"row sum differs from numpy's bits at width {width}"
    assert looped == {True, False}, "both the loop over columns and numpy's reduction were exercised"


def test_exp_weights_and_narrow_pick_have_numpys_bits():
    """exp_weights skips numpy's slow path for -inf; the narrow pick loops over columns: same results."""
    from sim.market.choice import NARROW, WEIGHT_CUTOFF, exp_weights, loop_over_columns, pick_by_weights

    rng = np.random.default_rng(5)
    looped = set()
    for width, rows in itertools.product((1, 3, 6, 24, NARROW, NARROW + 8), (12, 400, 2000)):
        u = rng.normal(scale=30.0, size=(rows, width))
        looped.add(loop_over_columns(u))
        u[rng.random(u.shape) < 0.5] = NEG_INF
        u[:, 0] = 0.0  # every row has an alternative (as after subtracting the row maximum)
        u[5, -1] = WEIGHT_CUTOFF  # at the cutoff: kept
        w = exp_weights(u.copy())
        assert np.array_equal(w, np.exp(u)), f"exp_weights differs from np.exp at width {width}"
        tiny = u.copy()
        tiny[7, -1] = WEIGHT_CUTOFF - 1.0  # below the cutoff: weight 0 (np.exp gives 1e-304)
        assert exp_weights(tiny)[7, -1] == 0.0, "a weight below the cutoff is 0"
        uniform = rng.random(len(u))
        uniform[:2] = 0.0  # the edges: the first available column
        cum = np.cumsum(w, axis=1)
        expected = np.minimum(np.count_nonzero(cum <= (uniform * cum[:, -1])[:, None], axis=1), width - 1)
        got = pick_by_weights(w, uniform)
        assert np.array_equal(got, expected), f"pick_by_weights differs from the cumulative count at width {width}"
        assert np.isfinite(u[np.arange(len(u)), got]).all(), f"an unavailable column was picked at width {width}"
    assert looped == {True, False}, "both the narrow loop and numpy's running sum were exercised"


def test_blocked_logsumexp_has_the_bits_of_one_pass():
    """Many narrow rows are reduced block by block; the values and weights are those of one pass."""
    from sim.market.choice import ROW_BLOCK, _logsumexp_rows_weights, logsumexp_rows_weights

    rng = np.random.default_rng(9)
    u = rng.normal(scale=20.0, size=(2 * ROW_BLOCK + 123, 6))
    u[rng.random(u.shape) < 0.5] = NEG_INF
    u[[0, ROW_BLOCK, 2 * ROW_BLOCK + 5]] = NEG_INF  # rows with no alternative, in three blocks
    value, weights = logsumexp_rows_weights(u)
    one_value, one_weights = _logsumexp_rows_weights(u)
    assert np.array_equal(value, one_value), "block-wise log-sum-exp differs from one pass"
    assert np.array_equal(weights, one_weights), "block-wise weights differ from one pass"
    assert np.isneginf(value[[0, ROW_BLOCK, 2 * ROW_BLOCK + 5]]).all(), "no alternative: -inf"


def test_cell_normal_is_pair_normal_at_those_cells():
    """The liking of a few (buyer, market) cells is the value the full grid gives them."""
    from sim.streams import cell_normal, pair_normal

    rows, cols = np.array([0, 5, 17, 123456, 9_999_999]), np.array([0, 3, 40])
    grid = pair_normal(4, "market_taste", rows, cols)
    r, c = np.nonzero(np.ones(grid.shape, dtype=bool))
    assert np.array_equal(cell_normal(4, "market_taste", rows[r], cols[c]), grid[r, c]), "cells differ from the grid"


def test_mean_share_per_vendor_and_substance_equals_numpys_mean():
    """ListingIndex.within_shares (all pairs at once) gives the bits of np.mean over each pair's listings."""
    from sim.market.listings import ListingIndex

    rng = np.random.default_rng(3)
    # vendor 0 lists substance 0 on 9 markets (the np.mean path), others on 1-4 markets
    rows = [(m, 0, 0) for m in range(9)] + [(m, v, s) for v in range(1, 6) for s in range(3) for m in range(1 + (v + s) % 4)]
    index = ListingIndex(n_subs=3, m_cap=10, listing_lambda=0.6)
    index.rebuild(rows)
    assert np.array_equal(index.within_shares(np.array([0, 1]), np.array([0, 1])), np.zeros(2)), "no shares before utilities"
    index.set_utility(rng.normal(size=len(index)), np.zeros(len(index)))
    vendors = np.array([0, 1, 2, 3, 4, 5, 5, 7, 0])
    subs = np.array([0, 0, 1, 2, 1, 0, 2, 0, 2])
    got = index.within_shares(vendors, subs)
    for v, s, g in zip(vendors, subs, got):
        mine = (index.vendor == v) & (index.substance == s)
        # the listings in the index's vendor order, as a vendor reads its own
        values = index.within_share[index.vendor_order][mine[index.vendor_order]]
        want = float(values.mean()) if len(values) else 0.0
        assert g == want, f"vendor {v}, substance {s}: {g!r} against np.mean {want!r}"


def test_blocked_pick_is_the_pick_of_one_pass():
    """Many rows are picked block by block (cache-sized); the picks are those of one pass over all rows."""
    from sim.market.choice import ROW_BLOCK, _pick_by_weights, exp_weights, pick_by_weights

    rng = np.random.default_rng(11)
    for width in (1, 6, 40):  # the narrow loop, and numpy's running sum on wide rows
        u = rng.normal(scale=5.0, size=(2 * ROW_BLOCK + 77, width))
        u[rng.random(u.shape) < 0.4] = NEG_INF
        u[:, 0] = 0.0
        w = exp_weights(u)
        uniform = rng.random(len(w))
        got, one = pick_by_weights(w, uniform), _pick_by_weights(w, uniform)
        assert np.array_equal(got, one), f"block-wise picks differ from one pass at width {width}"
        assert got.dtype == np.int64 and len(got) == len(w), "one int64 pick per row"
