"""The metric registry (assay.core): directions, headlines, declarations, corpus perplexity."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from assay.core import (
    BUILTIN_METRICS,
    declared_metrics,
    headline_metric,
    lower_is_better,
    metric_info,
    parse_metric_spec,
    resolve_metrics,
    with_corpus_metrics,
)
from assay.errors import InputError


def test_directions_of_the_builtin_metrics():
    for name in ("word_perplexity", "byte_perplexity", "bits_per_byte", "brier", "loss",
                 "latency", "chose_tempting", "p_tempting"):  # fmt: skip
        assert lower_is_better(name), name
    for name in ("acc", "acc_norm", "exact_match", "f1", "pass@1", "p_correct", "logprob"):
        assert not lower_is_better(name), name
    assert metric_info("acc").bounds == (0.0, 1.0)
    assert metric_info("word_perplexity").bounds is None
    # unknown: higher-is-better, unbounded, priority 0; perplexity-like names lower
    assert metric_info("my_metric") == metric_info("my_metric").__class__("my_metric")
    assert lower_is_better("val_loss") and lower_is_better("my_perplexity")


def test_headline_prefers_scores_and_never_counts():
    assert headline_metric(["acc_norm", "acc", "p_correct", "brier"]) == "acc"
    assert headline_metric(["f1", "exact_match"]) == "exact_match"
    rolling = ["bytes", "words", "tokens", "logprob"]
    assert headline_metric(rolling) == "logprob"
    assert headline_metric([*rolling, "word_perplexity", "bits_per_byte"]) == "word_perplexity"
    assert headline_metric(["bytes", "words"]) == "bytes"  # only counts: something
    assert headline_metric(["zeta", "alpha"]) == "alpha"  # unknown: by name
    assert all(BUILTIN_METRICS[c].priority < 0 for c in ("bytes", "words", "tokens"))
    with pytest.raises(InputError):
        headline_metric([])


def test_declarations_parse_validate_and_override():
    info = parse_metric_spec("err", {"higher_is_better": False, "bounded": [0, 1], "chance": 0.5})
    assert info.lower_is_better and info.bounds == (0.0, 1.0) and info.chance == 0.5
    for bad, what in (
        ({"higher_is_better": "no"}, "higher_is_better"),
        ({"bounded": [1, 0]}, "bounded"),
        ({"bounded": "x"}, "bounded"),
        ({"priority": 1.5}, "priority"),
        ({"direction": "up"}, "unknown key"),
        ("lower", "expected a mapping"),
    ):
        with pytest.raises(InputError, match=what):
            parse_metric_spec("err", bad)
    declared = {"err": parse_metric_spec("err", {"higher_is_better": False, "priority": 500})}
    assert lower_is_better("err", declared) and headline_metric(["acc", "err"], declared) == "err"
    assert not lower_is_better("err") and headline_metric(["acc", "err"]) == "acc"  # no state
    flipped = {"exact_match": parse_metric_spec("exact_match", {"higher_is_better": False})}
    resolved = resolve_metrics(["acc", "exact_match"], flipped)
    assert resolved["exact_match"].lower_is_better and resolved["acc"] == metric_info("acc")
    assert not metric_info("exact_match").lower_is_better  # the built-in one is untouched


def test_declared_metrics_reads_run_extra():
    runs = pd.DataFrame(
        {"run_id": ["a", "b", "c"],
         "extra": [json.dumps({"metrics": {"err": {"higher_is_better": False}}}), None, "{bad"]}
    )  # fmt: skip
    found = declared_metrics(runs)
    assert list(found) == ["err"] and lower_is_better("err", found)
    assert not lower_is_better("err")  # reading declarations registers nothing
    assert declared_metrics(pd.DataFrame({"run_id": []})) == {}


def _rolling_scores(docs: dict[str, tuple[float, float, float]], model: str = "m"):
    rows = []
    for doc, (lp, words, nbytes) in docs.items():
        for metric, value in (("logprob", lp), ("words", words), ("bytes", nbytes)):
            rows.append({"model": model, "task": "wiki", "run_id": "r", "doc_id": doc,
                         "repeat": 0, "metric": metric, "value": value})  # fmt: skip
    return pd.DataFrame(rows)


def test_corpus_metrics_are_the_corpus_values_with_delta_method_errors():
    scores = _rolling_scores({"d1": (-10.0, 5.0, 20.0), "d2": (-20.0, 5.0, 30.0)})
    out = with_corpus_metrics(scores)
    means = out.groupby("metric")["value"].mean()
    assert means["word_perplexity"] == pytest.approx(math.exp(30 / 10))  # exp(Σ nll / Σ words)
    assert means["byte_perplexity"] == pytest.approx(math.exp(30 / 50))
    assert means["bits_per_byte"] == pytest.approx(0.6 / math.log(2))
    assert len(out) == len(scores) + 6 and set(out.columns) == set(scores.columns)
    # the standard error of the pseudo-values' mean is the delta-method one
    from assay.tasks import aggregate_rolling

    rng = np.random.default_rng(1)
    words = rng.integers(5, 60, 40).astype(float)
    nbytes = words * 5 + rng.integers(0, 9, 40)
    lp = -words * rng.uniform(2, 5, 40)
    docs = {f"d{i}": (lp[i], words[i], nbytes[i]) for i in range(40)}
    big = with_corpus_metrics(_rolling_scores(docs))
    agg = aggregate_rolling(_rolling_scores(docs)).iloc[0]
    for name in ("word_perplexity", "byte_perplexity", "bits_per_byte"):
        v = big.loc[big["metric"] == name, "value"].to_numpy()
        assert v.mean() == pytest.approx(agg[name])
        assert v.std(ddof=1) / math.sqrt(v.size) == pytest.approx(agg[f"{name}_se"])


def test_corpus_metrics_average_repeats_and_leave_other_tasks_alone():
    scores = _rolling_scores({"d1": (-10.0, 5.0, 20.0), "d2": (-20.0, 5.0, 30.0)})
    again = scores.assign(repeat=1, value=np.where(scores["metric"] == "logprob", -30.0,
                                                   scores["value"]))  # fmt: skip
    out = with_corpus_metrics(pd.concat([scores, again]))
    ppl = out.loc[out["metric"] == "word_perplexity", "value"]
    assert len(ppl) == 2 and ppl.mean() == pytest.approx(math.exp((20 + 25) / 10))
    mc = pd.DataFrame({"model": ["m"], "task": ["mc"], "doc_id": ["1"], "metric": ["acc"],
                       "value": [1.0]})  # fmt: skip
    assert with_corpus_metrics(mc).equals(mc)
    assert with_corpus_metrics(out).shape == out.shape  # already there: kept


def test_an_lm_eval_filtered_name_is_its_metric_after_a_filter():
    info = metric_info("exact_match,strict-match")
    base = metric_info("exact_match")
    assert (info.higher_is_better, info.bounds, info.priority) == (True, (0.0, 1.0), base.priority)
    assert info.name == "exact_match,strict-match" and "strict-match" in info.description
    assert metric_info("perplexity,x").higher_is_better is False
    # unknown metrics and corpus metrics stay as they were: no built-in to borrow from
    assert metric_info("mystery,strict-match").bounds is None
    assert metric_info("word_perplexity,x").log_scale is False
    # a store's declaration of the filtered name still wins
    declared = parse_metric_spec("exact_match,strict-match", {"higher_is_better": False})
    assert metric_info("exact_match,strict-match", {declared.name: declared}) == declared


def test_a_filtered_lm_eval_mean_stays_inside_its_bounds():
    from assay.stats import pooled_mean

    # two subtasks; each question asked twice: repeats average to 0.5 (not a 0/1 mean), and
    # most questions score 0, so an unbounded clustered t-interval would go below zero
    rows = []
    for task, hits in (("sub_a", 1), ("sub_b", 0)):
        for doc in range(12):
            for repeat in range(2):
                value = float(doc < hits and repeat == 0)
                rows.append((task, str(doc), repeat, "exact_match,strict-match", value))
    scores = pd.DataFrame(rows, columns=["task", "doc_id", "repeat", "metric", "value"])
    est = pooled_mean(scores, ["sub_a", "sub_b"], "exact_match,strict-match")
    plain = pooled_mean(scores.assign(metric="exact_match"), ["sub_a", "sub_b"], "exact_match")
    assert est.mean == pytest.approx(0.5 / 24)
    assert (est.ci_low, est.ci_high) == (plain.ci_low, plain.ci_high)
    assert est.ci_low >= 0.0
