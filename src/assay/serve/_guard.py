"""What every request to ``assay serve`` passes first: the Host check (against DNS
rebinding), the refusal of other sites' requests, a token-bucket rate limit on every request
(stricter ones on writes, draws and costly pages come later), a size limit on request bodies,
and the security headers (with a per-response CSP nonce) on every response."""

from __future__ import annotations

import ipaddress
import json
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")  # as they appear in a Host header
WILDCARDS = ("0.0.0.0", "::")
MAX_BODY = 64 * 1024
NONCE_KEY = "assay.csp_nonce"
_BODYLESS = ("GET", "HEAD", "OPTIONS")
#: Default budgets per client, (per minute, at once): any request; the report against a baseline.
READ_LIMIT = (600.0, 120)
BASELINE_LIMIT = (12.0, 6)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    name = host.strip().strip("[]").lower()
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return name == "localhost"


def host_name(host: str) -> str:
    """A host as it appears in a Host header: lower case, IPv6 in brackets."""
    name = host.strip().lower()
    try:
        ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return name
    return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed


def split_host(header: str) -> tuple[str, int | None] | None:
    """``(name, port)`` from a Host header value; None when it is malformed."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[: end + 1], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:] if rest else None
    else:
        name, sep, port = value.partition(":")
        port = port if sep else None
        if ":" in (port or ""):
            return None
    if not name or (port is not None and not (port.isdigit() and 0 < int(port) < 65536)):
        return None
    return host_name(name), None if port is None else int(port)


def same_origin(origin: str, host: str | None) -> bool:
    """True when a request's ``Origin`` header names the site its ``Host`` header addresses
    (the page was served by this app): same host, same port (a missing port is the scheme's
    default). ``null``, a malformed origin or a missing Host is foreign."""
    scheme, sep, rest = origin.strip().lower().partition("://")
    if not sep or scheme not in ("http", "https") or "/" in rest:
        return False
    default = 443 if scheme == "https" else 80
    theirs, ours = split_host(rest), split_host(host or "")
    if theirs is None or ours is None or theirs[0] != ours[0]:
        return False
    return (theirs[1] or default) == (ours[1] or default)


def is_api(path: str) -> bool:
    """The JSON API and its schema (the rest are HTML pages)."""
    return path.startswith("/api") or path == "/openapi.json"


def cross_site(method: str, path: str, headers: dict[str, str]) -> bool:
    """True for a request another site's page makes through the visitor's browser: its
    ``Origin`` is not this app's (``null`` included), or ``Sec-Fetch-Site`` is anything but
    ``same-origin`` or ``none`` (typed address, bookmark). A link followed from another site to
    a page (a top-level GET navigation, never the API or a frame) still opens. Requests with
    neither header (curl, scripts) are not a browser's: they pass."""
    origin = headers.get("origin")
    if origin is not None and not same_origin(origin, headers.get("host")):
        return True
    site = headers.get("sec-fetch-site", "none").strip().lower()
    if site in ("none", "same-origin"):
        return False
    navigation = (
        headers.get("sec-fetch-mode", "").strip().lower() == "navigate"
        and headers.get("sec-fetch-dest", "").strip().lower() == "document"
    )
    return not (navigation and method in ("GET", "HEAD") and not is_api(path))


@dataclass(frozen=True)
class HostPolicy:
    """The Host header values the app answers: the loopback names, the bound host (unless a
    wildcard) and any extra names, on ``port`` (any port when None)."""

    names: frozenset[str]
    port: int | None = None

    @classmethod
    def build(cls, bind_host: str, port: int | None, extra: Iterable[str] = ()) -> HostPolicy:
        names = set(LOOPBACK_NAMES)
        if bind_host.strip().strip("[]") not in WILDCARDS:
            names.add(host_name(bind_host))
        names.update(host_name(h) for h in extra if h.strip())
        return cls(frozenset(names), port)

    def allows(self, header: str | None) -> bool:
        parsed = split_host(header) if header else None
        if parsed is None or parsed[0] not in self.names:
            return False
        port = parsed[1]
        return self.port is None or port == self.port or (port is None and self.port == 80)


@dataclass
class RateLimit:
    """A token bucket per client: ``burst`` requests at once, refilled at ``per_minute``.
    ``clock`` (seconds, monotonic) is injectable so tests need no real time."""

    per_minute: float = 60.0
    burst: int = 30
    clock: Callable[[], float] = time.monotonic
    max_clients: int = 10_000
    _buckets: OrderedDict[str, tuple[float, float]] = field(
        default_factory=OrderedDict, init=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def take(self, client: str) -> float:
        """Spend one token of ``client``: 0.0 when allowed, else the seconds until the next."""
        now = self.clock()
        rate = self.per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(now - last, 0.0) * rate)
            wait = 0.0 if tokens >= 1 else ((1 - tokens) / rate if rate > 0 else 60.0)
            self._buckets[client] = (tokens - 1 if wait == 0 else tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait


def content_security_policy(nonce: str) -> str:
    """Only this origin; inline ``<script>``/``<style>`` only with this response's nonce
    (plots keep their ``style=`` attributes); no framing, no plugins, no <base>."""
    return (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "style-src-attr 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def security_headers(nonce: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", content_security_policy(nonce).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-resource-policy", b"same-origin"),
    ]


class Guard:
    """ASGI middleware wrapping the whole app (outside its error handling, so even a 500
    carries the headers). Every request spends a token of ``reads`` (per client address, as
    the server saw it: forwarded headers are never trusted), after the Host and cross-site
    checks, so refused requests use up nothing."""

    def __init__(
        self,
        app: ASGIApp,
        hosts: HostPolicy,
        max_body: int = MAX_BODY,
        reads: RateLimit | None = None,
    ) -> None:
        self.app, self.hosts, self.max_body = app, hosts, max_body
        self.reads = reads or RateLimit(*READ_LIMIT)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope[NONCE_KEY] = nonce
        extra = security_headers(nonce)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                added = [h for h in extra if h[0] not in have]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not self.hosts.allows(headers.get("host")):
            where = f":{self.hosts.port}" if self.hosts.port else ""
            await _reply(
                send_with_headers,
                400,
                f"this server does not answer for Host {headers.get('host', '(none)')!r}: open "
                f"http://127.0.0.1{where}/ or start `assay serve` with --allowed-host NAME",
            )
            return
        if cross_site(scope["method"], scope["path"], headers):
            await _reply(
                send_with_headers,
                403,
                "cross-origin request refused: this app answers its own pages and direct "
                "requests, not other sites' pages",
            )
            return
        client = scope.get("client")
        wait = self.reads.take(f"{client[0] if client else 'unknown'} reads")
        if wait > 0:
            await _reply(send_with_headers, *too_many("requests", wait))
            return
        if scope["method"] in _BODYLESS:
            await self.app(scope, receive, send_with_headers)
            return
        declared = headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > self.max_body:
            await _reply(send_with_headers, 413, self._too_large())
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_body:
                await _reply(send_with_headers, 413, self._too_large())
                return
        body, sent = b"".join(chunks), False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send_with_headers)

    def _too_large(self) -> str:
        return f"request body too large: at most {self.max_body / 1024:g} KiB"


def too_many(what: str, wait: float) -> tuple[int, str, dict[str, str]]:
    """The 429 answer (status, message, headers) when a bucket is empty for ``wait`` s."""
    seconds = max(1, math.ceil(wait))
    message = f"too many {what} from this client: try again in {seconds} s"
    return 429, message, {"Retry-After": str(seconds)}


async def _reply(
    send: Send, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"detail": message}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
