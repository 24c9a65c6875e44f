"""Retrieval metrics (issue 35, item 5): NDCG@k, MRR and recall@k with graded relevance, per
query, against worked examples and sklearn.metrics.ndcg_score; end to end through a YAML task
(a multiple-choice task whose documents grade the choices), `assay import samples --metric`
and `assay compare --json`."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from fake_backend import FakeBackend, answer_key
from typer.testing import CliRunner

from assay.cli import app
from assay.core import metric_info, ndcg, pad_lists, recall_at_k, reciprocal_rank
from assay.errors import InputError
from assay.runner import evaluate
from assay.store import open_store
from assay.tasks import load_task


def test_ndcg_worked_example():
    # grades in ranked order 3, 2, 3, 0, 1, 2: DCG = 3 + 2/log2 3 + 3/2 + 0 + 1/log2 6 + 2/log2 7;
    # ideal order 3, 3, 2, 2, 1, 0: IDCG = 3 + 3/log2 3 + 2/2 + 2/log2 5 + 1/log2 6
    dcg = 3 + 2 / math.log2(3) + 1.5 + 1 / math.log2(6) + 2 / math.log2(7)
    idcg = 3 + 3 / math.log2(3) + 1 + 2 / math.log2(5) + 1 / math.log2(6)
    assert dcg == pytest.approx(6.861127, abs=1e-6) and idcg == pytest.approx(7.140995, abs=1e-6)
    rel = [[3, 2, 3, 0, 1, 2]]
    assert ndcg(rel)[0] == pytest.approx(dcg / idcg, abs=1e-12)
    assert ndcg(rel)[0] == pytest.approx(0.960808, abs=1e-6)
    # top 3: (3 + 2/log2 3 + 3/2) / (3 + 3/log2 3 + 1)
    top3 = (3 + 2 / math.log2(3) + 1.5) / (3 + 3 / math.log2(3) + 1)
    assert ndcg(rel, k=3)[0] == pytest.approx(top3, abs=1e-12)


def test_ndcg_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(35)
    rel = rng.integers(0, 4, size=(80, 9)).astype(float)
    rel[0] = 0  # a query without a relevant candidate: 0, as sklearn
    scores = rng.normal(size=(80, 9))  # no ties
    for k in (None, 1, 3, 5, 9, 20):
        ours = ndcg(rel, scores, k=k)
        ref = [metrics.ndcg_score(rel[i : i + 1], scores[i : i + 1], k=k) for i in range(80)]
        assert ours == pytest.approx(ref, abs=1e-12)
        assert ours.mean() == pytest.approx(metrics.ndcg_score(rel, scores, k=k), abs=1e-12)


def test_mrr_recall_and_ragged_queries_by_hand():
    # three queries of 4, 2 and 3 candidates, already in ranked order
    rel = pad_lists([[0, 0, 2, 1], [1, 0], [0, 0, 0]])
    assert np.isnan(rel[1, 2:]).all() and rel.shape == (3, 4)
    assert reciprocal_rank(rel).tolist() == [1 / 3, 1.0, 0.0]
    assert recall_at_k(rel, k=3).tolist() == [0.5, 1.0, 0.0]
    assert recall_at_k(rel, k=1).tolist() == [0.0, 1.0, 0.0]
    # the same first query ranked by scores: 2 (score .9), 0 (.5), 1 (.4), 0 (.1)
    scores = pad_lists([[0.5, 0.1, 0.9, 0.4], [0.0, 1.0], [1, 2, 3]])
    assert reciprocal_rank(rel, scores).tolist() == [1.0, 0.5, 0.0]
    assert recall_at_k(rel, scores, k=1).tolist() == [0.5, 0.0, 0.0]
    # top 2 grades 2, 0 over the ideal 2, 1: 2 / (2 + 1/log2 3); second: 1/log2 3 over 1
    expected = [2 / (2 + 1 / math.log2(3)), 1 / math.log2(3), 0.0]
    assert ndcg(rel, scores, k=2) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(InputError, match=">= 0"):
        ndcg([[1, -1]])
    with pytest.raises(InputError, match="whole number"):
        recall_at_k([[1, 0]], k=0)


def test_registry_declares_the_retrieval_metrics():
    for name in ("ndcg", "mrr", "ndcg@10", "recall@5"):
        info = metric_info(name)
        assert info.higher_is_better and info.bounds == (0.0, 1.0)
        assert info.interval == "clustered"
    assert "top 5" in metric_info("recall@5").description


TASK = """
name: rerank
request_type: multiple_choice
templates: {default: "Which passage answers: {{ question }}?"}
choices: "{{ passages }}"
target: "{{ best }}"
metrics:
  ndcg@2: {}
  recall@1: {}
docs:
"""


def _task_file(tmp_path, n=24):
    rng = np.random.default_rng(5)
    lines = []
    for i in range(n):
        grades = rng.integers(0, 4, size=4).tolist()
        grades[i % 4] = 3
        passages = [f"passage {i}-{j} {'x' * j}" for j in range(4)]
        lines.append(
            f"  - {{doc_id: q{i}, question: 'q{i}', passages: {json.dumps(passages)}, "
            f"best: {int(np.argmax(grades))}, relevance: {grades}}}"
        )
    path = tmp_path / "rerank.yaml"
    path.write_text(TASK + "\n".join(lines) + "\n")
    return path


def test_a_yaml_task_with_graded_choices_scores_the_ranking(tmp_path):
    metrics = pytest.importorskip("sklearn.metrics")
    task = load_task(_task_file(tmp_path))
    store_path = tmp_path / "s.duckdb"
    key = answer_key(task.instances())  # the fakes know the best passage of a share of queries
    for name, skill in (("alpha", 0.2), ("beta", 0.9)):
        fake = FakeBackend(name, answers=key, skill=skill)
        evaluate(fake, task, store=store_path, progress=False)
    samples = open_store(store_path).samples()
    relevance = {d.doc_id: d.fields["relevance"] for d in task.docs}
    expected = {}
    for model, sub in samples.groupby("model"):
        per_doc = []
        for row in sub.to_dict("records"):
            shown = [relevance[row["doc_id"]][i] for i in row["choice_order"]]
            rel, lp = np.array([shown], float), np.array([row["choice_logprobs"]], float)
            per_doc.append(
                (
                    metrics.ndcg_score(rel, lp),
                    metrics.ndcg_score(rel, lp, k=2),
                    1.0 / (1 + np.flatnonzero(rel[0][np.argsort(-lp[0])] > 0)[0]),
                )
            )
            assert row["metric.ndcg@2"] == pytest.approx(per_doc[-1][1])
        expected[model] = np.mean(per_doc, axis=0)
    for j, metric in enumerate(("ndcg", "ndcg@2", "mrr", "recall@1")):
        args = ["compare", "--store", str(store_path), "--metric", metric, "--json"]
        out = CliRunner().invoke(app, args)
        assert out.exit_code == 0, out.output
        got = {r["model"]: r for r in json.loads(out.output)["scores"]}
        assert set(got) == {"alpha", "beta"}
        if j < 3:
            for model, row in got.items():
                assert row["mean"] == pytest.approx(expected[model][j], abs=1e-12)
        pairs = json.loads(out.output)["pairs"]
        assert len(pairs) == 1 and pairs[0]["metric"] == metric
    assert expected["beta"][0] > expected["alpha"][0]  # the more skilled fake ranks better
    # the task's declaration of recall@1 kept the built-in definition
    assert metric_info("recall@1", task.metrics) == metric_info("recall@1")


def test_a_bad_relevance_field_is_one_line_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        TASK + "  - {doc_id: a, question: q, passages: [x, y], best: 0, relevance: [1]}\n"
    )
    with pytest.raises(InputError, match="'relevance' must list one grade >= 0 per choice"):
        load_task(path).instances()


def test_import_samples_computes_ndcg_from_relevance_lists(tmp_path):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(9)
    rows, refs = [], {}
    for model in ("bm25", "dense"):
        for i in range(40):
            size = int(rng.integers(3, 7))
            rel = rng.integers(0, 3, size=size).tolist()
            score = rng.normal(size=size).round(6).tolist()
            rel_text, score_text = json.dumps(rel), json.dumps(score)
            rows.append(
                {
                    "model": model,
                    "task": "msmarco",
                    "doc_id": f"q{i}",
                    "relevance": rel_text,
                    "scores": score_text,
                }
            )
            refs.setdefault(model, []).append(
                metrics.ndcg_score([rel], [score], k=3) if any(rel) else 0.0
            )
    path = tmp_path / "runs.jsonl"
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)
    store = str(tmp_path / "s.duckdb")
    runner = CliRunner()
    args = ["import", "samples", str(path), "--store", store]
    for metric in ("ndcg@3", "mrr", "recall@2"):
        args += ["--metric", metric]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    out = runner.invoke(app, ["compare", "--store", store, "--metric", "ndcg@3", "--json"])
    assert out.exit_code == 0, out.output
    for row in json.loads(out.output)["scores"]:
        assert row["mean"] == pytest.approx(np.mean(refs[row["model"]]), abs=1e-12)
        assert row["n"] == 40
