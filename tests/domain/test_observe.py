"""observe_project (tick attribution, the user gate's baseline, ignored lines) and the gate rules: pure."""

from __future__ import annotations

from datetime import timedelta

from specflowd.domain.actions import SpawnBatch
from specflowd.domain.config import Step
from specflowd.domain.gate import merge_wait_reason, user_gate_passed
from specflowd.domain.observe import Observation, done_ids, observe_project, unasked_ticks
from specflowd.domain.record import OrchestrationRecord
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
    # no run current: ticked outside any run
    r = seen.record.model_copy(update={"current_run_id": None})
    seen = observe_project(r, project({"T001": D, "T002": D, "T003": D}, SECTIONS), NOW)
    assert [(i, t.run_id) for i, t in seen.unasked] == [("T002", None)] and seen.unasked[0][1].by.startswith("outside")


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


# The case: batch 3 runs while its agent rewrites tasks.md in place; a reading of the half-written file
# lacks the lines of T001-T002 (done by batch 1), which come back at the next reading.
TORN_SECTIONS = [("Phase 1: Setup", ["T001", "T002"]), ("Phase 2: Core", ["T003", "T004"])]


def batch_run(r: OrchestrationRecord, run_id: str, index: int) -> OrchestrationRecord:
    name, ids = TORN_SECTIONS[index]
    return apply(r, SpawnBatch(run_id=run_id, batch_index=index, name=name, task_ids=ids, attempt=1, budget_usd=1), NOW)


def after_batch_1() -> OrchestrationRecord:
    """T000 was done before the orchestration (the baseline); batch 1 ticked T001 and T002; batch 2 runs."""
    r = record(Step.IMPLEMENT).model_copy(update={"observed": None})
    states = {"T000": D, "T001": O, "T002": O, "T003": O, "T004": O}
    r = observe_project(r, project(states, TORN_SECTIONS), NOW).record
    r = batch_run(r, "run-1", 0)
    r = observe_project(r, project({**states, "T001": D, "T002": D}, TORN_SECTIONS), NOW).record
    return batch_run(r, "run-2", 1)


def test_a_torn_reading_loses_no_done_id_and_credits_none_to_the_current_run() -> None:
    r = after_batch_1()
    credits = dict(r.observed.ticks)  # type: ignore[union-attr]
    assert {i: t.run_id for i, t in credits.items()} == {"T001": "run-1", "T002": "run-1"}
    torn = observe_project(r, project({"T000": D, "T003": D}, TORN_SECTIONS), NOW + timedelta(seconds=1))
    observed = torn.record.observed
    assert torn.unasked == [] and observed is not None
    assert sorted(observed.done_ids) == ["T000", "T001", "T002", "T003"]  # not taken as the truth yet
    assert observed.unconfirmed_lost == ["T001", "T002"] and observed.ticks["T001"] == credits["T001"]
    whole = {"T000": D, "T001": D, "T002": D, "T003": D, "T004": O}
    again = observe_project(torn.record, project(whole, TORN_SECTIONS), NOW + timedelta(seconds=2))
    observed = again.record.observed
    assert again.unasked == [] and unasked_ticks(again.record) == [] and observed is not None
    assert observed.unconfirmed_lost == [] and observed.reopened == {}
    assert {i: t for i, t in observed.ticks.items() if i != "T003"} == credits  # the first credit, unchanged
    assert observed.ticks["T003"].run_id == "run-2" and observed.ticks["T003"].asked


def test_an_id_open_in_two_readings_is_open_and_keeps_its_first_credit_when_it_comes_back() -> None:
    r = after_batch_1()
    credits = dict(r.observed.ticks)  # type: ignore[union-attr]
    reopened = {"T000": O, "T001": O, "T002": D, "T003": O, "T004": O}
    for second in (1, 2):  # a lost reading, then one that confirms it
        seen = observe_project(r, project(reopened, TORN_SECTIONS), NOW + timedelta(seconds=second))
        assert seen.unasked == []
        r = seen.record
    observed = r.observed
    assert observed is not None and observed.done_ids == ["T002"] and observed.unconfirmed_lost == []
    assert observed.reopened == {"T000": None, "T001": credits["T001"]} and "T001" not in observed.ticks
    assert done_ids(r) == ["T002"]
    # ticked again while batch 2 (not asked for them) runs: credited as first, T000 to no run at all
    back = observe_project(r, project({**reopened, "T000": D, "T001": D}, TORN_SECTIONS), NOW + timedelta(seconds=3))
    observed = back.record.observed
    assert back.unasked == [] and observed is not None and observed.reopened == {}
    assert observed.ticks == credits and sorted(observed.done_ids) == ["T000", "T001", "T002"]


def test_an_id_lost_again_after_it_came_back_is_held_again() -> None:
    r = after_batch_1()
    whole = {"T000": D, "T001": D, "T002": D, "T003": O, "T004": O}
    torn = {"T000": D}
    for states in (torn, whole, torn, whole):  # never two torn readings in a row: never taken as open
        seen = observe_project(r, project(states, TORN_SECTIONS), NOW)
        assert seen.unasked == []
        r = seen.record
        assert r.observed is not None and r.observed.reopened == {}
    assert r.observed is not None and r.observed.unconfirmed_lost == [] and set(r.observed.ticks) == {"T001", "T002"}
