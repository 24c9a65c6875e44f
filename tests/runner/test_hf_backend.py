"""The hf backend on the bundled model: packed scoring equals plain forward passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from assay.models._hf_pack import PackedGroup, score_groups
from assay.requests import GenerateRequest, LoglikelihoodRequest, RollingRequest

from .conftest import addition_records

pytestmark = pytest.mark.real_model


def plain_logprobs(backend, ids: list[int]) -> np.ndarray:
    """log p(ids[i] | ids[:i]) for i >= 1 from one ordinary causal forward pass."""
    with torch.inference_mode():
        logits = backend.model(torch.tensor([ids])).logits[0].double()
    lp = torch.log_softmax(logits, -1)[:-1]
    return lp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].numpy()


def test_paris_sanity_values(backend):
    ctx = "The capital of France is"
    res = backend.loglikelihood([LoglikelihoodRequest(ctx, c) for c in (" Paris", " London")])
    assert res[0].logprob == pytest.approx(-0.258, abs=2e-3)  # NOTES.md
    assert res[1].logprob == pytest.approx(-4.384, abs=2e-3)
    assert res[0].is_greedy and not res[1].is_greedy
    assert res[0].context_tokens == 5 and res[0].continuation_tokens == 1


def test_packed_multi_token_choices_equal_unpacked_forwards(backend):
    recs = addition_records(3, seed=5)
    reqs = [LoglikelihoodRequest(r["question"], " " + c) for r in recs for c in r["choices"]]
    got = backend.loglikelihood(reqs)
    for req, res in zip(reqs, got, strict=True):
        ctx, cont = backend.encode_pair(req.context, req.continuation)
        assert len(cont) > 1  # multi-token choices: the case packing must get right
        lp = plain_logprobs(backend, ctx + cont)[len(ctx) - 1 :]
        assert res.logprob == pytest.approx(lp.sum(), abs=1e-4)
        assert res.continuation_tokens == len(cont)


def test_each_unique_prefix_computed_once(backend):
    recs = addition_records(4, seed=1)
    reqs = [LoglikelihoodRequest(r["question"], " " + c) for r in recs for c in r["choices"]]
    before = dict(backend.counters)
    first = backend.loglikelihood(reqs + reqs[:5])  # duplicates are answered, not recomputed
    tokens = backend.counters["tokens"] - before["tokens"]
    unique = 0  # context once, then every distinct continuation prefix once (a token trie)
    for r in recs:
        conts = [tuple(backend.encode_pair(r["question"], " " + c)[1]) for c in r["choices"]]
        prefixes = {c[:k] for c in conts for k in range(1, len(c) + 1)}
        unique += len(backend.encode_pair(r["question"], "")[0]) + len(prefixes)
        assert len(prefixes) < sum(map(len, conts))  # numbers share leading digits
    assert tokens == unique
    assert [x.logprob for x in first[-5:]] == [x.logprob for x in first[:5]]


def test_padding_rows_do_not_leak(backend):
    """A short group batched with a long one scores the same as alone."""
    short = PackedGroup((504, 3575), ((282,), (314, 216)))
    long = PackedGroup(tuple(range(100, 140)), ((5, 6, 7), (8,)))
    alone = score_groups(backend.model, [short], backend.pad_id)[0]
    batched = score_groups(backend.model, [long, short], backend.pad_id)[1]
    np.testing.assert_allclose([a for a, _ in alone], [b for b, _ in batched], atol=1e-4)


def test_rolling_equals_sum_of_token_logprobs(backend):
    text = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
    ids = backend.tokenizer.encode(text, add_special_tokens=False)
    expected = plain_logprobs(backend, [backend.prefix_id, *ids]).sum()
    (res,) = backend.loglikelihood_rolling([RollingRequest(text)])
    assert res.tokens == len(ids)
    assert res.logprob == pytest.approx(expected, abs=1e-3)  # fp32 kernels differ
    # windows shorter than the text: every token still predicted exactly once
    old = backend.max_length
    backend.max_length = 8
    try:
        (windowed,) = backend.loglikelihood_rolling([RollingRequest(text)])
    finally:
        backend.max_length = old
    assert windowed.tokens == len(ids)
    assert windowed.logprob < 0 and windowed.logprob != pytest.approx(res.logprob, abs=1e-6)


def test_greedy_generation_batched_matches_single_and_stops(backend):
    reqs = [
        GenerateRequest("Question: What is 2 + 2?\nAnswer:", stop=("\n",), max_new_tokens=6),
        GenerateRequest("The capital of France is", stop=(".",), max_new_tokens=6),
    ]
    both = backend.generate(reqs)
    single = backend.generate(reqs[1:])
    assert both[1].text == single[0].text
    assert all("\n" not in r.text for r in both) and "." not in both[1].text
    assert both[1].text.strip().startswith("Paris")
    assert 0 < both[1].output_tokens <= 6 and both[1].input_tokens == 5


def plain_greedy(backend, req: GenerateRequest) -> str:
    """transformers' own greedy generate on one unpadded prompt, cut at the stops like lm-eval."""
    ids = backend.tokenizer.encode(req.context)
    with torch.inference_mode():
        out = backend.model.generate(
            torch.tensor([ids]),
            max_new_tokens=req.max_new_tokens,
            do_sample=False,
            pad_token_id=backend.pad_id,
        )
    new = out[0, len(ids) :].tolist()
    ends = [i for i, t in enumerate(new) if t in backend.eos_ids]
    text = backend.tokenizer.decode(new[: ends[0]] if ends else new, skip_special_tokens=True)
    for stop in req.stop:
        text = text.split(stop)[0]
    return text


def test_batched_kv_decoding_equals_plain_greedy(backend):
    """Rows of different lengths that stop at different steps (early exit) in one batch give
    exactly transformers' unbatched greedy text; finished rows stop costing forward passes."""
    stops = ("\n\n", "Question:")
    reqs = [
        GenerateRequest(
            "Question: What is 12 plus 30?\nAnswer: 42\n\nQuestion: What is 7 plus 5?\nAnswer:",
            stops,
            16,
        ),
        GenerateRequest("The capital of France is", (".",), 16),
        GenerateRequest("def add(a, b):", stops, 16),
        GenerateRequest("Once upon a time", stops, 16),
    ]
    before = backend.counters["forward_passes"]
    got = backend.generate(reqs)
    passes = backend.counters["forward_passes"] - before
    assert [g.text for g in got] == [plain_greedy(backend, r) for r in reqs]
    assert got[1].text.strip().startswith("Paris") and got[1].output_tokens < 16
    assert passes == 16  # one prefill + 15 steps: the budget of the longest row, shared
