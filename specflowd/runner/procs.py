"""Agent processes: spawn detached (own session, files not pipes), identify by pid + start time, wait via
pidfd, stop by process group. No policy here."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import anyio
import psutil

from specflowd.runner.records import ProcessIdentity

__all__ = ["identity_alive", "spawn", "stop_group", "wait_exit"]


def spawn(
    argv: list[str], *, cwd: Path, stdin: Path, stdout: Path, stderr: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], ProcessIdentity]:
    """Start ``argv`` as a session leader with its stdio on files, so it outlives the daemon."""
    with stdin.open("rb") as fin, stdout.open("ab") as fout, stderr.open("ab") as ferr:
        proc = subprocess.Popen(
            argv, cwd=cwd, stdin=fin, stdout=fout, stderr=ferr, env=env, start_new_session=True, close_fds=True
        )
    try:
        create_time = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        create_time = 0.0  # it already exited; the exit is seen through the Popen handle
    return proc, ProcessIdentity(pid=proc.pid, create_time=create_time, boot_time=psutil.boot_time(), pgid=proc.pid)


def identity_alive(identity: ProcessIdentity) -> bool:
    """True when the process of ``identity`` still runs: same pid *and* start time (a reused pid is not it)."""
    try:
        process = psutil.Process(identity.pid)
        if abs(process.create_time() - identity.create_time) > 0.05:
            return False
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


async def wait_exit(identity: ProcessIdentity, proc: subprocess.Popen[bytes] | None) -> int | None:
    """Wait for the process to end; its exit code when it is our child, else None (not recoverable)."""
    try:
        fd = os.pidfd_open(identity.pid)
    except (ProcessLookupError, OSError):
        fd = None
    if fd is not None:
        try:
            if proc is not None or identity_alive(identity):
                await anyio.wait_readable(fd)
        finally:
            os.close(fd)
    while proc is None and identity_alive(identity):  # pidfd unavailable: poll (rare)
        await anyio.sleep(0.2)
    if proc is not None:
        return await anyio.to_thread.run_sync(proc.wait)
    return None


def stop_group(identity: ProcessIdentity, sig: int = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(identity.pgid, sig)
