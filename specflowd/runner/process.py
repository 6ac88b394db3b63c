"""Agent processes, I/O only: find the binary, spawn detached, identify, wait for exit, signal the group.

Children start in their own session (process-group leader) with stdin/stdout/stderr on files of the run
directory, so they outlive the daemon. A process is identified by pid *and* start time (psutil
create_time + boot time): a reused pid is never mistaken for the run, and a zombie counts as dead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio
import psutil

from specflowd.errors import AgentUnavailable
from specflowd.runner.models import ProcessIdentity

__all__ = [
    "group_alive",
    "identify",
    "is_same_process",
    "read_tail",
    "reap_if_child",
    "resolve_binary",
    "signal_group",
    "spawn",
    "wait_exit",
]

_CREATE_TIME_TOLERANCE_S = 0.05


def resolve_binary(configured: str | None, environ: Mapping[str, str]) -> str:
    """Config, else $SPECFLOW_CLAUDE, else ``claude`` on PATH; missing → AgentUnavailable."""
    name = configured or environ.get("SPECFLOW_CLAUDE") or "claude"
    found = shutil.which(name, path=environ.get("PATH", os.defpath))
    if found is None:
        raise AgentUnavailable(
            f"agent binary {name!r} not found or not executable (set SPECFLOW_CLAUDE or [agent] claude)",
            binary=name,
        )
    return found


def spawn(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], stdin_path: Path, stdout_path: Path, stderr_path: Path
) -> subprocess.Popen[bytes]:
    """Start the child detached. Output files are opened in append mode so a continuation (``--resume``)
    extends the same output.jsonl; the daemon closes its copies right after the fork."""
    with (
        stdin_path.open("rb") as stdin,
        stdout_path.open("ab") as stdout,
        stderr_path.open("ab") as stderr,
    ):
        # Not `anyio.open_process`/`async with process`: those kill the child on cancellation.
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            close_fds=True,
        )


def identify(pid: int) -> ProcessIdentity:
    proc = psutil.Process(pid)
    return ProcessIdentity(pid=pid, create_time=proc.create_time(), boot_time=psutil.boot_time(), pgid=os.getpgid(pid))


def is_same_process(identity: ProcessIdentity) -> bool:
    """True when ``identity.pid`` is still the very process recorded, alive and not a zombie."""
    try:
        if abs(psutil.boot_time() - identity.boot_time) > 1.0:
            return False
        proc = psutil.Process(identity.pid)
        if abs(proc.create_time() - identity.create_time) > _CREATE_TIME_TOLERANCE_S:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


async def wait_exit(identity: ProcessIdentity) -> None:
    """Return when the process has exited (zombie or gone). Works for any process, not only our children:
    a pidfd becomes readable on exit. Checked against the identity after opening, so a pid that was reused
    before we looked returns at once."""
    try:
        fd = os.pidfd_open(identity.pid)
    except ProcessLookupError:
        return
    try:
        if not is_same_process(identity):
            return
        await anyio.wait_readable(fd)
    finally:
        anyio.notify_closing(fd)
        os.close(fd)


def reap_if_child(pid: int) -> int | None:
    """Collect the exit status of a dead child of ours (adopted runs started by this same process, e.g. in
    tests), so it does not linger as a zombie. Returns the exit code when we were its parent."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if done else None


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def group_alive(pgid: int) -> bool:
    """Any non-zombie member left in the group?"""
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                return True
    return False


def read_tail(path: Path, limit: int) -> str:
    """The last ``limit`` characters of a text file ('' when missing)."""
    if limit <= 0:
        return ""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - limit * 4))
            data = handle.read()
    except OSError:
        return ""
    return data.decode("utf-8", "replace")[-limit:]
