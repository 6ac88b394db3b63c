"""Helpers the benchmarks share (stdlib only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def all_at_once(worker: Callable[[int, threading.Barrier], None], count: int) -> tuple[float, float]:
    """Run ``worker(index, barrier)`` in ``count`` threads; each prepares, then waits on the barrier, so the
    timed part starts together. Returns the release time (``time.monotonic``) and the seconds from the
    release until the last thread is done."""
    barrier = threading.Barrier(count + 1)
    threads = [threading.Thread(target=worker, args=(i, barrier)) for i in range(count)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.monotonic()
    for t in threads:
        t.join()
    return started, time.monotonic() - started
