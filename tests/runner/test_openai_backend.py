"""The openai backend against a real HTTP server on 127.0.0.1 that serves the bundled model,
with injected 429 / 500 / slow responses."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch
from fault_server import FaultServer, fake_echo

from assay.errors import AssayError, InputError
from assay.models import load_model
from assay.models._openai import (
    NoLogprobsError,
    OpenAIBackend,
    backoff_delay,
    retry_after_seconds,
)
from assay.models._openai_budget import RateBudget
from assay.requests import GenerateRequest, LoglikelihoodRequest
from assay.runner import evaluate
from assay.store import open_store

from .conftest import AdditionTask


def make_server(backend, *, faults: bool, logprobs: bool = True, warm=()):
    """An OpenAI-style /v1/completions server over the hf backend's model.

    With ``faults``, the first attempt at every prompt fails: 429 (Retry-After: 0), 500 or a
    reply held back until the server shuts down (the client's timeout always fires first, however
    loaded the machine), chosen by the prompt's CRC.
    """
    lock = threading.Lock()
    hold = threading.Event()  # set at shutdown: releases the held-back replies
    seen: dict[str, int] = {}
    stats = {"ok": 0, "429": 0, "500": 0, "slow": 0}
    tok = backend.tokenizer

    cache: dict[str, dict] = {}

    def echo(prompt: str) -> dict:
        if prompt in cache:
            return cache[prompt]
        enc = tok(prompt, return_offsets_mapping=True, add_special_tokens=False)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        with lock, torch.inference_mode():
            logits = backend.model(torch.tensor([ids])).logits[0].double()
        lp = torch.log_softmax(logits, -1)
        values = [None] + [float(lp[i - 1, ids[i]]) for i in range(1, len(ids))]
        best = lp.argmax(-1).tolist()
        top = [None] + [
            {tok.decode([best[i - 1]]): float(lp[i - 1, best[i - 1]])} for i in range(1, len(ids))
        ]
        tokens = [tok.decode([i]) for i in ids] + [tok.decode([best[-1]])]
        cache[prompt] = {
            "tokens": tokens,
            "token_logprobs": values + [float(lp[-1, best[-1]])],
            "text_offset": [s for s, _ in offsets] + [len(prompt)],
            "top_logprobs": top + [None],
        }
        return cache[prompt]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code: int, body: dict, headers: dict | None = None):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            # the client timed out first, as intended
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            prompt = body.get("prompt", "")
            with lock:
                seen[prompt] = seen.get(prompt, 0) + 1
                first = seen[prompt] == 1
            if faults and first:
                kind = zlib.crc32(prompt.encode()) % 3
                if kind == 0:
                    stats["429"] += 1
                    return self.reply(
                        429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}
                    )
                if kind == 1:
                    stats["500"] += 1
                    return self.reply(500, {"error": {"message": "boom"}})
                stats["slow"] += 1
                hold.wait(SLOW_REPLY_CAP)  # until shutdown: longer than any client timeout
            if body.get("echo"):
                if not logprobs:
                    return self.reply(400, {"error": {"message": "echo is not supported"}})
                result = {"text": prompt, "logprobs": echo(prompt)}
            else:
                req = GenerateRequest(
                    prompt, stop=tuple(body.get("stop") or ()), max_new_tokens=body["max_tokens"]
                )
                with lock:
                    (gen,) = backend.generate([req])
                result = {"text": gen.text}
                body["usage"] = {
                    "prompt_tokens": gen.input_tokens,
                    "completion_tokens": gen.output_tokens,
                }
            stats["ok"] += 1
            self.reply(200, {"choices": [result], "usage": body.get("usage", {})})

    for prompt in warm:  # answers computed up front keep the timing faults deterministic
        echo(prompt)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.hold = hold
    return server, stats


SLOW_REPLY_CAP = 120.0
"""Seconds a held-back reply waits at most (the test shuts its server down long before)."""
CLIENT_TIMEOUT = 5
"""The client's timeout: generous for the real replies (answers are precomputed), and the
held-back ones never come before it."""


def stop(server) -> None:
    server.hold.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def server(backend):
    prompts = [q.context + q.continuation for i in AdditionTask(6).instances() for q in i.requests]
    srv, stats = make_server(backend, faults=True, warm=prompts)
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1", stats
    stop(srv)


def test_retry_after_and_backoff():
    assert retry_after_seconds("2.5") == 2.5
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    rng = __import__("random").Random(0)
    delays = [backoff_delay(k, 0.5, 8.0, rng) for k in range(8) for _ in range(200)]
    caps = np.repeat([min(8.0, 0.5 * 2**k) for k in range(8)], 200)
    assert (np.array(delays) <= caps).all() and np.mean(np.array(delays) / caps) == pytest.approx(
        0.5, abs=0.05
    )


@pytest.mark.real_model
def test_openai_backend_survives_faults_and_matches_hf(backend, server, tmp_path):
    url, stats = server
    remote = load_model(
        f"openai:smol@{url},concurrency=4,timeout={CLIENT_TIMEOUT},"
        "backoff=0.01,backoff_cap=0.05,name=smol-api"
    )
    task = AdditionTask(6)
    store = open_store(tmp_path / "api.duckdb")
    result = evaluate(remote, [task], store=store, progress=False)
    assert result.new_samples == 6
    assert stats["429"] and stats["500"] and stats["slow"]  # every fault kind was hit
    assert remote.counters["retries"] >= stats["429"] + stats["500"] + stats["slow"]
    samples = store.samples(model="smol-api")
    assert len(samples) == 6 and samples["doc_id"].is_unique  # every sample exactly once
    local = [
        r.logprob
        for r in backend.loglikelihood([q for inst in task.instances() for q in inst.requests])
    ]
    remote_lp = np.concatenate(samples.sort_values("doc_id")["choice_logprobs"].to_list())
    order = np.argsort([inst.doc_id for inst in task.instances()], kind="stable")
    expected = np.array(local).reshape(6, 4)[order].ravel()
    np.testing.assert_allclose(remote_lp, expected, atol=1e-3)
    prompt = "The capital of France is"
    assert zlib.crc32(prompt.encode()) % 3 != 2  # its first attempt fails fast, never held back
    patient = load_model(f"openai:smol@{url},timeout=120")  # generation is real work
    (gen,) = patient.generate([GenerateRequest(prompt, stop=(".",), max_new_tokens=5)])
    assert gen.text.strip().startswith("Paris") and gen.output_tokens > 0


@pytest.mark.real_model
def test_server_without_logprobs_gives_one_line_error(backend, tmp_path):
    srv, _ = make_server(backend, faults=False, logprobs=False)
    url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    try:
        remote = load_model(f"openai:smol@{url}")
        with pytest.raises(NoLogprobsError, match="cannot score log-likelihoods"):
            remote.loglikelihood([LoglikelihoodRequest("2 + 2 =", " 4")])
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "assay",
                "eval",
                "--model",
                f"openai:smol@{url}",
                "--task",
                "arith_mc",
                "--limit",
                "2",
                "--no-progress",
                "--store",
                str(tmp_path / "x.duckdb"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop(srv)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot score log-likelihoods" in lines[0], proc.stderr


def test_unknown_model_cli_error(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "assay",
            "eval",
            "--model",
            "gpt-17",
            "--task",
            "arith_mc",
            "--store",
            str(tmp_path / "x.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown model 'gpt-17'" in lines[0], proc.stderr


# -- high concurrency, rate budgets, unreachable servers (loopback fake server, no model) ----


class FakeClock:
    """A clock that moves only when someone sleeps on it."""

    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def _requests(n: int) -> list[LoglikelihoodRequest]:
    return [
        LoglikelihoodRequest(f"Question {i}: what is {i} plus {i}?", f" {2 * i}") for i in range(n)
    ]


def test_budget_requests_per_minute_on_a_fake_clock():
    clock = FakeClock()
    budget = RateBudget(rpm=60, clock=clock, sleep=clock.sleep)  # 1 request/s, burst 6
    starts = []
    for _ in range(30):
        budget.acquire(1)
        starts.append(clock.now)
    starts = np.array(starts)
    assert starts[:6].tolist() == [0.0] * 6  # the burst
    np.testing.assert_allclose(np.diff(starts[5:]), 1.0)  # then one a second
    assert starts[-1] == pytest.approx(24.0)
    started_by = np.arange(1, 31)
    assert (started_by <= 6 + starts * 1.0 + 1e-9).all()  # capacity + rate * t, everywhere


def test_budget_tokens_per_minute_corrected_from_usage():
    clock = FakeClock()
    budget = RateBudget(tpm=6000, clock=clock, sleep=clock.sleep)  # 100 tokens/s, burst 600
    for _ in range(50):
        budget.acquire(20)  # estimated 20 tokens...
        budget.settle(20, 80)  # ...the reply says 80
    # 50 * 80 = 4000 tokens at 100/s after a 600-token burst: the correction makes it 34 s
    assert clock.now == pytest.approx((4000 - 600 - 80) / 100, abs=0.8)
    clock2 = FakeClock()
    loose = RateBudget(tpm=6000, clock=clock2, sleep=clock2.sleep)
    for _ in range(50):
        loose.acquire(20)  # never corrected: 1000 tokens, barely past the burst
    assert clock2.now == pytest.approx((1000 - 600) / 100, abs=0.3)
    with pytest.raises(InputError, match="rpm"):
        OpenAIBackend("m", "http://127.0.0.1:1/v1", rpm=0)


def test_rpm_budget_paces_a_concurrent_backend():
    clock = FakeClock()
    with FaultServer() as server:
        remote = OpenAIBackend(
            "fake", server.url, concurrency=8, rpm=120, clock=clock, sleep=clock.sleep
        )
        results = remote.loglikelihood(_requests(40))
    assert len(results) == 40 and server.requests == 40
    # 2 requests/s with a burst of 12: the 40th starts at (40 - 12) / 2 s on the budget's clock
    assert clock.now == pytest.approx(14.0, abs=1e-6)
    assert remote.budget.waited == pytest.approx(14.0, abs=1e-6)


def test_tpm_budget_counts_the_replies_usage():
    clock = FakeClock()
    with FaultServer() as server:
        remote = OpenAIBackend(
            "fake", server.url, concurrency=1, tpm=600, clock=clock, sleep=clock.sleep
        )
        requests = _requests(30)
        remote.loglikelihood(requests)
    used = sum(len(fake_echo(r.context + r.continuation)["tokens"]) for r in requests)
    # 10 tokens/s, burst 60: the budget's clock ends between these bounds of what was used
    biggest = max(len(fake_echo(r.context + r.continuation)["tokens"]) for r in requests)
    assert (used - 60 - 2 * biggest) / 10 <= clock.now <= used / 10


def test_concurrency_32_gives_identical_results_in_a_bounded_window():
    requests = _requests(300)
    requests += requests[:20]  # duplicates are sent once
    with FaultServer(rate=0.3, seed=4, kinds=("429", "500", "truncated"), max_requests=5000) as s1:
        serial = OpenAIBackend("fake", s1.url, concurrency=1, backoff=0, max_retries=20)
        one = serial.loglikelihood(requests)
    with FaultServer(rate=0.3, seed=4, kinds=("429", "500", "truncated"), max_requests=5000) as s2:
        wide = OpenAIBackend("fake", s2.url, concurrency=32, backoff=0, max_retries=20)
        many = wide.loglikelihood(requests)
    assert many == one  # record for record, whatever order the replies came in
    assert s2.requests == s1.requests  # the faults depend on prompt and attempt, not timing
    assert s2.stats == s1.stats and s2.stats["ok"] == 300
    assert wide.counters["window_peak"] <= 64  # never more than 2 * concurrency submitted
    assert s2.peak_in_flight <= 32


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_fails_fast_with_one_line():
    clock = FakeClock()
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    remote = OpenAIBackend("fake", url, concurrency=1, sleep=clock.sleep)  # default backoff
    with pytest.raises(AssayError) as info:
        remote.loglikelihood(_requests(5))
    message = str(info.value)
    assert "\n" not in message and "cannot connect" in message and "after 3 attempts" in message
    assert remote.counters["retries"] == 2  # three attempts in all, not max_retries=8
    assert len(clock.sleeps) == 2 and max(clock.sleeps) <= 0.5  # quick retries only
    wide = OpenAIBackend("fake", url, concurrency=16, sleep=clock.sleep)
    with pytest.raises(AssayError, match="after 3 attempts"):
        wide.loglikelihood(_requests(100))
    assert wide.counters["retries"] <= 2 * 16  # the first failure stops the others
