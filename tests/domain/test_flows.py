"""Whole orchestrations driven through decide()+apply() the way the engine does, and the recovery verbs."""

from __future__ import annotations

import pytest

from specflowd.domain.actions import (
    Complete,
    Heal,
    NeedsAttention,
    Pause,
    ResumeRun,
    SpawnBatch,
    SpawnStep,
    Wait,
    WaitForAnswers,
    WaitForMerge,
    WaitForUserGate,
    WaitRateLimit,
)
from specflowd.domain.config import Step
from specflowd.domain.decide import decide
from specflowd.domain.record import (
    AttentionKind,
    BatchStatus,
    OrchestrationStatus,
    RecoveryOption,
    StepStatus,
)
from specflowd.domain.transitions import (
    answers_submitted,
    apply,
    cancel,
    go_back,
    log_entry,
    note_helper_cost,
    observe_run,
    pause,
    recover,
    request_merge,
    resume,
    resume_failed,
)
from specflowd.errors import InvalidState
from specflowd.vocabulary import Question, RunStatus
from tests.domain.builders import LATER, NOW, D, O, drive, ended, live, project, record

SECTIONS = [("Phase 1: Setup", ["T001", "T002"]), ("Phase 2: Core", ["T003"])]
OPEN3 = {"T001": O, "T002": O, "T003": O}
HALF = {"T001": D, "T002": D, "T003": O}
ALL = {"T001": D, "T002": D, "T003": D}


def test_happy_path_design_to_merge_with_auto_merge() -> None:
    r = record(auto_merge=True)
    r, a = drive(r, project(artifacts=False), None)
    assert isinstance(a, SpawnStep) and a.step == Step.DESIGN
    r, a = drive(r, project(OPEN3, SECTIONS), ended(r, cost_usd=1.0))
    assert isinstance(a, SpawnStep) and a.step == Step.ANALYZE
    r, a = drive(r, project(OPEN3, SECTIONS, skill=("analyze", "complete")), ended(r, cost_usd=0.5))
    assert isinstance(a, SpawnBatch) and a.task_ids == ["T001", "T002"] and a.batch_index == 0
    r, a = drive(r, project(HALF, SECTIONS), ended(r, cost_usd=2.0))
    assert isinstance(a, SpawnBatch) and a.task_ids == ["T003"] and a.batch_index == 1
    r, a = drive(r, project(ALL, SECTIONS), ended(r, cost_usd=2.0))
    assert isinstance(a, SpawnStep) and a.step == Step.VERIFY
    r, a = drive(r, project(ALL, SECTIONS, skill=("verify", "complete")), ended(r, cost_usd=0.25))
    assert isinstance(a, SpawnStep) and a.step == Step.MERGE
    closed = project(ALL, SECTIONS, skill=("design", "not_started"), phase=None, phase_status="not_started")
    r, a = drive(r, closed, ended(r, cost_usd=0.25))
    assert isinstance(a, Complete)
    assert r.status == OrchestrationStatus.COMPLETED
    assert [b.status for b in r.batches] == [BatchStatus.COMPLETED, BatchStatus.COMPLETED]
    assert r.totals.spent_usd == pytest.approx(6.0)
    assert r.totals.per_batch == {0: pytest.approx(2.0), 1: pytest.approx(2.0)}
    assert r.steps[Step.DESIGN].status == StepStatus.COMPLETED
    assert len(set(r.runs)) == 6 and r.spawn_seq == 6


def test_verify_on_user_gate_phase_stops_for_the_user_then_merge_passes_it() -> None:
    r = record(Step.VERIFY, auto_merge=True)
    gated = project(ALL, user_gate=True)
    r, a = drive(r, gated, None)
    assert isinstance(a, SpawnStep) and a.step == Step.VERIFY
    r, a = drive(r, project(ALL, user_gate=True, skill=("verify", "complete")), ended(r))
    assert isinstance(a, WaitForUserGate) and r.status == OrchestrationStatus.WAITING_USER_GATE
    assert r.steps[Step.VERIFY].status == StepStatus.COMPLETED
    r = request_merge(r, NOW)
    r, a = drive(r, project(ALL, user_gate=True, skill=("verify", "complete")), None)
    assert isinstance(a, SpawnStep) and a.step == Step.MERGE


def test_without_auto_merge_waits_for_merge_then_user_merge_runs_it() -> None:
    r, a = drive(record(Step.VERIFY), project(ALL, skill=("verify", "complete")), None)
    r, a = drive(r, project(ALL, skill=("verify", "complete")), ended(r))
    assert isinstance(a, WaitForMerge) and r.status == OrchestrationStatus.WAITING_MERGE
    r2, a = drive(r, project(ALL), None)
    assert isinstance(a, WaitForMerge), "waiting is stable"
    r = request_merge(r2, NOW)
    r, a = drive(r, project(ALL, skill=("verify", "complete")), None)
    assert isinstance(a, SpawnStep) and a.step == Step.MERGE


def test_merge_refused_before_verify_finished() -> None:
    with pytest.raises(InvalidState):
        request_merge(record(Step.IMPLEMENT), NOW)


def test_partial_batch_heals_then_counts_as_healed() -> None:
    r, a = drive(record(Step.IMPLEMENT), project(OPEN3, SECTIONS), None)
    r, a = drive(r, project({"T001": D, "T002": O, "T003": O}, SECTIONS), ended(r, stderr_tail="E: boom"))
    assert isinstance(a, Heal) and r.status == OrchestrationStatus.HEALING
    assert r.batches[0].heal_attempts == 1
    r, a = drive(r, project(HALF, SECTIONS), ended(r))
    assert isinstance(a, SpawnBatch) and a.batch_index == 1
    assert r.batches[0].status == BatchStatus.HEALED and r.status == OrchestrationStatus.RUNNING


def test_heal_exhausted_then_retry_runs_the_batch_again_instead_of_stopping() -> None:
    partial = project({"T001": D, "T002": O, "T003": O}, SECTIONS)
    r, a = drive(record(Step.IMPLEMENT), project(OPEN3, SECTIONS), None)
    r, a = drive(r, partial, ended(r))
    assert isinstance(a, Heal)
    r, a = drive(r, partial, ended(r, RunStatus.FAILED, error="x"))
    assert isinstance(a, NeedsAttention) and a.attention_kind == AttentionKind.HEAL_EXHAUSTED
    assert r.batches[0].status == BatchStatus.FAILED and r.current_run_id is None
    r, a = drive(r, partial, None)
    assert isinstance(a, NeedsAttention), "needs_attention is sticky until the user recovers"
    r = recover(r, RecoveryOption.RETRY, NOW)
    r, a = drive(r, partial, None)
    assert isinstance(a, SpawnBatch) and a.task_ids == ["T002"] and a.attempt == 2
    # and the retried batch may heal again
    r, a = drive(r, partial, ended(r))
    assert isinstance(a, Heal) and a.attempt == 2


def test_skip_a_failed_batch_moves_on_and_never_replans_it() -> None:
    partial = project({"T001": D, "T002": O, "T003": O}, SECTIONS)
    r, a = drive(record(Step.IMPLEMENT, auto_heal=False), project(OPEN3, SECTIONS), None)
    r, a = drive(r, partial, ended(r))
    assert isinstance(a, NeedsAttention) and a.attention_kind == AttentionKind.BATCH_FAILED
    r = recover(r, RecoveryOption.SKIP, NOW)
    r, a = drive(r, partial, None)
    assert isinstance(a, SpawnBatch) and a.batch_index == 1
    r, a = drive(r, project({"T001": D, "T002": O, "T003": D}, SECTIONS), ended(r))
    assert isinstance(a, SpawnStep) and a.step == Step.VERIFY
    assert [b.status for b in r.batches] == [BatchStatus.SKIPPED, BatchStatus.COMPLETED]


def test_step_attempts_exhausted_then_retry_grants_one_more_and_skip_moves_on() -> None:
    p = project(artifacts=False)
    r, _ = drive(record(), p, None)
    r, _ = drive(r, p, ended(r))
    r, a = drive(r, p, ended(r, RunStatus.FAILED))
    assert isinstance(a, NeedsAttention) and a.attention_kind == AttentionKind.STEP_ATTEMPTS
    assert r.steps[Step.DESIGN].status == StepStatus.FAILED
    retried = recover(r, RecoveryOption.RETRY, NOW)
    _, a = drive(retried, p, None)
    assert isinstance(a, SpawnStep) and a.attempt == 3
    skipped = recover(r, RecoveryOption.SKIP, NOW)
    assert skipped.step == Step.ANALYZE and skipped.steps[Step.DESIGN].status == StepStatus.SKIPPED
    _, a = drive(skipped, p, None)
    assert isinstance(a, SpawnStep) and a.step == Step.ANALYZE
    aborted = recover(r, RecoveryOption.ABORT, NOW)
    assert aborted.status == OrchestrationStatus.FAILED
    assert isinstance(decide(aborted, p, None, NOW), Wait)


def test_recover_refused_when_not_needing_attention() -> None:
    with pytest.raises(InvalidState):
        recover(record(), RecoveryOption.RETRY, NOW)


def test_budget_stop_needs_a_raised_total_and_resume_with_one_continues() -> None:
    p = project(artifacts=False)
    r, _ = drive(record(budget={"total": 3.0}), p, None)
    r, a = drive(r, p, ended(r, RunStatus.FAILED, cost_usd=3.0))
    assert isinstance(a, NeedsAttention) and a.attention_kind == AttentionKind.BUDGET
    assert r.totals.spent_usd == pytest.approx(3.0)
    with pytest.raises(InvalidState):
        recover(r, RecoveryOption.RETRY, NOW)
    resumed = resume(r, NOW, budget_total=10.0)
    assert resumed.config.budget.total == 10.0 and resumed.status == OrchestrationStatus.RUNNING
    _, a = drive(resumed, p, None)
    assert isinstance(a, SpawnStep) and a.attempt == 2 and a.budget_usd == pytest.approx(5.0)


def test_run_budget_exceeded_then_retry_grants_another_attempt() -> None:
    p = project(OPEN3, SECTIONS)
    r, _ = drive(record(Step.IMPLEMENT), p, None)
    r, a = drive(r, p, ended(r, RunStatus.BUDGET_EXCEEDED, cost_usd=5.0))
    assert isinstance(a, NeedsAttention) and a.attention_kind == AttentionKind.BUDGET
    r = recover(r, RecoveryOption.RETRY, NOW)
    _, a = drive(r, p, None)
    assert isinstance(a, SpawnBatch) and a.attempt == 2 and a.budget_usd == pytest.approx(5.0)


def test_rate_limit_does_not_use_up_an_attempt() -> None:
    p = project(artifacts=False)
    r, _ = drive(record(max_step_attempts=1), p, None)
    r, a = drive(r, p, ended(r, RunStatus.RATE_LIMITED, rate_limit_reset=LATER))
    assert isinstance(a, WaitRateLimit) and r.status == OrchestrationStatus.WAITING_RATE_LIMIT
    _, a = drive(r, p, None, NOW)
    assert isinstance(a, WaitRateLimit)
    limited = r.resumable_run_id
    r, a = drive(r, p, None, LATER)
    # the same session continues: same run id, no new attempt, no new spawn
    assert isinstance(a, ResumeRun) and a.run_id == limited and r.current_run_id == limited
    assert r.status == OrchestrationStatus.RUNNING and r.spawn_seq == 1
    assert r.step_record(Step.DESIGN).attempts == 1
    _, a = drive(r, p, live(r))
    assert isinstance(a, Wait)


def test_resume_ends_a_rate_limit_wait_early() -> None:
    p = project(artifacts=False)
    r, _ = drive(record(), p, None)
    r, _ = drive(r, p, ended(r, RunStatus.RATE_LIMITED, rate_limit_reset=LATER))
    r = resume(r, NOW)
    _, a = drive(r, p, None, NOW)
    assert isinstance(a, ResumeRun)


def test_a_session_that_cannot_be_continued_starts_afresh_without_using_an_attempt() -> None:
    p = project(artifacts=False)
    r, _ = drive(record(max_step_attempts=1), p, None)
    r, _ = drive(r, p, ended(r, RunStatus.RATE_LIMITED, rate_limit_reset=LATER))
    limited = r.resumable_run_id
    assert limited is not None
    r, a = drive(r, p, None, LATER)  # what the engine applies before it asks the runner to continue
    assert isinstance(a, ResumeRun) and r.current_run_id == limited
    r = resume_failed(r, limited, LATER)  # ... and the runner refused (budget spent, binary gone)
    assert r.resumable_run_id is None and r.current_run_id is None and r.status == OrchestrationStatus.RUNNING
    _, a = drive(r, p, None, LATER)
    assert isinstance(a, SpawnStep) and a.attempt == 2  # afresh, and the limit did not use up the only attempt


def test_pause_now_stops_the_run_and_leaves_its_batch_pending() -> None:
    p = project({"T001": O, "T002": O})
    r, a = drive(record(skip_analyze=True), p, None)  # design skipped (artifacts exist), batches planned
    assert isinstance(a, SpawnBatch) and r.batches[0].status == BatchStatus.RUNNING
    r = pause(r, NOW)
    r, a = drive(r, p, ended(r, RunStatus.CANCELLED))
    assert isinstance(a, Pause) and r.status == OrchestrationStatus.PAUSED and r.current_run_id is None
    assert r.batches[0].status == BatchStatus.PENDING
    r = resume(r, NOW)
    _, a = drive(r, p, None)
    assert isinstance(a, SpawnBatch) and a.batch_index == 0 and a.attempt == 2 and a.task_ids == ["T001", "T002"]


def test_questions_wait_then_answers_continue_the_same_run() -> None:
    p = project(artifacts=False)
    r, _ = drive(record(), p, None)
    q = [Question(question="Postgres or SQLite?")]
    r, a = drive(r, p, live(r, RunStatus.WAITING_INPUT, questions=q))
    assert isinstance(a, WaitForAnswers) and r.status == OrchestrationStatus.WAITING_INPUT
    assert r.pending_questions == q
    run_id = r.current_run_id
    r = answers_submitted(r, NOW)
    assert r.status == OrchestrationStatus.RUNNING and r.pending_questions == [] and r.current_run_id == run_id
    _, a = drive(r, p, live(r))
    assert isinstance(a, Wait)


def test_answers_continuing_as_a_new_run_id_are_tracked() -> None:
    p = project(artifacts=False)
    r, _ = drive(record(), p, None)
    r, _ = drive(r, p, ended(r, questions=[Question(question="?")]))
    r = answers_submitted(r, NOW, continued_run_id="resumed-1")
    assert r.current_run_id == "resumed-1" and "resumed-1" in r.runs
    assert r.steps[Step.DESIGN].run_ids[-1] == "resumed-1" and r.steps[Step.DESIGN].attempts == 1
    _, a = drive(r, project(), ended(r))
    assert isinstance(a, SpawnStep) and a.step == Step.ANALYZE


def test_pause_waits_after_the_run_and_resume_continues() -> None:
    p = project(OPEN3, SECTIONS)
    r, _ = drive(record(Step.IMPLEMENT), p, None)
    r = pause(r, NOW)
    assert r.status == OrchestrationStatus.RUNNING, "a live run keeps the orchestration running"
    r, a = drive(r, project(HALF, SECTIONS), ended(r))
    assert isinstance(a, Wait) and r.status == OrchestrationStatus.PAUSED
    assert r.batches[0].status == BatchStatus.COMPLETED
    r = resume(r, NOW)
    _, a = drive(r, project(HALF, SECTIONS), None)
    assert isinstance(a, SpawnBatch) and a.batch_index == 1


def test_resume_of_a_cancelled_orchestration_says_what_works() -> None:
    with pytest.raises(InvalidState, match=r"^orchestration is cancelled and cannot resume: start a new one for the open"):
        resume(cancel(record(Step.IMPLEMENT), NOW), NOW)


def test_pause_between_batches() -> None:
    p = project(OPEN3, SECTIONS)
    r, _ = drive(record(Step.IMPLEMENT, pause_between_batches=True), p, None)
    r, a = drive(r, project(HALF, SECTIONS), ended(r))
    assert isinstance(a, Wait) and r.status == OrchestrationStatus.PAUSED
    with pytest.raises(InvalidState):
        resume(resume(r, NOW), NOW)


def test_go_back_to_design_resets_later_steps_and_replans_with_new_run_ids() -> None:
    p = project(OPEN3, SECTIONS)
    r, _ = drive(record(Step.IMPLEMENT), p, None)
    first_run = r.current_run_id
    r, _ = drive(r, project(HALF, SECTIONS), ended(r))
    back = go_back(r, Step.ANALYZE, NOW)
    assert back.step == Step.ANALYZE and back.status == OrchestrationStatus.RUNNING
    assert back.batches == [] and len(back.superseded_batches) == 2 and back.current_run_id is None
    back, a = drive(back, project(HALF, SECTIONS), None)
    assert isinstance(a, SpawnStep) and a.step == Step.ANALYZE and a.run_id != first_run
    back, a = drive(back, project(HALF, SECTIONS, skill=("analyze", "complete")), ended(back))
    assert isinstance(a, SpawnBatch) and a.task_ids == ["T003"] and a.batch_index == 2
    with pytest.raises(InvalidState):
        go_back(record(Step.ANALYZE), Step.VERIFY, NOW)


def test_go_back_grants_fresh_attempts_to_an_exhausted_step() -> None:
    p = project(artifacts=False)
    r, _ = drive(record(), p, None)
    r, _ = drive(r, p, ended(r))
    r, a = drive(r, p, ended(r))
    assert isinstance(a, NeedsAttention)
    r, a = drive(go_back(r, Step.DESIGN, NOW), p, None)
    assert isinstance(a, SpawnStep) and a.attempt == 3


def test_unknown_current_run_retry_clears_it() -> None:
    p = project(artifacts=False)
    r, _ = drive(record(), p, None)
    r, a = drive(r, p, None)
    assert isinstance(a, NeedsAttention) and a.attention_kind == AttentionKind.UNKNOWN_STATE
    r = recover(r, RecoveryOption.RETRY, NOW)
    _, a = drive(r, p, None)
    assert isinstance(a, SpawnStep) and a.attempt == 2


def test_spawn_decisions_are_idempotent_and_run_ids_unique() -> None:
    r = record()
    p = project(artifacts=False)
    assert decide(r, p, None, NOW) == decide(r, p, None, NOW)
    r1, a1 = drive(r, p, None)
    assert decide(r1, p, None, NOW) != a1, "once applied, the same spawn is never decided again"


def test_observe_run_is_idempotent_and_monotonic() -> None:
    r, _ = drive(record(), project(artifacts=False), None)
    once = observe_run(r, live(r, cost_usd=1.5), NOW)
    twice = observe_run(once, live(r, cost_usd=1.5), NOW)
    lower = observe_run(twice, live(r, cost_usd=0.5), NOW)
    assert once.totals.spent_usd == twice.totals.spent_usd == lower.totals.spent_usd == pytest.approx(1.5)
    helped = note_helper_cost(lower, 0.25, NOW)
    assert helped.totals.helper_usd == pytest.approx(0.25) and helped.totals.spent_usd == pytest.approx(1.75)


def test_cancel_is_terminal() -> None:
    r = cancel(record(), NOW)
    assert r.status == OrchestrationStatus.CANCELLED
    assert isinstance(decide(r, project(), None, NOW), Wait)
    with pytest.raises(InvalidState):
        cancel(r, NOW)


def test_apply_does_not_mutate_its_input_and_log_entry_records_the_transition() -> None:
    r = record()
    p = project(artifacts=False)
    action = decide(r, p, None, NOW)
    after = apply(r, action, NOW)
    assert r.current_run_id is None and after.current_run_id is not None
    entry = log_entry(r, action, after, NOW)
    assert entry.action == "spawn_step" and entry.run_id == after.current_run_id
    assert entry.status_before == entry.status_after == OrchestrationStatus.RUNNING
    assert entry.model_dump(mode="json")["detail"]["step"] == "design"


def test_unparsable_open_lines_stop_before_verify_until_fixed_or_accepted() -> None:
    p = project({"T001": O})
    r, a = drive(record(skip_analyze=True), p, None)
    assert isinstance(a, SpawnBatch)
    done = project({"T001": D}).model_copy(update={"unparsed_open": ["line 9: - [ ] T001 again"]})
    r, a = drive(r, done, ended(r))
    assert isinstance(a, NeedsAttention) and a.attention_kind == AttentionKind.TASKS_UNPARSED
    assert a.context["lines"] == ["line 9: - [ ] T001 again"] and r.step == Step.IMPLEMENT
    retried = recover(r, RecoveryOption.RETRY, NOW)  # retry re-checks: still there, so it stops again
    _, a = drive(retried, done, None)
    assert isinstance(a, NeedsAttention) and a.attention_kind == AttentionKind.TASKS_UNPARSED
    _, a = drive(retried, project({"T001": D}), None)  # fixed in tasks.md: goes on to verify
    assert isinstance(a, SpawnStep) and a.step == Step.VERIFY
    skipped = recover(r, RecoveryOption.SKIP, NOW)  # accepted: goes on without them
    r, a = drive(skipped, done, None)
    assert isinstance(a, SpawnStep) and a.step == Step.VERIFY
    assert r.step_record(Step.IMPLEMENT).status == StepStatus.COMPLETED
