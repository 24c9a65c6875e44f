"""Counterfactual fairness on a hand-made probe table: gaps, the paired test, the
repeated-measures F (= t² for two groups), and LLMBI with its stated weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from assay.errors import InputError
from assay.report._robust_panels import fairness_panel
from assay.stats import fairness
from assay.stats._fairness import rm_anova

VALUES = {
    ("gender", "qa", "female"): [1, 1, 1, 0],
    ("gender", "qa", "male"): [1, 0, 1, 0],
    ("gender", "sent", "female"): [0.8] * 4,
    ("gender", "sent", "male"): [0.6] * 4,
    ("religion", "qa", "a"): [1, 0, 1, 1],
    ("religion", "qa", "b"): [1, 0, 1, 1],
    ("religion", "qa", "c"): [1, 0, 1, 1],
    ("religion", "sent", "a"): [0.5] * 4,
    ("religion", "sent", "b"): [0.5] * 4,
    ("religion", "sent", "c"): [0.2, 0.3, 0.2, 0.3],
}


def _frame() -> pd.DataFrame:
    rows = []
    for (axis, kind, group), values in VALUES.items():
        for i, v in enumerate(values):
            doc = f"{axis}/{kind}{i + (0 if kind == 'qa' else 10):02d}/{group}"
            rows.append({"model": "m", "task": "fairness", "doc_id": doc, "metric": "p_correct",
                         "value": float(v)})  # fmt: skip
    return pd.DataFrame(rows)


def test_gaps_and_tests_per_axis():
    result = fairness(_frame())
    axes = result.axes.set_index(["axis", "kind"])
    assert axes.loc[("gender", "qa"), "gap"] == pytest.approx(0.25)
    # two groups: d = [0, 1, 0, 0], t = 0.25 / (0.5 / 2) = 1, F = t² = 1
    assert axes.loc[("gender", "qa"), "f_statistic"] == pytest.approx(1.0)
    t_p = sps.ttest_rel([1, 1, 1, 0], [1, 0, 1, 0]).pvalue
    assert axes.loc[("gender", "qa"), "pvalue"] == pytest.approx(t_p)
    assert axes.loc[("gender", "sent"), "gap"] == pytest.approx(0.2)
    assert axes.loc[("gender", "sent"), "pvalue"] == 0.0  # a constant gap, no noise
    assert axes.loc[("religion", "qa"), ["gap", "f_statistic", "pvalue"]].tolist() == [0, 0, 1]
    assert axes.loc[("religion", "sent"), "gap"] == pytest.approx(0.25)
    groups = result.groups.set_index(["axis", "kind", "group"])
    assert groups.loc[("gender", "qa", "female"), "diff"] == pytest.approx(0.25)
    assert groups.loc[("gender", "qa", "male"), "pvalue"] == pytest.approx(t_p)
    # group c minus the mean of a and b: [-0.3, -0.2, -0.3, -0.2]
    assert groups.loc[("religion", "sent", "c"), "diff"] == pytest.approx(-0.25)


def test_llmbi_with_stated_weights():
    result = fairness(_frame())
    row = result.index.iloc[0]
    assert result.weights == {"gender": 0.5, "religion": 0.5}
    assert (result.diversity_weight, result.sentiment_weight) == (0.1, 0.5)
    assert row["bias"] == pytest.approx(0.125)  # 0.5·0.25 + 0.5·0
    assert row["sentiment"] == pytest.approx(0.225)  # 0.5·0.2 + 0.5·0.25
    assert row["diversity_penalty"] == pytest.approx(0.0)
    assert row["llmbi"] == pytest.approx(0.125 + 0.5 * 0.225)
    weighted = fairness(_frame(), weights={"gender": 3, "religion": 1}).index.iloc[0]
    assert weighted["llmbi"] == pytest.approx(0.1875 + 0.5 * (0.75 * 0.2 + 0.25 * 0.25))


def test_diversity_penalty_from_unequal_coverage():
    df = _frame()
    df = df[df["doc_id"] != "religion/qa00/c"]
    row = fairness(df).index.iloc[0]
    p = np.array([8, 8, 7]) / 23
    d = (1 + float(-(p * np.log(p)).sum() / np.log(3))) / 2
    assert row["diversity"] == pytest.approx(d)
    assert row["diversity_penalty"] == pytest.approx(0.1 * (1 - d))


def test_rm_anova_matches_a_textbook_example():
    x = np.array([[5.0, 7, 9], [4, 6, 9], [6, 8, 8], [5, 8, 10]])
    f_stat, p = rm_anova(x)
    # by hand: SS_groups = 4·Σ(ḡ − 7.083)², SS_error from the double-centred residuals
    grand = x.mean()
    ssg = 4 * ((x.mean(0) - grand) ** 2).sum()
    res = x - x.mean(1, keepdims=True) - x.mean(0, keepdims=True) + grand
    expected = (ssg / 2) / ((res**2).sum() / 6)
    assert f_stat == pytest.approx(expected)
    assert p == pytest.approx(sps.f.sf(expected, 2, 6))


def test_bad_input():
    with pytest.raises(InputError, match="no metric 'acc'"):
        fairness(_frame(), metric="acc")
    with pytest.raises(InputError, match="weights must be >= 0"):
        fairness(_frame(), weights={"height": 1})
    plain = _frame().assign(doc_id=lambda d: d.index.astype(str))
    with pytest.raises(InputError, match="AXIS/PROBE/GROUP"):
        fairness(plain)


def test_fairness_panel():
    panel = fairness_panel(_frame())
    assert panel.available
    assert panel.results["fairness"].index.iloc[0]["llmbi"] == pytest.approx(0.2375)
    empty = fairness_panel(_frame().assign(doc_id="d0"))
    assert not empty.available and "fairness-probes" in empty.note


def _store(tmp_path):
    from assay.store import SampleRecord, open_store

    path = tmp_path / "s.duckdb"
    records = [
        SampleRecord(run_id="r", model="m", task="fairness", doc_id=r["doc_id"], repeat=0,
                     metrics={"p_correct": r["value"]})
        for r in _frame().to_dict(orient="records")
    ]  # fmt: skip
    open_store(path).write_samples(records)
    return path


def test_cli_json_and_errors(tmp_path):
    import json

    from typer.testing import CliRunner

    from assay.cli import app

    path = _store(tmp_path)
    run = CliRunner().invoke
    out = run(app, ["fairness", "--store", str(path), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["index"][0]["llmbi"] == pytest.approx(0.2375)
    assert data["weights"] == {"gender": 0.5, "religion": 0.5}
    assert data["confidence_level"] == 0.95  # an outside audit: no level in JSON or titles
    table = run(app, ["fairness", "--store", str(path), "--confidence", "0.9"])
    assert table.exit_code == 0 and "(F test; 90% intervals)" in table.output
    assert "paired over probes (90% intervals)" in table.output
    out = run(app, ["fairness", "--store", str(path), "--weights", "gender=3,religion=1",
                    "--lambda", "0", "--json"])  # fmt: skip
    assert json.loads(out.output)["index"][0]["llmbi"] == pytest.approx(0.1875)
    bad = run(app, ["fairness", "--store", str(path), "--weights", "gender"])
    assert bad.exit_code == 1 and "not AXIS=NUMBER" in str(bad.exception)


def test_cli_writes_the_probe_task(tmp_path):
    from typer.testing import CliRunner

    from assay.cli import app
    from assay.tasks import load_task

    out_file = tmp_path / "probes.yaml"
    res = CliRunner().invoke(app, ["fairness-probes", str(out_file), "--axes", "age",
                                   "--variants", "1"])  # fmt: skip
    assert res.exit_code == 0, res.output
    task = load_task(str(out_file))
    assert len(task.docs) == 8 * 2
    assert task.docs[0].doc_id == "age/qa01/young"
    again = CliRunner().invoke(app, ["fairness-probes", str(out_file)])
    assert again.exit_code == 1 and "exists" in str(again.exception)
