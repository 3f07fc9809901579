"""Client-side rate limits that adapt to the server's 429s, and an event loop in a thread.

The limiter keeps requests/min and tokens/min under the configured ceilings with token
buckets. A 429 pauses every request until its Retry-After has passed and lowers the rate; each
run of successes raises it again towards the ceiling.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running in a daemon thread, so synchronous stages can await requests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._closed = False
        self._lock = threading.Lock()   # no submission slips in between cancelling and stopping
        self._thread = threading.Thread(target=self.loop.run_forever, name="teacher-loop", daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        with self._lock:
            if self._closed:
                coro.close()
                raise RuntimeError("the teacher was closed")
            return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future = self.submit(coro)
        while True:
            try:
                return future.result(timeout=1.0)
            except FutureTimeout:
                # a stopped loop never finishes the work: fail, do not hang the thread for ever
                if not self._thread.is_alive():
                    future.cancel()
                    raise RuntimeError("the teacher was closed") from None

    def cancel_pending(self) -> None:
        """Cancel every task in flight: threads waiting on one wake up with CancelledError."""
        if self._closed:
            return
        self._cancel_all()

    def _cancel_all(self) -> None:
        if not self.loop.is_running():
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(timeout=10)
        except Exception:  # noqa: BLE001 - cancelling must not fail the caller
            pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._cancel_all()
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)


class _Bucket:
    def __init__(self, per_minute: float) -> None:
        self.ceiling = per_minute
        self.rate = per_minute
        self.level = min(per_minute, max(1.0, per_minute / 60))  # start with a second's worth
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.rate, self.level + (now - self.stamp) * self.rate / 60)
        self.stamp = now

    def wait_time(self, amount: float) -> float:
        self._refill()
        amount = min(amount, self.rate)  # a request larger than a minute's budget still goes, alone
        if self.level >= amount:
            self.level -= amount
            return 0.0
        return (amount - self.level) * 60 / self.rate


class RateLimiter:
    """``await acquire(tokens)`` before each request; report ``throttled`` and ``succeeded``."""

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None) -> None:
        self._requests = _Bucket(requests_per_minute) if requests_per_minute else None
        self._tokens = _Bucket(tokens_per_minute) if tokens_per_minute else None
        self._paused_until = 0.0
        self._successes = 0
        self._lock = asyncio.Lock()
        self.throttle_events = 0

    async def acquire(self, tokens: int) -> None:
        async with self._lock:
            while True:
                wait = max(0.0, self._paused_until - time.monotonic())
                if not wait:
                    wait = max(
                        self._requests.wait_time(1) if self._requests else 0.0,
                        self._tokens.wait_time(tokens) if self._tokens else 0.0,
                    )
                if not wait:
                    return
                await asyncio.sleep(wait)

    def throttled(self, retry_after: float | None) -> None:
        """A 429: pause everyone for Retry-After (or 1 s) and cut the rate by 30%."""
        self.throttle_events += 1
        self._successes = 0
        self._paused_until = max(self._paused_until, time.monotonic() + (retry_after if retry_after is not None else 1.0))
        for bucket in (self._requests, self._tokens):
            if bucket is not None:
                bucket.rate = max(bucket.ceiling * 0.05, bucket.rate * 0.7)

    def succeeded(self) -> None:
        self._successes += 1
        if self._successes >= 20:  # recover gradually towards the configured ceiling
            self._successes = 0
            for bucket in (self._requests, self._tokens):
                if bucket is not None:
                    bucket.rate = min(bucket.ceiling, bucket.rate * 1.25)
