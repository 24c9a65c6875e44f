"""Issue 13, "wrong today" items 1, 5, 6, 7, 8: each number as assay computes it now, beside
the target (and, where it helps, what the old computation gave). Uses the deterministic fake
backend of the tests (tests/support/fake_backend.py); runs in ~20 s.

    python benchmarks/wrong_estimates.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from fake_backend import FakeBackend, answer_key  # noqa: E402

from assay.errors import InputError  # noqa: E402
from assay.forecast import fit_downstream, fit_law, table_from_store  # noqa: E402
from assay.runner import evaluate  # noqa: E402
from assay.stats import item_analysis, position_bias  # noqa: E402
from assay.store import open_store  # noqa: E402
from assay.tasks import load_task  # noqa: E402


def _store(tmp: Path, name: str, limit: int):
    task = load_task(name)
    instances = task.instances(limit=limit, permute_choices=2)
    fake = FakeBackend(answers=answer_key(instances), skill=0.5)
    evaluate(fake, task, store=tmp / f"{name}.duckdb", limit=limit, permute_choices=2,
             progress=False)  # fmt: skip
    return open_store(tmp / f"{name}.duckdb"), instances


def _old_gold(samples: pd.DataFrame) -> np.ndarray:
    """The old rule: numeric ``target`` looked up in ``choice_order``, else chosen if right."""
    target = pd.to_numeric(samples["target"], errors="coerce").to_numpy(float)
    orders = np.array([list(o) for o in samples["choice_order"]], dtype=float)
    hit = orders == target[:, None]
    gold = np.where(hit.any(axis=1), np.argmax(hit, axis=1), np.nan)
    right = samples["metric.acc"].to_numpy() == 1
    return np.where(np.isnan(gold) & right, samples["chosen_position"].to_numpy(float), gold)


def position_bias_rows(tmp: Path) -> None:
    print("1. position bias (fake backend, skill 0.5, 2 orderings)")
    for name, limit in (("arith_mc", 120), ("logic_tf", 120)):
        store, instances = _store(tmp, name, limit)
        table = position_bias(store.samples()).table
        gold = np.array([i.payload.target_position for i in instances])
        truth = np.bincount(gold, minlength=len(table))
        samples = store.samples()
        old = _old_gold(samples)
        print(f"   {name}: old rule (target text read as a choice index) gold counts "
              f"{'/'.join(str(int((old == p).sum())) for p in range(len(table)))}")  # fmt: skip
        print(f"   {name}: gold counts {'/'.join(map(str, table['gold']))}  "
              f"target (stored target_position) {'/'.join(map(str, truth))}")  # fmt: skip
        print(f"   {name}: accuracy by gold position "
              f"{'/'.join(f'{v:.2f}' for v in table['accuracy'])}")  # fmt: skip


def forecast_se_rows(tmp: Path) -> None:
    print("5. forecast table SE (arith_mc, 40 docs x 2 orderings)")
    store, _ = _store(tmp, "arith_mc", 40)
    scores = store.scores(task="arith_mc", metric="acc")
    row = table_from_store(store, task="arith_mc", metric="acc").iloc[0]
    per_doc = scores.groupby("doc_id")["value"].mean()
    print(f"   score_se {row['score_se']:.4f}  target (SE over documents) "
          f"{per_doc.std(ddof=1) / np.sqrt(len(per_doc)):.4f}  old (over samples) "
          f"{scores['value'].std(ddof=1) / np.sqrt(len(scores)):.4f}")  # fmt: skip


def no_spread_rows() -> None:
    print("6. law on five checkpoints with params = 1e8")
    data = pd.DataFrame({"params": [1e8] * 5, "loss": [3.1, 3.0, 2.9, 3.05, 2.95]})
    try:
        fit_law(data, "power", x="params", y="loss")
        print("   fitted (target: InputError)")
    except InputError as exc:
        print(f"   InputError: {exc}  (target: InputError, nothing fitted)")


def downstream_rows() -> None:
    print("7. downstream interval of an accuracy near its ceiling")
    rng = np.random.default_rng(0)
    c = np.geomspace(1e18, 1e22, 10)
    loss = 1.8 + 3 * (c / 1e18) ** -0.15 * np.exp(rng.normal(0, 0.01, 10))
    score = np.clip(0.25 + 0.75 / (1 + np.exp(-(3.5 - loss) * 4)) + rng.normal(0, 0.01, 10), 0, 1)
    fit = fit_downstream(pd.DataFrame({"flops": c, "loss": loss, "score": score}), bootstrap=50)
    high = fit.predict([1e22, 1e23, 1e24], level=0.95)["high"].max()
    fit.bounds = (-np.inf, np.inf)
    old = fit.predict([1e22, 1e23, 1e24], level=0.95)["high"].max()
    print(f"   max upper bound {high:.4f}  target <= 1  (unclipped: {old:.4f})")


def item_rows() -> None:
    print("8. item analysis, 30 models x 100 items (2PL), each model missing 7% of items")
    rng = np.random.default_rng(0)
    theta, a, b = rng.normal(size=30), rng.lognormal(0, 0.3, 100), rng.normal(size=100)
    x = (rng.random((30, 100)) < expit(a * (theta[:, None] - b))).astype(float)
    x[rng.random(x.shape) < 0.07] = np.nan
    long = pd.DataFrame(
        {"model": np.repeat([f"m{i}" for i in range(30)], 100), "task": "t",
         "doc_id": np.tile([f"q{j}" for j in range(100)], 30), "metric": "acc",
         "value": x.ravel()}
    ).dropna()  # fmt: skip
    kept = len(item_analysis(long).table)
    complete = int((~np.isnan(x)).all(axis=0).sum())
    print(f"   items kept {kept}  target 100  (complete-case, the old rule: {complete})")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        position_bias_rows(Path(d))
    with tempfile.TemporaryDirectory() as d:
        forecast_se_rows(Path(d))
    no_spread_rows()
    downstream_rows()
    item_rows()
