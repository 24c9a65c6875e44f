"""Issue 28's wrong numbers, each against a known answer: overall rows never average unlike
metrics, the chance test is the exact binomial test (no p-value from a zero SE), breakdown's
perplexity per group is the group's own perplexity, no "-0.000", whole questions in power,
compare's help names what it computes, the reliability mean's interval stays in [0, 1], and
eval's headline is compare's."""

from __future__ import annotations

import io
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from fake_backend import FakeBackend, answer_key
from rich.console import Console
from scipy import stats as sps
from typer.testing import CliRunner

from assay import stats
from assay.cli import _common, app
from assay.core import headline_metric
from assay.report._findings import chance_findings
from assay.runner import evaluate
from assay.store import open_store
from assay.tasks import load_task

LIMIT = 20


def _rows(model, task, metric, values, docs=None, clusters=None):
    docs = docs if docs is not None else [f"d{i:03d}" for i in range(len(values))]
    return pd.DataFrame(
        {"model": model, "task": task, "run_id": f"{model}-{task}", "doc_id": docs, "repeat": 0,
         "template_id": "default", "cluster_id": clusters, "difficulty": np.nan,
         "metric": metric, "value": np.asarray(values, dtype=float)}
    )  # fmt: skip


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    """A guesser that is always wrong on arith_mc (0 of 20) and a better model, both also on
    the rolling (perplexity) task."""
    path = tmp_path_factory.mktemp("issue28") / "assay.duckdb"
    key = answer_key(load_task("arith_mc").instances(limit=LIMIT))
    # skill 0: the right answer is known but never given (log-likelihood far below the others)
    for fake in (FakeBackend("wrong", answers=key, skill=0.0), FakeBackend("good", answers=key)):
        evaluate(fake, ["arith_mc", "sequence_rolling"], store=path, limit=LIMIT, progress=False)
    return path


def _json(args):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# (a) 28.2 ---------------------------------------------------------------------------------


def test_overall_rows_never_average_unlike_metrics():
    rng = np.random.default_rng(3)
    acc = (rng.random(50) < 0.6).astype(float)
    em = (rng.random(50) < 0.3).astype(float)
    ppl = rng.uniform(3.0, 9.0, 50)
    scores = pd.concat(
        [_rows("m", "mc", "acc", acc), _rows("m", "gen", "exact_match", em),
         _rows("m", "text", "word_perplexity", ppl)]
    )  # fmt: skip
    comp = stats.compare(scores, overall=True)
    overall = comp.scores[comp.scores["task"] == "(all)"].set_index("metric")
    assert sorted(overall.index) == ["acc, exact_match", "word_perplexity"]
    shares = overall.loc["acc, exact_match"]
    assert shares["mean"] == pytest.approx((acc.mean() + em.mean()) / 2)
    per_task = comp.scores.set_index("task")
    se = math.hypot(per_task.loc["mc", "stderr"], per_task.loc["gen", "stderr"]) / 2
    assert shares["stderr"] == pytest.approx(se)
    perplexity = overall.loc["word_perplexity"]
    assert perplexity["mean"] == pytest.approx(ppl.mean())  # its own row, never mixed in
    assert 0 < perplexity["ci_low"] < perplexity["mean"] < perplexity["ci_high"]
    assert perplexity["method"] == "normal+log"


# (b) 28.3 ---------------------------------------------------------------------------------


def test_chance_test_is_the_exact_binomial_test():
    p, test = stats.chance_test(0.0, 20, 0.25, stderr=0.0, method="wilson")
    assert p == pytest.approx(sps.binomtest(0, 20, 0.25).pvalue) and test == "exact binomial"
    assert p == pytest.approx(0.00711, abs=1e-5)  # not "< 0.001" from a zero SE
    p, test = stats.chance_test(7 / 20, 20, 0.25, stderr=0.1, method="wilson")
    assert p == pytest.approx(sps.binomtest(7, 20, 0.25).pvalue)
    # clusters: the same exact test on the design-effect n, and it says so
    p, test = stats.chance_test(0.3, 40, 0.25, stderr=0.1, method="wilson-clustered",
                                n_effective=19.6)  # fmt: skip
    assert p == pytest.approx(sps.binomtest(6, 20, 0.25).pvalue) and "design-effect" in test
    # no spread to estimate and no binomial reading: no test, never p = 0
    p, test = stats.chance_test(0.5, 20, 0.25, stderr=0.0, method="clt+repeats")
    assert math.isnan(p) and "SE 0" in test
    p, test = stats.chance_test(0.5, 20, 0.25, stderr=0.1, method="clt+repeats")
    assert p == pytest.approx(2 * sps.norm.sf(2.5)) and test == "z-test"


def test_chance_findings_use_the_exact_test_with_clusters():
    values = np.r_[np.ones(6), np.zeros(34)]
    clusters = [f"c{i // 4}" for i in range(40)]
    comp = stats.compare(_rows("m", "mc", "acc", values, clusters=clusters))
    row = stats.chance_tests(comp, {"mc": 0.25}).iloc[0]
    est = stats.mean_ci(values, clusters=np.array(clusters, dtype=object))
    assert row["test"] == "exact binomial on the design-effect n"
    m = round(est.n_effective)
    assert row["p_value"] == pytest.approx(sps.binomtest(round(0.15 * m), m, 0.25).pvalue)
    (finding,) = chance_findings(comp, {"mc": "acc"}, {"mc": 0.25}, "95%")
    assert finding.p_value == pytest.approx(row["p_value"])
    assert "exact binomial on the design-effect n p" in finding.text


def test_report_json_states_the_exact_binomial_p(store_path, tmp_path):
    data = _json(["report", "--store", str(store_path), "-o", str(tmp_path / "r.html"), "--json"])
    found = [
        f for f in data["findings"] if f["kind"] == "chance" and f["text"].startswith("wrong ")
    ]
    assert len(found) == 1, data["findings"]
    samples = open_store(store_path).samples(model="wrong", task="arith_mc")
    guess = stats.chance_levels(samples)["arith_mc"]
    expected = sps.binomtest(0, LIMIT, guess).pvalue
    assert found[0]["p_value"] == pytest.approx(expected)
    assert f"exact binomial p = {expected:.3f}" in found[0]["text"]


def test_no_f_test_from_a_zero_error_term():
    from assay.stats._variance import two_way_anova

    shifted = np.c_[np.arange(5.0), np.arange(5.0) + 1]  # level 2 always exactly +1
    out = two_way_anova(shifted)
    assert out["ms_res"] == 0 and math.isnan(out["p"])


def test_paired_t_with_zero_se_reports_the_sign_test():
    a, b = np.ones(12), np.zeros(12)
    res = stats.paired_test(a, b, clusters=[f"c{i // 3}" for i in range(12)])  # 4 clusters
    assert res.method == "sign-test" and res.pvalue == pytest.approx(2 * 0.5**4)


# (c) 28.4 ---------------------------------------------------------------------------------


def _rolling(model, logprob, words, groups):
    docs = [f"d{i:03d}" for i in range(len(words))]
    n_bytes = np.asarray(words) * 5
    frame = pd.concat(
        [_rows(model, "text", "logprob", logprob, docs), _rows(model, "text", "words", words, docs),
         _rows(model, "text", "bytes", n_bytes, docs)]
    )  # fmt: skip
    return frame, pd.DataFrame({"task": "text", "doc_id": docs, "group": groups})


def test_breakdown_perplexity_is_the_groups_own():
    rng = np.random.default_rng(5)
    words = rng.integers(20, 60, 40).astype(float)
    rate = np.where(np.arange(40) < 20, 0.1, 4.0) * rng.uniform(0.8, 1.2, 40)  # easy, hard
    groups = np.where(np.arange(40) < 20, "easy", "hard")
    raw_a, grouping = _rolling("a", -rate * words, words, groups)
    raw_b, _ = _rolling("b", -1.1 * rate * words, words, groups)
    from assay.core import with_corpus_metrics

    scores = with_corpus_metrics(pd.concat([raw_a, raw_b]))
    res = stats.breakdown(scores, groups=grouping, metric="word_perplexity", pair=("a", "b"))
    g = res.groups.set_index(["model", "group"])
    for model, factor in (("a", 1.0), ("b", 1.1)):
        for name in ("easy", "hard"):
            sel = groups == name
            expected = math.exp(factor * np.sum(rate[sel] * words[sel]) / words[sel].sum())
            row = g.loc[(model, name)]
            assert row["mean"] == pytest.approx(expected)
            assert 0 < row["ci_low"] < row["mean"] < row["ci_high"]
    t = res.tests.set_index("model")
    assert t.loc["a", "best_group"] == "easy"  # lower perplexity is better
    pairs = res.pairs.set_index("group")
    easy = groups == "easy"
    ppl = [math.exp(f * np.sum(rate[easy] * words[easy]) / words[easy].sum()) for f in (1, 1.1)]
    assert pairs.loc["easy", "diff"] == pytest.approx(ppl[0] - ppl[1])


# (d) 28.10 --------------------------------------------------------------------------------


def test_numbers_never_print_negative_zero(monkeypatch):
    from assay.report._panel import fmt

    buf = io.StringIO()
    monkeypatch.setattr(_common, "console", Console(file=buf, width=200))
    _common.print_table(pd.DataFrame({"diff": [-0.0, -0.00001, -0.00004]}), digits=3)
    assert "-0.000" not in buf.getvalue() and "0.000" in buf.getvalue()
    assert fmt(-0.0) == "0.000" and fmt(-0.0004, 3) == "-4.00e-04" and fmt(-0.5) == "-0.500"
    from assay.core import fixed, format_number

    assert fixed(-0.0004, 3) == "0.000" and fixed(-0.0, 3) == "0.000"
    assert fixed(-0.0004, 3, sign=True) == "0.000" and fixed(0.25, 3, sign=True) == "+0.250"
    assert format_number(-0.00004, 4) == "-4.000e-05" and format_number(-0.5, 3) == "-0.500"


def test_power_rounds_questions_up():
    exact = stats.sample_size(0.02, omega2=0.2)
    assert exact == pytest.approx(3924.4399, abs=1e-4)
    res = stats.power_analysis(delta=0.02, omega2=0.2)
    assert res.n == 3925 and isinstance(res.n, int) and res.power >= 0.8


def test_compare_help_names_every_method_it_reports(store_path):
    help_text = " ".join(CliRunner().invoke(app, ["compare", "--help"], env={"COLUMNS": "300"})
                         .output.replace("│", " ").split())  # fmt: skip
    assert "exact McNemar for binary" not in help_text
    data = _json(["compare", "--store", str(store_path), "--overall", "--json"])
    methods = {r["method"] for r in data["scores"]} | {r["method"] for r in data["pairs"]}
    assert {"mcnemar", "clt+log", "wilson"} <= methods
    for method in methods:
        for part in method.split("+"):
            assert re.search(rf"(?<![\w-]){re.escape(part)}(?![\w-])", help_text), part


# (e) 28.11 --------------------------------------------------------------------------------


def _wilson(p, n, z=sps.norm.ppf(0.975)):
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def test_reliability_mean_interval_stays_in_unit_range():
    # two orderings of 5 questions: right on 0, 0, 1, 1, 2 of them
    right = {"q0": [0, 0], "q1": [0, 0], "q2": [1, 0], "q3": [0, 1], "q4": [1, 1]}
    frames = [
        _rows("m", "mc", "acc", vals, [q] * 2).assign(repeat=[0, 1]) for q, vals in right.items()
    ]
    table = stats.reliability(pd.concat(frames)).table.iloc[0]
    tsr = np.array([0, 0, 0.5, 0.5, 1.0])
    var = tsr.var(ddof=1) / 5
    deff = min(max(var / (0.4 * 0.6 / 9), 1.0), 2.0)  # 10 variants, 2 per question
    low, high = _wilson(0.4, 10 / deff)
    assert table["mean"] == pytest.approx(0.4)
    assert (table["mean_low"], table["mean_high"]) == pytest.approx((low, high))
    assert 0 <= table["mean_low"] < 0.4 < table["mean_high"] <= 1
    # no spread within pairs (each question right once): deff 1, Wilson on 5 of 10 variants
    half = {f"q{i}": [1, 0] for i in range(5)}
    frames = [_rows("m", "mc", "acc", v, [q] * 2).assign(repeat=[0, 1]) for q, v in half.items()]
    table = stats.reliability(pd.concat(frames)).table.iloc[0]
    ref = sps.binomtest(5, 10).proportion_ci(method="wilson")
    assert (table["mean_low"], table["mean_high"]) == pytest.approx((ref.low, ref.high))


def test_eval_headline_is_compares(store_path):
    from assay.cli._eval_summary import eval_summary

    st = open_store(store_path)
    results = [type("R", (), {"model": m, "run_ids": {"arith_mc": 1, "sequence_rolling": 1}})()
               for m in ("wrong", "good")]  # fmt: skip
    summary = eval_summary(st, results)
    comp = stats.compare(st.evidence().scores, metrics=st.evidence().metrics)
    compared = dict(zip(comp.scores["task"], comp.scores["metric"], strict=False))
    assert summary.differences.headline == compared
    assert compared["sequence_rolling"] == "word_perplexity"
    names = st.evidence(task="sequence_rolling").scores["metric"].unique()
    assert headline_metric(names) == "word_perplexity" and "logprob" in set(names)
