"""Durable writes made from the event loop, done in a worker thread so fsync never stalls the daemon.

An atomic write (atomic.py: temporary file, fsync, rename, fsync the directory) takes milliseconds on a quiet
disk and up to seconds on a busy one; made on the event loop it held every client's reply for 1–2.6 s during
a burst of starts. The write is the same and its caller still waits until it is durable — only the loop does
not wait.

``OrderedFiles`` keeps the writes of one file in the order they were asked for, whichever thread makes them:
each write takes a ticket when it is asked for (on the loop, where the content is also serialised, so a later
change of the caller's object is not in it), and a write whose ticket is older than the content already on
disk is skipped — the newer content is what every earlier caller wanted on disk too. Synchronous callers take
tickets from the same counter, so a write made on the loop is never undone by an older one finishing late.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread

__all__ = ["OrderedFiles"]


@dataclass
class _File:
    lock: threading.Lock = field(default_factory=threading.Lock)
    written: int = -1  # the ticket of the content on disk
    users: int = 0  # writes asked for and not finished (the entry is dropped at 0)


class OrderedFiles:
    def __init__(self) -> None:
        self._tickets = itertools.count()
        self._guard = threading.Lock()
        self._files: dict[Path, _File] = {}

    def _enter(self, path: Path) -> tuple[_File, int]:
        with self._guard:
            entry = self._files.setdefault(path, _File())
            entry.users += 1
            return entry, next(self._tickets)

    def _run(self, path: Path, entry: _File, ticket: int, write: Callable[[], None]) -> None:
        try:
            with entry.lock:
                if ticket > entry.written:
                    write()
                    entry.written = ticket
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0 and self._files.get(path) is entry:
                    del self._files[path]

    def write_now(self, path: Path, write: Callable[[], None]) -> None:
        """Make ``write`` (a complete atomic write of ``path``) in this thread, in order with the others."""
        entry, ticket = self._enter(path)
        self._run(path, entry, ticket, write)

    async def write(self, path: Path, write: Callable[[], None]) -> None:
        """Make ``write`` in a worker thread and wait until it is durable (or raises, e.g. a full disk).
        Not abandoned when the caller is cancelled: a write that was asked for completes."""
        entry, ticket = self._enter(path)
        await anyio.to_thread.run_sync(self._run, path, entry, ticket, write)
