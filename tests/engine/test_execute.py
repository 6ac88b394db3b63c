"""engine/execute.py places every action in one ``match``; the places of the actions that start no run must
agree with what each action class says of itself (``waits``): after a waiting action the loop sleeps, after
any other it decides again at once. (Spawns and continuations are driven end to end in test_engine_*.py.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import pytest

from specflowd.domain import transitions
from specflowd.domain.actions import ACTION_TYPES, Action, Heal, ResumeRun, SpawnBatch, SpawnStep
from specflowd.domain.config import OrchestrationConfig
from specflowd.domain.evidence import ProjectEvidence
from specflowd.domain.record import OrchestrationRecord, new_record
from specflowd.engine.execute import carry_out
from specflowd.engine.runtime import EngineRuntime
from tests.engine.fakes import NOW

pytestmark = pytest.mark.anyio

RUNS = (SpawnStep, SpawnBatch, Heal, ResumeRun)


class Recorder:
    """The part of the runtime a run-less action uses: it records what was committed."""

    def __init__(self) -> None:
        self.recorded: list[str] = []

    def now(self) -> datetime:
        return NOW

    def withdraw(self, orch_id: str, keep: str | None = None) -> None:
        pass

    async def record(
        self, before: OrchestrationRecord, action: Action, after: OrchestrationRecord | None = None
    ) -> OrchestrationRecord:
        self.recorded.append(action.kind)
        return after or before


@pytest.mark.parametrize("kind", [t for t in ACTION_TYPES if t not in RUNS], ids=lambda t: t.__name__)
async def test_a_waiting_action_sleeps_any_other_decides_again(kind: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    changed = new_record(id="o1", project_path="/p", config=OrchestrationConfig(), now=NOW).model_copy(
        update={"spawn_seq": 7}
    )
    monkeypatch.setattr(transitions, "apply", lambda record, action, now: changed)  # every action changes it
    record = new_record(id="o1", project_path="/p", config=OrchestrationConfig(), now=NOW)
    action = kind.model_construct(until=NOW)  # only the class matters here (and a rate limit's reset)
    rt = Recorder()
    slept = await carry_out(cast(EngineRuntime, rt), record, action, ProjectEvidence())
    assert (slept is not None) == kind.waits
    assert rt.recorded == [action.kind]  # recorded once either way (a wait that changes the record is logged)
