"""The report's "Stopped comparisons" panel for ``assay eval --until-decided`` runs."""

from __future__ import annotations

from fake_backend import FakeBackend, answer_key

from assay.report import build_report, render_report
from assay.runner import evaluate, evaluate_until_decided
from assay.stats import sequential_test
from assay.tasks import load_task

TASK = "arith_mc"


def fake(name: str, skill: float) -> FakeBackend:
    return FakeBackend(name, answers=answer_key(load_task(TASK).instances()), skill=skill)


def test_panel_shows_the_stopped_comparison(tmp_path):
    path = tmp_path / "s.duckdb"
    a, b = fake("a<b>", 0.9), fake("b", 0.2)
    out = evaluate_until_decided(
        a, b, TASK, decide=sequential_test, store=path, every=25, progress=False
    )
    report = build_report(path, bootstrap=10, scaling_bootstrap=5)
    panel = report.panels["sequential"]
    (table,) = [i for i in panel.items if i["kind"] == "table"]
    (row,) = table["rows"]
    texts = [c["text"] for c in row]
    assert texts[:5] == [TASK, "a<b>", "b", "acc", "A better"]
    assert texts[5].startswith(f"{out.stopped_at:,} of 300")
    (plot,) = [i for i in panel.items if i["kind"] == "svg"]
    assert plot["svg"].startswith("<svg") and "above 0" in plot["caption"]
    html = render_report(report)
    assert "Stopped comparisons" in html and "a&lt;b&gt;" in html and "<td>a<b>" not in html


def test_no_panel_without_stopped_comparisons(tmp_path):
    path = tmp_path / "s.duckdb"
    evaluate(fake("a", 0.9), TASK, store=path, limit=10, progress=False)
    report = build_report(path, bootstrap=10, scaling_bootstrap=5)
    assert "sequential" not in report.panels
