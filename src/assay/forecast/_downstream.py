"""Downstream forecasts: compute -> loss -> score in two stages (Gadre et al. 2024; Hoffmann
et al.), with a sigmoid floored at chance and ceilinged, or on logit / log p(correct) targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay.core import level_label, require_columns
from assay.errors import InputError

from ._calibrate import Calibration, calibrate_residuals, rolling_origin
from ._laws import LawFit, _dropped_rows, fit_law
from ._sigmoid import TARGETS, Sigmoid, fit_sigmoid, to_target

__all__ = ["DownstreamFit", "calibrate_downstream", "fit_downstream"]


CALIBRATED_NOTE = (
    "scaled from the errors of rolling-origin refits on the smaller models, so it includes the "
    "scatter of single models and extrapolation error, and it is conservative: wider than its "
    "level needs (in the simulation of docs/forecast.md a 90% interval covered 98.5% of "
    "new models, a 50% one 93%)"
)
BOOTSTRAP_NOTE = (
    "not calibrated (too few rows for rolling-origin backtests): it includes the parameter "
    "uncertainty of both stages and the residual scatter, not the error of the laws' form"
)


@dataclass
class DownstreamFit:
    """Stage 1: ``loss_fit`` (power law of loss in x); stage 2: ``link`` from loss to score.

    For ``target="accuracy"`` the link is a sigmoid in -loss with floor (chance) and ceiling;
    for ``logit`` and ``logp`` it is a straight line in loss on the transformed score.
    ``bounds`` is the range the score can take (:func:`score_bounds`); predictions and their
    intervals stay inside it."""

    x: str
    y: str
    target: str
    loss_fit: LawFit
    link: Sigmoid | tuple[float, float]
    floor: float
    ceiling: float
    n: int
    rmse: float
    link_draws: list = field(repr=False, default_factory=list)
    seed: int = 0
    link_is_free_ceiling: bool = False
    residuals: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(1))
    bounds: tuple[float, float] = (-np.inf, np.inf)
    calibration: Calibration | None = field(repr=False, default=None)
    dropped: dict[str, int] = field(default_factory=dict)  # rows left out, by reason

    def point(self, x_values: Any) -> np.ndarray:
        """The two-stage point forecast (no interval), clipped to ``bounds``."""
        xs = np.atleast_1d(np.asarray(x_values, float))
        loss = self.loss_fit.curve(xs)
        return np.clip(self._score_from_loss(loss, self.link), *self.bounds)

    def _score_from_loss(self, loss: np.ndarray, link) -> np.ndarray:
        if isinstance(link, Sigmoid):
            return link(-loss)
        slope, icpt = link
        z = icpt + slope * loss
        if self.target == "logit":
            return self.floor + (self.ceiling - self.floor) / (1 + np.exp(-z))
        return z  # logp: mean log p(correct)

    def predict(self, x_values: Any, level: float = 0.9) -> pd.DataFrame:
        """Predicted loss and score at ``x_values`` with ``level`` intervals: the percentile
        interval over paired bootstrap draws of both stages plus a resampled stage-2 residual
        (so the interval covers the scatter of single models, not only the mean curve).
        Draws are clipped to ``bounds``, so an accuracy interval never leaves [0, 1]."""
        xs = np.atleast_1d(np.asarray(x_values, float))
        loss_pred = self.loss_fit.predict(xs, level=level)
        draws = self.loss_fit.ensure_draws()
        from ._laws import _log_predict

        loss_sims = np.exp(_log_predict("power", draws, np.log(xs)[:, None]))  # (B, m)
        links = self.link_draws or [self.link]
        score_sims = np.stack(
            [
                self._score_from_loss(loss_sims[b], links[b % len(links)])
                for b in range(len(loss_sims))
            ]
        )  # loop over bootstrap draws
        rng = np.random.default_rng(self.seed + 3)
        score_sims = np.clip(
            score_sims + rng.choice(self.residuals, size=score_sims.shape), *self.bounds
        )
        q = [(1 - level) / 2, (1 + level) / 2]
        out = pd.DataFrame({self.x: xs})
        out["loss"] = loss_pred["prediction"].to_numpy()
        out["loss_low"], out["loss_high"] = (
            loss_pred["low"].to_numpy(),
            loss_pred["high"].to_numpy(),
        )
        out["prediction"] = np.clip(
            self._score_from_loss(out["loss"].to_numpy(), self.link), *self.bounds
        )
        out["low"], out["high"] = np.quantile(score_sims, q, axis=0)
        if self.calibration is not None:  # rolling-origin calibrated, widening with distance
            low, high = self.calibration.interval(out["prediction"], xs, level)
            out["low"], out["high"] = np.clip(low, *self.bounds), np.clip(high, *self.bounds)
        return out

    def interval_dict(self, level: float) -> dict[str, Any]:
        """The ``level`` interval's method: the rolling-origin calibration when attached, else
        the bootstrap percentile interval of :meth:`predict`."""
        if self.calibration is not None:
            return {**self.calibration.to_dict(level), "note": CALIBRATED_NOTE}
        return {
            "level": level,
            "method": "bootstrap percentile (paired draws of both stages + a resampled "
            "stage-2 residual)",
            "n_draws": len(self.loss_fit.draws) if self.loss_fit.draws is not None else 0,
            "note": BOOTSTRAP_NOTE,
        }

    def interval_line(self, level: float) -> str:
        """One line saying what the ``level`` interval is and what it does not promise."""
        how = self.interval_dict(level)
        return f"interval: {level_label(level)} {how['method']}; {how['note']}"

    def to_dict(self, level: float | None = None) -> dict[str, Any]:
        """The fit; with ``level``, ``interval`` states that level's method (and multiplier)."""
        link = (
            {"kind": "sigmoid", **self.link.__dict__}
            if isinstance(self.link, Sigmoid)
            else {"kind": "linear", "slope": self.link[0], "intercept": self.link[1]}
        )
        return {
            "x": self.x,
            "y": self.y,
            "target": self.target,
            "loss_law": self.loss_fit.to_dict(),
            "link": link,
            "n": self.n,
            "rmse": self.rmse,
            "dropped": {"rows": int(sum(self.dropped.values())), "reasons": dict(self.dropped)},
            "interval": self.interval_dict(level)
            if level is not None
            else None
            if self.calibration is None
            else self.calibration.to_dict(),
        }


def score_bounds(target: str, floor: float, ceiling: float | None) -> tuple[float, float]:
    """The range of the score: log p(correct) ≤ 0; an accuracy (``accuracy``/``logit``) lies in
    [0, 1], widened to ``floor`` / ``ceiling`` when those lie outside it (percent scores with
    ``ceiling=100``). The floor is the chance level, not a bound: a model can score below it."""
    if target == "logp":
        return (-np.inf, 0.0)
    return (min(0.0, floor), max(1.0, 1.0 if ceiling is None else ceiling))


def _fit_link(loss, score, target, floor, ceiling):
    if target == "accuracy":
        return fit_sigmoid(-loss, score, floor=floor, ceiling=ceiling)
    z = to_target(score, target, floor, ceiling)
    slope, icpt = np.polyfit(loss, z, 1)
    return float(slope), float(icpt)


def _usable_rows(
    data: pd.DataFrame, x: str, y: str, loss: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rows with finite positive ``x`` and ``loss`` and a finite ``y`` (a score may be 0
    or negative), and how many were left out by reason (as :func:`fit_law` counts them)."""
    frame = data[[x, y, loss]].apply(pd.to_numeric, errors="coerce")
    values = frame.to_numpy(float, copy=True)
    score = values[:, 1]
    values[:, 1] = np.where(np.isfinite(score), 1.0, score)  # only NaN / inf drop a score
    keep = np.all(np.isfinite(values), axis=1) & np.all(values > 0, axis=1)
    return frame[keep], _dropped_rows(values)


def fit_downstream(
    data: pd.DataFrame,
    *,
    x: str = "flops",
    y: str = "score",
    loss: str = "loss",
    target: str = "accuracy",
    floor: float = 0.0,
    ceiling: float | None = 1.0,
    bootstrap: int = 200,
    seed: int = 0,
) -> DownstreamFit:
    """Two-stage forecast: fit loss = E + A·x^(-alpha), then score as a function of loss.

    ``floor`` is the chance level; ``ceiling=None`` fits the ceiling (``target="accuracy"``
    only: the logit target needs a known ceiling; logp has none). ``bootstrap`` resamples the
    models for each stage (paired draws give the score interval)."""
    if target not in TARGETS:
        raise InputError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    if ceiling is None and target == "logit":
        raise InputError(
            "target 'logit' transforms the score with logit((score - floor)/(ceiling - floor)) "
            "and needs a ceiling; ceiling=None (a fitted ceiling) needs target 'accuracy'"
        )
    require_columns(data, [x, y, loss])
    frame, dropped = _usable_rows(data, x, y, loss)
    need = 5  # the loss law: 3 parameters + 2 (the link needs 4, or 5 with a fitted ceiling)
    if len(frame) < need:
        raise InputError(
            f"downstream fit needs at least {need} rows with {x}, {loss}, {y} (the loss law's 3 "
            f"parameters + 2); got {len(frame)}"
        )
    loss_fit = fit_law(frame, "power", x=x, y=loss, bootstrap=bootstrap, seed=seed)
    loss_fit.dropped = dropped  # counted on the input (fit_law saw the kept rows only)
    lv, sv = frame[loss].to_numpy(), frame[y].to_numpy()
    ceil = 1.0 if ceiling is None else ceiling
    link = _fit_link(lv, sv, target, floor, ceiling)
    rng = np.random.default_rng(seed + 7)
    idx = rng.integers(0, len(frame), size=(max(bootstrap, 0), len(frame)))
    link_draws = []
    for rows in idx:  # loop over bootstrap replicates
        try:
            link_draws.append(_fit_link(lv[rows], sv[rows], target, floor, ceiling))
        except (ValueError, np.linalg.LinAlgError):
            continue
    fit = DownstreamFit(
        x, y, target, loss_fit, link, floor, ceil, len(frame), 0.0, link_draws, seed
    )
    fit.bounds = score_bounds(target, floor, ceiling)
    fit.dropped = dropped
    fit.link_is_free_ceiling = ceiling is None
    if isinstance(link, Sigmoid):
        ceil = link.ceiling
        fit.ceiling = ceil
    fitted = fit._score_from_loss(loss_fit.curve(frame[[x]].to_numpy()), link)
    fit.rmse = float(np.sqrt(np.mean((fitted - sv) ** 2)))
    fit.residuals = sv - fitted
    return fit


def calibrate_downstream(
    fit: DownstreamFit, data: pd.DataFrame, *, loss: str = "loss", max_origins: int = 6
) -> DownstreamFit:
    """Attach a rolling-origin :class:`Calibration` (score residuals of two-stage refits on the
    rows up to each origin, scaled by the distance in log x) to ``fit`` and return it."""
    frame = _usable_rows(data, fit.x, fit.y, loss)[0].reset_index(drop=True)
    xs = frame[fit.x].to_numpy(float)
    ceiling = None if fit.link_is_free_ceiling else fit.ceiling

    def residuals_for(fit_mask: np.ndarray, test_mask: np.ndarray) -> np.ndarray:
        sub = fit_downstream(
            frame[fit_mask],
            x=fit.x,
            y=fit.y,
            loss=loss,
            target=fit.target,
            floor=fit.floor,
            ceiling=ceiling,
            bootstrap=0,
        )
        return frame[fit.y].to_numpy(float)[test_mask] - sub.point(xs[test_mask])

    res, dist, origin = rolling_origin(
        xs, residuals_for, min_fit=max(5, int(0.4 * len(xs))), max_origins=max_origins
    )
    fit.calibration = calibrate_residuals(
        res, dist, on=fit.x, space="score", x_max=float(xs.max()), origin=origin
    )
    return fit
