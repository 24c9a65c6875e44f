"""Leave-one-family-out backtests of observational scaling: how well does a forecast transfer
to a model family the fit never saw?

For each held-out family F the method is fitted on the models of every other family and
predicts F's models from their other benchmarks (and compute). The default ``blend`` averages
observational scaling on 2 PCs (target = floored sigmoid of the capabilities) with a line in log
compute across the other families — it won these backtests on the public data. The interval is
calibrated one level down: inside the families the fit sees, each family is left out in turn
and the errors on its models, in units of the Bernoulli sd √(p̂(1 − p̂)) and of an error scale
s = c0 + c1·a + c2·g (non-negative least squares on the |errors|; locally weighted conformal,
Lei et al. 2018) over two traits every model shows without its target score — its atypicality
a (the RMS distance of its standardised benchmarks from the PCs' plane: the PCs describe it
badly) and its compute gap g (|PC1 − a line in log compute across all models|: a family far
more or less capable than its compute predicts) — give a split-conformal half-width (rank
⌈(n+1)·level⌉ of n) times the held-out model's s, never narrower than its score's own binomial
evaluation noise (with ``n_items``). Naive baselines sit beside it: a line in log compute across
the other families (``log-linear``), the other models' mean (``family-mean``) and the score of
the other families' model nearest in compute (``flat``, the "last value" of an unseen family)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import nnls

from assay.core import accepts_confidence, require_columns
from assay.errors import AssayError, InputError

from ._backtest import forecast_errors, skill_against
from ._noisy import binomial_se
from ._observational import capabilities, fit_link

__all__ = ["FamilyBacktest", "leave_family_out", "LOFO_METHODS"]

LOFO_METHODS = ("blend", "select", "observational", "log-linear")


@dataclass
class FamilyBacktest:
    """One row per held-out model (``heldout``: model, family, actual, prediction, low, high and
    each baseline's prediction), with the MAE, coverage, the baselines' MAE and the skill."""

    target: str
    method: str
    n_components: int
    level: float
    heldout: pd.DataFrame
    mae: float
    coverage: float
    width: float
    baselines: dict[str, float]
    skill: dict[str, float]
    families: list[str]
    skipped: dict[str, str]

    @property
    def n_heldout(self) -> int:
        return len(self.heldout)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": "leave-one-family-out",
            "target": self.target,
            "method": self.method,
            "n_components": self.n_components,
            "level": self.level,
            "n_heldout": self.n_heldout,
            "mae": self.mae,
            "coverage": self.coverage,
            "width": self.width,
            "baselines_mae": self.baselines,
            "skill": self.skill,
            "families": self.families,
            "skipped": self.skipped,
            "interval": "split-conformal over families left out inside the fit, scaled by each "
            "model's atypicality (distance from the PCs' plane) and compute gap (PC1 off the "
            "line in log compute), at least the held-out score's binomial noise",
            "heldout": self.heldout.to_dict(orient="records"),
        }


def _predictor(method: str, pcs, logc, y, floor, ceiling):
    """Fit ``method`` on (pcs, log compute, y); return a function of (pcs, log compute).
    ``observational:k`` uses the first k PCs."""
    if method == "log-linear":
        slope, icpt = np.polyfit(logc, y, 1)
        return lambda p, c: icpt + slope * c
    if method.startswith("blend"):
        a = _predictor("log-linear", pcs, logc, y, floor, ceiling)
        b = _predictor("observational" + method[5:], pcs, logc, y, floor, ceiling)
        return lambda p, c: 0.5 * (a(p, c) + b(p, c))
    k = int(method.split(":")[1])
    w, link = fit_link(pcs[:, :k], y, floor, ceiling)
    return lambda p, c: link(p[:, :k] @ w)


def _conformal_half_width(errors: np.ndarray, level: float) -> float:
    """Split-conformal rank ⌈(n+1)·level⌉ of n; beyond the sample, a normal tail on the RMS."""
    e = np.sort(np.abs(errors[np.isfinite(errors)]))
    if e.size == 0:
        return np.inf
    rank = int(np.ceil((e.size + 1) * level))
    if rank <= e.size:
        return float(e[rank - 1])
    return float(stats.norm.ppf((1 + level) / 2) * np.sqrt(np.mean(e**2)) * 1.5)


def _inner_errors(method, fam, pcs, logc, y, floor, ceiling, traits=None):
    """Errors on each family's models when that family is left out of the fit (the rows given
    are the outer fit's), and (with ``traits``) those models' rows of it."""
    out, where = [], []
    for g in np.unique(fam):  # one refit per inner family
        test = fam == g
        try:
            f = _predictor(method, pcs[~test], logc[~test], y[~test], floor, ceiling)
        except (AssayError, ValueError, np.linalg.LinAlgError):
            continue
        pred = f(pcs[test], logc[test])
        out.append((y[test] - pred) / _spread(pred))
        where.append(np.flatnonzero(test))
    errors = np.concatenate(out) if out else np.zeros(0)
    if traits is None:
        return errors
    return errors, traits[np.concatenate(where)] if where else traits[:0]


def _scale_fit(errors: np.ndarray, traits: np.ndarray):
    """s(traits) = c0 + traits·c fitted to |error| by non-negative least squares: the error
    scale as a function of a model's traits (locally weighted conformal, Lei et al. 2018),
    floored at a tenth of the mean |error|; a constant (the mean) with fewer than 3 errors."""
    e = np.abs(np.asarray(errors, float))
    ok = np.isfinite(e) & np.isfinite(traits).all(axis=1)
    e, f = e[ok], traits[ok]
    mean = max(float(np.mean(e)) if e.size else 1.0, 1e-9)
    if e.size < 3:
        return lambda x: np.full(len(x), mean)
    coef, _ = nnls(np.column_stack([np.ones(len(e)), f]), e)
    return lambda x: np.maximum(
        coef[0] + np.nan_to_num(np.asarray(x, float)) @ coef[1:], 0.1 * mean
    )


def _traits(zb: np.ndarray, pcs: np.ndarray, comps: np.ndarray, logc: np.ndarray) -> np.ndarray:
    """Per model, what is known without its target score: the RMS distance of its standardised
    benchmarks from the PCs' plane (atypicality) and |PC1 − a line in log compute fitted across
    every model with compute| (compute gap; NaN without compute)."""
    atyp = np.sqrt(np.nanmean((zb - pcs @ comps) ** 2, axis=1))
    ok = np.isfinite(logc)
    gap = np.full(len(pcs), np.nan)
    if ok.sum() >= 2 and np.ptp(logc[ok]) > 0:
        slope, icpt = np.polyfit(logc[ok], pcs[ok, 0], 1)
        gap = np.abs(pcs[:, 0] - (icpt + slope * logc))
    return np.column_stack([atyp, gap])


def _spread(pred: np.ndarray) -> np.ndarray:
    """Scale of a bounded score's error at ``pred``: the Bernoulli sd √(p(1 − p)) (p kept in
    [0.02, 0.98]), as scores near 0 or 1 move less; errors are compared in these units."""
    p = np.clip(np.asarray(pred, float), 0.02, 0.98)
    return np.sqrt(p * (1 - p))


@accepts_confidence("level")
def leave_family_out(
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
    method: str = "blend",
    families: list[str] | None = None,
    n_items: float | None = None,
    level: float = 0.9,
) -> FamilyBacktest:
    """Leave each family of ``families`` (default: every family with a ``target`` score) out
    in turn, fit on the rest, predict its models (see the module docstring).

    ``method``: ``blend`` (default; it won the leave-one-family-out backtests on the public
    data, docs/forecast.md) averages observational scaling on ``n_components`` (2) PCs with the
    line in log compute fitted across the other families; ``select`` picks, for each held-out family, the candidate with the
    smallest error when each of the *other* families is left out in turn (observational scaling
    on the first 1 … ``n_components`` PCs, or a line in log compute); ``observational`` always
    uses ``n_components`` PCs; ``log-linear`` the line in log compute. Each held-out row states
    the method used."""
    if method not in LOFO_METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(LOFO_METHODS)}")
    if n_components is None:
        n_components = min(2, len(benchmarks))
    if not 1 <= n_components <= len(benchmarks):
        raise InputError(f"n_components must be from 1 to {len(benchmarks)}; got {n_components}")
    require_columns(data, [*benchmarks, target, compute, family])
    _, frame, pcs, comps, _, mu, sd = capabilities(data, benchmarks, n_components)
    zb = (frame[benchmarks].apply(pd.to_numeric, errors="coerce").to_numpy(float) - mu) / sd
    c = pd.to_numeric(frame[compute], errors="coerce").to_numpy(float)
    logc = np.log(np.where(c > 0, c, np.nan))
    traits = _traits(zb, pcs, comps, logc)
    y = pd.to_numeric(frame[target], errors="coerce").to_numpy(float)
    fam = frame[family].astype(str).to_numpy()
    has = np.isfinite(y) & np.isfinite(logc)
    names = frame[model].astype(str).to_numpy() if model in frame else frame.index.astype(str)
    todo = list(dict.fromkeys(fam[has])) if families is None else [str(f) for f in families]
    unknown = [f for f in todo if f not in set(fam[has])]
    if unknown:
        raise InputError(f"no models with {target!r} and {compute} in family {unknown[0]!r}")
    if len(set(fam[has])) < 3:
        raise InputError(
            f"leave-one-family-out needs models with {target!r} from at least 3 families "
            f"(one to hold out, two to fit and calibrate); got {len(set(fam[has]))}"
        )
    k = pcs.shape[1]
    candidates = {
        "select": [*(f"observational:{j}" for j in range(1, k + 1)), "log-linear"],
        "blend": [f"blend:{k}"],
        "observational": [f"observational:{k}"],
        "log-linear": ["log-linear"],
    }[method]
    rows, skipped = [], {}
    for f in todo:  # one outer fit per held-out family
        test, train = has & (fam == f), has & (fam != f)
        if train.sum() < pcs.shape[1] + 4:
            skipped[f] = f"too few models outside it ({int(train.sum())})"
            continue
        args = (pcs[train], logc[train], y[train], floor, ceiling)
        inner = {m: _inner_errors(m, fam[train], *args, traits[train]) for m in candidates}
        mae_in = {m: float(np.mean(np.abs(e))) if e.size else np.inf for m, (e, _) in inner.items()}
        chosen = min(mae_in, key=mae_in.get)
        try:
            predict = _predictor(chosen, *args)
        except (AssayError, ValueError, np.linalg.LinAlgError) as exc:
            skipped[f] = str(exc)
            continue
        inner, inner_traits = inner[chosen]
        pred = np.clip(predict(pcs[test], logc[test]), min(0.0, floor), 1.0)
        noise = stats.norm.ppf((1 + level) / 2) * binomial_se(pred, n_items)
        scale = _scale_fit(inner, inner_traits)
        q = _conformal_half_width(inner / scale(inner_traits), level)
        hw = np.maximum(q * scale(traits[test]) * _spread(pred), noise)
        slope, icpt = np.polyfit(logc[train], y[train], 1)
        nearest = np.abs(logc[train][None, :] - logc[test][:, None]).argmin(axis=1)
        rows.append(
            pd.DataFrame(
                {
                    "model": names[test],
                    "family": f,
                    "method": chosen,
                    "actual": y[test],
                    "prediction": pred,
                    "low": np.clip(pred - hw, min(0.0, floor), 1.0),
                    "high": np.clip(pred + hw, min(0.0, floor), 1.0),
                    "flat": y[train][nearest],
                    "log-linear": icpt + slope * logc[test],
                    "family-mean": float(np.mean(y[train])),
                }
            )
        )
    if not rows:
        raise InputError(f"no family could be left out: {'; '.join(skipped.values())}")
    table = pd.concat(rows, ignore_index=True)
    mae, _, cover = forecast_errors(
        table["actual"], table["prediction"], table["low"], table["high"]
    )
    base = {
        k: float(np.mean(np.abs(table[k] - table["actual"])))
        for k in ("flat", "log-linear", "family-mean")
    }
    return FamilyBacktest(
        target,
        method,
        int(pcs.shape[1]),
        level,
        table,
        mae,
        cover,
        float(np.mean(table["high"] - table["low"])),
        base,
        skill_against(mae, base),
        list(dict.fromkeys(table["family"])),
        skipped,
    )
