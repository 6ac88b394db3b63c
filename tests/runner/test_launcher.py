"""The one way a run is launched (services/launcher.py): admitted by a real RunScheduler, started by a real
RunManager running tests/fake_claude/claude, its slot given back when it does not start."""

from __future__ import annotations

from pathlib import Path

import pytest

from specflowd.errors import AgentUnavailable, NotFound
from specflowd.event_catalogue import EventPayload
from specflowd.run_spec import RunTicket
from specflowd.runner.rundir import RunDir
from specflowd.services.launcher import RunLauncher
from specflowd.services.scheduling import RunScheduler
from specflowd.vocabulary import RunStatus
from tests.runner.conftest import Harness, supervising

pytestmark = pytest.mark.anyio


def scheduler(tmp_path: Path) -> RunScheduler:
    def ignore(_project: str | None, _payload: EventPayload) -> None:
        return None

    return RunScheduler(tmp_path / "scheduler.json", ignore)


async def test_a_standalone_run_is_admitted_in_its_projects_group_and_recorded_as_admitted(
    harness: Harness, tmp_path: Path
) -> None:
    slots = scheduler(tmp_path)
    slots.add_group("gpu", 1)
    groups = {harness.project: "gpu"}
    async with supervising(harness.manager()) as manager:
        launcher = RunLauncher(manager, slots, groups.get)
        record = await launcher.launch(harness.spec(orchestration_id=None, batch=None))
        assert [(u.id, u.group, u.kind) for u, _ in slots.running()] == [(record.run_id, "gpu", "run")]
        final = await manager.wait_final(record.run_id)
    assert final.status == RunStatus.COMPLETED
    spec = RunDir(harness.project, record.run_id).load().spec  # metadata.json keeps the run as it was admitted
    assert spec is not None and spec.run_id == record.run_id
    assert (spec.group, spec.priority, spec.kind, spec.step) == ("gpu", 0, "run", "implement")


async def test_an_admitted_run_is_recorded_with_its_units_group_priority_and_kind(
    harness: Harness, tmp_path: Path
) -> None:
    slots = scheduler(tmp_path)
    async with supervising(harness.manager()) as manager:
        launcher = RunLauncher(manager, slots)
        ticket = RunTicket(run_id="r-batch", project_root=harness.project, orchestration_id="orch-1", priority=3,
                           kind="batch")  # fmt: skip
        assert launcher.admit(ticket) is None
        record = await launcher.start(harness.spec(run_id="r-batch"))  # the engine's start names no group
        await manager.wait_final(record.run_id)
    spec = RunDir(harness.project, "r-batch").load().spec
    assert spec is not None and (spec.group, spec.priority, spec.kind) == ("default", 3, "batch")


async def test_a_start_that_fails_gives_its_slot_back(harness: Harness, tmp_path: Path) -> None:
    slots = scheduler(tmp_path)
    slots.set_limit("default", 1)
    launcher = RunLauncher(harness.manager(), slots)
    assert launcher.admit(RunTicket(run_id="r1", project_root=harness.project)) is None
    with pytest.raises(AgentUnavailable):
        await launcher.start(harness.spec(run_id="r1", binary=str(tmp_path / "no-such-claude"), sandbox=False))
    assert slots.running() == []
    assert launcher.admit(RunTicket(run_id="r2", project_root=harness.project)) is None  # the slot is free


async def test_a_continuation_that_fails_gives_its_slot_back(harness: Harness, tmp_path: Path) -> None:
    slots = scheduler(tmp_path)
    slots.set_limit("default", 1)
    launcher = RunLauncher(harness.manager(), slots)
    assert launcher.admit(RunTicket(run_id="gone", project_root=harness.project, kind="resume")) is None
    with pytest.raises(NotFound):
        await launcher.resume("gone", "continue")
    assert slots.running() == []


async def test_a_standalone_run_that_cannot_start_leaves_neither_a_slot_nor_a_queued_unit(
    harness: Harness, tmp_path: Path
) -> None:
    slots = scheduler(tmp_path)
    launcher = RunLauncher(harness.manager(), slots)
    with pytest.raises(AgentUnavailable):
        await launcher.launch(harness.spec(binary=str(tmp_path / "no-such-claude"), sandbox=False))
    assert slots.running() == [] and slots.queue() == []
