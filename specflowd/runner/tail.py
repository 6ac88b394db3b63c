"""Incremental reading of a run's output.jsonl (I/O only).

The reader keeps a byte offset; each ``read_new`` returns the complete lines appended since, and advances
the offset past them only, so a trailing partial line waits for its newline. Growth is noticed with a cheap
stat of (st_ino, st_size) — no watcher dependency.
"""

from __future__ import annotations

import os
from pathlib import Path

from specflowd.runner.stream import split_complete

__all__ = ["LOG_PAGE_BYTES", "OutputTail", "read_lines"]

_CHUNK = 1 << 20
LOG_PAGE_BYTES = 256 << 10  # raw output per runs.log reply; the readable items are smaller still


class OutputTail:
    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self._seen: tuple[int, int] | None = None

    def changed(self) -> bool:
        """Has the file grown (or been replaced) since the last call?"""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        key = (st.st_ino, st.st_size)
        if key == self._seen:
            return False
        self._seen = key
        return st.st_size > self.offset

    def read_new(self, *, final: bool = False) -> list[bytes]:
        """Complete lines after the offset. ``final``: the writer is gone, so a trailing partial line is
        returned too (it will never be completed)."""
        lines: list[bytes] = []
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                pending = b""
                while chunk := handle.read(_CHUNK):
                    pending += chunk
                    complete, used = split_complete(pending)
                    lines += complete
                    self.offset += used
                    pending = pending[used:]
                if final and pending:
                    lines.append(pending)
                    self.offset += len(pending)
        except FileNotFoundError:
            return []
        return lines


def read_lines(path: Path, start: int, limit: int = LOG_PAGE_BYTES) -> tuple[list[tuple[int, bytes]], int, bool]:
    """(offset, line) pairs of the complete lines from ``start``, about ``limit`` bytes of them (a page of
    ``runs.log``: a long run's output is tens of MB, and one reply must not hold it all); returns them, the
    offset after the last complete line, and whether complete output lies beyond it. A line longer than
    ``limit`` is returned whole, so every call makes progress."""
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            data = handle.read(limit)
            full = len(data) == limit  # stopped by the page, not by the end of the file
            while data and b"\n" not in data and (chunk := handle.read(_CHUNK)):
                data += chunk  # one line longer than a page: read on to its end, and stop there
                if b"\n" in data:
                    data = data[: data.index(b"\n") + 1]
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:
        return [], start, False
    complete, used = split_complete(data)
    out: list[tuple[int, bytes]] = []
    position = start
    for line in complete:
        out.append((position, line))
        position += len(line) + 1
    return out, start + used, full and size > start + used
