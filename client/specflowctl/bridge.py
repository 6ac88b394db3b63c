"""``specflowctl bridge``: standard input/output joined to the local daemon's socket, byte for byte.

``ssh HOST specflowctl bridge`` is then a connection to HOST's daemon, in either framing (the daemon detects
it from the first byte, as on its socket). Stdlib only, outside typer: it starts in a few tens of
milliseconds on every remote call.

Ending: when our input ends (the client closed, or ssh went away) the socket is half-closed, so the daemon
answers what is in flight and then closes; when the daemon closes, or our output cannot be written, the
bridge exits at once and the connection is gone with it. Nothing else is printed on stdout: messages go to
stderr, which ssh carries to the client.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from pathlib import Path

from specflowctl import core

__all__ = ["main", "pump"]

_CHUNK = 1 << 16


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def pump(sock: socket.socket, stdin_fd: int = 0, stdout_fd: int = 1) -> None:
    """Copy both ways until the daemon closes or ``stdout_fd`` is gone."""

    def upstream() -> None:
        try:
            while data := os.read(stdin_fd, _CHUNK):
                sock.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)  # the daemon answers what is in flight, then closes

    # a daemon thread: when the daemon closes first, the process exits without waiting for our input to end
    threading.Thread(target=upstream, name="bridge-upstream", daemon=True).start()
    try:
        while data := sock.recv(_CHUNK):
            _write_all(stdout_fd, data)
    except OSError:  # EPIPE: the client is gone; ECONNRESET: the daemon is
        pass
    finally:
        sock.close()


def main(argv: list[str]) -> int:
    """``bridge [--socket PATH]``; the exit code is 3 when no daemon answers and none could be started."""
    from specflowctl import autostart, remote

    remote.select(None, local=True)  # a bridge always serves this machine's daemon, whatever [client] host says
    explicit: str | None = os.environ.get("SPECFLOWD_SOCKET") or None
    args = iter(argv)
    for arg in args:
        if arg == "--socket":
            explicit = next(args, None)
            if explicit is None:
                print("specflowctl bridge: --socket needs a PATH", file=sys.stderr)
                return core.EXIT_USAGE
        elif arg.startswith("--socket="):
            explicit = arg.partition("=")[2]
        else:
            print(f"specflowctl bridge: unexpected argument {arg!r}", file=sys.stderr)
            return core.EXIT_USAGE
    path = core.socket_path(explicit)
    sock = _connect(path)
    if sock is None:
        try:
            autostart.ensure_daemon(path)
        except core.VerbFailed as exc:
            print(f"specflowctl bridge: {exc.message}", file=sys.stderr)
            return core.EXIT_NO_DAEMON
        sock = _connect(path)
        if sock is None:
            print(f"specflowctl bridge: no specflowd is answering on {path}", file=sys.stderr)
            return core.EXIT_NO_DAEMON
    pump(sock)
    return 0
