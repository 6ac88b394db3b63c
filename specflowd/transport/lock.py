"""An exclusive lock file beside the socket: the proof that a live daemon owns the socket path.

anyio's create_unix_listener silently deletes an existing socket file, so without this lock a second
daemon would steal the path from a live one.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["AlreadyRunning", "DaemonLock"]


class AlreadyRunning(Exception):
    def __init__(self, lock_path: Path, holder: str) -> None:
        super().__init__(f"another specflowd is running (lock {lock_path}, pid {holder or 'unknown'})")
        self.holder = holder


class DaemonLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise AlreadyRunning(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
