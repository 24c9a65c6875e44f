"""A loopback OpenAI-compatible ``/v1/completions`` (and ``/v1/chat/completions``) server with a deterministic fake scorer and
seeded fault injection, for testing the openai backend without a model.

The reply to ``echo=true, logprobs=1`` tokenises the prompt into words (leading whitespace
attached) and gives every token a log-prob that is a fixed function of the text up to it. With
``rate > 0``, the ``n``-th request for a prompt fails with a kind drawn from
``Random(f"{seed}|{n}|{prompt}")``: so which attempts fail depends only on the seed and the prompt,
never on thread timing. The server answers at most ``max_requests`` requests and stops by itself
after ``idle`` seconds without one (or on :meth:`close`).

Kept here (tests/adversarial) for audits: ``FaultServer(rate=1.0, kinds=("drip",))`` is a server
that never finishes a reply, ``kinds=("nulltext",)`` one that answers 200 with no text.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("429", "500", "timeout", "truncated", "utf8", "nologprobs", "types", "html")
"""Fault kinds: HTTP 429 (Retry-After: 0), HTTP 500, a reply slower than the client's timeout,
and 200 replies with truncated JSON, invalid UTF-8, JSON without ``logprobs``, JSON with
wrong types and an HTML page."""

CONTENT_FAULTS = ("nulltext", "notext", "posprob")
"""Well-formed 200 replies whose content is unusable: ``text`` (chat: ``message.content``) null
or missing, and a prompt token with log-prob +5.0."""

DRIP = "drip"
"""The reply (status line and all) sent one byte every ``drip`` seconds."""


def fake_echo(prompt: str) -> dict:
    """The ``logprobs`` object a real server would return for ``prompt`` (plus one generated
    token); values depend only on the text, so every run gets identical numbers."""
    tokens, values, offsets, top = [], [], [], []
    for m in re.finditer(r"\s*\S+|\s+", prompt):
        crc = zlib.crc32(prompt[: m.end()].encode())
        value = None if not tokens else -((crc % 5000) / 1000.0) - 0.001
        tokens.append(m.group())
        values.append(value)
        offsets.append(m.start())
        top.append(None if value is None else {m.group() if crc % 2 else "<alt>": value})
    tokens.append("<eos>")
    values.append(-1.0)
    offsets.append(len(prompt))
    top.append({"<eos>": -1.0})
    return {"tokens": tokens, "token_logprobs": values, "text_offset": offsets, "top_logprobs": top}


def fault_for(seed: int, n: int, prompt: str, rate: float, kinds=FAULTS) -> str | None:
    """The fault of the ``n``-th request (from 0) for ``prompt``, or None."""
    rng = random.Random(f"{seed}|{n}|{prompt}")
    return kinds[int(rng.random() * len(kinds))] if rng.random() < rate else None


def fault_plan(prompt: str, seed: int, rate: float, kinds=FAULTS, limit: int = 50) -> list[str]:
    """The faults a client retrying ``prompt`` meets before its first good reply."""
    out = []
    for n in range(limit):
        kind = fault_for(seed, n, prompt, rate, kinds)
        if kind is None:
            return out
        out.append(kind)
    return out


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # 32+ clients connecting at once are not refused
    daemon_threads = True


class FaultServer:
    """See the module docstring; ``url`` is the ``/v1`` base URL."""

    def __init__(
        self,
        *,
        rate: float = 0.0,
        seed: int = 0,
        kinds: tuple[str, ...] = FAULTS,
        stall: float = 3.0,
        drip: float = 1.0,
        logprobs: bool = True,
        good_limit: int | None = None,
        max_requests: int = 1000,
        idle: float = 120.0,
    ):
        self.rate, self.seed, self.kinds, self.stall = rate, seed, kinds, stall
        self.drip = drip
        self.logprobs = logprobs  # False: every reply lacks logprobs (a server that cannot)
        self.good_limit = good_limit  # after this many good replies, only garbage
        self.max_requests, self.idle = max_requests, idle
        self.requests = 0
        self.good = 0
        self.in_flight = 0
        self.peak_in_flight = 0  # most requests being handled at once
        self.stats: dict[str, int] = {}
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last = time.monotonic()
        self.httpd = _Server(("127.0.0.1", 0), self._handler())
        self.httpd.timeout = 0.2  # how often the loop checks whether to stop
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            while (
                not self._stop.is_set()
                and self.requests < self.max_requests
                and time.monotonic() - self._last < self.idle
            ):
                self.httpd.handle_request()
        finally:
            self.httpd.server_close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _next(self, prompt: str) -> tuple[str | None, bool]:
        """(fault kind, past the good limit) for a new request."""
        with self._lock:
            self.requests += 1
            self._last = time.monotonic()
            n = self._seen.get(prompt, 0)
            self._seen[prompt] = n + 1
            broken = self.good_limit is not None and self.good >= self.good_limit
            kind = None if broken else fault_for(self.seed, n, prompt, self.rate, self.kinds)
            key = "broken" if broken else (kind or "ok")
            self.stats[key] = self.stats.get(key, 0) + 1
            if kind is None and not broken:
                self.good += 1
        return kind, broken

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def send(self, code: int, data: bytes, headers: dict | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up first, as intended
                    self.wfile.write(data)

            def spoil(self, good: dict, kind: str, chat: bool) -> dict:
                choice = good["choices"][0]
                where = choice["message"] if chat else choice
                if kind == "nulltext":
                    where["content" if chat else "text"] = None
                elif kind == "notext":
                    where.pop("content" if chat else "text")
                elif choice.get("logprobs"):  # posprob
                    choice["logprobs"]["token_logprobs"][-2] = 5.0
                return good

            def drip(self, data: bytes) -> None:
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                ).encode()
                for i in range(len(head) + len(data)):
                    if server._stop.wait(server.drip):
                        return
                    try:
                        self.wfile.write((head + data)[i : i + 1])
                        self.wfile.flush()
                    except OSError:  # the client gave up, as it should
                        return

            def do_POST(self) -> None:
                with server._lock:
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                try:
                    self.answer()
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def answer(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                chat = self.path.endswith("/chat/completions")
                messages = body.get("messages") or [{}]
                prompt = str(messages[-1].get("content", "") if chat else body.get("prompt", ""))
                kind, broken = server._next(prompt)
                echo = fake_echo(prompt)
                n = len(echo["tokens"])
                usage = {"prompt_tokens": n - 1, "completion_tokens": 1, "total_tokens": n}
                good = {"choices": [{"text": prompt, "logprobs": echo}], "usage": usage}
                if not (body.get("echo") and body.get("logprobs")) or not server.logprobs:
                    good = {"choices": [{"text": " 42", "logprobs": None}]}
                if chat:
                    good = {"choices": [{"message": {"role": "assistant", "content": " 42"}}]}
                if broken:
                    kind = "truncated"
                if kind == DRIP:
                    return self.drip(json.dumps(good).encode())
                if kind in CONTENT_FAULTS:
                    return self.send(200, json.dumps(self.spoil(good, kind, chat)).encode())
                if kind == "429":
                    return self.send(429, b'{"error": "slow down"}', {"Retry-After": "0"})
                if kind == "500":
                    return self.send(500, b'{"error": {"message": "boom"}}')
                if kind == "timeout":
                    server._stop.wait(server.stall)  # longer than the client's timeout
                data = json.dumps(good).encode()
                if kind == "truncated":
                    data = data[: len(data) // 2]
                elif kind == "utf8":
                    data = data[:20] + b"\xff\xfe\xc3" + data[20:]
                elif kind == "nologprobs":
                    data = json.dumps({"choices": [{"text": prompt}]}).encode()
                elif kind == "types":
                    bad = {"tokens": "abc", "token_logprobs": 5, "text_offset": None}
                    data = json.dumps({"choices": [{"text": prompt, "logprobs": bad}]}).encode()
                elif kind == "html":
                    data = b"<html><body>502 Bad Gateway</body></html>"
                self.send(200, data)

        return Handler
