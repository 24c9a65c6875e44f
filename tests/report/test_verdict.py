"""The report opens with the verdict of ``assay.stats.verdict`` (issue 31): the default job's
pairs by their store names, better / worse / no detectable difference, then the caveat; with a
baseline, every model against it, regressions first, and the flipped questions."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from assay import stats
from assay.cli import app
from assay.errors import InputError
from assay.report import build_report, compare_scores, render_report
from assay.store import Store

WORDS = ("better", "worse", "no detectable difference")


@pytest.fixture(scope="module")
def job_report(default_job_store_path):
    return build_report(default_job_store_path, scaling_bootstrap=0, bootstrap=10, max_docs=20)


@pytest.fixture(scope="module")
def baseline_report(default_job_store_path):
    return build_report(
        default_job_store_path,
        scaling_bootstrap=0,
        bootstrap=10,
        max_docs=20,
        baseline="smollm2-135m",
    )


class _Blocks(HTMLParser):
    """The text of each top-level block of <main>, in order."""

    def __init__(self):
        super().__init__()
        self.depth, self.blocks, self.ids = 0, [], []

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.depth = 1
        elif self.depth:
            if self.depth == 1:
                self.blocks.append("")
                self.ids.append(dict(attrs).get("id"))
            if tag not in ("br", "meta", "input", "img"):
                self.depth += 1

    def handle_endtag(self, tag):
        if self.depth and tag not in ("br", "meta", "input", "img"):
            self.depth -= 1

    def handle_data(self, data):
        if self.depth > 1:
            self.blocks[-1] += data


def _blocks(html: str) -> _Blocks:
    parser = _Blocks()
    parser.feed(html)
    return parser


def test_the_verdict_is_the_stats_verdict_of_the_leaderboard(job_report, default_job_store_path):
    st = Store(default_job_store_path)
    ev = st.evidence()
    comp, _ = compare_scores(ev.scores, job_report.settings, metrics=ev.metrics)
    expected = stats.verdict(comp, models=st.models(), runs=st.runs())
    got = job_report.verdict.verdict
    assert got.sentences == expected.sentences
    assert [(p.model, p.baseline, p.change) for p in got.pairs] == [
        ("smollm2-135m-int8", "smollm2-135m", "int8 quantisation"),
        ("smollm2-135m-3shot", "smollm2-135m", "3-shot against 0-shot prompts"),
    ]
    assert job_report.to_dict()["verdict"]["pairs"][0]["sentence"] == got.sentences[0]


def test_report_opens_with_the_verdict(job_report):
    html = render_report(job_report)
    parsed = _blocks(html)
    assert parsed.ids[:2] == ["verdict", "summary"]
    first = parsed.blocks[0].strip()
    lead = first.split("\n")[0]
    assert "smollm2-135m-int8" in lead and "smollm2-135m" in lead
    assert any(w in lead for w in WORDS)
    assert "Caveat:" in first
    # the findings preamble comes after the verdict
    assert html.index('id="verdict"') < html.index("Every result, most surprising first")


def test_baseline_view_table_is_model_minus_baseline_regressions_first(
    baseline_report, default_job_store_path
):
    html = render_report(baseline_report)
    tables = re.findall(r"<table[^>]*>.*?</table>", html, re.S)
    first = next(t for t in tables if "difference" in re.sub(r"<[^>]+>", "", t.split("<tbody>")[0]))
    assert 'id="verdict-table"' in first
    heads = re.findall(r"<th>(.*?)</th>", first)
    assert heads[:4] == ["model", "task", "metric", "difference (model − baseline)"]
    values = [float(v) for v in re.findall(r'<td class="num" data-value="([^"]+)">[+-]', first)]
    table = baseline_report.verdict.verdict.table
    assert len(values) == len(table) == 4  # 2 models x 2 tasks, all against smollm2-135m
    assert values == sorted(values) == pytest.approx(list(table["diff"]))
    assert set(table["baseline"]) == {"smollm2-135m"}
    # the differences are compare's pairs, oriented model − baseline
    comp = baseline_report.comparison
    pair = comp.pairs[
        (comp.pairs["model_a"] == "smollm2-135m") & (comp.pairs["model_b"] == "smollm2-135m-int8")
    ]
    int8 = table[table["model"] == "smollm2-135m-int8"].set_index("task")["diff"]
    assert dict(int8) == pytest.approx(dict(zip(pair["task"], -pair["diff"], strict=True)))


def test_baseline_view_lists_flipped_questions(baseline_report, default_job_store_path):
    scores = Store(default_job_store_path).scores(metric="acc")
    flipped = baseline_report.verdict.flipped
    assert {(f["model"], f["task"]) for f in flipped} == {
        (m, t)
        for m in ("smollm2-135m-int8", "smollm2-135m-3shot")
        for t in ("arith_mc", "dates_mc")
    }
    block = next(
        f for f in flipped if f["model"] == "smollm2-135m-int8" and f["task"] == "dates_mc"
    )
    ref = stats.flips(scores, "smollm2-135m", "smollm2-135m-int8", task="dates_mc")
    assert sorted(d["doc_id"] for d in block["docs"]) == sorted(ref.flipped["doc_id"])
    first = block["docs"][0]
    assert first["kind"] == "baseline right, model wrong"
    assert first["prompt"].startswith("dates_mc question")
    # both answers, every ordering, each marked right or wrong
    assert first["baseline_answer"].count("·") == 1 and "✓" in first["baseline_answer"]
    assert "✗" in first["model_answer"]
    html = render_report(baseline_report)
    assert f'<td class="doc-id">{first["doc_id"]}</td>' in html
    assert (
        html.index('id="verdict-table"') < html.index('id="flipped"') < html.index('id="summary"')
    )


def test_report_baseline_option_and_errors(default_job_store_path, tmp_path):
    runner = CliRunner()
    out = tmp_path / "b.html"
    args = [
        "report",
        "--store",
        str(default_job_store_path),
        "-o",
        str(out),
        "--bootstrap",
        "0",
        "--scaling-bootstrap",
        "0",
    ]
    ok = runner.invoke(app, [*args, "--baseline", "smollm2-135m-int8"])
    assert ok.exit_code == 0, ok.output
    assert "smollm2-135m against smollm2-135m-int8 (against the chosen baseline)" in ok.output
    assert "every model minus the baseline smollm2-135m-int8" in out.read_text().lower()
    args[args.index(str(out))] = str(tmp_path / "never.html")
    bad = runner.invoke(app, [*args, "--baseline", "nobody"])
    assert isinstance(bad.exception, InputError) and "unknown baseline 'nobody'" in str(
        bad.exception
    )
    assert not (tmp_path / "never.html").exists()  # nothing written


def test_serve_has_a_baseline_selector(default_job_store_path, tmp_path):
    path = tmp_path / "live.duckdb"
    shutil.copy(default_job_store_path, path)
    client = TestClient(create_app(path, seed=1), base_url="http://127.0.0.1")
    page = client.get("/").text
    assert '<select name="baseline"' in page and "(pairs that differ by one change)" in page
    chosen = client.get("/", params={"baseline": "smollm2-135m-3shot"}).text
    assert '<option value="smollm2-135m-3shot" selected>' in chosen
    assert "Every model minus the baseline smollm2-135m-3shot" in chosen
    assert client.get("/", params={"baseline": "nobody"}).status_code == 404


def create_app(*args, **kwargs):
    from assay.serve import create_app as make

    return make(*args, **kwargs)


def test_eval_prints_the_verdict_first(default_job_store_path, monkeypatch):
    import io

    from rich.console import Console

    from assay.cli import _common
    from assay.cli import _eval_summary as summary_module

    names = ("smollm2-135m", "smollm2-135m-int8", "smollm2-135m-3shot")
    results = [
        type("R", (), {"model": m, "run_ids": {"arith_mc": 1, "dates_mc": 1}})() for m in names
    ]
    summary = summary_module.eval_summary(Store(default_job_store_path), results)
    out = Console(file=io.StringIO(), width=200, markup=False)
    monkeypatch.setattr(_common, "console", out)
    monkeypatch.setattr(summary_module, "console", out)
    summary_module.print_eval_summary(summary, verbose_table=None)
    lines = out.file.getvalue().splitlines()
    assert lines[0] == "Verdict"
    assert lines[1].startswith("smollm2-135m-int8 against smollm2-135m (int8 quantisation):")
    assert lines[2].startswith("smollm2-135m-3shot against smollm2-135m (3-shot against 0-shot")
    assert lines[3].startswith("Caveat:")
    assert summary.to_dict()["verdict"]["pairs"][0]["model"] == "smollm2-135m-int8"
    # the same numbers as the report's verdict
    report = build_report(default_job_store_path, scaling_bootstrap=0, bootstrap=0, max_docs=0)
    assert lines[1:3] == report.verdict.verdict.sentences
