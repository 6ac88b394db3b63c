"""A recorded run whose agent never started gives its attempt back (transitions.run_not_started)."""

from __future__ import annotations

from specflowd.domain.actions import Heal, SpawnBatch, SpawnStep
from specflowd.domain.config import Step
from specflowd.domain.record import BatchStatus, OrchestrationStatus, StepStatus
from specflowd.domain.transitions import run_not_started
from specflowd.vocabulary import RunStatus
from tests.domain.builders import NOW, D, O, drive, ended, project, record

SECTIONS = [("Phase 1: Setup", ["T001", "T002"]), ("Phase 2: Core", ["T003"])]
OPEN3 = {"T001": O, "T002": O, "T003": O}
PARTIAL = {"T001": D, "T002": O, "T003": O}


def test_a_step_run_that_never_started_is_spawned_again_without_using_an_attempt() -> None:
    r, a = drive(record(Step.VERIFY, max_step_attempts=1), project(), None)
    assert isinstance(a, SpawnStep) and a.attempt == 1
    for n in (2, 3):  # the daemon died before exec, twice: still never step_attempts
        lost = a.run_id
        r = run_not_started(r, lost, NOW)
        assert r.runs[lost].never_started and r.current_run_id is None
        assert r.steps[Step.VERIFY].status == StepStatus.PENDING
        r, a = drive(r, project(), None)
        assert isinstance(a, SpawnStep) and a.step == Step.VERIFY and a.attempt == n and a.run_id != lost
    assert r.steps[Step.VERIFY].attempts - r.steps[Step.VERIFY].extra_attempts == 1


def test_a_batch_run_that_never_started_runs_the_batch_again() -> None:
    r, a = drive(record(Step.IMPLEMENT, max_step_attempts=1), project(OPEN3, SECTIONS), None)
    assert isinstance(a, SpawnBatch) and a.batch_index == 0
    r = run_not_started(r, a.run_id, NOW)
    assert r.batches[0].status == BatchStatus.PENDING and r.status == OrchestrationStatus.RUNNING
    r, b = drive(r, project(OPEN3, SECTIONS), None)
    assert isinstance(b, SpawnBatch) and b.batch_index == 0 and b.attempt == 2 and b.run_id != a.run_id


def test_a_heal_that_never_started_is_decided_again_not_exhausted() -> None:
    r, a = drive(record(Step.IMPLEMENT, max_heal_attempts=1), project(OPEN3, SECTIONS), None)
    assert isinstance(a, SpawnBatch)
    batch_run = a.run_id
    r, heal = drive(r, project(PARTIAL, SECTIONS), ended(r, RunStatus.FAILED, error="boom"))
    assert isinstance(heal, Heal) and heal.attempt == 1
    for n in (2, 3):  # never started, twice: the allowance grows each time, the judged run is current again
        r = run_not_started(r, heal.run_id, NOW)
        assert r.current_run_id == batch_run and r.batches[0].extra_heal_attempts == n - 1
        r, heal = drive(r, project(PARTIAL, SECTIONS), ended(r, RunStatus.FAILED, error="boom"))
        assert isinstance(heal, Heal) and heal.attempt == n and heal.remaining_ids == ["T002"]
    r, a = drive(r, project({"T001": D, "T002": D, "T003": O}, SECTIONS), ended(r))
    assert r.batches[0].status == BatchStatus.HEALED


def test_an_unknown_run_only_clears_the_current_run() -> None:
    r, a = drive(record(Step.VERIFY), project(), None)
    assert isinstance(a, SpawnStep)
    after = run_not_started(r.model_copy(update={"runs": {}}), a.run_id, NOW)
    assert after.current_run_id is None and after.status == OrchestrationStatus.RUNNING
