"""evaluate / score_instances / fit_cost: write-through, resume, summary, cost fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.errors import InputError
from assay.models import load_model, parse_spec
from assay.runner import evaluate, fit_cost, score_instances
from assay.store import open_store

from .conftest import AdditionTask


def test_fit_cost_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 33, 40)
    prompt = n * rng.integers(10, 200, 40)
    output = n * rng.integers(0, 50, 40)
    seconds = 0.02 * n + 0.001 * prompt + 0.03 * output + rng.normal(0, 1e-3, 40)
    fit = fit_cost(
        pd.DataFrame(
            {"n": n, "prompt_tokens": prompt, "output_tokens": output, "seconds": seconds}
        ),
        runtime="sim",
    )
    assert fit.a == pytest.approx(0.02, abs=1e-3)
    assert fit.b == pytest.approx(0.001, abs=2e-5)
    assert fit.c == pytest.approx(0.03, abs=2e-4)
    assert 0 < fit.b_stderr < 1e-4 and fit.r_squared > 0.999 and fit.n_samples == n.sum()
    assert fit.predict(100, 10) == pytest.approx(0.02 + 0.1 + 0.3, abs=0.01)


def test_fit_cost_without_output_tokens_leaves_c_unidentified():
    df = pd.DataFrame(
        {
            "n": [4, 8, 8, 16],
            "prompt_tokens": [40, 100, 60, 200],
            "output_tokens": [0, 0, 0, 0],
            "seconds": [0.44, 1.0, 0.6, 2.0],
        }
    )
    fit = fit_cost(df)
    assert np.isnan(fit.c) and fit.b == pytest.approx(0.01, abs=1e-3)


def test_spec_parsing_and_unknown_models():
    spec = parse_spec("hf:org/model,dtype=bfloat16,batch_size=8")
    assert (spec.kind, spec.target, spec.options) == (
        "hf",
        "org/model",
        {"dtype": "bfloat16", "batch_size": 8},
    )
    assert parse_spec("openai:m@http://h:1/v1,concurrency=4").options == {"concurrency": 4}
    assert parse_spec("SmolLM2-135M").kind == "alias"
    with pytest.raises(InputError, match="unknown model 'gpt-17'"):
        load_model("gpt-17")
    with pytest.raises(InputError, match="must look like openai:MODEL@"):
        load_model("openai:gpt")
    with pytest.raises(InputError, match="unknown option"):
        load_model("openai:m@http://127.0.0.1:9/v1,colour=red")


@pytest.mark.real_model
def test_score_instances_is_pure_and_complete(backend):
    task = AdditionTask(4)
    records = score_instances(backend, task.instances(), task, run_id="r1")
    assert [r.doc_id for r in records] == ["q0", "q1", "q2", "q3"]
    for r, inst in zip(records, task.instances(), strict=True):
        assert len(r.choice_logprobs) == 4 and r.metrics["acc"] in (0.0, 1.0)
        assert r.metrics["acc"] == float(np.argmax(r.choice_logprobs) == inst.target_index)
        ctx = len(backend.tokenizer.encode(inst.prompt))
        assert r.input_tokens == ctx + sum(
            len(backend.encode_pair(inst.prompt, " " + c)[1]) for c in inst.choices
        )
        assert r.output_tokens == 0 and r.latency_s > 0 and r.extra["batch"]


@pytest.mark.real_model
def test_evaluate_writes_through_resumes_and_summarises(backend, tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    task = AdditionTask(10)
    first = evaluate(backend, [task], store=store, limit=6, progress=False)
    assert first.new_samples == 6 and first.resumed_samples == 0
    samples = store.samples(task="addition")
    assert len(samples) == 6
    acc = samples["metric.acc"].to_numpy()
    row = first.table.set_index("metric").loc["acc"]
    assert row["mean"] == pytest.approx(acc.mean())
    assert row["stderr"] == pytest.approx(acc.std(ddof=1) / np.sqrt(6))
    assert row["n"] == 6
    # the same call again computes nothing; a larger limit computes only the missing docs
    again = evaluate(backend, [task], store=store, limit=6, progress=False)
    assert again.new_samples == 0 and again.resumed_samples == 6
    pd.testing.assert_frame_equal(again.table, first.table)
    more = evaluate(backend, [task], store=store, limit=10, progress=False)
    assert more.new_samples == 4 and more.resumed_samples == 6
    assert len(store.samples(task="addition")) == 10
    runs = store.runs()
    assert len(runs) == 1 and runs["finished_at"].notna().all()
    assert '"cost_fit"' in runs["extra"].iloc[0]
    models = store.models().set_index("model")
    assert models.loc["smollm2-135m", "params"] == pytest.approx(134.5e6, rel=0.01)
    assert models.loc["smollm2-135m", "family"] == "smollm2"
