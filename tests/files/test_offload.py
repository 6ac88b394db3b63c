"""Durable writes from the event loop run in a worker thread, keep their order, and stay atomic."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import anyio
import pytest

from specflowd.files.atomic import atomic_write_bytes
from specflowd.files.offload import OrderedFiles

pytestmark = pytest.mark.anyio


async def test_the_loop_serves_others_while_a_write_waits_for_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync, slow = os.fsync, threading.Event()

    def slow_fsync(fd: int) -> None:
        slow.wait(10)  # held until the loop has shown it is free
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    files, target = OrderedFiles(), tmp_path / "doc.json"
    ticks = 0

    async def other_client() -> None:
        nonlocal ticks
        while not slow.is_set():
            ticks += 1
            if ticks >= 20:
                slow.set()  # the loop ran 20 times during the write: let it finish
            await anyio.sleep(0.001)

    async with anyio.create_task_group() as tg:
        tg.start_soon(other_client)
        await files.write(target, lambda: atomic_write_bytes(target, b"new"))
    assert ticks >= 20 and target.read_bytes() == b"new"


async def test_an_older_write_finishing_late_never_replaces_a_newer_one(tmp_path: Path) -> None:
    files, target = OrderedFiles(), tmp_path / "doc.json"
    started, release = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        started.set()
        release.wait(10)
        atomic_write_bytes(target, b"first")
        order.append("first")

    async with anyio.create_task_group() as tg:
        tg.start_soon(files.write, target, first)
        await anyio.to_thread.run_sync(started.wait, 10)
        def second_write() -> None:
            atomic_write_bytes(target, b"second")
            order.append("second")

        second = files.write(target, second_write)
        tg.start_soon(lambda: second)
        await anyio.sleep(0.05)
        release.set()
    assert target.read_bytes() == b"second" and order == ["first", "second"]  # the file's lock keeps call order

    # a write asked for earlier but run after a newer one is skipped: the newer content stays
    entry, old = files._enter(target)
    files.write_now(target, lambda: atomic_write_bytes(target, b"newest"))
    files._run(target, entry, old, lambda: atomic_write_bytes(target, b"stale"))
    assert target.read_bytes() == b"newest"
    assert files._files == {}  # nothing kept once no write is pending


async def test_a_failing_write_raises_to_its_caller_and_keeps_the_old_file(tmp_path: Path) -> None:
    files, target = OrderedFiles(), tmp_path / "doc.json"
    target.write_bytes(b"old")

    def full_disk() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        await files.write(target, full_disk)
    assert target.read_bytes() == b"old"
    started = time.monotonic()
    await files.write(target, lambda: atomic_write_bytes(target, b"new"))
    assert target.read_bytes() == b"new" and time.monotonic() - started < 10
