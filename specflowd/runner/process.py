"""Agent processes, I/O only: find the binary, spawn detached, identify, wait for exit, signal the group.

Children start in their own session (process-group leader) with stdin/stdout/stderr on files of the run
directory, so they outlive the daemon. A process is identified by pid *and* start time (psutil
create_time + boot time): a reused pid is never mistaken for the run, and a zombie counts as dead.

Each invocation also holds a lock from before its fork to its exit: the daemon creates the lock file, takes
an exclusive ``flock`` and passes the descriptor to the child (``pass_fds``), then closes its own copy. A
flock belongs to the open file description, so it is held exactly while some process — the forked child,
the agent it exec'd, or a descendant that inherited the descriptor — still has it open, and the kernel
releases it when the last one exits, whatever killed whom. ``lock_state`` tests it without timing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path

import anyio
import psutil

from specflowd.errors import AgentUnavailable
from specflowd.runner.records import ProcessIdentity

__all__ = [
    "LockState",
    "find_agent",
    "group_alive",
    "identify",
    "is_same_process",
    "lock_holders",
    "lock_state",
    "read_tail",
    "reap_if_child",
    "resolve_binary",
    "signal_group",
    "spawn",
    "take_lock",
    "wait_exit",
]

log = logging.getLogger(__name__)

_CREATE_TIME_TOLERANCE_S = 0.05


def resolve_binary(configured: str | None, environ: Mapping[str, str]) -> str:
    """Config, else $SPECFLOW_CLAUDE, else ``claude`` on PATH; missing → AgentUnavailable."""
    name = configured or environ.get("SPECFLOW_CLAUDE") or "claude"
    found = shutil.which(name, path=environ.get("PATH", os.defpath))
    if found is None:
        source = "configured" if configured else ("SPECFLOW_CLAUDE" if environ.get("SPECFLOW_CLAUDE") else "PATH")
        raise AgentUnavailable(
            f"agent binary {name!r} ({source}) not found or not executable: set [agent] claude in "
            "~/.config/specflow/specflowd.toml or SPECFLOW_CLAUDE, or put claude on PATH",
            binary=name,
            source=source,
        )
    return found


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin_path: Path,
    stdout_path: Path,
    stderr_path: Path,
    lock_fd: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start the child detached. Output files are opened in append mode so a continuation (``--resume``)
    extends the same output.jsonl; the daemon closes its copies right after the fork. ``lock_fd`` (from
    ``take_lock``) is inherited by the child, which holds the lock from the fork on."""
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
            pass_fds=() if lock_fd is None else (lock_fd,),
        )


def identify(pid: int, invocation: int = 0) -> ProcessIdentity:
    proc = psutil.Process(pid)
    return ProcessIdentity(
        pid=pid,
        create_time=proc.create_time(),
        boot_time=psutil.boot_time(),
        pgid=os.getpgid(pid),
        invocation=invocation,
    )


def take_lock(path: Path) -> int:
    """Create ``path`` afresh and hold an exclusive flock on it; returns the descriptor (close-on-exec, so
    only a child it is explicitly passed to inherits it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


class LockState(Enum):
    MISSING = "missing"  # never created: nothing was forked
    FREE = "free"  # every process that held it is gone (or the daemon died before forking)
    HELD = "held"  # some process of the invocation is alive


def lock_state(path: Path) -> LockState:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return LockState.MISSING
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by the close below
    except BlockingIOError:
        return LockState.HELD
    finally:
        os.close(fd)
    return LockState.FREE


def _same_file(link: str, key: tuple[int, int]) -> bool:
    try:
        st = os.stat(link)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == key


def lock_holders(path: Path) -> list[int]:
    """Pids of the processes that have ``path`` open (read from /proc; processes of other users are not
    readable and cannot hold our lock anyway)."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    key, target = (st.st_dev, st.st_ino), os.path.realpath(path)
    holders: list[int] = []
    for pid in psutil.pids():
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            link = f"{fd_dir}/{fd}"
            with contextlib.suppress(OSError):
                if os.readlink(link) == target and _same_file(link, key):
                    holders.append(pid)
                    break
    return holders


def find_agent(lock_path: Path, stdout_path: Path, invocation: int) -> ProcessIdentity | None:
    """The agent among the lock's holders: a session leader (the daemon starts it in its own session) whose
    stdout is the run's output file (what the daemon gave it; its tools get pipes). None while no holder
    qualifies — the instant between fork and setsid, or only descendants left behind by a dead agent."""
    try:
        st = os.stat(stdout_path)
    except OSError:
        return None
    out = (st.st_dev, st.st_ino)
    found: list[ProcessIdentity] = []
    for pid in lock_holders(lock_path):
        with contextlib.suppress(OSError, psutil.Error):
            if os.getsid(pid) == pid and _same_file(f"/proc/{pid}/fd/1", out):
                found.append(identify(pid, invocation))
    return min(found, key=lambda i: i.create_time) if found else None


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


EXIT_POLL_S = 2.0  # without a pidfd: how often a process is looked at (its exit is noticed this late)


async def wait_exit(identity: ProcessIdentity, *, poll_s: float = EXIT_POLL_S) -> None:
    """Return when the process has exited (zombie or gone). Works for any process, not only our children:
    a pidfd (Linux >= 5.3) becomes readable on exit, so the wait costs nothing until then. Checked against the
    identity after opening, so a pid that was reused before we looked returns at once. Where no pidfd can be
    had (an older kernel, a sandbox refusing the call) the process is looked at every ``poll_s``."""
    pidfd_open = getattr(os, "pidfd_open", None)
    try:
        if pidfd_open is None:
            raise OSError(errno.ENOSYS, "os.pidfd_open is not available")
        fd: int = pidfd_open(identity.pid)
    except ProcessLookupError:
        return
    except OSError as exc:
        log.debug("no pidfd for pid %s (%s): polling its exit every %ss", identity.pid, exc, poll_s)
        while is_same_process(identity):
            await anyio.sleep(poll_s)
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
