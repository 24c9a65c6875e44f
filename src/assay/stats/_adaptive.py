"""Computerized adaptive testing (CAT) with 2PL item parameters: ask the most informative
question at the current ability estimate, stop after k questions (or once the ability is
known well enough), and predict the score on the whole benchmark with an interval.

Ability is the posterior mean (EAP) on a grid under a normal prior (N(0, 1), the scale of
:func:`fit_irt_2pl`'s abilities, or the mean and spread of the earlier models' abilities when
the matrix the items were fitted on is given); the next item maximises the Fisher information
a_j² p_j (1 − p_j) at that estimate among the items not yet asked. The predicted benchmark
mean is (Σ answered + E[Σ_{not asked} p_j(θ)]) / N, the expectation over the ability's
posterior; its standard deviation adds the posterior spread of that sum to the Bernoulli
variance Σ p_j(1 − p_j) of the unasked answers. The interval is ± q·sd, with q the
``confidence`` quantile of |error| / sd over simulated examinees (calibrated by simulation),
or the normal quantile when ``calibrate=0``.

Given ``fitted_on`` (the earlier models' answers the parameters were estimated from), the
discriminations are shrunk towards their mean by empirical Bayes (their standard errors from
the fit's information; the winner's curse of picking the largest estimated a otherwise makes
the ability look more certain than it is), and the calibration is a parametric bootstrap:
earlier answers are simulated from the parameters, the items refitted, and simulated examinees
tested with the refitted items — so q includes the error of estimating the items.
Everything is vectorised over examinees; the one loop is over the k questions asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from scipy.special import expit

from assay.errors import InputError

from ._items import estimate_ability, fit_irt_2pl
from ._results import ResultMixin

__all__ = ["AdaptiveResult", "adaptive_test"]

GRID = np.linspace(-5.0, 5.0, 201)
"""Ability grid of the posterior (the prior is about N(0, 1): ±5 holds all but 6e-7 of it)."""
REFITS = 3
"""Item refits of the calibration with ``fitted_on`` (the calibrating examinees are split)."""


@dataclass
class AdaptiveResult(ResultMixin):
    """One row per examinee: ``items`` asked in order (−1 after an examinee stopped),
    ``n_asked``, the answers ``responses`` (NaN where not asked), ability ``ability`` ± ``ability_se``
    and the predicted benchmark mean ``score`` with its interval (``score_low``, ``score_high``)
    at ``confidence``; ``scale`` is the interval's multiple of the sd (calibrated);
    ``discrimination`` the item discriminations used (shrunk when ``fitted_on`` was given)."""

    items: np.ndarray
    n_asked: np.ndarray
    responses: np.ndarray
    ability: np.ndarray
    ability_se: np.ndarray
    score: np.ndarray
    score_sd: np.ndarray
    score_low: np.ndarray
    score_high: np.ndarray
    confidence: float
    scale: float
    discrimination: np.ndarray


@dataclass
class _Items:
    """What the test uses: item parameters and the normal prior of ability."""

    a: np.ndarray
    b: np.ndarray
    mean: float = 0.0
    sd: float = 1.0
    earlier: np.ndarray | None = None  # the earlier models' abilities (with ``fitted_on``)


def _params(discrimination, difficulty) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(discrimination, dtype=float).ravel()
    b = np.asarray(difficulty, dtype=float).ravel()
    if a.size == 0 or a.shape != b.shape:
        raise InputError("discrimination and difficulty must be non-empty and of one length")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise InputError("item parameters must be finite")
    return a, b


def _from_fit(matrix: np.ndarray, a: np.ndarray, b: np.ndarray) -> _Items:
    """Earlier abilities (MAP), the prior N(their mean, their sd with the estimation noise
    added back) and the discriminations shrunk by empirical Bayes on the log scale: with s_j²
    the variance of â_j (inverse of the 2×2 information of (a_j, b_j) at those abilities, with
    :func:`fit_irt_2pl`'s priors), v_j = s_j²/â_j², ℓ_j = log â_j and τ² = var(ℓ) − mean(v),
    ℓ_j → mean(ℓ) + τ²/(τ² + v_j)(ℓ_j − mean(ℓ))."""
    theta, se = estimate_ability(matrix, a, b)
    seen = ~np.isnan(matrix)
    p = expit(a * (theta[:, None] - b))
    v = seen * p * (1 - p)
    d = theta[:, None] - b
    i_aa = (v * d**2).sum(axis=0) + 1.0  # fit_irt_2pl's prior a ~ N(1, 1)
    i_bb = a**2 * v.sum(axis=0) + 1 / 9.0  # and b ~ N(0, 3²)
    i_ab = -a * (v * d).sum(axis=0)
    var_a = i_bb / (i_aa * i_bb - i_ab**2)
    shrunk = a.copy()
    pos = a > 0  # log â_j ~ N(log a_j, s_j² / â_j²); a non-positive â_j is left as it is
    if pos.sum() >= 2:
        log_a, var_log = np.log(a[pos]), var_a[pos] / a[pos] ** 2
        tau2 = max(float(log_a.var() - var_log.mean()), 1e-6)
        shrunk[pos] = np.exp(log_a.mean() + tau2 / (tau2 + var_log) * (log_a - log_a.mean()))
    sd = float(np.sqrt(theta.var() + np.mean(se**2)))
    return _Items(shrunk, b, float(theta.mean()), sd, theta)


def _cat(
    answer: Callable[[np.ndarray, np.ndarray], np.ndarray],
    runs: int,
    it: _Items,
    k,
    se_target,
    select: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
):
    """The adaptive loop; returns items, answers and the posterior the prediction needs.
    ``select(w, rows, asked)`` may replace the rule: the (len(rows) × items) criterion to
    maximise, from those examinees' posterior weights on GRID and asked items (benchmarks
    compare rules with it)."""
    a, b = it.a, it.b
    n_items = a.size
    prob = expit(a[None, :] * (GRID[:, None] - b[None, :]))  # grid × items
    prob = np.clip(prob, 1e-12, 1 - 1e-12)
    log_post = np.tile(-0.5 * ((GRID - it.mean) / it.sd) ** 2, (runs, 1))  # runs × grid
    asked = np.zeros((runs, n_items), dtype=bool)
    items = np.full((runs, k), -1)
    responses = np.full((runs, n_items), np.nan)
    active = np.ones(runs, dtype=bool)
    rows = np.arange(runs)
    for step in range(k):
        w = _weights(log_post)
        theta = w @ GRID
        if se_target is not None:
            se = np.sqrt(np.maximum(w @ GRID**2 - theta**2, 0))
            active &= se >= se_target
        if not active.any():
            break
        who = rows[active]
        if select is None:
            p = expit(a[None, :] * (theta[who, None] - b[None, :]))
            crit = a[None, :] ** 2 * p * (1 - p)
        else:
            crit = select(w[who], who, asked[who])
        pick = np.full(runs, -1)
        pick[who] = np.where(asked[who], -np.inf, crit).argmax(axis=1)
        y = np.asarray(answer(who, pick[who]), dtype=float)
        items[who, step] = pick[who]
        asked[who, pick[who]] = True
        responses[who, pick[who]] = y
        pj = prob[:, pick[who]].T  # len(who) × grid
        log_post[who] += np.where(y[:, None] > 0.5, np.log(pj), np.log1p(-pj))
    return items, asked, responses, _weights(log_post), prob


def _weights(log_post: np.ndarray) -> np.ndarray:
    w = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    return w / w.sum(axis=1, keepdims=True)


def _predict(asked, responses, w, prob):
    """Predicted benchmark mean and its sd per examinee from the posterior weights ``w``."""
    n_items = asked.shape[1]
    left = (~asked).astype(float)  # runs × items
    rest = left @ prob.T  # runs × grid: Σ_{not asked} p_j(θ_g)
    noise = left @ (prob * (1 - prob)).T
    mean_rest = (w * rest).sum(axis=1)
    var_rest = (w * (rest**2 + noise)).sum(axis=1) - mean_rest**2
    right = np.nansum(responses, axis=1)
    return (right + mean_rest) / n_items, np.sqrt(np.maximum(var_rest, 0)) / n_items


def adaptive_test(
    answers,
    discrimination,
    difficulty,
    *,
    k: int = 100,
    se_target: float | None = None,
    confidence: float = 0.95,
    calibrate: int = 500,
    seed: int = 0,
    fitted_on=None,
) -> AdaptiveResult:
    """Adaptive test of examinees on items with 2PL parameters (``IRT2PL.discrimination``,
    ``.difficulty`` of earlier models' answers, :func:`fit_irt_2pl`).

    ``answers``: a (examinees × items) 0/1 matrix of the answers they would give (only the
    asked ones are read), or a function ``answers(rows, items) -> 0/1 array`` that asks
    examinee ``rows[i]`` item ``items[i]`` (a model answering a question). Stops after ``k``
    items, or for an examinee once the ability's posterior sd is below ``se_target``.
    ``fitted_on``: the (earlier models × items) 0/1 matrix (NaN = not answered) the parameters
    were fitted on by :func:`fit_irt_2pl` with its default priors; it sets the ability prior,
    shrinks the discriminations and makes the calibration refit the items (see the module).
    The score interval's multiple q of the sd is the ``confidence`` quantile of |error| / sd
    over ``calibrate`` simulated examinees (seeded by ``seed``)."""
    a, b = _params(discrimination, difficulty)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= a.size:
        raise InputError(f"k must be an integer in [1, {a.size}], got {k!r}")
    if not isinstance(confidence, float | int) or not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence!r}")
    if se_target is not None and not (isinstance(se_target, float | int) and se_target > 0):
        raise InputError(f"se_target must be a number > 0, got {se_target!r}")
    if isinstance(calibrate, bool) or not isinstance(calibrate, int) or calibrate < 0:
        raise InputError(f"calibrate must be an integer >= 0, got {calibrate!r}")
    it = _Items(a, b) if fitted_on is None else _from_fit(_earlier(fitted_on, a.size), a, b)
    if callable(answers):
        ask, runs = answers, 1
    else:
        matrix = np.atleast_2d(np.asarray(answers, dtype=float))
        if matrix.shape[1] != a.size or not np.all(np.isin(matrix, (0.0, 1.0))):
            raise InputError(f"answers must be a 0/1 matrix with {a.size} columns")
        ask, runs = (lambda rows, cols: matrix[rows, cols]), matrix.shape[0]
    items, asked, responses, w, prob = _cat(ask, runs, it, int(k), se_target)
    score, sd = _predict(asked, responses, w, prob)
    scale = _scale(it, fitted_on, int(k), se_target, confidence, calibrate, seed)
    theta = w @ GRID
    return AdaptiveResult(
        items=items,
        n_asked=asked.sum(axis=1),
        responses=responses,
        ability=theta,
        ability_se=np.sqrt(np.maximum(w @ GRID**2 - theta**2, 0)),
        score=score,
        score_sd=sd,
        score_low=np.clip(score - scale * sd, 0, 1),
        score_high=np.clip(score + scale * sd, 0, 1),
        confidence=float(confidence),
        scale=scale,
        discrimination=it.a,
    )


def _earlier(fitted_on, n_items: int) -> np.ndarray:
    try:
        matrix = np.asarray(fitted_on, dtype=float)
    except (TypeError, ValueError):
        raise InputError("fitted_on must be a 0/1 matrix (NaN = not answered)") from None
    ok = matrix.ndim == 2 and matrix.shape[0] >= 2 and matrix.shape[1] == n_items
    if not ok or not np.all(np.isin(matrix, (0.0, 1.0)) | np.isnan(matrix)):
        raise InputError(
            f"fitted_on must be a (models × {n_items}) 0/1 matrix (NaN = not answered), "
            "at least 2 models"
        )
    return matrix


def _scale(it: _Items, fitted_on, k, se_target, confidence, calibrate, seed) -> float:
    """q: the ``confidence`` quantile of |predicted − true mean| / sd over simulated examinees
    (the normal quantile when ``calibrate`` is 0). Without ``fitted_on`` they are tested on
    the items they were simulated from; with it, split into ``REFITS`` groups, each tested on
    items refitted to its own simulated earlier answers (a parametric bootstrap of the item
    fit)."""
    if calibrate == 0:
        return float(sps.norm.ppf(0.5 + confidence / 2))
    rng = np.random.default_rng(seed)
    cuts = np.round(np.linspace(0, calibrate, (1 if fitted_on is None else REFITS) + 1))
    z = []
    for size in np.diff(cuts).astype(int):  # one item refit per group with fitted_on
        if size == 0:
            continue
        used = it if fitted_on is None else _refit(it, np.asarray(fitted_on, dtype=float), rng)
        theta = rng.normal(it.mean, it.sd, size)
        sim = (rng.random((size, it.a.size)) < expit(it.a * (theta[:, None] - it.b))).astype(float)
        items, asked, responses, w, prob = _cat(
            lambda rows, cols, sim=sim: sim[rows, cols], size, used, k, se_target
        )
        score, sd = _predict(asked, responses, w, prob)
        z.append(np.abs(score - sim.mean(axis=1)) / np.maximum(sd, 1e-12))
    return float(np.quantile(np.concatenate(z), confidence))


def _refit(it: _Items, earlier: np.ndarray, rng: np.random.Generator) -> _Items:
    """Items as a user would have them if the earlier answers came from ``it``: simulated
    (same missing cells), refitted by :func:`fit_irt_2pl` and shrunk by :func:`_from_fit`."""
    sim = (rng.random(earlier.shape) < expit(it.a * (it.earlier[:, None] - it.b))).astype(float)
    sim[np.isnan(earlier)] = np.nan
    refit = fit_irt_2pl(sim)
    return _from_fit(sim, refit.discrimination.to_numpy(), refit.difficulty.to_numpy())
