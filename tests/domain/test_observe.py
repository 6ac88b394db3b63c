"""observe_project (tick attribution, the user gate's baseline, ignored lines) and the gate rules: pure."""

from __future__ import annotations

from datetime import timedelta

from specflowd.domain.actions import SpawnBatch
from specflowd.domain.config import Step
from specflowd.domain.gate import merge_wait_reason, user_gate_passed
from specflowd.domain.observe import Observation, done_ids, observe_project, unasked_ticks
from specflowd.domain.transitions import apply
from tests.domain.builders import NOW, D, O, project, record

SECTIONS = [("Phase 1: Setup", ["T001", "T002"]), ("Phase 2: Core", ["T003"])]


def test_the_first_observation_is_the_baseline() -> None:
    r = record(Step.IMPLEMENT).model_copy(update={"observed": None})
    evidence = project({"T001": D, "T002": O, "T003": O}, SECTIONS, gate_status="confirmed", ignored=["tasks.md:9: x"])
    seen: Observation = observe_project(r, evidence, NOW)
    observed = seen.record.observed
    assert observed is not None and observed.done_ids == ["T001"] and observed.ticks == {} and observed.tasks_seen
    assert observed.user_gate_at_start == "confirmed" and not observed.user_gate_changed
    assert seen.unasked == [] and seen.new_ignored == ["tasks.md:9: x"]


def test_ids_are_credited_to_the_current_run_and_unasked_ones_reported() -> None:
    r = observe_project(record(Step.IMPLEMENT).model_copy(update={"observed": None}),
                        project({"T001": O, "T002": O, "T003": O}, SECTIONS), NOW).record  # fmt: skip
    spawn = SpawnBatch(run_id="run-1", batch_index=0, name="Phase 1: Setup", task_ids=["T001", "T002"], attempt=1,
                       budget_usd=1)  # fmt: skip
    r = apply(r, spawn, NOW)
    seen = observe_project(r, project({"T001": D, "T002": O, "T003": D}, SECTIONS), NOW + timedelta(seconds=5))
    ticks = seen.record.observed.ticks  # type: ignore[union-attr]
    assert ticks["T001"].asked and ticks["T001"].run_id == "run-1"
    assert not ticks["T003"].asked and ticks["T003"].by == "batch 1 (run run-1)"  # no batch record: no name
    assert [i for i, _ in seen.unasked] == ["T003"] and [i for i, _ in unasked_ticks(seen.record)] == ["T003"]
    assert done_ids(seen.record) == ["T001", "T003"]
    # reopened: credit anew; no run current: ticked outside any run
    r = seen.record.model_copy(update={"current_run_id": None})
    r = observe_project(r, project({"T001": D, "T002": O, "T003": O}, SECTIONS), NOW).record
    r = observe_project(r, project({"T001": D, "T002": O, "T003": D}, SECTIONS), NOW).record
    assert r.observed.ticks["T003"].run_id is None and r.observed.ticks["T003"].by.startswith("outside any run")  # type: ignore[union-attr]


def test_an_archived_tasks_md_keeps_what_was_last_seen() -> None:
    r = observe_project(record(Step.MERGE), project({"T001": D, "T002": D}), NOW).record
    closed = project(artifacts=False, phase=None, phase_status="not_started")  # phase close moved specs/
    after = observe_project(r, closed, NOW).record
    assert done_ids(after) == ["T001", "T002"]


def test_the_gate_counts_only_when_written_during_the_orchestration() -> None:
    r = observe_project(record(Step.VERIFY).model_copy(update={"observed": None}), project(gate_status="confirmed"), NOW).record
    assert observe_project(r, project(gate_status="confirmed"), NOW).record is r  # nothing new: same record
    seen = observe_project(r, project(gate_status="pending"), NOW)
    assert seen.gate_change == ("confirmed", "pending") and seen.record.observed.user_gate_changed  # type: ignore[union-attr]
    assert user_gate_passed("confirmed", "confirmed", changed=True)  # re-confirmed after a change
    assert not user_gate_passed("confirmed", "confirmed", changed=False)  # left over from an earlier phase
    assert user_gate_passed("skipped", None, changed=False) and not user_gate_passed("pending", None, changed=True)


def test_merge_wait_reasons() -> None:
    assert merge_wait_reason(False, False, True, None) is None
    assert merge_wait_reason(False, False, False, None) == "auto_merge is off: merge waits for `specflowctl merge`"
    assert "does not count" in (merge_wait_reason(True, False, True, "confirmed") or "")
    assert "(/flow.verify asks)" in (merge_wait_reason(True, False, True, None) or "")
    assert merge_wait_reason(True, True, True, "skipped") is None
