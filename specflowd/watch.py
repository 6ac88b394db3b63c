"""File change detection by stat polls: one path's fingerprint (``watch_path``), and one shared ``Poller`` for
many things at once (every live run's output, every live orchestration's project files).

Watching the path itself with inotify-based tools loses changes after the first atomic replace; a cheap
stat poll sees replaces and in-place edits alike and needs no dependency.

Why one poller and not a task per watched thing: an idle daemon's cost is its wake-ups, not its stats. A
task per watch wakes N times per interval; the shared poller wakes once for every watch that is due, and a
watch that sees nothing backs off (its interval doubles, ``fast`` → ``slow``). Due times are aligned to a grid
of the watch's current interval, so watches at the same back-off level are due at the same instant: an idle
daemon wakes about once per ``slow`` interval whatever it watches. A change brings the watch back to ``fast``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path

import anyio

__all__ = ["Fingerprint", "Poller", "Watch", "fingerprint", "watch_path"]

log = logging.getLogger(__name__)

_EARLY_S = 0.005  # an event loop may wake a timer this much early; the watch is due all the same

Fingerprint = tuple[int, int, int] | None


class _Unset:
    pass


_UNSET = _Unset()


def fingerprint(path: Path) -> Fingerprint:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


async def watch_path(
    path: Path,
    on_change: Callable[[], Awaitable[None]],
    *,
    interval_s: float = 0.5,
    debounce_s: float = 0.2,
    initial: Fingerprint | _Unset = _UNSET,
) -> None:
    """Call ``on_change`` after ``path`` changed and then stayed unchanged for ``debounce_s``. Runs forever.
    ``initial``: the fingerprint already acted on (None: the path did not exist then); by default, the current
    one — a change between reading the file and starting to watch it would then go unseen."""
    seen = fingerprint(path) if isinstance(initial, _Unset) else initial
    while True:
        await anyio.sleep(interval_s)
        current = fingerprint(path)
        if current == seen:
            continue
        while True:  # debounce: wait for the writer to finish
            await anyio.sleep(debounce_s)
            settled = fingerprint(path)
            if settled == current:
                break
            current = settled
        seen = current
        await on_change()


def _aligned(now: float, interval: float) -> float:
    """The first instant after ``now`` on the grid of ``interval`` (so equal intervals fall due together)."""
    return (math.floor(now / interval) + 1) * interval


class Watch:
    """One watched thing: ``probe()`` returns a value that differs when the thing changed (a fingerprint);
    ``on_change`` is called (on the event loop) each time the poller sees a new value."""

    def __init__(
        self,
        poller: Poller,
        probe: Callable[[], Hashable],
        on_change: Callable[[], None],
        fast: float,
        slow: float,
    ) -> None:
        self._poller = poller
        self.probe = probe
        self.on_change = on_change
        self.fast = fast
        self.slow = max(slow, fast)
        self.interval = fast
        self.seen = probe()
        self.due = _aligned(poller.now(), fast)

    def check(self, now: float) -> None:
        try:
            current = self.probe()
        except Exception:  # a probe that fails is a bug to log, never a reason to stop the others
            log.exception("file watch probe failed")
            current = self.seen
        if current != self.seen:
            self.seen = current
            self.interval = self.fast
            self.on_change()
        else:
            self.interval = min(self.interval * 2, self.slow)
        # from the later of now and the instant it fell due: a loop woken a little early still moves on
        self.due = _aligned(max(now, self.due) + 1e-6, self.interval)

    def hurry(self) -> None:
        """Look again soon (at ``fast``): something says a change is likely."""
        self.interval = self.fast
        self.due = min(self.due, _aligned(self._poller.now(), self.fast))
        self._poller.reschedule()

    def close(self) -> None:
        self._poller.forget(self)


class Poller:
    """One task (``run``) polls every watch that is due, then sleeps until the next is."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.now = clock
        self._watches: list[Watch] = []
        self._rescheduled = anyio.Event()
        self.wakeups = 0  # how many times the poller woke (for tests and benchmarks)

    def __len__(self) -> int:
        return len(self._watches)

    def watch(self, probe: Callable[[], Hashable], on_change: Callable[[], None], *, fast: float, slow: float) -> Watch:
        """Start watching: ``probe()`` is taken now as the baseline, and checked from ``fast`` on."""
        watch = Watch(self, probe, on_change, fast, slow)
        self._watches.append(watch)
        self.reschedule()
        return watch

    def forget(self, watch: Watch) -> None:
        if watch in self._watches:
            self._watches.remove(watch)

    def reschedule(self) -> None:
        self._rescheduled.set()

    async def run(self) -> None:
        while True:
            now = self.now()
            for watch in [w for w in self._watches if w.due <= now + _EARLY_S]:
                if watch in self._watches:  # an earlier watch's callback may have closed it
                    watch.check(now)
            next_due = min((w.due for w in self._watches), default=math.inf)
            with anyio.move_on_after(max(0.0, next_due - self.now())):
                await self._rescheduled.wait()
            self._rescheduled = anyio.Event()
            self.wakeups += 1
