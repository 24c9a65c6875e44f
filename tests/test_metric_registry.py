"""Every part asks one metric registry (assay.core): the same headline metric and direction
in stats, report and rank; rolling tasks are ranked on corpus word perplexity (lower is better)
from the CLI and the report; a task file's own metric declaration reaches the analysis without
changing run ids."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_main
from fake_backend import FakeBackend

from assay import stats
from assay.core import headline_metric, lower_is_better
from assay.rank import rank_samples
from assay.report import build_report, headline_metrics
from assay.runner import evaluate
from assay.store import open_store
from assay.tasks import aggregate_rolling, load_task

pytestmark = pytest.mark.filterwarnings("ignore")


class Scaled(FakeBackend):
    """The fake backend with every rolling log-likelihood multiplied by ``scale``."""

    def __init__(self, name: str, scale: float):
        super().__init__(name)
        self.scale = scale

    def loglikelihood_rolling(self, requests):
        out = super().loglikelihood_rolling(requests)
        return [type(r)(r.logprob * self.scale, r.tokens) for r in out]


def _scores(metrics: list[str], n: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        {"model": m, "task": "t", "doc_id": str(d), "metric": met, "value": float(rng.random())}
        for m in ("a", "b") for d in range(n) for met in metrics
    ]  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "metrics",
    [
        ["acc", "acc_norm", "brier", "p_correct"],
        ["f1", "exact_match"],
        ["pass@1", "f1"],
        ["bytes", "words", "logprob"],
        ["byte_perplexity", "bytes"],
        ["score", "latency"],
    ],
)
def test_every_part_picks_the_registry_headline(metrics):
    scores = _scores(metrics)
    want = headline_metric(metrics)
    assert set(stats.compare(scores).scores["metric"]) == {want}
    assert headline_metrics(scores) == {"t": want}
    mean = rank_samples(scores, method="mean", bootstrap=0)
    assert mean.info["metrics"] == {"t": want}
    assert want not in ("bytes", "words", "tokens")


def test_lower_is_better_metrics_rank_ascending_everywhere():
    scores = _scores(["byte_perplexity"])
    scores.loc[scores["model"] == "a", "value"] += 5  # a is worse (higher perplexity)
    assert lower_is_better("byte_perplexity")
    ratings = rank_samples(scores, method="pl", bootstrap=0)
    assert list(ratings.table.sort_values("rating", ascending=False)["model"])[0] == "b"


@pytest.fixture
def rolling_store(tmp_path):
    store = open_store(tmp_path / "ppl.duckdb")
    task = load_task("sequence_rolling")
    for name, scale in (("good", 0.8), ("bad", 1.3)):
        evaluate(Scaled(name, scale), [task], store=store, limit=40, progress=False)
    return store


def test_rolling_task_is_compared_on_corpus_word_perplexity(rolling_store):
    code, out, err = run_main(["compare", "--store", str(rolling_store.path), "--json"])
    assert code == 0, err
    scores = pd.DataFrame(json.loads(out)["scores"])
    assert set(scores["metric"]) == {"word_perplexity"}  # not bytes
    truth = aggregate_rolling(rolling_store.scores()).set_index("model")
    for row in scores.itertuples():
        assert row.mean == pytest.approx(truth.at[row.model, "word_perplexity"])
        assert row.stderr == pytest.approx(truth.at[row.model, "word_perplexity_se"])
        assert row.ci_low < row.mean < row.ci_high
    code, out, _ = run_main(
        ["compare", "--store", str(rolling_store.path), "--metric", "bits_per_byte", "--json"]
    )
    bpb = pd.DataFrame(json.loads(out)["scores"]).set_index("model")["mean"]
    assert bpb["good"] == pytest.approx(truth.at["good", "bits_per_byte"])


def test_report_and_rank_put_the_lower_perplexity_first(rolling_store):
    report = build_report(rolling_store, bootstrap=0, scaling_bootstrap=0)
    assert report.headline == {"sequence_rolling": "word_perplexity"}
    table = report.panel("leaderboard").items[0]
    assert table["row_keys"] == ["good", "bad"] and "lower is better" in table["caption"]
    assert report.summary[0].startswith("On sequence_rolling (word_perplexity), good leads")
    assert "below bad" in report.summary[0]
    code, out, err = run_main(
        ["rank", "samples", "--store", str(rolling_store.path), "--method", "mean",
         "--bootstrap", "0", "--json"]
    )  # fmt: skip
    assert code == 0, err
    assert "good" in out.split("bad")[0]  # good is listed (ranked) first


TASK = """
name: shout
request_type: generate
templates: "Say {{ word }}:"
target: word
docs:
  - {doc_id: a, word: red}
  - {doc_id: b, word: blue}
  - {doc_id: c, word: green}
  - {doc_id: d, word: gray}
"""


def test_task_file_metric_declaration_reaches_the_report(tmp_path):
    plain = tmp_path / "plain.yaml"
    plain.write_text(TASK, encoding="utf-8")
    declared = tmp_path / "declared.yaml"
    declared.write_text(
        TASK + "metrics: {f1: {higher_is_better: false, bounded: [0, 1], priority: 200}}\n",
        encoding="utf-8",
    )
    task = load_task(declared)
    assert task.metrics["f1"].lower_is_better and task.metrics["f1"].bounds == (0.0, 1.0)
    assert task.fingerprint() == load_task(plain).fingerprint()  # run ids do not change
    assert load_task(plain).to_dict().get("metrics") is None
    store = open_store(tmp_path / "s.duckdb")
    answers = {"Say red:": "red", "Say blue:": "blue", "Say green:": "green", "Say gray:": "x"}
    evaluate(FakeBackend("sharp", generation=lambda r: answers[r.context]), [task],
             store=store, progress=False)  # fmt: skip
    evaluate(FakeBackend("dull", generation="nothing"), [task], store=store, progress=False)
    extra = json.loads(store.runs()["extra"].dropna().iloc[0])
    assert extra["metrics"]["f1"]["higher_is_better"] is False
    assert not lower_is_better("f1")  # nothing process-wide: the report reads the store
    report = build_report(store, bootstrap=0, scaling_bootstrap=0)
    assert report.headline == {"shout": "f1"}
    assert report.panel("leaderboard").items[0]["row_keys"] == ["dull", "sharp"]
    assert not math.isnan(report.comparison.scores["mean"].iloc[0])
