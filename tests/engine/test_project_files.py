"""The real project reader (engine/adapters.py ``ProjectFiles``): a read is reused while the project's files are
unchanged and old enough to be trusted, read again after any change, and never reused while a file is fresh."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from specflowd.domain.evidence import TaskState
from specflowd.engine import adapters
from specflowd.engine.adapters import ProjectFiles
from specflowd.engine.ports import ProjectView
from specflowd.project.snapshot import ProjectSnapshot, read_project_snapshot
from specflowd.watch import Poller

pytestmark = pytest.mark.anyio


def age_all(root: Path, seconds: float) -> None:
    past = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (past, past))


class CountingReads:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = read_project_snapshot

        def counted(root: Path) -> ProjectSnapshot:
            self.count += 1
            return original(root)

        monkeypatch.setattr(adapters, "read_project_snapshot", counted)


async def test_an_unchanged_old_project_is_read_once_and_a_change_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = create_demo_project(tmp_path / "demo")
    age_all(root, 60)
    reads = CountingReads(monkeypatch)
    files = ProjectFiles(Poller())
    first = await files.read(root)
    again = await files.read(root)
    assert reads.count == 1 and again is first
    tasks = root / "specs" / DEMO_FEATURE / "tasks.md"
    tasks.write_text(tasks.read_text().replace("- [ ] T001", "- [x] T001", 1))  # same size, in place
    ticked = await files.read(root)
    assert reads.count == 2 and ticked.evidence.task_states["T001"] == TaskState.DONE
    (root / "ROADMAP.md").write_text("| Phase | Name | Status | Verification Gate |\n")
    await files.read(root)
    assert reads.count == 3


async def test_a_project_with_a_fresh_file_is_read_every_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = create_demo_project(tmp_path / "demo")  # just written: its mtimes are now
    reads = CountingReads(monkeypatch)
    files = ProjectFiles(Poller())
    await files.read(root)
    await files.read(root)
    assert reads.count == 2  # a same-size rewrite within the mtime's granularity could not be told apart


def halves(tasks: Path) -> tuple[str, str]:
    """tasks.md with its first 12 tasks ticked, and what a reader sees of it cut short by an in-place rewrite."""
    text = tasks.read_text()
    for n in range(1, 13):
        text = text.replace(f"- [ ] T{n:03d}", f"- [x] T{n:03d}", 1)
    return text, text[: text.index("T002")]


def done_count(view: ProjectView) -> int:
    return len(view.evidence.ids_in(TaskState.DONE))


async def test_a_read_of_files_written_while_they_are_read_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = create_demo_project(tmp_path / "demo")
    tasks = root / "specs" / DEMO_FEATURE / "tasks.md"
    whole, torn = halves(tasks)
    tasks.write_text(torn)  # the writer has truncated it and written its first lines
    reads: list[int] = []
    original = read_project_snapshot

    def finishing_writer(path: Path) -> ProjectSnapshot:
        snapshot = original(path)
        reads.append(len(snapshot.tasks.tasks) if snapshot.tasks else 0)
        if len(reads) == 1:
            tasks.write_text(whole)  # ... and writes the rest while the daemon reads
        return snapshot

    monkeypatch.setattr(adapters, "read_project_snapshot", finishing_writer)
    view = await ProjectFiles(Poller()).read(root)
    assert reads == [1, 20] and done_count(view) == 12


class WriterFinishingInThePause(ProjectFiles):
    def __init__(self, tasks: Path, whole: str) -> None:
        super().__init__(Poller())
        self.tasks, self.whole, self.pauses = tasks, whole, 0

    async def pause(self) -> None:
        self.pauses += 1
        if self.pauses == 1:
            self.tasks.write_text(self.whole)


async def test_a_fresh_read_is_read_again_when_its_files_change_just_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = create_demo_project(tmp_path / "demo")
    tasks = root / "specs" / DEMO_FEATURE / "tasks.md"
    whole, torn = halves(tasks)
    tasks.write_text(torn)  # truncated and half written: unchanged while it is read
    files = WriterFinishingInThePause(tasks, whole)
    reads = CountingReads(monkeypatch)
    view = await files.read(root)
    assert (reads.count, files.pauses) == (2, 2) and done_count(view) == 12


async def test_files_that_never_stand_still_are_read_a_bounded_number_of_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = create_demo_project(tmp_path / "demo")
    tasks = root / "specs" / DEMO_FEATURE / "tasks.md"
    whole, torn = halves(tasks)
    original = read_project_snapshot
    count = 0

    def endless_writer(path: Path) -> ProjectSnapshot:
        nonlocal count
        count += 1
        snapshot = original(path)
        tasks.write_text(torn if count % 2 else whole)
        return snapshot

    monkeypatch.setattr(adapters, "read_project_snapshot", endless_writer)
    await ProjectFiles(Poller()).read(root)
    assert count == adapters.MAX_READS
