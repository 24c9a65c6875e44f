"""One rolling convention for every backend (lm-eval's): a text is conditioned on BOS (else
end-of-text) and every one of its tokens is scored, in windows of the context length."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from assay.errors import InputError
from assay.models._base import prefix_token, rolling_windows
from assay.models._llamacpp import LlamaCppBackend
from assay.models._openai import NoLogprobsError
from assay.requests import RollingRequest

VOCAB = 7
W = np.random.default_rng(3).normal(size=(VOCAB, VOCAB))  # next-token logits by previous token


def _lsm(row: np.ndarray) -> np.ndarray:
    return row - np.log(np.exp(row - row.max()).sum()) - row.max()


class FakeLlama:
    """llama-cpp-python's surface the backend uses: a bigram model, token i -> id i % VOCAB."""

    def __init__(self, bos: int = 1, eos: int = 2):
        self.bos, self.eos, self.scores, self.evals = bos, eos, None, []

    def token_bos(self) -> int:
        return self.bos

    def token_eos(self) -> int:
        return self.eos

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        ids = [3 + (b % 4) for b in text]
        return ([self.bos] if add_bos and self.bos >= 0 else []) + ids

    def reset(self) -> None:
        self.scores = None

    def eval(self, ids: list[int]) -> None:
        self.evals.append(len(ids))
        self.scores = W[np.asarray(ids)]


def _llama(n_ctx: int, **kw) -> LlamaCppBackend:
    backend = LlamaCppBackend.__new__(LlamaCppBackend)
    backend.llm, backend.n_ctx = FakeLlama(**kw), n_ctx
    return backend


def _expected(ids: list[int], prefix: int) -> float:
    prev = [prefix, *ids[:-1]]
    return float(sum(_lsm(W[p])[t] for p, t in zip(prev, ids, strict=True)))


def test_prefix_is_bos_else_end_of_text():
    assert prefix_token(1, 2) == 1 and prefix_token(None, 2) == 2 and prefix_token(-1, 2) == 2
    with pytest.raises(InputError, match="neither a BOS"):
        prefix_token(None, None)


def test_rolling_windows_predict_every_token_once():
    tokens = list(range(10, 23))
    for max_len in (1, 3, 5, 13, 40):
        windows = rolling_windows(tokens, 0, max_len)
        predicted = [t for _, pred in windows for t in pred]
        assert predicted == tokens
        assert windows[0][0] == [0]  # the first token is predicted from the prefix
        assert all(len(c) + len(p) - 1 <= max_len for c, p in windows)
        for ctx, pred in windows[1:]:  # each window's context is the tokens just before it
            start = tokens.index(pred[0])
            assert ctx == tokens[max(0, start - len(ctx)) : start] and ctx


@pytest.mark.parametrize("n_ctx", [4, 9, 512])
def test_llamacpp_scores_every_token_from_bos(n_ctx):
    text = "a rolling text of some length"
    backend = _llama(n_ctx)
    ids = backend.llm.tokenize(text.encode())
    (res,) = backend.loglikelihood_rolling([RollingRequest(text)])
    assert res.tokens == len(ids) == len(text)  # the first token is scored too
    assert res.logprob == pytest.approx(_expected(ids, prefix=1))  # conditioned on BOS
    assert max(backend.llm.evals) <= n_ctx  # every window fits the context


def test_llamacpp_without_bos_conditions_on_end_of_text():
    backend = _llama(64, bos=-1, eos=2)
    (res,) = backend.loglikelihood_rolling([RollingRequest("xyz")])
    assert res.logprob == pytest.approx(_expected(backend.llm.tokenize(b"xyz"), prefix=2))
    (empty,) = backend.loglikelihood_rolling([RollingRequest("")])
    assert empty.tokens == 0 and empty.logprob == 0.0


@pytest.mark.real_model
def test_hf_and_openai_agree_on_word_perplexity(backend):
    from assay.models import load_model
    from assay.tasks import aggregate_rolling

    from .test_openai_backend import make_server

    assert backend.prefix_id == backend.tokenizer.bos_token_id  # lm-eval's prefix_token_id
    texts = ["1, 2, 3, 4, 5, 6, 7, 8", "The cat sat on the mat.", "Paris is in France."]
    bos = backend.tokenizer.bos_token
    srv, _ = make_server(backend, faults=False)
    url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    try:
        remote = load_model(f"openai:smol@{url},prefix={bos}")
        bare = load_model(f"openai:smol@{url}")
        got = remote.loglikelihood_rolling([RollingRequest(t) for t in texts])
        with pytest.raises(NoLogprobsError, match="pass prefix="):
            bare.loglikelihood_rolling([RollingRequest(texts[0])])
    finally:
        srv.shutdown()
        srv.server_close()
    local = backend.loglikelihood_rolling([RollingRequest(t) for t in texts])
    for a, b, text in zip(local, got, texts, strict=True):
        assert a.tokens == b.tokens == len(backend.tokenizer.encode(text, add_special_tokens=False))
        assert b.logprob == pytest.approx(a.logprob, abs=1e-3)

    def word_perplexity(results) -> float:
        frame = pd.DataFrame(
            {"logprob": [r.logprob for r in results], "words": [len(t.split()) for t in texts],
             "bytes": [len(t.encode()) for t in texts]}
        )  # fmt: skip
        return float(aggregate_rolling(frame)["word_perplexity"].iloc[0])

    hf, api = word_perplexity(local), word_perplexity(got)
    assert math.isfinite(hf) and api == pytest.approx(hf, rel=1e-3)
