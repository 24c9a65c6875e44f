"""A metric's interval on its own scale and inside its bounds — the one place this is done, for
every table of means by metric (compare, breakdown, benchmark groups, worst-case robustness)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from assay.core import MetricInfo

from ._estimators import MeanEstimate, mean_ci

__all__ = ["metric_interval", "metric_mean_ci"]


def metric_interval(est: Any, info: MetricInfo) -> tuple[float, float, str]:
    """``(low, high, method)``: the interval of ``est`` (any object with ``mean``, ``stderr``,
    ``ci_low``, ``ci_high``, ``method``) on the metric's scale: for a log-scale metric
    (perplexity) the delta method on log(mean), SE(log m) = SE/m, so mean · exp(±q · SE / mean)
    — positive and right-skewed — with the same quantile q as the symmetric interval. Either way
    the interval stays inside the metric's ``bounds`` (a t-interval of a mean of values in
    [0, 1] near an end would otherwise leave them)."""
    if not info.log_scale or not (est.mean > 0 and est.stderr > 0):
        low, high, method = est.ci_low, est.ci_high, est.method
    else:
        q = (est.ci_high - est.mean) / est.stderr
        spread = math.exp(q * est.stderr / est.mean)
        low, high, method = est.mean / spread, est.mean * spread, f"{est.method}+log"
    if info.bounds is not None:
        low, high = max(low, info.bounds[0]), min(high, info.bounds[1])
    return low, high, method


def metric_mean_ci(values, info: MetricInfo, *, clusters=None, alpha: float = 0.05) -> MeanEstimate:
    """:func:`mean_ci` of ``values`` of the metric ``info``, its interval from
    :func:`metric_interval` (on the metric's scale, inside its bounds)."""
    est = mean_ci(values, clusters=clusters, alpha=alpha)
    low, high, method = metric_interval(est, info)
    return replace(est, ci_low=low, ci_high=high, method=method)
