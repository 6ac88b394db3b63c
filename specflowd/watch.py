"""Stat-poll file watching: ``(st_ino, st_mtime_ns, st_size)`` of a path, debounced.

Watching the path itself with inotify-based tools loses changes after the first atomic replace; a cheap
stat poll sees replaces and in-place edits alike and needs no dependency.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

__all__ = ["fingerprint", "watch_path"]

Fingerprint = tuple[int, int, int] | None


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
    initial: Fingerprint = None,
) -> None:
    """Call ``on_change`` after ``path`` changed and then stayed unchanged for ``debounce_s``. Runs forever."""
    seen = initial if initial is not None else fingerprint(path)
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
