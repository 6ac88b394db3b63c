"""The shared file poller (specflowd/watch.py): one task for every watch, back-off while nothing changes, a
change seen by the watch it belongs to only; and the project fingerprint the engine watches with it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import anyio
import pytest

from specflowd.engine.adapters import ProjectFiles, ProjectFingerprint
from specflowd.watch import Poller, fingerprint

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def polling(poller: Poller) -> AsyncIterator[Poller]:
    async with anyio.create_task_group() as tg:
        tg.start_soon(poller.run)
        yield poller
        tg.cancel_scope.cancel()


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_an_unchanged_watch_backs_off_to_its_slow_interval_and_a_change_brings_it_back() -> None:
    clock = FakeClock()
    poller = Poller(clock)
    value = [0]
    seen: list[int] = []
    watch = poller.watch(lambda: value[0], lambda: seen.append(value[0]), fast=0.25, slow=2.0)
    intervals = []
    for _ in range(6):
        clock.t = watch.due
        watch.check(clock.t)
        intervals.append(watch.interval)
    assert intervals == [0.5, 1.0, 2.0, 2.0, 2.0, 2.0] and seen == []
    value[0] = 1
    clock.t = watch.due
    watch.check(clock.t)
    assert seen == [1] and watch.interval == 0.25


def test_watches_at_the_same_back_off_level_fall_due_together() -> None:
    clock = FakeClock()
    poller = Poller(clock)
    watches = []
    for offset in (0.0, 0.3, 0.9, 1.7):  # registered at different instants
        clock.t = 1000.0 + offset
        watches.append(poller.watch(lambda: 0, lambda: None, fast=0.25, slow=2.0))
    for _ in range(8):  # every watch reaches the slow level
        clock.t = min(w.due for w in watches)
        for w in watches:
            if w.due <= clock.t:
                w.check(clock.t)
    assert {w.interval for w in watches} == {2.0}
    assert len({w.due for w in watches}) == 1  # one wake-up serves them all


async def test_a_change_wakes_its_own_watch_only_and_idle_watches_cost_few_wakeups(tmp_path: Path) -> None:
    files = [tmp_path / f"f{i}" for i in range(20)]
    for f in files:
        f.write_text("x")
    changed: list[int] = []
    poller = Poller()
    async with polling(poller):
        for i, f in enumerate(files):
            poller.watch(partial(fingerprint, f), partial(changed.append, i), fast=0.05, slow=0.4)
        await anyio.sleep(1.0)  # a measurement window (not a synchronisation): how often did it wake?
        idle_wakeups = poller.wakeups
        files[7].write_text("changed")
        with anyio.fail_after(10):
            while not changed:
                await anyio.sleep(0.02)
    assert changed == [7]
    # 20 watches over 1 s: backed off to 0.4 s they share their wake-ups (a task each would wake >= 60 times)
    assert idle_wakeups <= 12


async def test_a_closed_watch_is_never_looked_at_again(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("a")
    looks = [0]

    def probe() -> object:
        looks[0] += 1
        return fingerprint(path)

    poller = Poller()
    async with polling(poller):
        watch = poller.watch(probe, lambda: None, fast=0.02, slow=0.02)
        with anyio.fail_after(10):
            while looks[0] < 3:
                await anyio.sleep(0.02)
        watch.close()
        after_close = looks[0]
        await anyio.sleep(0.2)  # a window in which a live watch would be looked at ~10 times
    assert looks[0] == after_close and len(poller) == 0


def test_the_project_fingerprint_sees_tasks_md_created_edited_replaced_and_the_state_file(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / ".specflow").mkdir(parents=True)
    probe = ProjectFingerprint(root)
    base = probe()
    assert probe() == base  # nothing changed
    feature = root / "specs" / "0001-x"
    feature.mkdir(parents=True)
    assert probe() != base
    base = probe()
    tasks = feature / "tasks.md"
    tasks.write_text("- [ ] T001 a\n")
    created = probe()
    assert created != base
    with tasks.open("a") as handle:  # edited in place (same inode, same directory)
        handle.write("- [ ] T002 b\n")
    edited = probe()
    assert edited != created
    tmp = feature / ".tasks.tmp"
    tmp.write_text("- [x] T001 a\n- [ ] T002 b\n")
    os.replace(tmp, tasks)  # replaced atomically, as editors and the CLI do
    replaced = probe()
    assert replaced != edited
    (root / ".specflow" / "orchestration-state.json").write_text("{}")
    assert probe() != replaced


async def test_a_file_change_in_one_of_several_projects_wakes_only_that_projects_watcher(tmp_path: Path) -> None:
    roots = []
    for name in ("a", "b", "c"):
        root = tmp_path / name
        (root / "specs" / "0001-x").mkdir(parents=True)
        (root / "specs" / "0001-x" / "tasks.md").write_text("- [ ] T001 a\n")
        roots.append(root)
    poller = Poller()
    files = ProjectFiles(poller, fast=0.05, slow=0.2)
    woken: list[str] = []

    async def watcher(root: Path) -> None:
        await files.changed(root)
        woken.append(root.name)

    async with polling(poller), anyio.create_task_group() as tg:
        for root in roots:
            tg.start_soon(watcher, root)
        with anyio.fail_after(10):
            while len(poller) < 3:
                await anyio.sleep(0.01)
        (roots[1] / "specs" / "0001-x" / "tasks.md").write_text("- [x] T001 a\n")
        with anyio.fail_after(10):
            while not woken:
                await anyio.sleep(0.02)
        await anyio.sleep(0.5)  # a window in which a wrong wake-up of a or c would show
        assert woken == ["b"]
        assert len(poller) == 2  # b's watch is closed once it reported; a's and c's still wait
        tg.cancel_scope.cancel()
    assert len(poller) == 0  # cancelled watchers (an ended orchestration) leave no watch behind
