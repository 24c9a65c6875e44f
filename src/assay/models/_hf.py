"""transformers backend: packed multiple-choice scoring, rolling windows, batched generation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assay import requests as rq

from ._base import BackendInfo, ModelBackend, prefix_token, rolling_windows
from ._hf_generate import StopStrings, cut_at_stop, greedy_decode
from ._hf_load import choose_threads, load_hf
from ._hf_pack import PackedGroup, score_groups
from ._quantize import check_quantization, quantize_int8, quantized_params, variant_names

DEFAULT_TOKEN_BUDGET = 2048
"""``batch_size="auto"``: padded tokens per forward pass (measured best on 2 CPU cores)."""
GENERATE_BATCH = 32
"""``batch_size="auto"``: prompts decoded together (finished rows leave the batch early)."""


class HFBackend(ModelBackend):
    """A transformers causal LM (CPU or GPU), from a hub id, a local folder or a GGUF file.

    ``threads`` sets torch's CPU threads (default: :func:`choose_threads`).
    ``batch_size`` is the number of continuations per forward pass (``"auto"``: as many as fit
    in :data:`DEFAULT_TOKEN_BUDGET` padded tokens). Tokenisation follows lm-eval's HFLM (the
    context's trailing whitespace moves to the continuation; the continuation's tokens are
    the tail of the tokenised ``context + continuation``), so scores agree with lm-eval.
    """

    def __init__(
        self,
        source: str,
        *,
        gguf_file: str | None = None,
        dtype: str | None = None,
        device: str | None = None,
        batch_size: int | str = "auto",
        max_length: int | None = None,
        name: str | None = None,
        spec: str | None = None,
        family: str | None = None,
        trust_remote_code: bool = False,
        threads: int | None = None,
        quantize: str | None = None,
        default_name: str | None = None,
        model: Any = None,
        tokenizer: Any = None,
    ):
        self.threads = choose_threads(threads)
        if model is None:
            tokenizer, model = load_hf(
                source,
                gguf_file=gguf_file,
                dtype=dtype,
                device=device,
                trust_remote_code=trust_remote_code,
            )
        quantize = check_quantization(quantize)
        if quantize:
            quantize_int8(model)
        self.model, self.tokenizer = model, tokenizer
        self.device = next(model.parameters()).device
        base = default_name or (Path(gguf_file).stem if gguf_file else source.rstrip("/"))
        self.name, parent = variant_names(base, quantize, name, None)
        self.spec = spec or f"hf:{source}" + (f",gguf_file={gguf_file}" if gguf_file else "")
        dtype_name = str(next(model.parameters()).dtype).removeprefix("torch.")
        self.batch_size = batch_size
        config = model.config
        limit = getattr(config, "max_position_embeddings", None) or 2048
        self.max_length = int(max_length or min(limit, 2048))
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.prefix_id = prefix_token(tokenizer.bos_token_id, tokenizer.eos_token_id)
        eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        eos = eos if isinstance(eos, list) else [eos]
        self.eos_ids = frozenset(t for t in [tokenizer.eos_token_id, *eos] if t is not None)
        self.info = BackendInfo(
            kind="hf",
            runtime=f"hf:{self.device.type}:{dtype_name}",
            family=family or getattr(config, "model_type", None),
            params=quantized_params(model),
            dtype=dtype_name,
            quantization=quantize,
            parent=parent,
        )
        self.counters = {"forward_passes": 0, "tokens": 0, "padded_tokens": 0}
        self._encode_cache: dict[str, list[int]] = {}

    # -- tokenisation ----------------------------------------------------------------------
    def _encode(self, text: str) -> list[int]:
        ids = self._encode_cache.get(text)
        if ids is None:
            ids = self.tokenizer.encode(text)
            if len(self._encode_cache) < 200_000:
                self._encode_cache[text] = ids
        return ids

    def tokens(self, text: str) -> int:
        return len(self._encode(text))

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """(context ids, continuation ids) exactly as lm-eval's HFLM builds them."""
        if context == "":
            cont = self.tokenizer.encode(continuation, add_special_tokens=False)
            if cont and cont[0] == self.prefix_id:
                return cont[:1], cont[1:]
            return [self.prefix_id], cont
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
        ctx = self._encode(context)
        whole = self.tokenizer.encode(context + continuation)
        return ctx, whole[len(ctx) :]

    # -- scoring ---------------------------------------------------------------------------
    def _batches(self, groups: list[PackedGroup]) -> list[list[PackedGroup]]:
        """Groups sorted longest first, cut into batches by continuation count or token budget."""
        order = sorted(groups, key=lambda g: -g.length)
        batches: list[list[PackedGroup]] = []
        current: list[PackedGroup] = []
        n_conts = 0
        for g in order:
            if isinstance(self.batch_size, int):
                full = current and n_conts + len(g.continuations) > self.batch_size
            else:
                full = current and (len(current) + 1) * current[0].length > DEFAULT_TOKEN_BUDGET
            if full:
                batches.append(current)
                current, n_conts = [], 0
            current.append(g)
            n_conts += len(g.continuations)
        if current:
            batches.append(current)
        return batches

    def score_token_groups(
        self, groups: Sequence[PackedGroup]
    ) -> dict[PackedGroup, list[tuple[float, bool]]]:
        """Score unique groups in length-sorted batches; returns results per group."""
        unique = list(dict.fromkeys(groups))
        out: dict[PackedGroup, list[tuple[float, bool]]] = {}
        for batch in self._batches(unique):
            results = score_groups(self.model, batch, self.pad_id)
            width = max(g.length for g in batch)
            self.counters["forward_passes"] += 1
            self.counters["tokens"] += sum(g.length for g in batch)
            self.counters["padded_tokens"] += width * len(batch)
            out.update(zip(batch, results, strict=True))
        return out

    def loglikelihood(
        self, requests: Sequence[rq.LoglikelihoodRequest]
    ) -> list[rq.LoglikelihoodResult]:
        pairs = [self.encode_pair(r.context, r.continuation) for r in requests]
        by_context: dict[tuple[int, ...], dict[tuple[int, ...], None]] = {}
        for ctx, cont in pairs:
            if cont:
                by_context.setdefault(tuple(ctx), {})[tuple(cont)] = None
        groups = {}
        for ctx, conts in by_context.items():
            longest = max(len(c) for c in conts)
            keep = max(1, self.max_length - longest)
            groups[ctx] = PackedGroup(ctx[-keep:], tuple(conts))
        scored = self.score_token_groups(list(groups.values()))
        lookup = {
            (ctx, cont): res
            for ctx, g in groups.items()
            for cont, res in zip(g.continuations, scored[g], strict=True)
        }
        out = []
        for ctx, cont in pairs:
            logprob, greedy = lookup.get((tuple(ctx), tuple(cont)), (0.0, True))
            out.append(rq.LoglikelihoodResult(logprob, greedy, len(ctx), len(cont)))
        return out

    def loglikelihood_rolling(
        self, requests: Sequence[rq.RollingRequest]
    ) -> list[rq.RollingResult]:
        windows = []
        for r in requests:
            ids = self.tokenizer.encode(r.text, add_special_tokens=False)
            windows.append(
                [
                    PackedGroup(tuple(c), (tuple(p),))
                    for c, p in rolling_windows(ids, self.prefix_id, self.max_length)
                    if p
                ]
            )
        scored = self.score_token_groups([g for ws in windows for g in ws])
        return [
            rq.RollingResult(
                sum(scored[g][0][0] for g in ws), sum(len(g.continuations[0]) for g in ws)
            )
            for ws in windows
        ]

    # -- generation ------------------------------------------------------------------------
    def _prompt_ids(self, req: rq.GenerateRequest) -> list[int]:
        if req.chat:
            text = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": req.context}],
                add_generation_prompt=True,
                tokenize=False,
            )
            ids = self.tokenizer.encode(text, add_special_tokens=False)
        else:
            ids = self._encode(req.context)
        return ids[-max(1, self.max_length - req.max_new_tokens) :]

    def _finish(self, req: rq.GenerateRequest, prompt: list[int], new: list[int]):
        """The result of one request from its generated ids: text cut at the first stop."""
        text, cut = cut_at_stop(self.tokenizer.decode(new, skip_special_tokens=True), req.stop)
        if cut:
            new = self.tokenizer.encode(text, add_special_tokens=False)
        return rq.GenerateResult(text, len(prompt), len(new))

    def _greedy_batch(self, reqs: list[rq.GenerateRequest], prompts: list[list[int]]):
        """Greedy requests sharing ``max_new_tokens``: one KV-cached decode with early exit."""
        new, steps = greedy_decode(
            self.model,
            prompts,
            max_new_tokens=reqs[0].max_new_tokens,
            pad_id=self.pad_id,
            eos_ids=self.eos_ids,
            stopper=StopStrings(self.tokenizer, [r.stop for r in reqs]),
        )
        self.counters["forward_passes"] += 1 + steps
        return [self._finish(r, p, n) for r, p, n in zip(reqs, prompts, new, strict=True)]

    def _sample_one(self, req: rq.GenerateRequest) -> rq.GenerateResult:
        """A seeded sampled continuation (one request at a time, so the seed fixes it)."""
        import torch

        prompt = self._prompt_ids(req)
        torch.manual_seed(req.seed)
        kwargs: dict[str, Any] = {
            "max_new_tokens": req.max_new_tokens,
            "pad_token_id": self.pad_id,
            "do_sample": True,
            "temperature": req.temperature,
            "top_k": 0,
            "top_p": 1.0,
        }
        stops = [s for s in req.stop if s]
        if stops:
            kwargs.update(stop_strings=stops, tokenizer=self.tokenizer)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=torch.tensor([prompt], device=self.device), **kwargs
            )
        self.counters["forward_passes"] += 1
        new = out[0, len(prompt) :].tolist()
        ends = [i for i, t in enumerate(new) if t in self.eos_ids]
        return self._finish(req, prompt, new[: ends[0]] if ends else new)

    def generate(self, requests: Sequence[rq.GenerateRequest]) -> list[rq.GenerateResult]:
        """Greedy requests in batches sorted by prompt length (longest first, so each batch
        pads little), keyed by (max_new_tokens, chat); sampled requests one at a time."""
        unique = list(dict.fromkeys(requests))
        answers: dict[rq.GenerateRequest, rq.GenerateResult] = {}
        size = self.batch_size if isinstance(self.batch_size, int) else GENERATE_BATCH
        keyed: dict[tuple, list[tuple[rq.GenerateRequest, list[int]]]] = {}
        for r in unique:
            if r.temperature <= 0:
                keyed.setdefault((r.max_new_tokens, r.chat), []).append((r, self._prompt_ids(r)))
        for group in keyed.values():
            group.sort(key=lambda rp: -len(rp[1]))
            for i in range(0, len(group), size):
                reqs, prompts = (list(x) for x in zip(*group[i : i + size], strict=True))
                answers.update(zip(reqs, self._greedy_batch(reqs, prompts), strict=True))
        for r in unique:
            if r.temperature > 0:
                answers[r] = self._sample_one(r)
        return [answers[r] for r in requests]
