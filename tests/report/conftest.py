"""A store the tests generate: 4 models × 2 tasks of synthetic multiple-choice answers with
known accuracies, model sizes, a parent/child pair, and Bradley–Terry-simulated battles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.store import Store, make_run_id

MODELS = {  # name: (accuracy on "arith", accuracy on "facts", params)
    "tiny-10m": (0.35, 0.30, 1.0e7),
    "small-100m": (0.50, 0.45, 1.0e8),
    "base-1b": (0.68, 0.60, 1.0e9),
    "large-10b": (0.80, 0.74, 1.0e10),
    "xl-30b": (0.84, 0.79, 3.0e10),
}
CHOICES = ["A", "B", "C", "D"]


def make_store(
    path,
    *,
    n_docs: int = 120,
    seed: int = 7,
    battles: int = 300,
    sizes: bool = True,
    repeats: int = 1,
) -> Store:
    """Write the synthetic store at ``path`` and return it."""
    rng = np.random.default_rng(seed)
    store = Store(path)
    records = []
    for t, task in enumerate(["arith", "facts"]):
        targets = rng.integers(0, 4, n_docs)
        easy = rng.normal(0, 1, n_docs)  # shared difficulty: answers correlate across models
        for name, spec in MODELS.items():
            acc = spec[t]
            p = 1 / (1 + np.exp(-(np.log(acc / (1 - acc)) + 0.8 * easy)))
            run_id = make_run_id(name, task)
            store.upsert_run({"run_id": run_id, "model": name, "task": task})
            for i in (r * n_docs + j for r in range(repeats) for j in range(n_docs)):
                if i % n_docs == 0:  # a fresh draw of answers per repeat
                    correct = rng.random(n_docs) < p
                    wrong = (targets + rng.integers(1, 4, n_docs)) % 4
                    chosen = np.where(correct, targets, wrong)
                repeat, i = divmod(i, n_docs)
                records.append(
                    {
                        "run_id": run_id,
                        "model": name,
                        "task": task,
                        "repeat": repeat,
                        "doc_id": f"{task}-{i:03d}",
                        "prompt": f"Question {i} of {task}: which letter? <b>{i}</b>",
                        "target": CHOICES[targets[i]],
                        "prediction": CHOICES[chosen[i]],
                        "chosen_position": int(chosen[i]),
                        "choice_order": [0, 1, 2, 3],
                        "metrics": {"acc": float(correct[i])},
                    }
                )
    store.write_samples(records)
    meta = [
        {"model": m, "params": spec[2], "tokens": 20 * spec[2], "flops": 120 * spec[2] ** 2}
        for m, spec in MODELS.items()
    ]
    meta[3]["parent"] = "base-1b"
    if sizes:
        store.upsert_models(meta)
    if battles:
        names = list(MODELS)
        strength = np.array([0.0, 0.5, 1.0, 1.6, 1.8])
        k = len(names)
        a = rng.integers(0, k, battles)
        b = (a + rng.integers(1, k, battles)) % k
        pa = 1 / (1 + np.exp(strength[b] - strength[a]))
        u = rng.random(battles)
        winner = np.where(u < 0.1, "tie", np.where(rng.random(battles) < pa, "model_a", "model_b"))
        store.add_battles(
            pd.DataFrame(
                {
                    "model_a": np.array(names)[a],
                    "model_b": np.array(names)[b],
                    "winner": winner,
                    "judge": "sim",
                    "prompt_id": [f"p{i}" for i in range(battles)],
                }
            )
        )
    return store


@pytest.fixture(scope="session")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "assay.duckdb"
    make_store(path)
    return path


@pytest.fixture(scope="session")
def plain_store_path(tmp_path_factory):
    """Same answers and battles, no model sizes (no scaling fits: quick to render)."""
    path = tmp_path_factory.mktemp("plain") / "assay.duckdb"
    make_store(path, sizes=False)
    return path


@pytest.fixture(scope="session")
def report_data(store_path):
    from assay.report import build_report

    return build_report(store_path, scaling_bootstrap=2, max_docs=50)


@pytest.fixture(scope="session")
def report_file(report_data, tmp_path_factory):
    from assay.report import render_report

    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(report_data, max_docs=50), encoding="utf-8")
    return path
