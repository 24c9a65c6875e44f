"""A total deadline per HTTP request for the openai backend.

httpx's ``timeout`` bounds each socket read, so a server that drips one byte a second never
trips it. This network backend gives every read and write of the calling thread's request only
the time left until that request's deadline (set with :meth:`DeadlineBackend.within`); past it,
the read raises httpcore's ``ReadTimeout``, which httpx reports as ``httpx.ReadTimeout``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx


class _Deadline(threading.local):
    at: float | None = None  # time.monotonic() by which the thread's request must be done


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline):
        self._inner, self._deadline = inner, deadline

    def _left(self, timeout: float | None, error: type[Exception]) -> float | None:
        at = self._deadline.at
        if at is None:
            return timeout
        left = at - time.monotonic()
        if left <= 0:
            raise error("the request's deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        left = self._left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, left), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend whose streams honour the calling thread's deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = _Deadline()

    @contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        """Every read and write of this thread's request must finish within ``seconds``."""
        self._deadline.at = time.monotonic() + seconds
        try:
            yield
        finally:
            self._deadline.at = None

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _Stream(stream, self._deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(
            self._inner.connect_unix_socket(path, timeout, socket_options), self._deadline
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(client: httpx.Client, backend: DeadlineBackend) -> None:
    """Route every connection ``client`` opens (directly or through an environment proxy)
    through ``backend``. httpx exposes no option for it, so this sets the pools' backend."""
    transports = [client._transport, *client._mounts.values()]  # noqa: SLF001
    pools = [getattr(t, "_pool", None) for t in transports if t is not None]
    found = [p for p in pools if p is not None and hasattr(p, "_network_backend")]
    if not found:
        raise RuntimeError("httpx/httpcore changed: cannot set a request deadline")
    for pool in found:
        pool._network_backend = backend  # noqa: SLF001
