"""``evaluate`` end to end with the deterministic fake backend, on any machine: exact metric
values on built-in tasks of each request type, and the summary table recomputed from the
stored samples."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from fake_backend import KNOWN_RATE, UNKNOWN_RATE, FakeBackend, answer_key, unit

from assay.runner import evaluate
from assay.store import open_store
from assay.tasks import load_task, task_from_records


def knowing(name: str, skill: float) -> tuple[object, FakeBackend]:
    """A built-in task and a fake that knows a hash-chosen ``skill`` share of its answers."""
    task = load_task(name)
    return task, FakeBackend(answers=answer_key(task.instances()), skill=skill)


def row(result, task: str, metric: str) -> pd.Series:
    table = result.table.set_index(["task", "metric"])
    return table.loc[(task, metric)]


def mean_stderr(values) -> tuple[float, float]:
    x = np.asarray(values, dtype=float)
    return x.mean(), x.std(ddof=1) / np.sqrt(x.size)


def test_multiple_choice_scores_are_exactly_the_known_share(tmp_path):
    task, fake = knowing("arith_mc", skill=0.6)
    result = evaluate(fake, task, store=tmp_path / "s.duckdb", limit=40, progress=False)
    instances = task.instances(limit=40)
    known = np.array([fake.knows(i.prompt) for i in instances], dtype=float)
    assert 0.3 < known.mean() < 0.9  # a real mix, not all or nothing
    mean, stderr = mean_stderr(known)
    for metric in ("acc", "acc_norm", "acc_bytes", "acc_tokens"):
        got = row(result, "arith_mc", metric)
        assert got["mean"] == pytest.approx(mean, abs=1e-12)
        assert got["stderr"] == pytest.approx(stderr, rel=1e-12)
        assert (got["n"], got["n_samples"]) == (40, 40)
    lengths = np.array([len(i.target) for i in instances], dtype=float)
    expected = np.where(known == 1, -KNOWN_RATE, -UNKNOWN_RATE) * lengths
    assert row(result, "arith_mc", "logprob_correct")["mean"] == pytest.approx(expected.mean())
    assert fake.calls == {"loglikelihood": 2} and fake.total == 40 * 4  # two chunks of 32 docs

    samples = open_store(tmp_path / "s.duckdb").samples().set_index("doc_id")
    for inst, k in zip(instances, known, strict=True):
        s = samples.loc[inst.doc_id]
        assert (s["prediction"] == inst.target) == bool(k)
        assert s["input_tokens"] == len(inst.prompt.split()) + 4  # each choice is one word
        assert s["output_tokens"] == 0


@pytest.mark.parametrize(("skill", "score"), [(0.0, 0.0), (1.0, 1.0)])
def test_no_and_full_skill_score_zero_and_one(tmp_path, skill, score):
    _, fake = knowing("dates_mc", skill)
    result = evaluate(fake, "dates_mc", store=tmp_path / "s.duckdb", limit=12, progress=False)
    for metric in ("acc", "acc_norm", "acc_bytes", "acc_tokens"):
        got = row(result, "dates_mc", metric)
        assert (got["mean"], got["stderr"], got["n"]) == (score, 0.0, 12)


def test_generation_scores_are_exactly_the_known_share(tmp_path):
    task, fake = knowing("arith_gen", skill=0.5)
    result = evaluate(fake, task, store=tmp_path / "s.duckdb", limit=30, progress=False)
    instances = task.instances(limit=30)
    known = np.array([fake.knows(i.prompt) for i in instances], dtype=float)
    assert 0 < known.sum() < 30
    mean, stderr = mean_stderr(known)
    for metric in ("exact_match", "f1"):
        got = row(result, "arith_gen", metric)
        assert got["mean"] == pytest.approx(mean, abs=1e-12)
        assert got["stderr"] == pytest.approx(stderr, rel=1e-12)
        assert got["n"] == 30
    samples = open_store(tmp_path / "s.duckdb").samples().set_index("doc_id")
    for inst, k in zip(instances, known, strict=True):
        s = samples.loc[inst.doc_id]
        assert s["prediction"] == (inst.target if k else "")  # "fake <letters>" has no number
        assert s["input_tokens"] == len(inst.prompt.split())
        assert s["output_tokens"] == (1 if k else 2)
    assert fake.calls == {"generate": 1} and fake.answered["generate"] == 30


def test_rolling_logprobs_are_the_fakes_exactly(tmp_path):
    fake = FakeBackend()
    result = evaluate(
        fake, "sequence_rolling", store=tmp_path / "s.duckdb", limit=10, progress=False
    )
    texts = [i.requests[0].text for i in load_task("sequence_rolling").instances(limit=10)]
    words = np.array([len(t.split()) for t in texts], dtype=float)
    logprob = np.array([-(1 + unit("rolling", t)) for t in texts]) * words
    expected = {
        "logprob": logprob,
        "tokens": words,
        "words": np.array([len(re.split(r"\s+", t)) for t in texts], dtype=float),
        "bytes": np.array([len(t.encode("utf-8")) for t in texts], dtype=float),
    }
    for metric, values in expected.items():
        mean, stderr = mean_stderr(values)
        got = row(result, "sequence_rolling", metric)
        assert got["mean"] == pytest.approx(mean, rel=1e-12)
        assert got["stderr"] == pytest.approx(stderr, rel=1e-12)
        assert got["n"] == 10
    assert fake.calls == {"loglikelihood_rolling": 1} and fake.total == 10
    # the headline of a rolling task: corpus perplexity, not a per-document count
    ppl = row(result, "sequence_rolling", "word_perplexity")
    assert ppl["mean"] == pytest.approx(np.exp(-logprob.sum() / expected["words"].sum()))
    bpb = row(result, "sequence_rolling", "bits_per_byte")
    assert bpb["mean"] == pytest.approx(-logprob.sum() / expected["bytes"].sum() / np.log(2))
    assert ppl["n"] == 10


def _sampled_task():
    """A generate task sampled at temperature 0.7: its repeats differ per seed."""
    records = [
        {"doc_id": f"d{k}", "question": f"{k} + 1 =", "answer": str(k + 1)} for k in range(9)
    ]
    return task_from_records(
        records, name="sampled", where="test", temperature=0.7, stop=("\n",), max_new_tokens=4
    )


def test_summary_matches_a_direct_computation_from_the_store(tmp_path):
    sampled = _sampled_task()
    arith = load_task("arith_mc")
    key = answer_key([*arith.instances(), *sampled.instances()])
    fake = FakeBackend(answers=key, skill=0.5)
    path = tmp_path / "s.duckdb"
    first = evaluate(fake, [arith, sampled], store=path, limit=9, permute_choices=2, progress=False)
    second = evaluate(fake, sampled, store=path, limit=9, repeats=3, progress=False)

    samples = open_store(path).samples()
    assert len(samples) == 9 * 2 + 9 * 1 + 9 * 3
    for result, run_ids in ((first, first.run_ids), (second, second.run_ids)):
        mine = samples[samples["run_id"].isin([r for ids in run_ids.values() for r in ids])]
        tidy = mine.melt(
            id_vars=["task", "doc_id", "repeat"],
            value_vars=[c for c in mine.columns if c.startswith("metric.")],
            var_name="metric",
        ).dropna(subset=["value"])
        tidy["metric"] = tidy["metric"].str.removeprefix("metric.")
        per_doc = tidy.groupby(["task", "metric", "doc_id"]).agg(
            value=("value", "mean"), k=("value", "size")
        )
        direct = per_doc.groupby(["task", "metric"]).agg(
            mean=("value", "mean"), sd=("value", "std"), n=("value", "size"), n_samples=("k", "sum")
        )
        direct["stderr"] = direct["sd"] / np.sqrt(direct["n"])
        table = result.table.set_index(["task", "metric"]).sort_index()
        assert list(table.index) == list(direct.index)
        assert (table["model"] == "fake").all()
        np.testing.assert_allclose(table["mean"], direct["mean"], rtol=1e-12)
        np.testing.assert_allclose(table["stderr"], direct["stderr"], rtol=1e-12)
        assert table["n"].tolist() == direct["n"].tolist()
        assert table["n_samples"].tolist() == direct["n_samples"].tolist()

    # the repeats of a sampled document differ, so averaging them first matters
    em = row(second, "sampled", "exact_match")
    assert (em["n"], em["n_samples"]) == (9, 27)
    per_sample = samples[samples["run_id"] == second.run_ids["sampled"][0]]["metric.exact_match"]
    assert 0 < per_sample.mean() < 1
    assert em["stderr"] != pytest.approx(per_sample.std(ddof=1) / np.sqrt(27))
