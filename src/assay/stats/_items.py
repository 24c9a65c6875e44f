"""Item analysis across models: difficulty, point-biserial discrimination, broken-item flags,
and a two-parameter logistic (2PL) IRT model fitted by penalised joint maximum likelihood."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit

from assay.core import MetricMap, require_columns
from assay.errors import InputError

from ._results import ResultMixin
from ._tidy import doc_matrix, select, task_metrics

__all__ = [
    "IRT2PL",
    "ItemAnalysis",
    "estimate_ability",
    "fit_irt_2pl",
    "item_analysis",
    "response_matrix",
]


def response_matrix(
    scores: pd.DataFrame,
    *,
    task: str | None = None,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    models: list[str] | None = None,
) -> pd.DataFrame:
    """Models × docs matrix of per-question scores (repeats averaged) for one task."""
    require_columns(scores, ["model", "task", "doc_id", "metric", "value"])
    df = select(select(scores, "model", models), "task", task)
    pairs = task_metrics(df, metric, metrics)
    if len(pairs) != 1:
        raise InputError(f"pick one task: {', '.join(t for t, _ in pairs)}")
    t, met = pairs[0]
    x, docs, _, names = doc_matrix(df[(df["task"] == t) & (df["metric"] == met)], models)
    return pd.DataFrame(x.T, index=pd.Index(names, name="model"), columns=docs)


@dataclass
class ItemAnalysis(ResultMixin):
    """One row per question: n_models (that answered it), difficulty (share of them right),
    discrimination (corrected point-biserial: correlation across those models of the item score
    with the model's mean over the other items it answered), flags ("nobody_right", "everybody_right",
    "negative_discrimination")."""

    task: str
    metric: str
    table: pd.DataFrame

    @property
    def flagged(self) -> pd.DataFrame:
        return self.table[self.table["flags"] != ""]


def item_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per item over the models that answered it (NaN = not answered): n_j, difficulty
    p_j = mean x_ij and corrected point-biserial r_j = corr_i(x_ij, R_ij), with R_ij the model's
    mean score over the *other* items it answered, (S_i − x_ij) / (N_i − 1).

    On a complete matrix R_ij is the rest total Σ_{k≠j} x_ik over (items − 1), so r_j is the
    usual corrected point-biserial; r is NaN for constant items and with < 3 models."""
    x = np.asarray(x, dtype=float)
    seen = ~np.isnan(x)
    x0 = np.where(seen, x, 0.0)
    total, answered = x0.sum(axis=1, keepdims=True), seen.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rest = (total - x0) / (answered - 1)
    use = seen & np.isfinite(rest)  # a model that answered only this item has no rest score
    rest = np.where(use, rest, 0.0)
    n = seen.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x0.sum(axis=0) / n
        k = use.sum(axis=0)
        mx = np.sum(use * x0, axis=0) / k
        mr = np.sum(use * rest, axis=0) / k
        xc, rc = use * (x0 - mx), use * (rest - mr)
        r = np.sum(xc * rc, axis=0) / np.sqrt(np.sum(xc**2, axis=0) * np.sum(rc**2, axis=0))
    r = np.where(np.abs(r) < 1e-12, 0.0, r)  # rounding of an exact 0 must not flag an item
    return n, p, np.where(k >= 3, r, np.nan)


def item_analysis(
    scores: pd.DataFrame,
    *,
    task: str | None = None,
    metric: str | None = None,
    metrics: MetricMap | None = None,
    models: list[str] | None = None,
    min_models: int = 3,
) -> ItemAnalysis:
    """Difficulty, discrimination and broken-item flags of one task's questions across models
    (needs at least 3 models). Each item uses the models that answered it (as IRT does), so a
    sparse matrix keeps every item answered by at least ``min_models`` models."""
    resp = response_matrix(scores, task=task, metric=metric, metrics=metrics, models=models)
    if resp.shape[0] < 3:
        raise InputError(f"item analysis needs at least 3 models, got {resp.shape[0]}")
    n, p, r = item_statistics(resp.to_numpy(dtype=float))
    keep = n >= min_models
    if not keep.any():
        raise InputError(f"no item was answered by at least {min_models} models")
    n, p, r = n[keep], p[keep], r[keep]
    flags = np.select(
        [p == 0, p == 1, r < 0], ["nobody_right", "everybody_right", "negative_discrimination"], ""
    )
    table = pd.DataFrame(
        {
            "doc_id": resp.columns[keep],
            "n_models": n,
            "difficulty": p,
            "discrimination": r,
            "flags": flags,
        }
    )
    t, met = task_metrics(select(select(scores, "model", models), "task", task), metric, metrics)[0]
    return ItemAnalysis(t, met, table)


@dataclass
class IRT2PL(ResultMixin):
    """2PL IRT: P(right) = σ(a_j (θ_i − b_j)). Abilities standardised to mean 0, sd 1."""

    ability: pd.Series
    discrimination: pd.Series
    difficulty: pd.Series
    log_likelihood: float
    converged: bool
    n_iter: int

    def probabilities(self, ability) -> np.ndarray:
        """(len(ability), items) matrix of P(right)."""
        a, b = self.discrimination.to_numpy(), self.difficulty.to_numpy()
        return expit(a[None, :] * (np.atleast_1d(ability)[:, None] - b[None, :]))


def fit_irt_2pl(
    responses: pd.DataFrame | np.ndarray,
    *,
    prior_sd_a: float = 1.0,
    prior_sd_b: float = 3.0,
    max_iter: int = 500,
) -> IRT2PL:
    """Fit a 2PL IRT model to a (models × items) 0/1 matrix (NaN = not answered).

    Maximises Σ_obs [y log p + (1−y) log(1−p)] − ½Σθ² − ½Σ(a−1)²/s_a² − ½Σb²/s_b² (MAP with
    θ ~ N(0,1), a ~ N(1, s_a²), b ~ N(0, s_b²)) by L-BFGS with the analytic gradient, then
    rescales so the abilities have mean 0 and sd 1 (logits unchanged).
    """
    frame = responses if isinstance(responses, pd.DataFrame) else pd.DataFrame(responses)
    y = frame.to_numpy(dtype=float)
    mask = ~np.isnan(y)
    y0 = np.where(mask, y, 0.0)
    m, n = y.shape
    if m < 2 or n < 2:
        raise InputError("IRT needs at least 2 models and 2 items")

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        theta, a, b = params[:m], params[m : m + n], params[m + n :]
        z = a[None, :] * (theta[:, None] - b[None, :])
        p = expit(z)
        ll = np.sum(mask * (y0 * z - np.logaddexp(0, z)))
        r = mask * (y0 - p)
        g_theta = r @ a - theta
        g_a = np.sum(r * (theta[:, None] - b[None, :]), axis=0) - (a - 1) / prior_sd_a**2
        g_b = -a * r.sum(axis=0) - b / prior_sd_b**2
        lp = ll - 0.5 * (
            theta @ theta + np.sum((a - 1) ** 2) / prior_sd_a**2 + b @ b / prior_sd_b**2
        )
        return -lp, -np.concatenate([g_theta, g_a, g_b])

    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.nanmean(y, axis=1)
    theta0 = np.nan_to_num(np.log((rate + 0.05) / (1.05 - rate)))
    pj = np.nanmean(y, axis=0)
    b0 = np.nan_to_num(-np.log((pj + 0.05) / (1.05 - pj)))
    start = np.concatenate([theta0 - theta0.mean(), np.ones(n), b0])
    res = optimize.minimize(
        objective, start, jac=True, method="L-BFGS-B", options={"maxiter": max_iter}
    )
    theta, a, b = res.x[:m], res.x[m : m + n], res.x[m + n :]
    mu, sd = theta.mean(), theta.std() or 1.0
    theta, a, b = (theta - mu) / sd, a * sd, (b - mu) / sd
    z = a[None, :] * (theta[:, None] - b[None, :])
    ll = float(np.sum(mask * (y0 * z - np.logaddexp(0, z))))
    return IRT2PL(
        ability=pd.Series(theta, index=frame.index, name="ability"),
        discrimination=pd.Series(a, index=frame.columns, name="discrimination"),
        difficulty=pd.Series(b, index=frame.columns, name="difficulty"),
        log_likelihood=ll,
        converged=bool(res.success),
        n_iter=int(res.nit),
    )


def estimate_ability(
    responses: np.ndarray, a: np.ndarray, b: np.ndarray, *, prior_sd: float = 1.0, n_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """MAP ability θ for each row of a (models × items) 0/1 matrix given item parameters, by
    Newton's method vectorised over models; returns (θ, SE) with SE = 1/√(information + 1/s²)."""
    y = np.atleast_2d(np.asarray(responses, dtype=float))
    mask = ~np.isnan(y)
    y0 = np.where(mask, y, 0.0)
    theta = np.zeros(y.shape[0])
    info = np.ones(y.shape[0])
    for _ in range(n_iter):
        p = expit(a[None, :] * (theta[:, None] - b[None, :]))
        grad = (mask * (y0 - p)) @ a - theta / prior_sd**2
        info = (mask * p * (1 - p)) @ (a**2) + 1 / prior_sd**2
        step = np.clip(grad / info, -2, 2)
        theta = theta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    return theta, 1 / np.sqrt(info)
