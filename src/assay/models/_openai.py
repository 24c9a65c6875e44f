"""OpenAI-compatible servers (vLLM, llama.cpp server, Ollama, hosted APIs) over HTTP.

Log-likelihoods use ``/v1/completions`` with ``echo=true, logprobs=1, max_tokens=1`` on
``context + continuation``: the server returns the prompt's tokens with their log-probs and
character offsets, and the continuation is the tokens starting at or after ``len(context)``.
Generation uses ``/v1/chat/completions`` (chat requests) or ``/v1/completions``. Requests run
concurrently on a thread pool; 429, 5xx, timeouts and connection errors are retried with
exponential backoff and full jitter, honouring ``Retry-After``.
"""

from __future__ import annotations

import email.utils
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from assay.errors import AssayError
from assay.requests import (
    GenerateRequest,
    GenerateResult,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RollingRequest,
    RollingResult,
)

from ._base import ModelBackend

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class NoLogprobsError(AssayError):
    """The server cannot return prompt log-likelihoods."""


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**attempt))."""
    return rng.uniform(0, min(cap, base * 2**attempt))


class OpenAIBackend(ModelBackend):
    """A model served behind an OpenAI-compatible HTTP API at ``base_url`` (ending in ``/v1``)."""

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 8,
        backoff: float = 0.5,
        chat: bool | None = None,
        name: str | None = None,
        spec: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        tokens_per_char: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
        seed: int = 0,
    ):
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.name = name or model
        self.spec = spec or f"openai:{model}@{base_url}"
        self.runtime = f"openai:{self.base_url}"
        self.concurrency = int(concurrency)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.chat = chat
        self.tokens_per_char = tokens_per_char
        self.info = {"family": None, "params": None, "spec": self.spec}
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        headers = {}
        key = os.environ.get(api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers=headers,
            limits=httpx.Limits(max_connections=self.concurrency),
        )
        self.counters = {"requests": 0, "retries": 0}

    def close(self) -> None:
        self.client.close()

    # -- HTTP ------------------------------------------------------------------------------
    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST with retries on 429/5xx/timeouts; other errors raise one-line AssayErrors."""
        url = f"{self.base_url}{path}"
        last = ""
        for attempt in range(self.max_retries + 1):
            wait = None
            try:
                response = self.client.post(url, json=payload)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last = f"{type(exc).__name__}"
            else:
                if response.status_code < 400:
                    with self._lock:
                        self.counters["requests"] += 1
                    return response.json()
                if response.status_code not in RETRY_STATUS:
                    raise self._http_error(path, response)
                last = f"HTTP {response.status_code}"
                wait = retry_after_seconds(response.headers.get("retry-after"))
            if attempt == self.max_retries:
                break
            with self._lock:
                self.counters["retries"] += 1
                delay = backoff_delay(attempt, self.backoff, 30.0, self._rng)
            self._sleep(max(delay, wait or 0.0))
        raise AssayError(f"{url}: giving up after {self.max_retries + 1} attempts ({last})")

    def _http_error(self, path: str, response: httpx.Response) -> AssayError:
        try:
            message = response.json().get("error", {})
            message = message.get("message", message) if isinstance(message, dict) else message
        except ValueError:
            message = response.text[:200]
        text = " ".join(str(message).split())[:300]
        if path == "/completions" and response.status_code in (400, 404, 422, 501):
            low = text.lower()
            if response.status_code in (404, 501) or "echo" in low or "logprob" in low:
                return NoLogprobsError(self._no_logprobs(f"HTTP {response.status_code}: {text}"))
        return AssayError(f"{self.base_url}{path}: HTTP {response.status_code}: {text}")

    def _no_logprobs(self, why: str) -> str:
        return (
            f"server {self.base_url} cannot score log-likelihoods for {self.model!r} ({why}); "
            "multiple-choice and perplexity tasks need /v1/completions with echo=true and "
            "logprobs — use a generation task or another backend"
        )

    def _map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        unique = list(dict.fromkeys(items))
        if len(unique) <= 1 or self.concurrency <= 1:
            answers = [fn(x) for x in unique]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(unique))) as pool:
                answers = list(pool.map(fn, unique))
        table = dict(zip(unique, answers, strict=True))
        return [table[x] for x in items]

    # -- log-likelihoods -------------------------------------------------------------------
    def _echo_logprobs(self, prompt: str) -> tuple[list[str], list[float | None], list[int], list]:
        data = self._post(
            "/completions",
            {
                "model": self.model,
                "prompt": prompt,
                "max_tokens": 1,
                "temperature": 0.0,
                "echo": True,
                "logprobs": 1,
            },
        )
        try:
            lp = data["choices"][0]["logprobs"]
            tokens, values, offsets = lp["tokens"], lp["token_logprobs"], lp["text_offset"]
            top = lp.get("top_logprobs") or [None] * len(tokens)
        except (KeyError, IndexError, TypeError):
            raise NoLogprobsError(
                self._no_logprobs("no echoed prompt logprobs in the reply")
            ) from None
        if not tokens or len(tokens) != len(values):
            raise NoLogprobsError(self._no_logprobs("no echoed prompt logprobs in the reply"))
        return tokens, values, offsets, top

    def _score(self, req: LoglikelihoodRequest) -> LoglikelihoodResult:
        prompt = req.context + req.continuation
        tokens, values, offsets, top = self._echo_logprobs(prompt)
        start, end = len(req.context), len(prompt)
        total, greedy, n_cont, n_ctx = 0.0, True, 0, 0
        for tok, value, off, alts in zip(tokens, values, offsets, top, strict=False):
            if off >= end:
                break  # the generated token
            if off + len(tok) <= start:  # ends inside the context
                n_ctx += 1
                continue
            if value is None:
                raise NoLogprobsError(
                    self._no_logprobs("first token has no log-prob; empty context?")
                )
            total += float(value)
            n_cont += 1
            if alts:
                best = max(alts.items(), key=lambda kv: kv[1])[0]
                greedy = greedy and best == tok
        return LoglikelihoodResult(total, greedy, n_ctx, n_cont)

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        return self._map(self._score, list(requests))

    def _rolling(self, req: RollingRequest) -> RollingResult:
        tokens, values, _offsets, _ = self._echo_logprobs(req.text)
        known = [v for v in values[: len(tokens) - 1] if v is not None]
        return RollingResult(float(sum(known)), len(known))

    def loglikelihood_rolling(self, requests: Sequence[RollingRequest]) -> list[RollingResult]:
        return self._map(self._rolling, list(requests))

    # -- generation ------------------------------------------------------------------------
    def _generate(self, req: GenerateRequest) -> GenerateResult:
        common = {
            "model": self.model,
            "max_tokens": req.max_new_tokens,
            "temperature": req.temperature,
            "seed": req.seed,
        }
        if req.stop:
            common["stop"] = list(req.stop)[:4]
        use_chat = req.chat if self.chat is None else self.chat
        if use_chat:
            data = self._post(
                "/chat/completions",
                {**common, "messages": [{"role": "user", "content": req.context}]},
            )
            text = data["choices"][0]["message"].get("content") or ""
        else:
            data = self._post("/completions", {**common, "prompt": req.context})
            text = data["choices"][0].get("text") or ""
        cut = min((text.index(s) for s in req.stop if s and s in text), default=None)
        text = text if cut is None else text[:cut]
        usage = data.get("usage") or {}
        return GenerateResult(
            text,
            int(usage.get("prompt_tokens") or self.tokens(req.context)),
            int(usage.get("completion_tokens") or self.tokens(text)),
        )

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        return self._map(self._generate, list(requests))

    def tokens(self, text: str) -> int:
        return max(1, round(len(text) * self.tokens_per_char))
