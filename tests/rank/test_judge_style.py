"""Issue 33: length control for judges. `judge pairwise` results carry the answers, so their
verdicts can be style-controlled (Bradley–Terry with style covariates) and the store keeps the
answers' style features beside the AlpacaEval-style length-controlled win rate."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from typer.testing import CliRunner

from assay.cli.judge import judge_app
from assay.core import text_style
from assay.rank import fit_battles, judge_pairs, store_judged, style_comparison
from assay.requests import LoglikelihoodResult
from assay.store import open_store


class WordyJudge:
    """P("A") = σ(γ·(words a − words b) / (words a + words b)): rewards length only."""

    name = "wordy-judge"

    def __init__(self, gamma=3.0, seed=5):
        self.gamma, self.rng = gamma, np.random.default_rng(seed)

    def compare_many(self, items):
        wa = np.array([len(a.split()) for _, a, _ in items], dtype=float)
        wb = np.array([len(b.split()) for _, _, b in items], dtype=float)
        p = expit(self.gamma * (wa - wb) / (wa + wb))
        return np.where(self.rng.random(len(items)) < p, "A", "B").tolist()


def wordy_outputs(means: dict[str, float], n_prompts=400, seed=0) -> pd.DataFrame:
    """Answers of ~N(mean, mean/3) words, some with a list item: equal quality, unequal length."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_prompts):
        for m, mean in means.items():
            words = max(3, int(rng.normal(mean, mean / 3)))
            text = " ".join(["word"] * words) + ("\n- item" if rng.random() < 0.3 else "")
            rows.append({"prompt_id": f"p{p}", "prompt": f"q{p}", "model": m, "output": text})
    return pd.DataFrame(rows)


def test_style_control_removes_a_judges_length_preference():
    outputs = wordy_outputs({"long": 90, "mid": 60, "short": 30})
    judged = judge_pairs(outputs, WordyJudge(), swap=False, seed=1)
    assert {"answer_a", "answer_b"} <= set(judged.columns)
    raw = fit_battles(judged, bootstrap=0).rating
    assert raw["long"] - raw["short"] > 150  # the judge's taste for words, read as quality
    result = style_comparison(judged, bootstrap=0)
    coef = result.coefficients.set_index("feature")
    assert coef.at["length", "ci_low"] > 0.5  # length explains the verdicts
    controlled = result.table.set_index("model")
    # equal quality: once length is controlled no model is surely better than another
    assert (controlled["rank"] == 1).all()
    spread = controlled["rating"].max() - controlled["rating"].min()
    assert spread < 0.25 * (raw.max() - raw.min())
    for m in ("long", "mid", "short"):
        assert controlled.at[m, "ci_low"] < 1000 < controlled.at[m, "ci_high"]


def test_stored_judge_battles_keep_the_answers_features(tmp_path):
    outputs = wordy_outputs({"a": 40, "b": 20}, n_prompts=30)
    judged = judge_pairs(outputs, WordyJudge(), seed=2)
    st = open_store(tmp_path / "s.duckdb")
    assert store_judged(st, judged, source="out.jsonl") == 30
    stored = st.battles().set_index("prompt_id").loc[judged["prompt_id"]]
    side_a = pd.DataFrame([json.loads(v) for v in stored["style_a"]])
    side_b = pd.DataFrame([json.loads(v) for v in stored["style_b"]])
    pd.testing.assert_frame_equal(side_a, text_style(judged["answer_a"].reset_index(drop=True)))
    pd.testing.assert_frame_equal(side_b, text_style(judged["answer_b"].reset_index(drop=True)))
    # the store's battles give the same style-controlled fit as the judged pairs
    ours = style_comparison(st.battles(), bootstrap=0).coefficients.set_index("feature")
    theirs = fit_battles(judged, style_control=True, bootstrap=0).info["style_coefficients"]
    for name, value in theirs.items():
        assert ours.at[name, "coefficient"] == pytest.approx(value, abs=1e-7)


class CountingBackend:
    """A stand-in judge model: log p(" A") − log p(" B") is the answers' word difference."""

    name = "stand-in"

    def loglikelihood(self, requests):
        out = []
        for r in requests:
            a = r.context.split("Answer A: ")[1].split("\n\nAnswer B: ")[0]
            b = r.context.split("\n\nAnswer B: ")[1].split("\n\nWhich")[0]
            sign = 1 if r.continuation == " A" else -1
            out.append(LoglikelihoodResult(sign * (len(a.split()) - len(b.split())), False, 1, 1))
        return out

    def close(self):
        pass


def test_cli_judge_pairwise_reports_the_length_controlled_win_rate(tmp_path, monkeypatch):
    """AlpacaEval's LC win rate is in `judge pairwise --baseline` results (issue 33)."""
    import assay.models

    monkeypatch.setattr(assay.models, "load_model", lambda spec: CountingBackend())
    path = tmp_path / "outputs.jsonl"
    wordy_outputs({"long": 60, "base": 30}, n_prompts=40).to_json(
        path, orient="records", lines=True
    )
    store = tmp_path / "s.duckdb"
    args = ["--judge", "stand-in", "--store", str(store), "--bootstrap", "50", "--json"]
    out = CliRunner().invoke(judge_app, ["pairwise", str(path), "--baseline", "base", *args])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    row = data["lc_win_rate"]["win_rates"][0]
    assert row["model"] == "long" and row["win_rate"] > 0.8
    assert row["lc_win_rate"] < row["win_rate"]  # the length preference is taken out
    assert open_store(store).battles()["style_a"].notna().all()
