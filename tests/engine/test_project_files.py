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
from specflowd.watch import Poller

pytestmark = pytest.mark.anyio


def age_all(root: Path, seconds: float) -> None:
    past = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (past, past))


class CountingReads:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = adapters.read_project_snapshot

        def counted(root: Path):  # type: ignore[no-untyped-def]
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
