"""The teacher's event loop thread: closing it must wake every thread waiting on it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import pytest

from openmementos.teacher.limits import LoopThread


def test_closing_while_threads_keep_submitting_leaves_no_thread_waiting_for_ever():
    # A trace thread that submitted work between the cancel and the stop used to wait for ever,
    # which hung the interpreter's exit (it joins the trace threads). 40 tries: the old race hit
    # about one close in six.
    for _ in range(40):
        loop = LoopThread()

        def trace():
            while True:
                try:
                    loop.run(asyncio.sleep(0.0005))
                except (RuntimeError, concurrent.futures.CancelledError, asyncio.CancelledError):
                    return

        threads = [threading.Thread(target=trace, daemon=True) for _ in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(0.005)
        loop.close()
        for thread in threads:
            thread.join(timeout=5)
        assert not any(thread.is_alive() for thread in threads)


def test_work_submitted_after_close_is_refused():
    loop = LoopThread()
    assert loop.run(asyncio.sleep(0, result=7)) == 7
    loop.close()
    with pytest.raises(RuntimeError, match="closed"):
        loop.run(asyncio.sleep(0))
