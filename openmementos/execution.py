"""Run the per-trace stages on many traces at once, handing results back in input order.

Three ways, one interface (``submit(trace) -> Future``):
- inline: one process, no pool (tests, debugging, a single core);
- processes: CPU-bound teachers (the offline heuristic) on every core; workers are forked so
  they inherit the loaded tokenizer and teacher;
- threads: I/O-bound teachers (an LLM server): many traces wait on requests at once, while
  the teacher's own engine bounds the requests in flight.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Callable

from .records import Skip, Trace

Annotate = Callable[[Trace], "Trace | Skip"]

_WORKER: Annotate | None = None


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """End this worker process when ``parent`` ends, even by ``kill -9``.

    A pool worker waits on a queue whose write end it holds itself, so it would never see its
    parent go: Linux kills it at once (``PR_SET_PDEATHSIG``), and a watchdog thread that polls
    the parent's pid catches what that misses (other systems, a parent gone before the call).
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _init_worker(annotate: Annotate, parent: int) -> None:
    global _WORKER
    die_with_parent(parent)
    _WORKER = annotate


def _annotate_in_worker(trace: Trace) -> Trace | Skip:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER(trace)


class _Inline(Executor):
    def __init__(self, annotate: Annotate) -> None:
        self._annotate = annotate

    def submit(self, fn, /, *args, **kwargs) -> Future:  # type: ignore[override]
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


class TraceExecutor:
    """``submit`` a trace, get a Future of its annotated Trace or Skip.

    At most ``in_flight`` traces run at once: ``submit`` waits for a free slot. Finished traces
    free their slot at once, even while an older one is still running, so one slow trace at the
    head of the input does not starve the rest; the caller bounds the finished results it holds
    with ``max_pending``.
    """

    def __init__(self, annotate: Annotate, workers: int, concurrent_teacher: bool, traces_in_flight: int) -> None:
        if concurrent_teacher:
            self._pool: Executor = ThreadPoolExecutor(max_workers=traces_in_flight, thread_name_prefix="trace")
            self._fn: Annotate = annotate
            self.in_flight = traces_in_flight
        elif workers > 1:
            self._pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                initializer=_init_worker, initargs=(annotate, os.getpid()),
            )
            self._fn = _annotate_in_worker
            # enough queued work that no worker idles while the main process writes a shard
            self.in_flight = workers * 16
        else:
            self._pool = _Inline(annotate)
            self._fn = annotate
            self.in_flight = 1
        self.max_pending = 4 * self.in_flight
        self._slots = threading.BoundedSemaphore(self.in_flight)

    def submit(self, trace: Trace) -> Future:
        self._slots.acquire()
        try:
            future = self._pool.submit(self._fn, trace)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._release)
        return future

    def _release(self, _future: Future) -> None:
        self._slots.release()

    def __enter__(self) -> "TraceExecutor":
        return self

    def __exit__(self, *exc) -> None:
        # on an error or interrupt, do not wait for queued traces: their work is redone on resume
        self._pool.shutdown(wait=exc[0] is None, cancel_futures=exc[0] is not None)
