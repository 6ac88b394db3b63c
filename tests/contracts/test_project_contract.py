"""The ``ProjectReader`` contract (engine/ports.py), held on ``TestProject`` (tests/engine/fakes.py) and the real
``ProjectFiles`` (engine/adapters.py) with its poller: ``read`` gives decide()'s evidence of the project's files
and the feature directory's name, never raises for missing or bad files (they become problems), and sees a
change made since the last read; ``changed`` returns once tasks.md changed and not without a change.

The fake's ``changed`` does not watch files: ``TestProject.touch`` stands for the file watcher seeing the change
(its docstring), so here the fake is touched where the real one's poller looks by itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from specflowd.domain.evidence import TaskState
from specflowd.engine.adapters import ProjectFiles
from specflowd.engine.ports import ProjectReader
from specflowd.watch import Poller
from tests.engine.fakes import TestProject

pytestmark = pytest.mark.anyio

QUIET_S = 0.3  # a window in which a wrong wake-up would show (the real poller looks every 20 ms)


@dataclass
class ReaderUnderTest:
    reader: ProjectReader
    watching: Callable[[], bool]  # changed() has started watching: a write from now on is a change
    file_watcher_sees: Callable[[], None]  # the fake's stand-in for the watcher; nothing for the real poller


@asynccontextmanager
async def reader_under_test(kind: str) -> AsyncIterator[ReaderUnderTest]:
    if kind == "fake":
        fake = TestProject()
        yield ReaderUnderTest(fake, lambda: True, fake.touch)
        return
    poller = Poller()
    files = ProjectFiles(poller, fast=0.02, slow=0.02)
    async with anyio.create_task_group() as tg:
        tg.start_soon(poller.run)
        yield ReaderUnderTest(files, lambda: len(poller) > 0, lambda: None)
        tg.cancel_scope.cancel()


@pytest.fixture(params=["fake", "real"])
def kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


def tasks_md(root: Path) -> Path:
    return root / "specs" / DEMO_FEATURE / "tasks.md"


async def test_a_project_is_read_as_evidence_with_its_feature(kind: str, tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    async with reader_under_test(kind) as r:
        view = await r.reader.read(root)
    evidence = view.evidence
    assert view.feature == DEMO_FEATURE
    assert evidence.tasks and evidence.problems == []
    assert evidence.task_states["T001"] == TaskState.OPEN and len(evidence.task_states) > 4
    assert evidence.sections and evidence.sections[0].task_ids[0] == "T001"
    assert evidence.skill_step is None or evidence.skill_step.current == "design"


async def test_a_directory_without_project_files_reads_as_empty_evidence(kind: str, tmp_path: Path) -> None:
    async with reader_under_test(kind) as r:
        view = await r.reader.read(tmp_path)
    assert view.feature is None
    assert (view.evidence.spec, view.evidence.plan, view.evidence.tasks) == (False, False, False)
    assert view.evidence.task_states == {} and view.evidence.skill_step is None


async def test_a_broken_state_file_is_a_problem_not_an_error(kind: str, tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    state = root / ".specflow" / "orchestration-state.json"
    state.parent.mkdir(exist_ok=True)
    state.write_text("{ not json")
    async with reader_under_test(kind) as r:
        view = await r.reader.read(root)
    assert any("orchestration-state.json" in p for p in view.evidence.problems), view.evidence.problems
    assert view.evidence.task_states["T001"] == TaskState.OPEN  # the rest is still read


async def test_a_read_sees_a_change_made_since_the_last(kind: str, tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    async with reader_under_test(kind) as r:
        before = await r.reader.read(root)
        tasks = tasks_md(root)
        tasks.write_text(tasks.read_text().replace("- [ ] T001", "- [x] T001", 1))  # same size, in place
        after = await r.reader.read(root)
    assert before.evidence.task_states["T001"] == TaskState.OPEN
    assert after.evidence.task_states["T001"] == TaskState.DONE


async def test_changed_returns_once_tasks_md_changes_and_not_before(kind: str, tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    seen = anyio.Event()

    async with reader_under_test(kind) as r:

        async def watcher() -> None:
            await r.reader.changed(root)
            seen.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(watcher)
            with anyio.fail_after(10):
                while not r.watching():
                    await anyio.sleep(0.01)
            with anyio.move_on_after(QUIET_S):
                await seen.wait()
            assert not seen.is_set()  # nothing changed
            tasks = tasks_md(root)
            tasks.write_text(tasks.read_text().replace("- [ ] T002", "- [x] T002", 1))
            r.file_watcher_sees()
            with anyio.fail_after(10):
                await seen.wait()
