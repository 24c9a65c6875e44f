"""The llamacpp backend (optional extra): skipped unless llama-cpp-python is installed."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.real_model
pytest.importorskip("llama_cpp")

from assay.models import load_model  # noqa: E402
from assay.models._hf_load import smollm2_path  # noqa: E402
from assay.requests import GenerateRequest, LoglikelihoodRequest  # noqa: E402


def test_llamacpp_scores_and_generates():
    model = load_model(f"llamacpp:{smollm2_path()},n_ctx=512")
    paris, london = model.loglikelihood(
        [LoglikelihoodRequest("The capital of France is", c) for c in (" Paris", " London")]
    )
    # llama.cpp quantizes activations: ~0.1 nats from transformers' -0.258 / -4.384 (NOTES.md)
    assert paris.logprob == pytest.approx(-0.258, abs=0.3) and paris.is_greedy
    assert london.logprob < paris.logprob - 2
    (gen,) = model.generate([GenerateRequest("The capital of France is", max_new_tokens=4)])
    assert "Paris" in gen.text and gen.output_tokens > 0
