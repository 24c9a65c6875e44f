"""Requests-per-minute and tokens-per-minute budgets for HTTP backends: token buckets.

A bucket holds at most ``capacity`` units and refills continuously at ``per_minute / 60`` units
per second (Turner's token bucket, as API gateways meter). A request takes its cost before it is
sent and waits while the bucket holds less than ``min(cost, capacity)``; the level may then go
negative (a request larger than the bucket goes out alone and the debt delays the next ones).
Token costs are estimated from the request and corrected once the reply's ``usage`` is known
(:meth:`RateBudget.settle`), so the long-run rate stays at the budget whatever the estimate's
error. Over any interval of ``t`` seconds at most ``capacity + rate · t`` units start (plus one
request's overshoot), with ``capacity`` a tenth of the minute's budget (at least one request).

Waiting requests are served one at a time, in arrival order; the clock and the sleep are
injectable, so tests run the budget against a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_SLACK = 1e-6
"""Seconds of waiting too short to sleep for."""
BURST_FRACTION = 0.1
"""The bucket's capacity as a fraction of the per-minute budget (six seconds' worth)."""


class _Bucket:
    def __init__(self, per_minute: float, now: float):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute * BURST_FRACTION)
        self.level = self.capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, cost: float) -> float:
        """Seconds until the level reaches ``min(cost, capacity)`` (0 when it has)."""
        need = min(cost, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate


class RateBudget:
    """Request (``rpm``) and token (``tpm``) budgets; either may be None (unlimited)."""

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._clock, self._sleep = clock, sleep
        now = clock()
        self.requests = None if rpm is None else _Bucket(rpm, now)
        self.tokens = None if tpm is None else _Bucket(tpm, now)
        self._queue = threading.Lock()  # one waiter at a time: arrival order
        self._lock = threading.Lock()  # the levels
        self.waited = 0.0  # seconds spent waiting for budget, in total

    @property
    def active(self) -> bool:
        return self.requests is not None or self.tokens is not None

    def _buckets(self, cost: float) -> list[tuple[_Bucket, float]]:
        pairs = [(self.requests, 1.0), (self.tokens, float(cost))]
        return [(b, c) for b, c in pairs if b is not None]

    def acquire(self, cost: float) -> None:
        """Wait until one request of about ``cost`` tokens fits both budgets, then take it."""
        if not self.active:
            return
        with self._queue:
            while True:
                with self._lock:
                    now = self._clock()
                    pairs = self._buckets(cost)
                    for bucket, _ in pairs:
                        bucket.refill(now)
                    delay = max(bucket.wait_for(c) for bucket, c in pairs)
                    if delay <= _SLACK:  # float dust never makes a wait loop forever
                        for bucket, c in pairs:
                            bucket.level -= c
                        return
                self.waited += delay
                self._sleep(delay)

    def settle(self, estimated: float, actual: float | None) -> None:
        """Correct a request's token charge from ``estimated`` to the ``actual`` usage."""
        if self.tokens is None or actual is None:
            return
        with self._lock:
            self.tokens.refill(self._clock())
            self.tokens.level = min(self.tokens.capacity, self.tokens.level + estimated - actual)
