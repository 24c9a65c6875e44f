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


def test_eap_and_score_equal_a_brute_force_posterior():
    """Ability and predicted score against numerical integration over θ (scipy.integrate.quad)
    of the N(0, 1) prior times the likelihood of the answers given."""
    from scipy import integrate

    a, b = bank(n_items=12, seed=4)
    _, y = examinees(a, b, n=4, seed=5)
    res = adaptive_test(y, a, b, k=5, calibrate=0)
    for i in range(4):
        asked = res.items[i]
        yy = y[i, asked]
        rest = np.setdiff1d(np.arange(12), asked)

        def post(t, f, asked=asked, yy=yy):
            p = expit(a[asked] * (t - b[asked]))
            return np.exp(-t * t / 2) * np.prod(np.where(yy > 0.5, p, 1 - p)) * f(t)

        def quad(f):
            return integrate.quad(post, -12, 12, args=(f,), epsabs=1e-13, limit=200)[0]

        z = quad(lambda t: 1.0)
        theta = quad(lambda t: t) / z
        sd = np.sqrt(quad(lambda t: t * t) / z - theta**2)
        left = quad(lambda t, rest=rest: expit(a[rest] * (t - b[rest])).sum()) / z
        assert res.ability[i] == pytest.approx(theta, abs=2e-4)
        assert res.ability_se[i] == pytest.approx(sd, abs=2e-4)
        assert res.score[i] == pytest.approx((yy.sum() + left) / 12, abs=1e-5)


def _earlier_and_new(n_items, n_old, n_new, seed):
    rng = np.random.default_rng(seed)
    a, b = np.exp(rng.normal(0, 0.4, n_items)), rng.normal(0, 1.2, n_items)
    old_theta, theta = rng.standard_normal(n_old), rng.standard_normal(n_new)
    old = (rng.random((n_old, n_items)) < expit(a * (old_theta[:, None] - b))).astype(float)
    new = (rng.random((n_new, n_items)) < expit(a * (theta[:, None] - b))).astype(float)
    return a, b, old, new


def test_fitted_on_calibrates_the_interval_with_estimated_items():
    """Items fitted on 100 earlier models: the interval calibrated by refitting covers the new
    models' true means at about the nominal rate; the plain calibration (fitted items taken as
    true) does not; the discriminations are shrunk towards their mean."""
    from assay.stats import fit_irt_2pl

    a, b, old, y = _earlier_and_new(400, 100, 600, seed=7)
    fit = fit_irt_2pl(old)
    a_hat, b_hat = fit.discrimination.to_numpy(), fit.difficulty.to_numpy()
    truth = y.mean(axis=1)
    res = adaptive_test(y, a_hat, b_hat, k=40, calibrate=400, seed=1, fitted_on=old)
    covered = ((res.score_low <= truth) & (truth <= res.score_high)).mean()
    plain = adaptive_test(y, a_hat, b_hat, k=40, calibrate=400, seed=1)
    plain_covered = ((plain.score_low <= truth) & (truth <= plain.score_high)).mean()
    assert 0.92 <= covered <= 0.98 and plain_covered < 0.92  # 0.965 and 0.903
    width = (res.score_high - res.score_low).mean()
    assert width > (plain.score_high - plain.score_low).mean()
    assert np.std(np.log(res.discrimination)) < np.std(np.log(a_hat))
    assert (
        np.abs(res.score - truth).mean() < np.abs(plain.score - truth).mean()
    )  # 2.98 < 3.20 points
    with pytest.raises(InputError):
        adaptive_test(y, a_hat, b_hat, k=5, fitted_on=old[:, :10])
    with pytest.raises(InputError):
        adaptive_test(y, a_hat, b_hat, k=5, fitted_on=np.full_like(old, 0.5))


def test_selection_rule_hook_and_no_rule_beats_the_posterior_mean_by_much():
    """``_cat(select=...)``: Fisher information at the posterior mean given as a rule picks the
    default's items; items chosen at the TRUE ability (an ideal design no method has) predict
    no better than the adaptive ones, and both stay above the floor of an oracle that knows θ
    (the Bernoulli noise of the unasked answers) — fixed seed, true items."""
    from assay.stats._adaptive import GRID, _cat, _Items, _predict

    a, b = bank(n_items=300, seed=8)
    theta, y = examinees(a, b, n=400, seed=9)
    truth = y.mean(axis=1)
    it = _Items(a, b)

    def fisher(w, rows, asked):
        p = expit(a * ((w @ GRID)[:, None] - b))
        return a**2 * p * (1 - p)

    p_true = expit(a * (theta[:, None] - b))

    def ideal(w, rows, asked):
        return (a**2 * p_true * (1 - p_true))[rows]

    def mae(select):
        items, asked, resp, w, prob = _cat(lambda r, c: y[r, c], 400, it, 40, None, select)
        return items, 100 * np.abs(_predict(asked, resp, w, prob)[0] - truth).mean()

    default, default_mae = mae(None)
    same, _ = mae(fisher)
    np.testing.assert_array_equal(default, same)
    _, ideal_mae = mae(ideal)
    top = np.argsort(-p_true * (1 - p_true), axis=1)[:, :40]
    seen = np.zeros(y.shape, dtype=bool)
    np.put_along_axis(seen, top, True, axis=1)
    floor = 100 * np.abs(np.where(seen, y, p_true).mean(axis=1) - truth).mean()
    assert default_mae == pytest.approx(2.423, abs=0.005)
    assert ideal_mae == pytest.approx(2.555, abs=0.005)  # no better than the adaptive items
    assert floor == pytest.approx(1.747, abs=0.005) and floor < default_mae - 0.5
