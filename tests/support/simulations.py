"""Fixed-seed generators shared by a benchmark and the tests that pin its small version: one
home each (benchmarks import this folder through benchmarks/_support.py).

- :func:`onebench`, :func:`onebench_scores`: sparse rankings whose subsets are confounded with
  difficulty (benchmarks/sparse_design.py, tests/rank/test_sparse_design.py);
- :func:`pate_cases`: the twelve anomaly series scored by the reference PATE
  (benchmarks/pate_reference.py, tests/metrics/test_anomaly.py);
- :func:`score_law_coverage`: coverage of the default score forecaster's interval on a known
  law with binomial noise (benchmarks/forecast_heldout.py, tests/forecast/test_params_plus_two.py);
- :func:`optional_feature_records`: samples carrying every optional report panel's input
  (benchmarks/report_scale.py --features, tests/report/test_feature_reads.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit


def onebench(
    seed: int,
    near: bool,
    keep: float,
    *,
    models: int = 50,
    tasks: int = 20,
    per_task: int = 100,
    runs_per_model: int = 6,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ONEBench's setting: abilities θ ~ N(0, 1), task difficulties d_t ~ N(0, 1), a sample's
    b = d_t + N(0, 0.5²), P(right) = σ(θ − b). Each model runs ``runs_per_model`` tasks, chosen
    near its ability (score −(θ − d_t)² + Gumbel noise) when ``near``, else at random, and keeps
    a random ``keep`` share of each task's samples. Returns (models × samples scores with NaN
    where not run, θ, each sample's task index)."""
    rng = np.random.default_rng(seed)
    k, t, per = models, tasks, per_task
    theta, d = rng.normal(0, 1, k), rng.normal(0, 1, t)
    b = np.repeat(d, per) + rng.normal(0, 0.5, t * per)
    task = np.repeat(np.arange(t), per)
    pull = -((theta[:, None] - d[None, :]) ** 2) if near else np.zeros((k, t))
    pick = np.argsort(-(pull + rng.gumbel(size=(k, t))), axis=1)[:, :runs_per_model]
    runs = np.zeros((k, t), bool)
    runs[np.arange(k)[:, None], pick] = True
    x = (rng.random((k, t * per)) < expit(theta[:, None] - b[None, :])).astype(float)
    x[~(runs[:, task] & (rng.random((k, t * per)) < keep))] = np.nan
    return x, theta, task


def onebench_scores(x: np.ndarray, task: np.ndarray, one_label: bool = False) -> pd.DataFrame:
    """The tidy score frame of :func:`onebench`'s matrix (models m00.., tasks t00.., or every
    sample under one task "t" when ``one_label``)."""
    m, s = np.nonzero(~np.isnan(x))
    return pd.DataFrame(
        {
            "model": [f"m{i:02d}" for i in m],
            "task": "t" if one_label else [f"t{j:02d}" for j in task[s]],
            "doc_id": s.astype(str),
            "metric": "acc",
            "value": x[m, s],
        }
    )


def pate_cases() -> list[tuple[np.ndarray, np.ndarray, int, int]]:
    """Twelve random series (every third with tied scores): (labels, scores, early buffer,
    delay buffer)."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(12):
        t = int(rng.integers(60, 400))
        y = np.zeros(t, int)
        for _ in range(int(rng.integers(1, 5))):
            a = int(rng.integers(0, t - 10))
            y[a : a + int(rng.integers(1, 15))] = 1
        s = rng.random(t) + 0.8 * y * rng.random(t)
        if i % 3 == 0:
            s = np.round(s, 1)
        out.append((y, s, int(rng.integers(0, 30)), int(rng.integers(0, 30))))
    return out


def score_law_coverage(
    n_items: int, given: bool, *, reps: int = 200, seed: int = 11, level: float = 0.9
) -> float:
    """Pythia-like design: 8 sizes 70M–12B, fit the 5 smallest, predict the 3 largest; the
    score's error above chance 0.25 is 0.7·(x/7e7)^−0.15 and each score is binomial over
    ``n_items``. The mean coverage of ``backtest_score``'s ``level`` interval over ``reps``
    simulated families (``n_items`` passed to it when ``given``)."""
    from assay.forecast import backtest_score

    sizes = np.geomspace(7e7, 1.2e10, 8)
    truth = 1 - 0.75 * 0.7 * (sizes / 7e7) ** -0.15
    rng = np.random.default_rng(seed)
    inside = []
    for _ in range(reps):  # one tiny fit per simulated family
        score = rng.binomial(n_items, truth) / n_items
        data = pd.DataFrame({"params": sizes, "score": score})
        bt = backtest_score(
            data,
            x="params",
            y="score",
            holdout_above=1.5e9,
            floor=0.25,
            n_items=n_items if given else None,
            level=level,
        )
        inside.append(bt.coverage)
    return float(np.mean(inside))


def optional_feature_records(
    models: Sequence[tuple[str, float]], docs: int, probes: int, rng, prefix: str = ""
) -> list:
    """Samples with every optional report panel's input, for ``models`` ((name, accuracy)
    pairs): a 4-choice task ``{prefix}mc`` asked twice (positions, choice log-likelihoods,
    difficulty; latency for the first model only), its perturbed copy ``{prefix}mc+typos`` and
    ``probes`` fairness probe pairs in ``{prefix}probe``."""
    from assay.store import SampleRecord

    out = []
    for i, (model, acc) in enumerate(models):
        for repeat in (0, 1):
            for d in range(docs):
                logits = rng.normal(0, 1, 4)
                out.append(
                    SampleRecord(
                        run_id=f"{model}|{prefix}mc",
                        model=model,
                        task=f"{prefix}mc",
                        doc_id=f"mc-{d:04d}",
                        repeat=repeat,
                        prediction="A",
                        target="A",
                        chosen_position=int(rng.integers(0, 4)),
                        choice_logprobs=list(logits - np.log(np.exp(logits).sum())),
                        difficulty=float(d % 3),
                        input_tokens=10 + d % 9,
                        output_tokens=1,
                        latency_s=0.01 + 0.001 * (d % 7) if i == 0 else None,
                        metrics={"acc": float(rng.random() < acc)},
                    )
                )
        for d in range(docs):
            out.append(
                SampleRecord(
                    run_id=f"{model}|{prefix}mc+typos",
                    model=model,
                    task=f"{prefix}mc+typos",
                    doc_id=f"mc-{d:04d}",
                    metrics={"acc": float(rng.random() < acc - 0.1)},
                )
            )
        for p in range(probes):
            for group in ("female", "male"):
                out.append(
                    SampleRecord(
                        run_id=f"{model}|{prefix}probe",
                        model=model,
                        task=f"{prefix}probe",
                        doc_id=f"gender/qa{p}/{group}",
                        metrics={"p_correct": float(rng.random())},
                    )
                )
    return out
