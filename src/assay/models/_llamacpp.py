"""llama-cpp-python backend (optional extra ``llamacpp``; imported lazily).

Log-likelihoods come from the model's logits over the prompt (``logits_all=True``); the
context's KV cache is reused across choices by llama.cpp's prefix matching. Note that
llama.cpp quantizes activations: its log-likelihoods differ from transformers' fp32 ones by
~0.1 nats, so runs from the two backends are kept apart (the backend is part of the run id).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assay import requests as rq
from assay.errors import InputError

from ._base import BackendInfo, ModelBackend, prefix_token, rolling_windows


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


class LlamaCppBackend(ModelBackend):
    """A GGUF file run by llama.cpp through llama-cpp-python."""

    def __init__(
        self,
        path: str,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        batch_size: int | str = 512,
        name: str | None = None,
        spec: str | None = None,
    ):
        try:
            from llama_cpp import Llama
        except ImportError:
            raise InputError(
                "the llamacpp backend needs llama-cpp-python: pip install 'assay[llamacpp]'"
            ) from None
        if not Path(path).is_file():
            raise InputError(f"GGUF file not found: {path}")
        n_batch = batch_size if isinstance(batch_size, int) else 512
        self.llm = Llama(
            model_path=path,
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_batch=n_batch,
            logits_all=True,
            verbose=False,
        )
        self.name = name or Path(path).stem
        self.spec = spec or f"llamacpp:{path}"
        self.n_ctx = n_ctx
        self.info = BackendInfo(
            kind="llamacpp",
            runtime="llamacpp:cpu",
            params=float(self.llm.n_params()) if hasattr(self.llm, "n_params") else None,
        )

    def _encode(self, text: str, bos: bool = False) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=bos, special=False)

    def tokens(self, text: str) -> int:
        return len(self._encode(text))

    def _token_logprobs(self, ids: list[int]) -> np.ndarray:
        """log p(ids[i] | ids[:i]) for i >= 1."""
        self.llm.reset()
        self.llm.eval(ids)
        logits = np.asarray(self.llm.scores[: len(ids) - 1], dtype=np.float64)
        return _log_softmax(logits), np.asarray(ids[1:])

    def loglikelihood(
        self, requests: Sequence[rq.LoglikelihoodRequest]
    ) -> list[rq.LoglikelihoodResult]:
        out = []
        for r in requests:
            ctx = self._encode(r.context, bos=True)
            whole = self._encode(r.context + r.continuation, bos=True)
            lp, targets = self._token_logprobs(whole)
            rows = np.arange(len(ctx) - 1, len(whole) - 1)
            picked = lp[rows, targets[rows]]
            greedy = bool((lp[rows].argmax(axis=1) == targets[rows]).all())
            out.append(rq.LoglikelihoodResult(float(picked.sum()), greedy, len(ctx), len(rows)))
        return out

    def loglikelihood_rolling(
        self, requests: Sequence[rq.RollingRequest]
    ) -> list[rq.RollingResult]:
        """Each text conditioned on BOS (else end-of-text), every token scored, in windows of
        ``n_ctx`` tokens (assay's rolling convention, :func:`rolling_windows`)."""
        prefix = prefix_token(self.llm.token_bos(), self.llm.token_eos())
        out = []
        for r in requests:
            ids = self._encode(r.text)
            total, count = 0.0, 0
            for ctx, pred in rolling_windows(ids, prefix, self.n_ctx - 1):
                if not pred:
                    continue
                lp, targets = self._token_logprobs([*ctx, *pred])
                rows = np.arange(len(ctx) - 1, len(ctx) + len(pred) - 1)
                total += float(lp[rows, targets[rows]].sum())
                count += len(pred)
            out.append(rq.RollingResult(total, count))
        return out

    def generate(self, requests: Sequence[rq.GenerateRequest]) -> list[rq.GenerateResult]:
        out = []
        for r in requests:
            if r.chat:
                reply = self.llm.create_chat_completion(
                    messages=[{"role": "user", "content": r.context}],
                    max_tokens=r.max_new_tokens,
                    temperature=r.temperature,
                    seed=r.seed,
                    stop=list(r.stop) or None,
                )
                text = reply["choices"][0]["message"]["content"] or ""
            else:
                reply = self.llm.create_completion(
                    r.context,
                    max_tokens=r.max_new_tokens,
                    temperature=r.temperature,
                    seed=r.seed,
                    stop=list(r.stop) or None,
                )
                text = reply["choices"][0]["text"]
            usage = reply.get("usage", {})
            out.append(
                rq.GenerateResult(
                    text, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
                )
            )
        return out
