"""Waiting for an agent's exit (runner/process.py ``wait_exit``): a pidfd wakes the waiter for our own child and
for a process that is not our child (an agent re-adopted after a restart); without a pidfd a slow poll does."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import anyio
import psutil
import pytest

from specflowd.runner.process import identify, is_same_process, wait_exit

pytestmark = pytest.mark.anyio


async def _exits_while_waited(identity_pid: int, release: Path, **kwargs: float) -> None:
    """Start waiting, then let the process end (by creating ``release``): the waiter returns, and only then."""
    identity = identify(identity_pid)
    done = anyio.Event()

    async def waiter() -> None:
        await wait_exit(identity, **kwargs)
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.sleep(0.3)  # a window in which a waiter that returned early would show
        assert not done.is_set() and is_same_process(identity)
        release.write_text("go")
        with anyio.fail_after(30):
            await done.wait()
    assert not is_same_process(identity)


def _waits_for(release: Path) -> list[str]:
    return ["sh", "-c", f'while [ ! -e "{release}" ]; do sleep 0.05; done']


async def test_our_own_child_exiting_wakes_the_waiter(tmp_path: Path) -> None:
    release = tmp_path / "release"
    child = subprocess.Popen(_waits_for(release))
    try:
        await _exits_while_waited(child.pid, release)
    finally:
        assert child.wait(timeout=30) == 0


def _orphan(tmp_path: Path, release: Path) -> int:
    """A process that is not our child: started by a shell that exits at once (it is re-parented)."""
    script = " ".join(f"'{a}'" for a in _waits_for(release))
    out = subprocess.run(
        ["sh", "-c", f"{script} >/dev/null 2>&1 & echo $!"], check=True, capture_output=True, text=True
    )
    pid = int(out.stdout.strip())
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # not ours to reap
    assert psutil.Process(pid).ppid() != os.getpid()
    return pid


async def test_an_adopted_process_that_is_not_our_child_exiting_wakes_the_waiter(tmp_path: Path) -> None:
    release = tmp_path / "release"
    await _exits_while_waited(_orphan(tmp_path, release), release)


async def test_without_a_pidfd_a_slow_poll_notices_the_exit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def refused(pid: int) -> int:
        calls.append(pid)
        raise OSError(errno.ENOSYS, "pidfd_open not implemented")

    monkeypatch.setattr("specflowd.runner.process.os.pidfd_open", refused)  # the os that process.py imported
    release = tmp_path / "release"
    pid = _orphan(tmp_path, release)
    await _exits_while_waited(pid, release, poll_s=0.05)
    assert calls == [pid]


async def test_a_process_already_gone_returns_at_once(tmp_path: Path) -> None:
    child = subprocess.Popen(["true"])
    identity = identify(child.pid)
    child.wait(timeout=30)
    with anyio.fail_after(5):
        await wait_exit(identity)
