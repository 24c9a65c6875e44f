"""Computerized adaptive testing on 2PL items (``stats.adaptive_test``), fixed-seed simulations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from assay.errors import InputError
from assay.stats import adaptive_test


def bank(n_items=300, seed=0):
    rng = np.random.default_rng(seed)
    return np.exp(rng.normal(0, 0.4, n_items)), rng.normal(0, 1.2, n_items)


def examinees(a, b, n=300, seed=1):
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(n)
    return theta, (rng.random((n, a.size)) < expit(a * (theta[:, None] - b))).astype(float)


def test_first_item_is_the_most_informative_at_the_prior_mean():
    a, b = bank()
    _, y = examinees(a, b, n=5)
    res = adaptive_test(y, a, b, k=3, calibrate=0)
    p = expit(a * (0 - b))
    assert (res.items[:, 0] == np.argmax(a**2 * p * (1 - p))).all()
    assert (res.n_asked == 3).all() and np.isnan(res.responses).sum(axis=1).tolist() == [297] * 5
    # the second item depends on the first answer: right answers move the estimate up
    first = res.responses[np.arange(5), res.items[:, 0]]
    for right in (0.0, 1.0):
        rows = first == right
        if rows.any():
            assert len(set(res.items[rows, 1])) == 1


def test_beats_random_items_and_interval_covers():
    a, b = bank()
    theta, y = examinees(a, b)
    truth = y.mean(axis=1)
    res = adaptive_test(y, a, b, k=50, calibrate=300, seed=2)
    cat_error = np.abs(res.score - truth).mean()
    rng = np.random.default_rng(3)
    picks = np.argsort(rng.random(y.shape), axis=1)[:, :50]
    random_error = np.abs(np.take_along_axis(y, picks, 1).mean(axis=1) - truth).mean()
    assert cat_error < 0.7 * random_error
    covered = ((res.score_low <= truth) & (truth <= res.score_high)).mean()
    assert 0.9 <= covered <= 0.99
    assert np.corrcoef(res.ability, theta)[0, 1] > 0.9


def test_callable_answers_equal_the_matrix():
    a, b = bank()
    _, y = examinees(a, b, n=20)
    by_matrix = adaptive_test(y, a, b, k=20, calibrate=0)
    by_call = adaptive_test(lambda rows, cols: y[rows, cols], a, b, k=20, calibrate=0)
    assert by_call.items.shape == (1, 20)  # a function is one examinee
    one = adaptive_test(y[:1], a, b, k=20, calibrate=0)
    np.testing.assert_array_equal(by_matrix.items[:1], one.items)
    np.testing.assert_allclose(by_matrix.score[:1], one.score)
    np.testing.assert_array_equal(by_call.items, one.items)


def test_se_target_stops_early():
    a, b = bank()
    _, y = examinees(a, b, n=50)
    res = adaptive_test(y, a, b, k=200, se_target=0.35, calibrate=0)
    assert (res.n_asked < 200).all() and (res.ability_se < 0.35).all()
    assert (res.items[np.arange(50), res.n_asked] == -1).all()


@pytest.mark.parametrize(
    "kwargs", [{"k": 0}, {"k": 301}, {"confidence": 1.0}, {"se_target": -1}, {"calibrate": -1}]
)
def test_bad_options(kwargs):
    a, b = bank()
    with pytest.raises(InputError):
        adaptive_test(np.zeros((2, 300)), a, b, **kwargs)
    with pytest.raises(InputError):
        adaptive_test(np.full((2, 300), 0.5), a, b)
