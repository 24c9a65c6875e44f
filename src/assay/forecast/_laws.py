"""Loss laws: the power law with a floor, Chinchilla's and Kaplan's L(N, D); their fits.

- power:      y = E + A·x^(-alpha)                             (Hestness et al. 2017)
- chinchilla: L = E + A/N^alpha + B/D^beta                      (Hoffmann et al. 2022; Epoch refit)
- kaplan:     L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D   (Kaplan et al. 2020)

All three are fitted in log space with a summed Huber loss (delta 1e-3) from many starts.
Parameter intervals are percentile bootstrap intervals over resampled points; prediction
intervals combine bootstrap parameter draws with resampled log-space residuals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from assay.core import accepts_confidence, require_columns
from assay.errors import InputError

from ._calibrate import Calibration, calibrate_residuals, rolling_origin
from ._kaplan import kaplan_bounds, kaplan_log_predict, kaplan_objective, kaplan_starts
from ._lse import lse_bounds, lse_objective, lse_objective32, lse_predict, multistart, polish

__all__ = ["LAWS", "LawFit", "calibrate_law", "fit_law"]

LAWS = ("chinchilla", "power", "kaplan")
PARAM_NAMES = {
    "chinchilla": ("E", "A", "B", "alpha", "beta"),
    "power": ("E", "A", "alpha"),
    "kaplan": ("N_c", "D_c", "alpha_N", "alpha_D"),
}


# -- parameterisations: internal theta (what the optimiser moves) <-> named parameters ---------
def _theta_to_params(law: str, theta: np.ndarray, x_scale: float = 1.0) -> np.ndarray:
    theta = np.atleast_2d(theta)
    if law == "chinchilla":  # theta = (a, b, alpha, beta, e)
        a, b, al, be, e = theta.T
        return np.stack([np.exp(e), np.exp(a), np.exp(b), al, be], axis=1)
    if law == "power":  # theta = (a, alpha, e) on x / x_scale
        a, al, e = theta.T
        return np.stack([np.exp(e), np.exp(a) * x_scale**al, al], axis=1)
    ln_nc, ln_dc, an, ad = theta.T
    return np.stack([np.exp(ln_nc), np.exp(ln_dc), an, ad], axis=1)


def _log_predict(law: str, params: np.ndarray, log_x: np.ndarray) -> np.ndarray:
    """log y-hat for named-parameter rows (S, p) at log inputs (n, k) -> (S, n)."""
    params = np.atleast_2d(params)
    if law == "chinchilla":
        e_, a_, b_, al, be = params.T
        theta = np.stack([np.log(a_), np.log(b_), al, be, np.log(e_)], axis=1)
        return lse_predict(theta, log_x)
    if law == "power":
        e_, a_, al = params.T
        theta = np.stack([np.log(a_), al, np.log(e_)], axis=1)
        return lse_predict(theta, log_x)
    nc, dc, an, ad = params.T
    return kaplan_log_predict(np.stack([np.log(nc), np.log(dc), an, ad], axis=1), log_x)


@dataclass
class _Problem:
    """One law on one set of points: the batched objective, its starts and bounds."""

    law: str
    log_x: np.ndarray  # (n, k)
    log_y: np.ndarray
    delta: float
    x_scale: float = 1.0

    def objective(self, weights: np.ndarray | None = None):
        if self.law == "kaplan":
            return kaplan_objective(self.log_x, self.log_y, self.delta, weights)
        return lse_objective(self._scaled(), self.log_y, self.delta, weights)

    def _scaled(self) -> np.ndarray:
        return self.log_x - np.log(self.x_scale) if self.law == "power" else self.log_x

    def bounds(self):
        if self.law == "kaplan":
            return kaplan_bounds()
        return lse_bounds(self.log_x.shape[1])

    def starts(self) -> np.ndarray:
        if self.law == "chinchilla":
            from ._lse import epoch_grid

            return epoch_grid(2)
        if self.law == "kaplan":
            return kaplan_starts(self.log_x)
        # power: alpha grid x floor grid; a from the closed-form fit of log(y - E) given both
        lx = self._scaled()[:, 0]
        y = np.exp(self.log_y)
        alphas = np.array([0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0])
        floors = y.min() * np.array([1e-4, 0.25, 0.5, 0.75, 0.9, 0.97, 0.995])
        al, fl = (m.ravel() for m in np.meshgrid(alphas, floors, indexing="ij"))
        gap = np.log(np.clip(y[None, :] - fl[:, None], 1e-12, None))
        a = (gap + al[:, None] * lx[None, :]).mean(axis=1)
        return np.stack([a, al, np.log(fl)], axis=1)

    def schedule(self) -> dict[str, Any]:
        if self.law == "chinchilla":
            return {"coarse": lse_objective32(self.log_x, self.log_y, self.delta)}
        return {"keep": (30,), "steps": (300,), "n_polish": 6}


@dataclass
class LawFit:
    """A fitted loss law: named parameters with bootstrap intervals, fit size and error.

    ``rmse`` is the root mean squared error of y (natural scale) on the fitted points."""

    law: str
    params: dict[str, float]
    ci: dict[str, tuple[float, float]]
    n: int
    rmse: float
    inputs: tuple[str, ...]
    y: str
    objective: float
    residuals: np.ndarray = field(repr=False)
    draws: np.ndarray | None = field(default=None, repr=False)
    seed: int = 0
    ci_level: float = 0.95
    _problem: _Problem | None = field(default=None, repr=False)
    _candidates: np.ndarray | None = field(default=None, repr=False)
    _candidate_objectives: np.ndarray | None = field(default=None, repr=False)
    _theta: np.ndarray | None = field(default=None, repr=False)
    calibration: Calibration | None = field(default=None, repr=False)
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def param_vector(self) -> np.ndarray:
        return np.array([self.params[k] for k in PARAM_NAMES[self.law]])

    def _log_inputs(self, data_or_x: Any) -> tuple[np.ndarray, pd.DataFrame]:
        if isinstance(data_or_x, pd.DataFrame):
            missing = [c for c in self.inputs if c not in data_or_x.columns]
            if missing:
                raise InputError(f"prediction input has no column {missing[0]!r}")
            frame = data_or_x[list(self.inputs)].reset_index(drop=True)
            values = frame.to_numpy(dtype=float)
        elif isinstance(data_or_x, dict):
            values = np.column_stack([np.atleast_1d(data_or_x[c]) for c in self.inputs])
            values = values.astype(float)
            frame = pd.DataFrame(values, columns=list(self.inputs))
        else:
            values = np.asarray(data_or_x, dtype=float)
            values = values.reshape(-1, len(self.inputs))
            frame = pd.DataFrame(values, columns=list(self.inputs))
        if np.any(~np.isfinite(values)) or np.any(values <= 0):
            raise InputError(f"prediction inputs {list(self.inputs)} must be positive numbers")
        return np.log(values), frame

    def curve(self, data_or_x: Any) -> np.ndarray:
        """The fitted law's value (no interval) at the given inputs."""
        log_x, _ = self._log_inputs(data_or_x)
        return np.exp(_log_predict(self.law, self.param_vector, log_x)[0])

    def ensure_draws(
        self, bootstrap: int = 200, *, progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """Bootstrap parameter draws (computed once, with this fit's seed, if not yet there);
        ``progress(done, total)`` after each refit."""
        if self.draws is None:
            self.draws = _bootstrap(self, bootstrap, progress)
            self.ci = _percentile_ci(self.law, self.draws, self.ci_level)
        return self.draws

    def predict(self, data_or_x: Any, level: float = 0.9) -> pd.DataFrame:
        """Predictions with a ``level`` prediction interval: inputs, prediction, low, high.

        With a :attr:`calibration` (:func:`calibrate_law`) the interval is the calibrated one,
        ŷ·exp(±q·s(d)), widening with the distance d beyond the fitted data. Without, it is the
        percentile interval of (bootstrap-draw curve) × exp(resampled log-space residual)."""
        log_x, frame = self._log_inputs(data_or_x)
        if self.calibration is not None:
            out = frame.copy()
            out["prediction"] = self.curve(data_or_x)
            on = self._on_values(data_or_x, frame)
            out["low"], out["high"] = self.calibration.interval(out["prediction"], on, level)
            return out
        draws = self.ensure_draws()
        rng = np.random.default_rng(self.seed + 1)
        log_pred = _log_predict(self.law, draws, log_x)  # (B, m)
        noise = rng.choice(self.residuals, size=log_pred.shape, replace=True)
        sims = np.exp(log_pred + noise)
        out = frame.copy()
        out["prediction"] = self.curve(data_or_x)
        out["low"] = np.quantile(sims, (1 - level) / 2, axis=0)
        out["high"] = np.quantile(sims, (1 + level) / 2, axis=0)
        return out

    def _on_values(self, data_or_x: Any, frame: pd.DataFrame) -> np.ndarray:
        """The calibration's cut column at the prediction inputs (flops = 6·N·D if absent)."""
        on = self.calibration.on
        if isinstance(data_or_x, pd.DataFrame) and on in data_or_x.columns:
            return pd.to_numeric(data_or_x[on], errors="coerce").to_numpy(float)
        if on in frame.columns:
            return frame[on].to_numpy(float)
        if on == "flops" and len(self.inputs) == 2:
            return (
                6.0 * frame[self.inputs[0]].to_numpy(float) * frame[self.inputs[1]].to_numpy(float)
            )
        return frame[self.inputs[0]].to_numpy(float)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "law": self.law,
            "params": dict(self.params),
            "ci": {k: [float(v[0]), float(v[1])] for k, v in self.ci.items()},
            "n": int(self.n),
            "rmse": float(self.rmse),
            "dropped": {"rows": int(sum(self.dropped.values())), "reasons": dict(self.dropped)},
        }
        if self.calibration is not None:
            out["interval"] = self.calibration.to_dict()
        return out


def _percentile_ci(law: str, draws: np.ndarray, level: float) -> dict[str, tuple[float, float]]:
    lo, hi = np.nanquantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return {k: (float(a), float(b)) for k, a, b in zip(PARAM_NAMES[law], lo, hi, strict=True)}


def _warm_starts(fit: LawFit) -> np.ndarray:
    """The best optimum plus any other distinct optimum within 10% of its objective."""
    cands, vals = fit._candidates, fit._candidate_objectives
    if cands is None:
        return fit._theta[None, :]
    near = vals <= 1.1 * vals[0]
    _, first = np.unique(np.round(cands[near], 3), axis=0, return_index=True)
    return cands[near][np.sort(first)][:3]


def _bootstrap(fit: LawFit, n_boot: int, progress=None) -> np.ndarray:
    """Refit on ``n_boot`` resamples of the points (resampling = integer weights), each from the
    best few optima of the full fit; returns named-parameter draws (n_boot, p)."""
    problem = fit._problem
    if problem is None or n_boot <= 0:
        return fit.param_vector[None, :]
    rng = np.random.default_rng(fit.seed)
    n = len(problem.log_y)
    lower, upper = problem.bounds()
    warm = _warm_starts(fit)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)
    with threadpool_limits(1, user_api="blas"):  # many tiny BLAS calls: one thread is faster
        return _refits(fit, problem, counts, warm, lower, upper, progress)


def _refits(fit, problem, counts, warm, lower, upper, progress=None) -> np.ndarray:
    n_boot = len(counts)
    draws = np.empty((n_boot, len(PARAM_NAMES[fit.law])))
    for b in range(n_boot):  # one refit per bootstrap replicate
        vg = problem.objective(counts[b])
        best = min((polish(vg, s, lower, upper) for s in warm), key=lambda p: p[1])
        draws[b] = _theta_to_params(fit.law, best[0], problem.x_scale)[0]
        if progress is not None:
            progress(b + 1, n_boot)
    return draws


def _columns_for(law: str, x: str | None, n_col: str, d_col: str) -> tuple[str, ...]:
    if law == "power":
        return (x or n_col,)
    return (n_col, d_col)


MAX_SPAN = 1e30
"""Largest size (chinchilla, kaplan) and largest max/min ratio of a law's inputs: beyond them the
fit's bounded parameters pin at their bounds and the intervals collapse to zero width."""


def _check_spread(law: str, inputs: tuple[str, ...], x: np.ndarray) -> None:
    """A law needs spread in its inputs: every input at ≥ 2 distinct values, and at least
    parameters + 2 distinct input points (else nothing is left to measure the scatter)."""
    for j, col in enumerate(inputs):
        distinct = np.unique(x[:, j])
        low, high = distinct[0], distinct[-1]
        if high / low > MAX_SPAN or (law != "power" and high > MAX_SPAN):
            raise InputError(
                f"{law} law not fitted: {col} from {low:.3g} to {high:.3g} is outside what its "
                f"parameters can represent (values up to {MAX_SPAN:.0e}, a span up to that ratio)"
            )
        if distinct.size < 2:
            raise InputError(
                f"{law} law not fitted: all {len(x)} rows have {col} = {distinct[0]:.3g} "
                f"(no spread in {col}; a scaling law needs models of different sizes)"
            )
    p, points = len(PARAM_NAMES[law]), len(np.unique(x, axis=0))
    if points < p + 2:
        raise InputError(
            f"{law} law not fitted: {p} parameters need at least {p + 2} distinct "
            f"{'/'.join(inputs)} points (parameters + 2, so a scatter is left to measure); "
            f"got {points}"
        )


@accepts_confidence("ci_level")
def fit_law(
    data: pd.DataFrame,
    law: str = "chinchilla",
    *,
    x: str | None = None,
    y: str = "loss",
    n_col: str = "params",
    d_col: str = "tokens",
    bootstrap: int = 0,
    seed: int = 0,
    delta: float = 1e-3,
    ci_level: float = 0.95,
    progress: Callable[[float], None] | None = None,
) -> LawFit:
    """Fit a loss law to a table of training runs.

    ``law="power"`` fits y = E + A·x^(-alpha) on column ``x`` (default ``n_col``);
    ``"chinchilla"`` fits L(N, D) = E + A/N^alpha + B/D^beta on ``n_col``, ``d_col`` as Epoch
    did (log space, Huber delta=1e-3 summed, 4,500-start grid); ``"kaplan"`` fits
    L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D. ``bootstrap`` resamples points that many
    times for percentile intervals (``ci`` at ``ci_level``). Inputs without spread (one
    distinct value, or fewer distinct points than parameters + 2) raise :class:`InputError`.
    """
    if law not in LAWS:
        raise InputError(f"unknown law {law!r}; choose one of {', '.join(LAWS)}")
    inputs = _columns_for(law, x, n_col, d_col)
    require_columns(data, [*inputs, y])
    values = data[[*inputs, y]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    ok = np.all(np.isfinite(values), axis=1) & np.all(values > 0, axis=1)
    dropped = _dropped_rows(values)
    if ok.sum() < len(PARAM_NAMES[law]) + 2:
        raise InputError(
            f"{law} law needs at least {len(PARAM_NAMES[law]) + 2} rows with positive "
            f"{', '.join([*inputs, y])} ({len(PARAM_NAMES[law])} parameters + 2); "
            f"got {int(ok.sum())}"
        )
    _check_spread(law, inputs, values[ok, :-1])
    if np.unique(values[ok, -1]).size < 2:
        raise InputError(
            f"{law} law not fitted: all {int(ok.sum())} rows have {y} = {values[ok, -1][0]:.4g} "
            f"(no spread in {y}: nothing to fit)"
        )
    log_x, log_y = np.log(values[ok, :-1]), np.log(values[ok, -1])
    x_scale = float(np.exp(log_x[:, 0].mean())) if law == "power" else 1.0
    problem = _Problem(law, log_x, log_y, delta, x_scale)
    lower, upper = problem.bounds()
    result = multistart(
        problem.objective(), problem.starts(), lower, upper, progress=progress, **problem.schedule()
    )
    named = _theta_to_params(law, result.theta, x_scale)[0]
    log_fit = _log_predict(law, named, log_x)[0]
    residuals = log_y - log_fit
    rmse = float(np.sqrt(np.mean((np.exp(log_y) - np.exp(log_fit)) ** 2)))
    fit = LawFit(
        law=law,
        params={k: float(v) for k, v in zip(PARAM_NAMES[law], named, strict=True)},
        ci={},
        n=int(ok.sum()),
        rmse=rmse,
        inputs=inputs,
        y=y,
        objective=result.objective,
        residuals=residuals,
        seed=seed,
        ci_level=ci_level,
        _problem=problem,
        _candidates=result.candidates,
        _candidate_objectives=result.candidate_objectives,
        _theta=result.theta,
        dropped=dropped,
    )
    if bootstrap > 0:
        fit.ensure_draws(bootstrap)
    return fit


def _dropped_rows(values: np.ndarray) -> dict[str, int]:
    """How many rows a fit leaves out, by reason (first failing reason per row)."""
    nan = np.any(np.isnan(values), axis=1)
    inf = ~nan & np.any(np.isinf(values), axis=1)
    nonpos = ~nan & ~inf & np.any(values <= 0, axis=1)
    counts = {
        "missing or NaN": int(nan.sum()),
        "infinite": int(inf.sum()),
        "zero or negative": int(nonpos.sum()),
    }
    return {k: v for k, v in counts.items() if v}


def calibrate_law(
    fit: LawFit,
    data: pd.DataFrame,
    *,
    on: str,
    max_origins: int = 6,
    min_share: float = 0.4,
    progress: Callable[[int, int], None] | None = None,
) -> LawFit:
    """Attach a rolling-origin :class:`Calibration` to ``fit`` (and return it): the same law
    refitted on the rows of ``data`` with ``on`` ≤ each origin cut (at least ``min_share`` of
    the rows and one more than the law's parameters), its log residuals on the rows above, scaled
    by the distance log(on / max fitted on). ``data`` must be the fit's own data.
    ``progress(done, total)`` counts the refits."""
    require_columns(data, [on, *fit.inputs, fit.y], " to calibrate on")
    cols = list(dict.fromkeys([on, *fit.inputs, fit.y]))
    frame = data[cols].apply(pd.to_numeric, errors="coerce")
    ok = np.all(np.isfinite(frame.to_numpy(float)), axis=1) & np.all(frame.to_numpy(float) > 0, 1)
    frame = frame[ok].reset_index(drop=True)
    on_values = frame[on].to_numpy(float)
    x = fit.inputs[0] if fit.law == "power" else None

    def residuals_for(fit_mask: np.ndarray, test_mask: np.ndarray) -> np.ndarray:
        sub = fit_law(
            frame[fit_mask],
            fit.law,
            x=x,
            y=fit.y,
            n_col=fit.inputs[0],
            d_col=fit.inputs[-1],
            seed=fit.seed,
        )
        test = frame[test_mask]
        return np.log(test[fit.y].to_numpy(float)) - np.log(sub.curve(test))

    min_fit = max(len(PARAM_NAMES[fit.law]) + 2, int(np.ceil(min_share * len(frame))))
    res, dist, origin = rolling_origin(
        on_values, residuals_for, min_fit=min_fit, max_origins=max_origins, progress=progress
    )
    fit.calibration = calibrate_residuals(
        res, dist, on=on, space="log", x_max=float(on_values.max()), origin=origin
    )
    return fit
