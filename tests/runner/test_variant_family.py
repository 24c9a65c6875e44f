"""One family of tests, one adjusted p per pair: ``assay eval``'s summary of a job of variants,
``stats.variant_differences``, ``assay compare --json`` and ``assay report --json`` give the
same Holm-adjusted p-value for the same pair, and each states what it adjusted over."""

from __future__ import annotations

import io
import json

import pytest
from fake_backend import FakeBackend, answer_key, unit
from rich.console import Console
from typer.testing import CliRunner

from assay import stats
from assay.cli import _common, app
from assay.cli import _eval_summary as summary_module
from assay.runner import evaluate
from assay.store import open_store
from assay.tasks import load_task

TASKS = ["arith_mc", "dates_mc", "sequence_rolling"]
LIMIT = 30
#: name: (share of the answer key it was given, skill) — three variants that flip both ways.
VARIANTS = {"first": (1.0, 0.5), "second": (0.9, 0.85), "third": (0.8, 0.3)}


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    path = tmp_path_factory.mktemp("variants") / "assay.duckdb"
    key = answer_key(i for t in TASKS[:2] for i in load_task(t).instances(limit=LIMIT))
    results = []
    for name, (share, skill) in VARIANTS.items():
        answers = {c: a for c, a in key.items() if unit(name, c) < share}
        fake = FakeBackend(name, answers=answers, skill=skill)
        results.append(evaluate(fake, TASKS, store=path, limit=LIMIT, progress=False))
    assert [r.model for r in results] == list(VARIANTS)
    return path, results


def _cells(text: str) -> list[list[str]]:
    """The body rows of the Rich tables in ``text``, as stripped cells."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines() if "│" in line]


def _key(row: dict, a: str = "model_a", b: str = "model_b") -> tuple[str, frozenset[str]]:
    return row["task"], frozenset((row[a], row[b]))


def test_eval_compare_and_report_give_one_adjusted_p_per_pair(job, tmp_path, monkeypatch):
    path, results = job
    models = list(VARIANTS)
    n_pairs = len(TASKS) * 3  # every pair of 3 models on each task: the family
    diffs = stats.variant_differences(open_store(path).analysis_scores(), models=models)
    assert diffs.family.size == n_pairs and diffs.family.correction == "holm"
    assert (diffs.family.models, diffs.family.tasks) == (3, len(TASKS))
    assert len(diffs.table) == len(TASKS) * 2  # the two later variants against "first"
    assert set(diffs.table["reference"]) == {"first"}
    # the rolling task is compared on its corpus perplexity, as compare and the report do
    assert diffs.headline["sequence_rolling"] == "word_perplexity"

    # assay eval's summary: the same object, printed
    summary = summary_module.eval_summary(open_store(path), results)
    assert summary.differences.table["p_adjusted"].tolist() == diffs.table["p_adjusted"].tolist()
    wide = Console(file=io.StringIO(), width=240, color_system=None)
    monkeypatch.setattr(_common, "console", wide)
    monkeypatch.setattr(summary_module, "console", wide)
    summary_module.print_eval_summary(summary, verbose_table=None)
    text = wide.file.getvalue()
    assert f"Holm-adjusted over {n_pairs} comparisons" in text
    printed = {(c[2], c[0]): c[5] for c in _cells(text) if len(c) == 7 and c[1] == "first"}
    assert len(printed) == len(diffs.table)

    runner = CliRunner()
    out = runner.invoke(app, ["compare", "--store", str(path), "--json"])
    assert out.exit_code == 0, out.output
    compared = json.loads(out.output)
    assert compared["family"]["size"] == n_pairs
    assert f"over {n_pairs} comparisons" in compared["family"]["statement"]
    compare_p = {_key(r): r["p_adjusted"] for r in compared["pairs"]}

    out = runner.invoke(
        app, ["report", "--store", str(path), "-o", str(tmp_path / "r.html"), "--json"]
    )
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    pairs = next(p for p in report["panels"] if p["key"] == "pairs")
    assert pairs["data"]["family"]["size"] == n_pairs
    report_p = {_key(r): r["p_adjusted"] for r in pairs["data"]["pairs"]}
    sentences = [f["text"] for f in report["findings"] if f["kind"] == "pair"]
    assert len(sentences) == n_pairs
    assert all("Holm-adjusted p" in s and f"over {n_pairs} comparisons" in s for s in sentences)

    assert len(compare_p) == len(report_p) == n_pairs
    tested = [p for p in compare_p.values() if p is not None]
    assert len(tested) == n_pairs and min(tested) < 0.05  # a real family, some pair significant
    for row in diffs.table.itertuples():
        pair = (row.task, frozenset((row.variant, row.reference)))
        assert compare_p[pair] == report_p[pair] == row.p_adjusted
        assert printed[(row.task, row.variant)] == f"{row.p_adjusted:.3g}"
