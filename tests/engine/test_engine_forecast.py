"""The forecast's history in the real engine (in-process, tests/engine/fakes.py): a finished phase gives its
samples, read again from disk after a restart; the live progress rests on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from specflowctl.demo import create_demo_project
from tests.engine.fakes import FakeClock, FakeRuns, engine

pytestmark = pytest.mark.anyio

PHASE = ["analyze", "implement", "implement", "implement", "implement", "merge", "verify"]


async def test_a_finished_phase_feeds_the_forecast_also_after_a_restart(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    runs, clock = FakeRuns(), FakeClock()
    async with engine(root, runs=runs, clock=clock) as h:
        await h.start(auto_merge=True)
        record = await h.status()
        assert record.status.value == "completed", record.attention
        samples = await h.orch.forecast_history(root)
        assert sorted(s.step.value for s in samples) == PHASE
        assert {s.orchestration for s in samples} == {record.id}
        assert sorted(s.tasks for s in samples if s.step.value == "implement") == [4, 5, 5, 6]
        progress = await h.orch.progress(record)
        assert progress.remaining_s == 0  # finished: nothing left, whatever the history says
    async with engine(root, runs=runs, clock=clock) as h:  # a new engine knows it from the history index
        again = await h.orch.forecast_history(root)
        assert sorted(again, key=repr) == sorted(samples, key=repr)
        assert await h.orch.forecast_history(None) == again  # every project's: the same one here
