"""Observational scaling laws (Ruan, Maddison & Hashimoto 2024).

Models × benchmarks matrix (missing cells imputed by iterative low-rank SVD) -> PCA capability
scores; per family, capability is linear in log compute; the target benchmark is a sigmoid
(floor = chance, ceiling 1) of the capability scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay.core import accepts_confidence, require_columns
from assay.errors import InputError

from ._calibrate import Calibration, calibrate_residuals, rolling_origin
from ._sigmoid import Sigmoid, fit_sigmoid

__all__ = ["ObservationalFit", "capabilities", "impute_low_rank", "observational_scaling"]


def impute_low_rank(matrix: np.ndarray, rank: int = 2, iters: int = 200) -> np.ndarray:
    """Fill NaN cells by iterated rank-``rank`` SVD reconstruction (hard impute), starting from
    column means; observed cells are kept."""
    m = np.asarray(matrix, float)
    missing = np.isnan(m)
    if not missing.any():
        return m.copy()
    col_mean = np.nanmean(m, axis=0)
    filled = np.where(missing, col_mean[None, :], m)
    for _ in range(iters):  # fixed-point iterations over the whole matrix
        mu = filled.mean(axis=0)
        u, s, vt = np.linalg.svd(filled - mu, full_matrices=False)
        approx = (u[:, :rank] * s[:rank]) @ vt[:rank] + mu
        new = np.where(missing, approx, m)
        if np.max(np.abs(new - filled)) < 1e-7:
            filled = new
            break
        filled = new
    return filled


@dataclass
class ObservationalFit:
    """PCA capability scores, per-family compute -> capability lines, and the target sigmoid."""

    benchmarks: list[str]
    target: str
    loadings: pd.DataFrame  # benchmark x PC
    explained_variance: np.ndarray
    scores: pd.DataFrame  # model, family, log_compute, PC1..PCk, target, fitted
    family_lines: pd.DataFrame  # family, pc, slope, intercept, n
    link_weights: np.ndarray
    link: Sigmoid
    n: int
    rmse: float
    _mean: np.ndarray = field(repr=False, default=None)
    _std: np.ndarray = field(repr=False, default=None)
    link_draws: list = field(repr=False, default_factory=list)
    calibration: Calibration | None = field(repr=False, default=None)
    bounds: tuple[float, float] = (0.0, 1.0)

    def _capability(self, pcs: np.ndarray) -> np.ndarray:
        return pcs @ self.link_weights

    def predict(self, family: str, flops: Any, level: float = 0.9) -> pd.DataFrame:
        """Target score for a model of ``family`` at ``flops`` (from the family's lines)."""
        lines = self.family_lines[self.family_lines["family"] == family]
        if lines.empty:
            known = ", ".join(self.family_lines.family.unique()) if len(self.family_lines) else ""
            raise InputError(
                f"no compute line for family {family!r} (a line needs 2 parameters + 2 = 4 "
                f"models with compute); families with one: {known or 'none'}"
            )
        lc = np.log(np.atleast_1d(np.asarray(flops, float)))
        lines = lines.sort_values("pc")
        pcs = (
            lc[:, None] * lines["slope"].to_numpy()[None, :]
            + lines["intercept"].to_numpy()[None, :]
        )
        cap = self._capability(pcs)
        out = pd.DataFrame({"family": family, "flops": np.exp(lc), "capability": cap})
        out["prediction"] = self.link(cap)
        if self.calibration is not None:
            low, high = self.calibration.interval(out["prediction"], np.exp(lc), level)
            out["low"], out["high"] = np.clip(low, *self.bounds), np.clip(high, *self.bounds)
        elif self.link_draws:
            sims = np.stack([d(pcs @ w) for w, d in self.link_draws])
            out["low"], out["high"] = np.quantile(sims, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return out

    def heldout_errors(self, level: float = 0.9) -> dict[str, Any] | None:
        """The errors on the models kept out of the fit (``fit_mask``) with a known target:
        MAE, interval coverage at ``level`` and mean width, and the naive baselines' MAE
        (fitted on the models in the fit) with the skill against them. None without such
        models or intervals."""
        from ._backtest import baseline_errors, forecast_errors

        scores = self.scores
        known = np.isfinite(scores["target"])
        held, fitted = scores[~scores["used_in_fit"] & known], scores[scores["used_in_fit"] & known]
        if not len(held) or "low" not in held:
            return None
        mae, _, cov = forecast_errors(held["target"], held["fitted"], held["low"], held["high"])
        base, skill = baseline_errors(
            np.exp(fitted["log_compute"]),
            fitted["target"],
            np.exp(held["log_compute"]),
            held["target"],
            mae,
        )
        return {
            "mae": mae,
            "coverage": cov,
            "level": level,
            "n_heldout": len(held),
            "width": float((held["high"] - held["low"]).mean()),
            "baselines_mae": base,
            "skill": skill,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmarks": self.benchmarks,
            "target": self.target,
            "explained_variance": self.explained_variance.tolist(),
            "loadings": self.loadings.reset_index().to_dict(orient="records"),
            "family_lines": self.family_lines.to_dict(orient="records"),
            "link": self.link.__dict__,
            "n": self.n,
            "rmse": self.rmse,
            "interval": None if self.calibration is None else self.calibration.to_dict(),
        }


@accepts_confidence("level")
def observational_scaling(
    data: pd.DataFrame,
    benchmarks: list[str],
    target: str,
    *,
    compute: str = "flops",
    family: str = "family",
    model: str = "model",
    n_components: int | None = None,
    floor: float = 0.0,
    ceiling: float | None = 1.0,
    fit_mask: np.ndarray | None = None,
    bootstrap: int = 100,
    seed: int = 0,
    level: float = 0.9,
) -> ObservationalFit:
    """Fit an observational scaling law. ``fit_mask`` (bool per row) restricts which models'
    target scores enter the sigmoid fit (for backtests: the small ones).

    Intervals (``scores`` low/high at ``level``, and ``predict``) are calibrated by
    rolling-origin backtests over compute inside the fitted models: the link refitted on the
    models up to each origin, its errors on the larger ones, scaled by the distance in log
    compute (:mod:`._calibrate`)."""
    if n_components is None:  # 3, or every benchmark when there are fewer
        n_components = min(3, len(benchmarks))
    ok = isinstance(n_components, int | np.integer) and not isinstance(n_components, bool)
    if not ok or not 1 <= n_components <= len(benchmarks):
        raise InputError(
            f"n_components {n_components!r}: must be a whole number from 1 to the number of "
            f"benchmarks ({len(benchmarks)})"
        )
    require_columns(data, [*benchmarks, target, compute, family])
    keep, frame, pcs, comps, explained, mean, std = capabilities(data, benchmarks, n_components)
    k = pcs.shape[1]
    y = pd.to_numeric(frame[target], errors="coerce").to_numpy(float)
    use = np.isfinite(y) if fit_mask is None else np.isfinite(y) & np.asarray(fit_mask)[keep]
    if use.sum() < k + 3:
        raise InputError(
            f"observational scaling on {k} PCs has {k + 1} parameters and needs at least {k + 3} "
            f"models with {target!r} (parameters + 2); got {int(use.sum())}"
        )
    # capability = linear combination of PCs, found by least squares on logit(target)
    weights, link = fit_link(pcs[use], y[use], floor, ceiling)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(bootstrap):  # loop over bootstrap replicates
        rows = rng.choice(np.flatnonzero(use), size=int(use.sum()))
        try:
            draws.append(fit_link(pcs[rows], y[rows], floor, ceiling))
        except (ValueError, np.linalg.LinAlgError):
            continue
    log_c = np.log(pd.to_numeric(frame[compute], errors="coerce").to_numpy(float))
    lines = []
    for fam, grp in frame.groupby(family).groups.items():  # loop over model families
        rows = np.asarray(grp)
        rows = rows[np.isfinite(log_c[rows])]
        if len(rows) < 4:  # a line in log compute: 2 parameters + 2 models
            continue
        for j in range(k):
            slope, icpt = np.polyfit(log_c[rows], pcs[rows, j], 1)
            lines.append(
                {"family": fam, "pc": j + 1, "slope": slope, "intercept": icpt, "n": len(rows)}
            )
    cap = pcs @ weights
    fitted = link(cap)
    scores = pd.DataFrame(
        {
            "model": frame.get(model, frame.index),
            "family": frame[family],
            "log_compute": log_c,
        }
    )
    for j in range(k):
        scores[f"PC{j + 1}"] = pcs[:, j]
    scores["target"], scores["fitted"], scores["used_in_fit"] = y, fitted, use
    calibration = _calibrate(pcs, y, use, np.exp(log_c), floor, ceiling)
    bounds = (min(0.0, floor), max(1.0, 1.0 if ceiling is None else ceiling))
    if calibration is not None:
        finite_c = np.where(np.isfinite(log_c), np.exp(log_c), calibration.x_max)
        low, high = calibration.interval(fitted, finite_c, level)
        scores["low"], scores["high"] = np.clip(low, *bounds), np.clip(high, *bounds)
    rmse = float(np.sqrt(np.nanmean((fitted[use] - y[use]) ** 2)))
    loadings = pd.DataFrame(comps.T, index=benchmarks, columns=[f"PC{j + 1}" for j in range(k)])
    return ObservationalFit(
        benchmarks,
        target,
        loadings,
        explained,
        scores,
        pd.DataFrame(lines),
        weights,
        link,
        int(use.sum()),
        rmse,
        mean,
        std,
        draws,
        calibration,
        bounds,
    )


def _calibrate(pcs, y, use, compute, floor, ceiling) -> Calibration | None:
    """Rolling-origin calibration over compute among the fitted models (None: too few)."""
    rows = np.flatnonzero(use & np.isfinite(compute) & (compute > 0))
    if len(rows) < 8:
        return None

    def residuals_for(fit_mask: np.ndarray, test_mask: np.ndarray) -> np.ndarray:
        train, test = rows[fit_mask], rows[test_mask]
        w, link = fit_link(pcs[train], y[train], floor, ceiling)
        return y[test] - link(pcs[test] @ w)

    res, dist, origin = rolling_origin(
        compute[rows], residuals_for, min_fit=max(pcs.shape[1] + 3, len(rows) // 2)
    )
    if res.size == 0:
        return None
    return calibrate_residuals(
        res, dist, on="compute", space="score", x_max=float(compute[rows].max()), origin=origin
    )


def capabilities(data: pd.DataFrame, benchmarks: list[str], n_components: int):
    """(mask of the rows kept, those rows, PC scores, components, explained variance share, column means, column
    sds): models with at least half the benchmarks (and 2), missing cells imputed at low rank,
    standardised PCA with components pointing towards "better on average"."""
    mat = data[benchmarks].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    keep = np.isfinite(mat).sum(axis=1) >= max(2, len(benchmarks) // 2)
    frame = data[keep].reset_index(drop=True)
    mat = impute_low_rank(mat[keep], rank=min(n_components, len(benchmarks) - 1))
    mean, std = mat.mean(axis=0), mat.std(axis=0) + 1e-12
    z = (mat - mean) / std
    u, s, vt = np.linalg.svd(z, full_matrices=False)
    k = min(n_components, len(benchmarks))
    sign = np.sign(vt[:k].sum(axis=1))  # PCs point towards "better on average"
    comps = vt[:k] * sign[:, None]
    return keep, frame, z @ comps.T, comps, (s**2 / np.sum(s**2))[:k], mean, std


def fit_link(pcs: np.ndarray, y: np.ndarray, floor: float, ceiling: float | None):
    """Weights w (unit-free capability = PCs @ w) and a sigmoid of capability, floored at
    chance: w from least squares of logit((y - floor)/(ceil - floor)) on the PCs."""
    ceil = 1.0 if ceiling is None else ceiling
    z = np.log(np.clip((y - floor) / (ceil - floor), 1e-3, 1 - 1e-3))
    z = z - np.log1p(-np.clip((y - floor) / (ceil - floor), 1e-3, 1 - 1e-3))
    design = np.column_stack([pcs, np.ones(len(pcs))])
    coef, *_ = np.linalg.lstsq(design, z, rcond=None)
    w = coef[:-1]
    norm = np.linalg.norm(w) or 1.0
    w = w / norm
    return w, fit_sigmoid(pcs @ w, y, floor=floor, ceiling=ceiling)
