"""Intervals of a bounded metric stay inside its bounds in every table of means by metric
(breakdown, benchmark groups, worst-case robustness), as compare's do: a [0, 1] score at 0.01
over 20 questions has a t-interval whose lower end would be negative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from assay.core import MetricInfo
from assay.stats import breakdown, pooled_mean, robustness

# 19 zeros and one 0.2: mean 0.01, SE 0.01 (sample sd √0.002 over √20), not 0/1 so a t-interval
VALUES = np.array([0.2] + [0.0] * 19)
MEAN, SE = 0.01, 0.01
T = sps.t.ppf(0.975, 19)  # 2.093: the raw interval is 0.01 ± 0.0209, so its low end is < 0


def _scores(metric: str, task: str = "t") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": "m",
            "task": task,
            "run_id": "r",
            "doc_id": [f"d{i}" for i in range(VALUES.size)],
            "repeat": 0,
            "template_id": "x",
            "cluster_id": None,
            "difficulty": 1,
            "metric": metric,
            "value": VALUES,
        }
    )


def test_the_known_answer_before_clipping():
    assert VALUES.mean() == pytest.approx(MEAN) and VALUES.std(ddof=1) / np.sqrt(20) == (
        pytest.approx(SE)
    )
    assert MEAN - T * SE < 0


def test_group_mean_of_a_unit_metric_stays_in_zero_one():
    est = pooled_mean(_scores("acc"), ["t"], "acc")
    assert est.mean == pytest.approx(MEAN)
    assert est.ci_low == 0.0  # the bound, not 0.01 − 0.0209
    assert est.ci_high == pytest.approx(MEAN + T * SE)


def test_group_mean_of_a_declared_bounded_metric_and_of_an_unbounded_one():
    declared = {"score": MetricInfo("score", True, bounds=(0.0, 1.0))}
    assert pooled_mean(_scores("score"), ["t"], "score", metrics=declared).ci_low == 0.0
    free = pooled_mean(_scores("score"), ["t"], "score")  # no bounds known: left as is
    assert free.ci_low == pytest.approx(MEAN - T * SE)


def test_breakdown_group_interval_stays_in_zero_one():
    row = breakdown(_scores("acc"), "difficulty", n_permutations=10).groups.iloc[0]
    assert row["mean"] == pytest.approx(MEAN)
    assert row["ci_low"] == 0.0 and row["ci_high"] == pytest.approx(MEAN + T * SE)


def test_worst_case_interval_stays_in_zero_one():
    clean = _scores("acc")
    clean["value"] = 1.0
    perturbed = _scores("acc", task="t+typos")  # every document's worst case is this score
    worst = robustness(pd.concat([clean, perturbed], ignore_index=True)).worst.iloc[0]
    assert worst["worst"] == pytest.approx(MEAN)
    assert worst["ci_low"] == 0.0 and worst["ci_high"] == pytest.approx(MEAN + T * SE)
