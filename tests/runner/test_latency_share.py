"""Per-sample latency: each sample's share of its batch's wall time follows the tokens it made
the model process, so the shares sum to the batch's seconds and differ between short and long
prompts (before, every sample of a batch got the same share and p50 = p95 = p99)."""

from __future__ import annotations

import numpy as np
from fake_backend import FakeBackend, answer_key

from assay.runner import score_instances
from assay.tasks import task_from_records


def test_latency_follows_tokens_and_sums_to_the_batch():
    docs = [
        {
            "doc_id": f"d{i}",
            "question": "Q" + " word" * (3 if i % 2 else 60),
            "choices": ["yes", "no"],
            "label": 0,
        }
        for i in range(20)
    ]
    task = task_from_records(
        docs,
        name="lengths",
        where="test",
        template="{{ question }}",
        target="label",
        choices="choices",
    )
    instances = task.instances()
    fake = FakeBackend("m", answers=answer_key(instances))
    records = score_instances(fake, instances, task)
    latency = np.array([r.latency_s for r in records])
    tokens = np.array([r.input_tokens + r.output_tokens for r in records], dtype=float)
    seconds = records[0].extra["batch_seconds"]
    assert {r.extra["batch"] for r in records} == {records[0].extra["batch"]}
    np.testing.assert_allclose(latency.sum(), seconds, rtol=1e-9)
    np.testing.assert_allclose(latency, seconds * tokens / tokens.sum(), rtol=1e-9)
    long, short = latency[0::2], latency[1::2]
    assert long.min() > 5 * short.max()  # 60-word prompts against 3-word ones
    assert np.isclose(tokens[0::2].mean() / tokens[1::2].mean(), long.mean() / short.mean())
