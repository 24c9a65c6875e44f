"""Anytime-valid confidence sequences (PrPl-EB) and the stop-when-decided rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.errors import InputError
from assay.stats import DECISIONS, confidence_sequence, sequential_test


def _prpl_eb_loop(x, alpha, c=0.5):
    """Waudby-Smith & Ramdas (2023), Theorem 2, one value at a time (x in [0, 1])."""
    mu_prev, var_prev = 0.5, 0.25
    s = sq = 0.0
    sum_lam = sum_lam_x = sum_vpsi = 0.0
    lows, highs = [], []
    for t, xi in enumerate(x, start=1):
        lam = min(math.sqrt(2 * math.log(2 / alpha) / (var_prev * t * math.log(1 + t))), c)
        psi = (-math.log(1 - lam) - lam) / 4
        sum_vpsi += 4 * (xi - mu_prev) ** 2 * psi
        sum_lam += lam
        sum_lam_x += lam * xi
        centre = sum_lam_x / sum_lam
        half = (math.log(2 / alpha) + sum_vpsi) / sum_lam
        lows.append(centre - half)
        highs.append(centre + half)
        s += xi
        mu_prev = (0.5 + s) / (t + 1)
        sq += (xi - mu_prev) ** 2
        var_prev = (0.25 + sq) / (t + 1)
    return np.array(lows), np.array(highs)


def test_matches_the_papers_formulas_value_by_value():
    rng = np.random.default_rng(3)
    d = rng.choice([-1.0, 0.0, 1.0], size=300, p=[0.1, 0.7, 0.2])
    cs = confidence_sequence(d, confidence=0.9)
    low, high = _prpl_eb_loop((d + 1) / 2, 0.1)
    want_low = np.maximum.accumulate(np.clip(2 * low - 1, -1, 1))
    want_high = np.minimum.accumulate(np.clip(2 * high - 1, -1, 1))
    np.testing.assert_allclose(cs.lower, want_low, atol=1e-12)
    np.testing.assert_allclose(cs.upper, want_high, atol=1e-12)
    np.testing.assert_allclose(cs.estimate, np.cumsum(d) / np.arange(1, 301))
    # the first value alone: λ_1 = c (σ̂²_0 = 1/4 makes the root exceed 1/2), so the half-width
    # is (log(2/α) + (x − 1/2)² · 4ψ(1/2)) / (1/2) on the [0, 1] scale
    assert cs.upper[0] == 1.0 and cs.lower[0] == -1.0


def test_rows_are_independent_sequences():
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, size=(3, 50))
    both = confidence_sequence(x)
    for k in range(3):
        one = confidence_sequence(x[k])
        np.testing.assert_allclose(both.lower[k], one.lower)
        np.testing.assert_allclose(both.upper[k], one.upper)


def test_time_uniform_coverage_fixed_seed():
    """The true mean is outside the interval at some t ≤ 2000 in at most α of 400 runs."""
    rng = np.random.default_rng(11)
    p1, pm = 0.2, 0.1  # P(d = 1), P(d = −1): mean 0.1
    u = rng.random((400, 2000))
    d = np.where(u < p1, 1.0, np.where(u < p1 + pm, -1.0, 0.0))
    cs = confidence_sequence(d, confidence=0.9)
    missed = ((cs.lower > 0.1) | (cs.upper < 0.1)).any(axis=1).mean()
    assert missed <= 0.1
    # and it is not trivially wide: after 2000 questions the half-width is below 0.06
    assert np.median(cs.upper[:, -1] - cs.lower[:, -1]) / 2 < 0.06


def test_null_error_rate_at_every_look_fixed_seed():
    """Equal models: deciding a winner at any of 100 looks happens in ≤ α of the runs,
    while a t-interval looked at as often decides one far more often (same data)."""
    rng = np.random.default_rng(12)
    u = rng.random((500, 2000))
    d = np.where(u < 0.15, 1.0, np.where(u < 0.3, -1.0, 0.0))
    res = sequential_test(d, every=20, confidence=0.95)
    wrong = np.isin(res.decision, ["A better", "B better"]).mean()
    assert wrong <= 0.05
    t = np.arange(1, 2001)
    mean = np.cumsum(d, axis=1) / t
    sd = np.sqrt(np.maximum(np.cumsum(d * d, axis=1) / t - mean**2, 0) * t / np.maximum(t - 1, 1))
    looks = np.arange(19, 2000, 20)
    naive = (np.abs(mean[:, looks]) > 1.96 * sd[:, looks] / np.sqrt(t[looks])).any(axis=1).mean()
    assert naive > 3 * 0.05


def test_decides_a_clear_difference_early():
    rng = np.random.default_rng(5)
    u = rng.random(5000)
    d = np.where(u < 0.25, 1.0, np.where(u < 0.30, -1.0, 0.0))  # mean 0.2
    res = sequential_test(d, delta=0.02, every=50)
    assert res.decision == "A better"
    assert res.stopped_at < 500 and res.stopped_at % 50 == 0
    assert res.lower > 0 and res.lower <= 0.2 <= res.upper
    assert "above 0" in res.reason
    flipped = sequential_test(-d, delta=0.02, every=50)
    assert flipped.decision == "B better" and flipped.stopped_at == res.stopped_at
    assert res.to_dict()["decision"] == "A better"


def test_equivalence_and_undecided():
    d = np.zeros(20000)
    d[::10] = 1.0
    d[5::10] = -1.0  # mean exactly 0, little variance
    res = sequential_test(d, delta=0.02, every=100)
    assert res.decision == "equivalent" and -0.02 < res.lower < res.upper < 0.02
    short = sequential_test(d[:200], delta=0.02, every=100)
    assert short.decision == "undecided" and short.stopped_at == 200
    assert short.reason.startswith("ran out")
    # delta = 0 never decides equivalence
    assert sequential_test(d, delta=0.0, every=100).decision == "undecided"
    assert set(DECISIONS) == {"A better", "B better", "equivalent", "undecided"}


def test_bounds_rescale():
    rng = np.random.default_rng(6)
    d = rng.choice([-1.0, 0.0, 1.0], size=400)
    a = confidence_sequence(d)
    b = confidence_sequence(d / 2, bounds=(-0.5, 0.5))
    np.testing.assert_allclose(b.lower, a.lower / 2)
    np.testing.assert_allclose(b.upper, a.upper / 2)


@pytest.mark.parametrize(
    ("values", "kwargs"),
    [
        ([0.5, 2.0], {}),
        ([np.nan], {}),
        ([], {}),
        ([0.1], {"confidence": 1.0}),
        ([0.1], {"bounds": (1, -1)}),
        ([0.1], {"delta": -0.1}),
        ([0.1, 0.2], {"every": 0}),
        ([0.1, 0.2], {"looks": [3]}),
    ],
)
def test_bad_input_is_one_error(values, kwargs):
    with pytest.raises(InputError):
        sequential_test(values, **kwargs)
