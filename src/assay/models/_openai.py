"""OpenAI-compatible servers (vLLM, llama.cpp server, Ollama, hosted APIs) over HTTP.

Log-likelihoods use ``/v1/completions`` with ``echo=true, logprobs=1, max_tokens=1`` on
``context + continuation``: the server returns the prompt's tokens with their log-probs and
character offsets, and the continuation is the tokens starting at or after ``len(context)``.
Generation uses ``/v1/chat/completions`` (chat requests) or ``/v1/completions``. Requests run
concurrently on a thread pool, at most ``concurrency`` in flight and twice that many queued (a
sliding window, so memory does not grow with the batch), within the ``rpm``/``tpm`` budgets
(:mod:`._openai_budget`); 429, 5xx, timeouts, connection errors and 2xx replies with a
malformed body are retried per request with exponential backoff and full jitter, honouring
``Retry-After``. A server that was never reached (connection refused, unknown host, no answer
to connect) fails after a few quick attempts with one line, and one that has never returned
prompt log-probs is reported as such (:class:`NoLogprobsError`).
"""

from __future__ import annotations

import email.utils
import math
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

import httpx

from assay import requests as rq
from assay.errors import AssayError, InputError

from ._base import BackendInfo, ModelBackend
from ._openai_budget import RateBudget
from ._openai_deadline import DeadlineBackend, install
from ._openai_reply import (
    BadContent,
    BadReply,
    EchoLogprobs,
    completion_text,
    decode_json,
    echo_logprobs,
    usage_tokens,
    usage_total,
)

T = TypeVar("T")

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
CONNECT_ATTEMPTS = 3
"""Attempts at a server not reached yet before a connection error is final (nothing listening
is not worth minutes of retries); once it has answered, connection errors get full retries."""
CONNECT_BACKOFF_CAP = 0.5
"""Longest wait, in seconds, between those first connection attempts."""
CONNECT_TIMEOUT = 10.0
"""Longest wait for a TCP connection (at most ``timeout``)."""
WINDOW_FACTOR = 2
"""Requests queued per worker thread: the window is ``WINDOW_FACTOR * concurrency``."""
CAPABILITY_ATTEMPTS = 3
"""Well-formed replies without prompt log-probs, from a server that has never sent any, before
concluding that it cannot send them."""
RETRY_AFTER_CAP = 60.0
"""Longest ``Retry-After`` honoured, in seconds."""


class NoLogprobsError(AssayError):
    """The server cannot return prompt log-likelihoods."""


class _NoAnswer(AssayError):
    """Every reply to one request was well-formed but unusable (:class:`BadContent`): that
    request is answered with a :class:`~assay.requests.FailedResult`, the batch goes on."""


class _Aborted(AssayError):
    """Another request of the same batch failed for good; stop retrying this one."""


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**attempt))."""
    return rng.uniform(0, min(cap, base * 2.0 ** min(attempt, 60)))


def _int_option(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(f"openai option {name}={value!r}: must be an integer >= {low}")
    return value


def _float_option(name: str, value: Any, *, positive: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        kind = "a positive" if positive else "a non-negative"
        raise InputError(f"openai option {name}={value!r}: must be {kind} finite number")
    return float(value)


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def _or_failed(fn: Callable[[Any], T]) -> Callable[[Any], T | rq.FailedResult]:
    def answer(item: Any) -> T | rq.FailedResult:
        try:
            return fn(item)
        except _NoAnswer as exc:
            return rq.FailedResult(str(exc))

    return answer


class OpenAIBackend(ModelBackend):
    """A model served behind an OpenAI-compatible HTTP API at ``base_url`` (ending in ``/v1``).

    ``backoff`` and ``backoff_cap`` are the base and the cap (seconds) of the retry backoff;
    ``rpm`` and ``tpm`` are requests- and tokens-per-minute budgets (tokens estimated as
    ``tokens_per_char`` per character plus ``max_tokens``, corrected from the reply's
    ``usage``); invalid options raise :class:`InputError` before any request is sent.
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 8,
        backoff: float = 0.5,
        backoff_cap: float = 30.0,
        chat: bool | None = None,
        name: str | None = None,
        spec: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        tokens_per_char: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
        seed: int = 0,
        prefix: str = "",
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.model = model
        self.base_url = base_url.rstrip("/")
        try:
            parsed = httpx.URL(self.base_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise InputError(f"openai URL {base_url!r}: {_reason(exc)}") from None
        port_ok = parsed.port is None or 0 < parsed.port < 65536
        if parsed.scheme not in ("http", "https") or not parsed.host or not port_ok:
            raise InputError(f"openai URL {base_url!r}: expected http(s)://host[:port]/v1")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise InputError(f"openai option name={name!r}: must be a non-empty name")
        if chat is not None and not isinstance(chat, bool):
            raise InputError(f"openai option chat={chat!r}: must be true or false")
        if not isinstance(api_key_env, str):
            raise InputError(f"openai option api_key_env={api_key_env!r}: must be a variable name")
        self.name = name or model
        self.spec = spec or f"openai:{model}@{base_url}"
        self.concurrency = _int_option("concurrency", concurrency, 1)
        self.max_retries = _int_option("max_retries", max_retries, 0)
        self.timeout = _float_option("timeout", timeout, positive=True)
        self.backoff = _float_option("backoff", backoff, positive=False)
        self.backoff_cap = _float_option("backoff_cap", backoff_cap, positive=False)
        self.tokens_per_char = _float_option("tokens_per_char", tokens_per_char, positive=True)
        self.chat = chat
        if not isinstance(prefix, str):
            raise InputError(f"openai option prefix={prefix!r}: must be text (e.g. <|endoftext|>)")
        self.prefix = prefix
        self.info = BackendInfo(kind="openai", runtime=f"openai:{self.base_url}")
        self._sleep = sleep
        self.budget = RateBudget(
            None if rpm is None else _float_option("rpm", rpm, positive=True),
            None if tpm is None else _float_option("tpm", tpm, positive=True),
            clock=clock,
            sleep=sleep,
        )
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._reached = False  # some request got an HTTP reply
        self._logprobs_seen = False  # some reply carried echoed prompt log-probs
        self._abort: BaseException | None = None  # the failure that ends the current batch
        headers = {}
        key = os.environ.get(api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.client = httpx.Client(
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT)),
            headers=headers,
            limits=httpx.Limits(max_connections=self.concurrency),
        )
        self._deadline = DeadlineBackend()  # ``timeout`` bounds a whole request, not one read
        install(self.client, self._deadline)
        self.counters = {"requests": 0, "retries": 0, "window_peak": 0}

    def close(self) -> None:
        self.client.close()

    # -- HTTP ------------------------------------------------------------------------------
    def _post(
        self, path: str, payload: dict[str, Any], parse: Callable[[Any], T], cost: float = 1.0
    ) -> T:
        """POST and ``parse`` the JSON body, retrying 429/5xx, timeouts, connection errors and
        malformed 2xx bodies (:class:`BadReply` from ``parse``); other errors and spent retries
        raise one-line AssayErrors. Every attempt takes one request and ``cost`` tokens
        (estimated) from the budget; a good reply's ``usage`` corrects the token charge."""
        url = f"{self.base_url}{path}"
        counts: dict[str, int] = {}
        last, capability, attempt = "", 0, 0
        for attempt in range(self.max_retries + 1):
            if self._abort is not None:
                raise _Aborted("another request failed")
            wait_s, unreached = None, False
            self.budget.acquire(cost)
            try:
                with self._deadline.within(self.timeout):
                    response = self.client.post(url, json=payload)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                kind, last = "connection errors", f"cannot connect: {_reason(exc)}"
                unreached = not self._reached
                if unreached and attempt + 1 >= CONNECT_ATTEMPTS:
                    raise AssayError(
                        f"{url}: cannot connect ({_reason(exc)}) after {attempt + 1} attempts; "
                        "is the server running at that address?"
                    ) from None
            except httpx.TimeoutException:
                kind, last = "timeouts", f"no reply within {self.timeout:g} s"
            except httpx.TransportError as exc:
                kind, last = "transport errors", f"{type(exc).__name__}: {_reason(exc)}"
            except httpx.DecodingError as exc:  # e.g. a body that is not the gzip it claims
                kind, last = "malformed replies", f"malformed reply: {_reason(exc)}"
            else:
                self._reached = True
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        data = decode_json(response.content)
                        result = parse(data)
                    except BadReply as bad:
                        kind = (
                            "unusable replies"
                            if isinstance(bad, BadContent)
                            else "malformed replies"
                        )
                        last = f"{kind[:-3]}y: {bad.why}"
                        if bad.capability and not self._logprobs_seen:
                            capability += 1
                        if capability >= CAPABILITY_ATTEMPTS:
                            raise NoLogprobsError(self._no_logprobs(bad.why)) from None
                    else:
                        self.budget.settle(cost, usage_total(data))
                        with self._lock:
                            self.counters["requests"] += 1
                        return result
                elif status in RETRY_STATUS:
                    kind, last = f"HTTP {status}", f"HTTP {status}"
                    wait_s = retry_after_seconds(response.headers.get("retry-after"))
                else:
                    raise self._http_error(path, response)
            counts[kind] = counts.get(kind, 0) + 1
            if attempt == self.max_retries:
                break
            with self._lock:
                self.counters["retries"] += 1
                cap = min(self.backoff_cap, CONNECT_BACKOFF_CAP) if unreached else self.backoff_cap
                delay = backoff_delay(attempt, self.backoff, cap, self._rng)
            self._sleep(max(delay, min(wait_s or 0.0, RETRY_AFTER_CAP)))
        summary = ", ".join(f"{n} {k}" for k, n in counts.items())
        tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
        message = f"{url}: giving up after {tries} ({summary}; last: {last})"
        raise (_NoAnswer if kind == "unusable replies" else AssayError)(message)

    def _http_error(self, path: str, response: httpx.Response) -> AssayError:
        try:
            message = decode_json(response.content)
            message = message.get("error", message) if isinstance(message, dict) else message
            message = message.get("message", message) if isinstance(message, dict) else message
        except BadReply:
            message = response.content[:200].decode("utf-8", "replace")
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

    def _guarded(self, fn: Callable[[Any], T], item: Any) -> T:
        try:
            return fn(item)
        except _Aborted:
            raise
        except Exception as exc:
            with self._lock:
                if self._abort is None:
                    self._abort = exc
            raise

    def _map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``fn`` over the distinct items, concurrently, in a sliding window of
        ``WINDOW_FACTOR * concurrency`` submitted calls; the first failure stops the rest.
        Results are matched to items by position, so they do not depend on completion order."""
        unique = list(dict.fromkeys(items))
        self._abort = None
        fn = _or_failed(fn)
        if len(unique) <= 1 or self.concurrency <= 1:
            answers = [fn(x) for x in unique]
        else:
            answers = self._windowed(fn, unique)
        table = dict(zip(unique, answers, strict=True))
        return [table[x] for x in items]

    def _windowed(self, fn: Callable[[Any], Any], unique: list[Any]) -> list[Any]:
        answers: list[Any] = [None] * len(unique)
        window = WINDOW_FACTOR * self.concurrency
        pending: dict[Future, int] = {}
        following = iter(enumerate(unique))
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(unique))) as pool:
            try:
                while True:
                    while len(pending) < window and self._abort is None:
                        nxt = next(following, None)
                        if nxt is None:
                            break
                        pending[pool.submit(self._guarded, fn, nxt[1])] = nxt[0]
                    if not pending:
                        break
                    self.counters["window_peak"] = max(self.counters["window_peak"], len(pending))
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        position = pending.pop(future)
                        if future.exception() is None:
                            answers[position] = future.result()
                    if self._abort is not None:
                        break
            except BaseException as exc:  # Ctrl-C: workers stop at their next attempt
                self._abort = self._abort or exc
                raise
            finally:
                if self._abort is not None:
                    for future in pending:
                        future.cancel()
        if self._abort is not None:
            raise self._abort
        return answers

    # -- log-likelihoods -------------------------------------------------------------------
    def _echo_logprobs(self, prompt: str) -> EchoLogprobs:
        def parse(data: Any) -> EchoLogprobs:
            echo = echo_logprobs(data, len(prompt))
            self._logprobs_seen = True
            return echo

        return self._post(
            "/completions",
            {
                "model": self.model,
                "prompt": prompt,
                "max_tokens": 1,
                "temperature": 0.0,
                "echo": True,
                "logprobs": 1,
            },
            parse,
            cost=self.tokens(prompt) + 1,
        )

    def _score(self, req: rq.LoglikelihoodRequest) -> rq.LoglikelihoodResult:
        prompt = req.context + req.continuation
        echo = self._echo_logprobs(prompt)
        start, end = len(req.context), len(prompt)
        total, greedy, n_cont, n_ctx = 0.0, True, 0, 0
        for tok, value, off, alts in zip(
            echo.tokens, echo.values, echo.offsets, echo.top, strict=True
        ):
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
        if n_cont == 0 and req.continuation:
            raise NoLogprobsError(
                self._no_logprobs("the echoed tokens do not cover the continuation")
            )
        return rq.LoglikelihoodResult(total, greedy, n_ctx, n_cont)

    def loglikelihood(
        self, requests: Sequence[rq.LoglikelihoodRequest]
    ) -> list[rq.LoglikelihoodResult]:
        return self._map(self._score, list(requests))

    def _rolling(self, req: rq.RollingRequest) -> rq.RollingResult:
        """Every token of the text scored, conditioned on what precedes it: the ``prefix``
        option (the model's BOS or end-of-text text, which the server must read as that
        token) or a BOS the server adds itself. Without either the first token has no
        log-prob, and the backend says so instead of dropping it."""
        prompt = self.prefix + req.text
        echo = self._echo_logprobs(prompt)
        start, end = len(self.prefix), len(prompt)
        total, count = 0.0, 0
        for tok, value, off in zip(echo.tokens, echo.values, echo.offsets, strict=True):
            if off >= end:
                break  # the generated token
            if start and off + len(tok) <= start:
                continue  # the prefix
            if value is None and count == 0 and (not tok or not prompt.startswith(tok, off)):
                continue  # a BOS the server put before the text
            if value is None:
                raise NoLogprobsError(
                    f"server {self.base_url} gives no log-prob for the first token of a text "
                    "(no BOS before it): pass prefix=<the model's BOS or end-of-text token, "
                    "e.g. prefix=<|endoftext|>> so every token is scored, as lm-eval does"
                )
            total += float(value)
            count += 1
        return rq.RollingResult(total, count)

    def loglikelihood_rolling(
        self, requests: Sequence[rq.RollingRequest]
    ) -> list[rq.RollingResult]:
        return self._map(self._rolling, list(requests))

    # -- generation ------------------------------------------------------------------------
    def _generate(self, req: rq.GenerateRequest) -> rq.GenerateResult:
        common = {
            "model": self.model,
            "max_tokens": req.max_new_tokens,
            "temperature": req.temperature,
            "seed": req.seed,
        }
        if req.stop:
            common["stop"] = list(req.stop)[:4]
        use_chat = bool(req.chat if self.chat is None else self.chat)

        def parse(data: Any) -> tuple[str, tuple[int | None, int | None]]:
            return completion_text(data, use_chat), usage_tokens(data)

        cost = self.tokens(req.context) + req.max_new_tokens
        if use_chat:
            messages = [{"role": "user", "content": req.context}]
            body = {**common, "messages": messages}
            text, usage = self._post("/chat/completions", body, parse, cost)
        else:
            text, usage = self._post("/completions", {**common, "prompt": req.context}, parse, cost)
        cut = min((text.index(s) for s in req.stop if s and s in text), default=None)
        text = text if cut is None else text[:cut]
        return rq.GenerateResult(
            text, usage[0] or self.tokens(req.context), usage[1] or self.tokens(text)
        )

    def generate(self, requests: Sequence[rq.GenerateRequest]) -> list[rq.GenerateResult]:
        return self._map(self._generate, list(requests))

    def tokens(self, text: str) -> int:
        return max(1, round(len(text) * self.tokens_per_char))
