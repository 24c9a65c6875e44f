"""Chance levels: the score a model gets by guessing, which every score is read against."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from assay.core import MetricMap, metric_info

from ._compare import SCORE_COLUMNS, Comparison

__all__ = ["chance_levels", "chance_test", "chance_tests", "headline_chance"]

#: The test :func:`chance_test` uses, by the score's interval method.
EXACT = "exact binomial"
EXACT_CLUSTERED = "exact binomial on the design-effect n"
NO_TEST = "none (no spread: SE 0)"


def chance_levels(samples: pd.DataFrame) -> dict[str, float]:
    """Per task, the accuracy of guessing uniformly: the mean over its samples of
    1 / number of choices (from the stored per-choice log-likelihoods)."""
    if samples.empty or "choice_logprobs" not in samples:
        return {}
    sizes = samples["choice_logprobs"].map(
        lambda c: len(c) if isinstance(c, list | tuple | np.ndarray) and len(c) else np.nan
    )
    frame = pd.DataFrame({"task": samples["task"], "inv": 1.0 / sizes.astype(float)}).dropna()
    frame = frame[np.isfinite(frame["inv"])]
    return {str(k): float(v) for k, v in frame.groupby("task")["inv"].mean().items()}


def headline_chance(
    headline: dict[str, str],
    samples: pd.DataFrame,
    metrics: MetricMap | None = None,
    *,
    levels: dict[str, float] | None = None,
) -> dict[str, float]:
    """Per task, its headline metric's score of guessing: the registry's fixed chance
    (``metric_info(m, metrics).chance``, ``metrics`` the store's definitions), else for an accuracy (``acc*``) of a multiple-choice task
    :func:`chance_levels` (of ``samples``, or ``levels`` when given: the same computed
    elsewhere, e.g. in SQL). Tasks with neither are left out."""
    by_choices = chance_levels(samples) if levels is None else levels
    out = {}
    for task, metric in headline.items():
        fixed = metric_info(metric, metrics).chance
        if fixed is not None:
            out[task] = float(fixed)
        elif metric.startswith("acc") and task in by_choices:
            out[task] = float(by_choices[task])
    return out


def chance_test(
    mean: float,
    n: float,
    chance: float,
    *,
    stderr: float = math.nan,
    method: str = "",
    n_effective: float = math.nan,
) -> tuple[float, str]:
    """Two-sided p-value of "the score is the chance level", and the test's name.

    A 0/1 score read with a Wilson interval (``method`` "wilson") is k = round(mean · n)
    successes in n independent trials: the exact two-sided binomial test against ``chance``
    (``scipy.stats.binomtest``). With clusters ("wilson-betabinomial") the same exact test on the
    design-effect n (``n_effective``, Kish; k = round(mean · n_eff) of round(n_eff)). Other
    scores (repeats averaged, non-binary) get a two-sided z-test of (mean − chance) / SE; with
    SE 0 or unknown there is no test (p NaN) — never a p-value from a zero standard error.
    """
    if not (np.isfinite(mean) and np.isfinite(chance) and 0 <= chance <= 1):
        return math.nan, NO_TEST
    if method.startswith("wilson") and "+" not in method:
        trials = n if method == "wilson" else n_effective
        if np.isfinite(trials) and trials >= 1:
            m = max(int(round(float(trials))), 1)
            k = min(max(int(round(float(mean) * m)), 0), m)
            p = float(sps.binomtest(k, m, float(chance)).pvalue)
            return min(p, 1.0), EXACT if method == "wilson" else EXACT_CLUSTERED
    if np.isfinite(stderr) and stderr > 0:
        test = "clustered z-test" if "clustered" in method else "z-test"
        return float(2 * sps.norm.sf(abs(mean - chance) / stderr)), test
    return math.nan, NO_TEST


def chance_tests(
    comp: Comparison, chance: dict[str, float], headline: dict[str, str] | None = None
) -> pd.DataFrame:
    """Each model's score (on each task's ``headline`` metric, else every compared metric)
    against the task's ``chance`` level by :func:`chance_test`: model, task, metric, n, mean,
    stderr, ci_low, ci_high, chance, p_value, test."""
    cols = [*SCORE_COLUMNS[:-1], "chance", "p_value", "test"]  # the score row, method → test
    s = comp.scores[comp.scores["task"].isin(list(chance))]
    if headline is not None:
        s = s[s["metric"].to_numpy() == s["task"].map(headline).to_numpy()]
    if s.empty:
        return pd.DataFrame(columns=cols)
    eff = comp.effective_n
    if len(eff):
        s = s.merge(eff, on=["model", "task", "metric"], how="left")
    else:
        s = s.assign(n_effective=np.nan)
    s = s.assign(chance=s["task"].map(chance).astype(float))
    tested = [
        chance_test(
            r.mean, r.n, r.chance, stderr=r.stderr, method=str(r.method), n_effective=r.n_effective
        )
        for r in s.itertuples(index=False)
    ]
    s = s.assign(p_value=[t[0] for t in tested], test=[t[1] for t in tested])
    return s[cols].reset_index(drop=True)
