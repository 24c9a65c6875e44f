"""Style-controlled arena ratings: :func:`fit_style` on battles, as a :class:`Ratings`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri  # the normal quantile (scipy.stats is slow to import)

from ._battles import aggregate_battles, battle_outcomes
from ._intervals import _to_scale, _win_matrix, ci_method, fit_info, fitted_ratings
from ._ratings import Ratings
from ._style import fit_style, style_design

__all__ = ["fit_style_battles"]


def _resampled_fits(a, b, y, z, k, w, fit, rounds, rng):
    """Bootstrap replicates: battles drawn with replacement (multinomial weights over the
    rows, ``count`` rows by their counts), each refitted from the full-data fit."""
    total = int(round(w.sum()))
    theta = np.empty((rounds, k))
    beta = np.empty((rounds, z.shape[1]))
    for r in range(rounds):  # rounds, not battles: each round is one vectorised fit
        draw = rng.multinomial(total, w / w.sum()).astype(float)
        rep = fit_style(a, b, y, z, k, weights=draw, start=fit)
        theta[r], beta[r] = rep.theta, rep.beta
    return theta, beta


def fit_style_battles(
    battles: pd.DataFrame,
    *,
    anchor: tuple[str, float] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    ci: str | None = None,
    plain: pd.DataFrame | None = None,
) -> Ratings:
    """Bradley–Terry with style covariates (:mod:`assay.rank._style`), ratings on the Elo
    scale (mean 1000 or ``anchor``), ties as half wins.

    ``info["style_coefficients"]`` maps each feature to β (logit scale: the change in the
    log-odds of winning per standard deviation of the normalised style difference) and
    ``info["style_intervals"]`` to its interval (bootstrap percentile, Wald or sandwich, as
    the ratings'); with ``plain`` (a plain fit's table) ``info["raw_ratings"]`` holds the
    plain Bradley–Terry rating and rank of each model beside the controlled ones."""
    how = ci_method(ci, bootstrap)
    pairs = aggregate_battles(battles)
    pairs.require_connected()
    z_frame = style_design(battles)
    a, b, outcome, w, models = battle_outcomes(battles)
    k = len(models)
    y = np.choose(outcome, [1.0, 0.0, 0.5])
    z = z_frame.to_numpy(float)
    fit = fit_style(a, b, y, z, k, weights=w, sandwich=how == "sandwich")
    rating = _to_scale(fit.theta, models, anchor)
    boot = np.empty((0, k))
    alpha = 1.0 - confidence
    if how == "bootstrap":
        theta_b, beta_b = _resampled_fits(
            a, b, y, z, k, w, fit, bootstrap, np.random.default_rng(seed)
        )
        boot = _to_scale(theta_b, models, anchor)
        beta_lo, beta_hi = np.quantile(beta_b, [alpha / 2, 1 - alpha / 2], axis=0)
    else:
        se = np.sqrt(np.clip(np.diag(fit.covariance)[k:], 0, None))
        zq = ndtri(1 - alpha / 2)
        beta_lo, beta_hi = fit.beta - zq * se, fit.beta + zq * se
    names = list(z_frame.columns)
    info = {
        **fit_info(pairs, how),
        "style_control": True,
        "style_coefficients": {n: float(v) for n, v in zip(names, fit.beta, strict=True)},
        "style_intervals": {
            n: [float(lo_), float(hi_)] for n, lo_, hi_ in zip(names, beta_lo, beta_hi, strict=True)
        },
    }
    if plain is not None:  # the plain Bradley–Terry table, for ranks side by side
        info["raw_ratings"] = {
            str(r.model): {"rating": float(r.rating), "rank": int(r.rank)}
            for r in plain.itertuples()
        }
    return fitted_ratings(
        pairs,
        models,
        rating,
        boot,
        fit.covariance,
        _win_matrix(fit.theta, None),
        method="bt-style",
        info=info,
        confidence=confidence,
        anchor=anchor,
    )
