"""Many orchestrations waking at once take turns at deciding (engine/runtime.py DECIDING_AT_ONCE), so one
event-loop iteration never runs hundreds of decision steps while clients wait; the user's control calls take no
turn."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from specflowctl.demo import create_demo_project
from specflowd.domain.config import OrchestrationConfig
from specflowd.engine.ports import ProjectView
from specflowd.engine.runtime import DECIDING_AT_ONCE
from tests.engine.fakes import TestProject, engine

pytestmark = pytest.mark.anyio

ORCHESTRATIONS = 3 * DECIDING_AT_ONCE


class HeldProject(TestProject):
    """A project's first read (``start``'s) is free; every later one — inside a decision step — waits for
    ``release``, and the steps in progress are counted meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.release = anyio.Event()
        self.started: set[Path] = set()
        self.inside = 0
        self.most = 0

    async def read(self, root: Path) -> ProjectView:
        if root not in self.started:
            self.started.add(root)
            return await super().read(root)
        self.inside += 1
        self.most = max(self.most, self.inside)
        try:
            await self.release.wait()
            return await super().read(root)
        finally:
            self.inside -= 1


async def test_orchestrations_woken_together_decide_a_few_at_a_time_and_all_go_on(tmp_path: Path) -> None:
    roots = [create_demo_project(tmp_path / f"p{n}") for n in range(ORCHESTRATIONS)]
    project = HeldProject()
    async with engine(roots[0], project=project) as h:
        ids = [(await h.orch.start(root, OrchestrationConfig())).id for root in roots]
        await h.until(lambda: project.inside == DECIDING_AT_ONCE, "the first steps to take their turns")
        await h.settled()
        assert project.inside == DECIDING_AT_ONCE  # the others wait for a turn, not inside a step
        paused = await h.orch.pause(ids[-1])  # a control call takes no turn: it answers while all turns are held
        assert paused.status.value == "paused"
        project.release.set()

        def ran() -> set[str]:
            return {r.orchestration for r in h.runs.started()}

        await h.until(lambda: set(ids[:-1]) <= ran(), "every running orchestration's first run")
    assert project.most == DECIDING_AT_ONCE and ids[-1] not in ran()
