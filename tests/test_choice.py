"""Logit choice functions: frequencies follow logit probabilities; unavailable is never chosen."""

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
