"""decide() as a table: one row per state × evidence combination, with a readable id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from specflowd.domain.actions import (
    Action,
    Advance,
    Complete,
    FinishBatch,
    Heal,
    NeedsAttention,
    Pause,
    Replan,
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
from specflowd.domain.evidence import ProjectEvidence, RunEvidence, TaskState
from specflowd.domain.observe import observe_project
from specflowd.domain.record import (
    AttentionKind,
    BatchStatus,
    Completed,
    OrchestrationRecord,
    Paused,
    RecoveryOption,
)
from specflowd.domain.transitions import apply
from specflowd.vocabulary import LoopCall, Question, RunStatus, ToolLoop
from tests.domain.builders import LATER, NOW, B, D, F, O, drive, ended, live, project, record, spawn

Check = Callable[[Any], object]


@dataclass
class Case:
    id: str
    setup: Callable[[], tuple[OrchestrationRecord, ProjectEvidence, RunEvidence | None]]
    expect: type
    check: Check = field(default=lambda a: True)
    now: datetime = NOW


def _attention(kind: AttentionKind) -> Check:
    def check(a: Action) -> object:
        assert isinstance(a, NeedsAttention)
        assert a.attention_kind == kind, a
        return True

    return check


T3 = {"T001": O, "T002": O, "T003": O}
VC = ("verify", "complete")  # what a passed /flow.verify leaves, and what /flow.merge requires
TWO_SECTIONS = [("Phase 1: Setup", ["T001", "T002"]), ("Phase 2: Core", ["T003"])]


def _gate_changed(r: OrchestrationRecord) -> OrchestrationRecord:
    assert r.observed is not None
    r.observed.user_gate_changed = True  # seen pending in between: written again during the orchestration
    return r


def _verdict(step: Step, status: str, **kw: Any) -> tuple[OrchestrationRecord, ProjectEvidence, RunEvidence]:
    r = _step_run(step, project(T3, artifacts=step != Step.DESIGN))  # design runs only when artifacts are missing
    return r, project(T3, skill=(step.value, status), **kw), ended(r, message="findings need the user")


def _batch_verdict() -> tuple[OrchestrationRecord, ProjectEvidence, RunEvidence]:
    r = _batch_run(project(T3, TWO_SECTIONS))
    return r, project(T3, TWO_SECTIONS, skill=("implement", "failed")), ended(r, RunStatus.FAILED, error="tests fail")


def _ticked_elsewhere() -> tuple[OrchestrationRecord, ProjectEvidence, None]:
    """Batch 1 ran for T001, T002; `specflow mark` also ticked T003 (a line mentioning T001): batch 2 never runs."""
    r = _batch_run(project(T3, TWO_SECTIONS))
    done = project({"T001": D, "T002": D, "T003": D}, TWO_SECTIONS)
    r = observe_project(r, done, NOW).record  # the engine observes before judging the run that ended
    finish = decide(r, done, ended(r), NOW)
    assert isinstance(finish, FinishBatch) and not finish.without_run
    return apply(r, finish, NOW), done, None


def _step_run(step: Step, p: ProjectEvidence, **config: Any) -> OrchestrationRecord:
    r, action = spawn(record(step, **config), p)
    assert isinstance(action, SpawnStep) and action.step == step
    return r


def _batch_run(p: ProjectEvidence, **config: Any) -> OrchestrationRecord:
    r, action = spawn(record(Step.IMPLEMENT, **config), p)
    assert isinstance(action, SpawnBatch)
    return r


def _exhaust_heal() -> tuple[OrchestrationRecord, ProjectEvidence, RunEvidence]:
    p = project(T3, TWO_SECTIONS)
    r = _batch_run(p)
    half = project({"T001": D, "T002": O, "T003": O}, TWO_SECTIONS)
    r, heal = drive(r, half, ended(r))
    assert isinstance(heal, Heal)
    return r, half, ended(r, RunStatus.FAILED, error="still broken")


LOOP = ToolLoop(cycle=[LoopCall(tool="Bash", input='{"command":"npm test"}')], repeats=8, calls=8)
LOOP_ERROR = 'stopped by the daemon: the agent repeated the same tool calls: it called Bash {"command":"npm test"} 8 times'


def _looping(r: OrchestrationRecord) -> RunEvidence:
    return ended(r, RunStatus.LOOPING, error=LOOP_ERROR, loop=LOOP)


def _heal_loops_again() -> tuple[OrchestrationRecord, ProjectEvidence, RunEvidence]:
    """A batch run loops, is healed (an attempt), and the heal loops too: the attempts are spent."""
    p = project(T3, TWO_SECTIONS)
    r = _batch_run(p)
    r, heal = drive(r, p, _looping(r))
    assert isinstance(heal, Heal) and heal.context.loop == LOOP
    return r, p, _looping(r)


def _verify_loops_twice() -> tuple[OrchestrationRecord, ProjectEvidence, RunEvidence]:
    p = project({"T001": D})
    r = _step_run(Step.VERIFY, p)
    r, again = drive(r, p, _looping(r))
    assert isinstance(again, SpawnStep) and again.attempt == 2
    return r, p, _looping(r)


def _phase_closed_by_merge() -> tuple[OrchestrationRecord, ProjectEvidence, RunEvidence]:
    p = project({"T001": D}, skill=("verify", "complete"))
    r = _step_run(Step.MERGE, p, auto_merge=True)
    # phase close: step back to design/not_started, phase number null, phase not_started
    closed = project({"T001": D}, skill=("design", "not_started"), phase=None, phase_status="not_started")
    return r, closed, ended(r)


def _design_exhausted() -> tuple[OrchestrationRecord, ProjectEvidence, RunEvidence]:
    p = project(artifacts=False)
    r = _step_run(Step.DESIGN, p)
    r, again = drive(r, p, ended(r))
    assert isinstance(again, SpawnStep) and again.attempt == 2
    return r, p, ended(r, RunStatus.FAILED, error="boom")


def _planned(p: ProjectEvidence, **config: Any) -> OrchestrationRecord:
    r = record(Step.IMPLEMENT, **config)
    action = decide(r, p, None, NOW)
    assert isinstance(action, Replan)
    return apply(r, action, NOW)


def _reopened() -> tuple[OrchestrationRecord, ProjectEvidence, None]:
    r = _planned(project(T3, TWO_SECTIONS))
    for b in r.batches:
        b.status = BatchStatus.COMPLETED
    return r, project({"T001": D, "T002": O, "T003": D}, TWO_SECTIONS), None


def _spent(r: OrchestrationRecord, usd: float) -> OrchestrationRecord:
    r.totals.spent_usd = usd
    return r


def _pause_requested(r: OrchestrationRecord) -> OrchestrationRecord:
    r.pause_requested = True
    return r


def _waiting_rate_limit(until_offset: timedelta) -> tuple[OrchestrationRecord, ProjectEvidence, None]:
    p = project(artifacts=False)
    r = _step_run(Step.DESIGN, p)
    r = apply(r, WaitRateLimit(until=NOW + until_offset, run_id=r.current_run_id), NOW)
    return r, p, None


CASES = [
    # --- design
    Case("design/runs-when-artifacts-missing", lambda: (record(), project(artifacts=False), None), SpawnStep,
         lambda a: a.step == Step.DESIGN and a.attempt == 1),
    Case("design/skipped-by-config", lambda: (record(skip_design=True), project(artifacts=False), None), Advance,
         lambda a: a.skipped and a.to_step == Step.ANALYZE),
    Case("design/skipped-because-artifacts-exist", lambda: (record(), project(), None), Advance,
         lambda a: a.skipped and a.to_step == Step.ANALYZE),
    Case("design/run-ended-artifacts-present-advances", lambda: (lambda r: (r, project(), ended(r)))(
        _step_run(Step.DESIGN, project(artifacts=False))), Advance, lambda a: not a.skipped),
    Case("design/run-completed-artifacts-missing-retries", lambda: (lambda r: (r, project(artifacts=False), ended(r)))(
        _step_run(Step.DESIGN, project(artifacts=False))), SpawnStep, lambda a: a.attempt == 2),
    Case("design/attempts-exhausted", _design_exhausted, NeedsAttention, _attention(AttentionKind.STEP_ATTEMPTS)),
    # --- analyze
    Case("analyze/runs", lambda: (record(Step.ANALYZE), project(T3), None), SpawnStep, lambda a: a.step == Step.ANALYZE),
    Case("analyze/skipped-by-config", lambda: (record(Step.ANALYZE, skip_analyze=True), project(T3), None), Advance,
         lambda a: a.skipped and a.to_step == Step.IMPLEMENT),
    Case("analyze/completed-and-skill-complete", lambda: (lambda r: (r, project(T3, skill=("analyze", "complete")),
         ended(r)))(_step_run(Step.ANALYZE, project(T3))), Advance, lambda a: a.to_step == Step.IMPLEMENT),
    Case("analyze/completed-but-skill-in-progress-is-not-done", lambda: (lambda r: (
        r, project(T3, skill=("analyze", "in_progress")), ended(r)))(_step_run(Step.ANALYZE, project(T3))),
         SpawnStep, lambda a: a.attempt == 2 and "did not report" in (a.last_error or "")),
    Case("analyze/completed-no-state-file-is-not-done", lambda: (lambda r: (r, project(T3), ended(r)))(
        _step_run(Step.ANALYZE, project(T3))), SpawnStep, lambda a: a.attempt == 2),
    Case("analyze/skill-complete-but-run-failed", lambda: (lambda r: (
        r, project(T3, skill=("analyze", "complete")), ended(r, RunStatus.FAILED, error="x")))(
        _step_run(Step.ANALYZE, project(T3))), SpawnStep, lambda a: a.attempt == 2),
    Case("analyze/state-file-moved-on-to-a-later-step", lambda: (lambda r: (
        r, project(T3, skill=("implement", "not_started")), ended(r)))(_step_run(Step.ANALYZE, project(T3))),
         Advance, lambda a: a.to_step == Step.IMPLEMENT),
    Case("verify/state-file-reset-to-design-is-not-verify-done", lambda: (lambda r: (
        r, project({"T001": D}, skill=("design", "complete")), ended(r)))(_step_run(Step.VERIFY, project({"T001": D}))),
         SpawnStep, lambda a: a.step == Step.VERIFY and a.attempt == 2),
    # --- implement: planning
    Case("implement/first-plan-one-batch-per-section", lambda: (record(Step.IMPLEMENT), project(T3, TWO_SECTIONS), None),
         Replan, lambda a: [(b.name, b.task_ids) for b in a.batches] == [
             ("Phase 1: Setup", ["T001", "T002"]), ("Phase 2: Core", ["T003"])]),
    Case("implement/no-tasks-at-all", lambda: (record(Step.IMPLEMENT), project({}), None), NeedsAttention,
         _attention(AttentionKind.NO_TASKS)),
    Case("implement/no-tasks-md", lambda: (record(Step.IMPLEMENT), project({}, artifacts=False), None),
         NeedsAttention, _attention(AttentionKind.NO_TASKS)),
    Case("implement/all-done-at-start-skips-to-verify", lambda: (
        record(Step.IMPLEMENT), project({"T001": D, "T002": D}), None), Advance,
         lambda a: a.to_step == Step.VERIFY and a.skipped),
    Case("implement/only-blocked-tasks", lambda: (record(Step.IMPLEMENT), project({"T001": B}), None),
         NeedsAttention, _attention(AttentionKind.TASKS_HELD)),
    Case("implement/done-and-blocked-is-not-implement-done", lambda: (
        record(Step.IMPLEMENT), project({"T001": D, "T002": B}), None), NeedsAttention,
         lambda a: _attention(AttentionKind.TASKS_HELD)(a) and a.context["blocked_ids"] == ["T002"]),
    Case("implement/done-and-deferred-goes-to-verify", lambda: (
        record(Step.IMPLEMENT), project({"T001": D, "T002": F}), None), Advance, lambda a: a.to_step == Step.VERIFY),
    Case("implement/open-ids-outside-sections-become-fallback-chunks", lambda: (
        record(Step.IMPLEMENT, batch_size_fallback=2), project(T3, sections=[]), None), Replan,
         lambda a: [b.task_ids for b in a.batches] == [["T001", "T002"], ["T003"]]),
    # --- implement: batch runs
    Case("batch/run-live-waits", lambda: (lambda r: (r, project(T3, TWO_SECTIONS), live(r)))(
        _batch_run(project(T3, TWO_SECTIONS))), Wait),
    Case("batch/all-ids-checked-finishes", lambda: (lambda r: (
        r, project({"T001": D, "T002": D, "T003": O}, TWO_SECTIONS), ended(r)))(
        _batch_run(project(T3, TWO_SECTIONS))), FinishBatch, lambda a: a.batch_index == 0 and not a.healed),
    Case("batch/run-succeeded-but-id-unchecked-heals", lambda: (lambda r: (
        r, project({"T001": D, "T002": O, "T003": O}, TWO_SECTIONS), ended(r)))(
        _batch_run(project(T3, TWO_SECTIONS))), Heal,
         lambda a: a.remaining_ids == ["T002"] and a.done_ids == ["T001"] and a.attempt == 1),
    Case("batch/run-failed-nothing-done-heals-with-stderr", lambda: (lambda r: (
        r, project(T3, TWO_SECTIONS), ended(r, RunStatus.FAILED, error="tool crashed", stderr_tail="x" * 5000)))(
        _batch_run(project(T3, TWO_SECTIONS))), Heal,
         lambda a: a.remaining_ids == ["T001", "T002"] and len(a.context.stderr_tail) == 2000
         and a.context.error == "tool crashed"),
    Case("batch/looping-run-heals-naming-the-loop", lambda: (lambda r: (r, project(T3, TWO_SECTIONS), _looping(r)))(
        _batch_run(project(T3, TWO_SECTIONS))), Heal,
         lambda a: a.attempt == 1 and a.context.loop == LOOP and a.context.error == LOOP_ERROR
         and "run ended looping" in a.reason),
    Case("batch/looping-heal-counts-its-attempt", _heal_loops_again, NeedsAttention,
         lambda a: _attention(AttentionKind.HEAL_EXHAUSTED)(a) and a.context["loop"] == LOOP.describe()),
    Case("verify/looping-run-is-retried-like-a-failed-one", lambda: (lambda r: (r, project({"T001": D}), _looping(r)))(
        _step_run(Step.VERIFY, project({"T001": D}))), SpawnStep,
         lambda a: a.step == Step.VERIFY and a.attempt == 2 and "called Bash" in (a.last_error or "")),
    Case("verify/looping-runs-use-up-the-attempts", _verify_loops_twice, NeedsAttention,
         _attention(AttentionKind.STEP_ATTEMPTS)),
    Case("batch/stale-run-heals", lambda: (lambda r: (r, project(T3, TWO_SECTIONS), ended(r, RunStatus.STALE)))(
        _batch_run(project(T3, TWO_SECTIONS))), Heal),
    Case("batch/partial-without-auto-heal", lambda: (lambda r: (
        r, project({"T001": D, "T002": O, "T003": O}, TWO_SECTIONS), ended(r)))(
        _batch_run(project(T3, TWO_SECTIONS), auto_heal=False)), NeedsAttention,
         lambda a: _attention(AttentionKind.BATCH_FAILED)(a) and a.context["remaining_ids"] == ["T002"]),
    Case("batch/partial-with-zero-heal-attempts", lambda: (lambda r: (
        r, project({"T001": D, "T002": O, "T003": O}, TWO_SECTIONS), ended(r)))(
        _batch_run(project(T3, TWO_SECTIONS), max_heal_attempts=0)), NeedsAttention,
         _attention(AttentionKind.HEAL_EXHAUSTED)),
    Case("batch/heal-exhausted", _exhaust_heal, NeedsAttention,
         lambda a: _attention(AttentionKind.HEAL_EXHAUSTED)(a) and a.context["done_ids"] == ["T001"]
         and a.context["error"] == "still broken"),
    Case("batch/heal-succeeded-is-healed", lambda: (lambda t: (
        t[0], project({"T001": D, "T002": D, "T003": O}, TWO_SECTIONS), ended(t[0])))(_exhaust_heal()),
         FinishBatch, lambda a: a.healed),
    Case("batch/pending-batch-already-done-finishes-without-run", lambda: (
        _planned(project(T3, TWO_SECTIONS)), project({"T001": D, "T002": D, "T003": O}, TWO_SECTIONS), None),
         FinishBatch, lambda a: a.batch_index == 0),
    Case("batch/pending-batch-partly-done-spawns-only-open-ids", lambda: (
        _planned(project(T3, TWO_SECTIONS)), project({"T001": D, "T002": O, "T003": O}, TWO_SECTIONS), None),
         SpawnBatch, lambda a: a.task_ids == ["T002"] and a.name == "Phase 1: Setup"),
    Case("batch/task-added-between-batches-is-planned", lambda: (
        _planned(project(T3, TWO_SECTIONS)),
        project({**T3, "T004": O}, [*TWO_SECTIONS, ("Phase 3: Late", ["T004"])]), None),
         Replan, lambda a: [(b.index, b.name, b.task_ids) for b in a.batches] == [(2, "Phase 3: Late", ["T004"])]),
    Case("batch/done-tasks-reopened-after-all-batches", _reopened, NeedsAttention,
         _attention(AttentionKind.TASKS_REOPENED)),
    # --- verify / gates / merge
    Case("verify/runs", lambda: (record(Step.VERIFY), project({"T001": D}), None), SpawnStep),
    Case("analyze/skill-says-blocked-stops-with-its-message", lambda: _verdict(Step.ANALYZE, "blocked"), NeedsAttention,
         lambda a: _attention(AttentionKind.SKILL_VERDICT)(a) and a.step == Step.ANALYZE
         and a.reason == "/flow.analyze reported step.status=blocked: findings need the user"
         and a.options == [RecoveryOption.RETRY, RecoveryOption.SKIP, RecoveryOption.ABORT]),
    Case("verify/skill-says-failed-carries-last-error", lambda: _verdict(Step.VERIFY, "failed", last_error="gate broke"),
         NeedsAttention, lambda a: _attention(AttentionKind.SKILL_VERDICT)(a)
         and a.reason.endswith("(state file lastError: gate broke)") and a.context["last_error"] == "gate broke"),
    Case("design/skill-says-failed-even-with-artifacts", lambda: _verdict(Step.DESIGN, "failed"), NeedsAttention,
         _attention(AttentionKind.SKILL_VERDICT)),
    Case("verify/blocked-on-another-step-is-no-verdict", lambda: (lambda r: (r, project(T3, skill=("analyze", "blocked")),
         ended(r)))(_step_run(Step.VERIFY, project(T3))), SpawnStep, lambda a: a.step == Step.VERIFY and a.attempt == 2),
    Case("implement/skill-failed-batch-stops-instead-of-healing", _batch_verdict, NeedsAttention,
         lambda a: _attention(AttentionKind.SKILL_VERDICT)(a) and a.batch_index == 0 and "tests fail" in a.reason),
    Case("implement/batch-all-ticked-by-another-run-did-not-run", _ticked_elsewhere, FinishBatch,
         lambda a: a.without_run and a.batch_index == 1
         and "did not run: all its tasks were ticked outside it (T003 by batch 1" in a.reason),
    Case("implement/replan-names-the-ignored-lines", lambda: (record(Step.IMPLEMENT), project(
         T3, TWO_SECTIONS, ignored=["tasks.md:9: indented: …: - [ ] T009"]), None), Replan,
         lambda a: a.ignored_lines == ["tasks.md:9: indented: …: - [ ] T009"] and "1 task-looking line(s) ignored" in a.reason),
    Case("verify/done-advances-to-merge", lambda: (lambda r: (
        r, project({"T001": D}, skill=("verify", "complete")), ended(r)))(_step_run(Step.VERIFY, project({"T001": D}))),
         Advance, lambda a: a.to_step == Step.MERGE),
    Case("merge/user-gate-unconfirmed-waits", lambda: (record(Step.MERGE, auto_merge=True),
         project({"T001": D}, skill=VC, user_gate=True), None), WaitForUserGate),
    Case("merge/user-gate-confirmed-during-the-orchestration-runs", lambda: (record(Step.MERGE, auto_merge=True),
         project({"T001": D}, skill=VC, user_gate=True, gate_status="confirmed"), None), SpawnStep, lambda a: a.step == Step.MERGE),
    Case("merge/user-gate-skipped-counts-like-confirmed", lambda: (record(Step.MERGE, auto_merge=True, gate_at_start="pending"),
         project({"T001": D}, skill=VC, user_gate=True, gate_status="skipped"), None), SpawnStep, lambda a: a.step == Step.MERGE),
    Case("merge/user-gate-confirmed-before-the-start-waits", lambda: (record(Step.MERGE, auto_merge=True, gate_at_start="confirmed"),
         project({"T001": D}, skill=VC, user_gate=True, gate_status="confirmed"), None), WaitForUserGate,
         lambda a: "does not count" in a.reason and "specflowctl merge" in a.reason),
    Case("merge/user-gate-rewritten-after-a-change-counts", lambda: (lambda r: (r, project({"T001": D}, skill=VC, user_gate=True,
         gate_status="confirmed"), None))(_gate_changed(record(Step.MERGE, auto_merge=True, gate_at_start="confirmed"))),
         SpawnStep),
    Case("merge/user-gate-never-observed-waits", lambda: (record(Step.MERGE, auto_merge=True).model_copy(update={"observed": None}),
         project({"T001": D}, skill=VC, user_gate=True, gate_status="confirmed"), None), WaitForUserGate),
    Case("merge/user-gate-user-merge-passes-it", lambda: (record(Step.MERGE, gate_at_start="confirmed").model_copy(
         update={"merge_requested": True}), project({"T001": D}, skill=VC, user_gate=True, gate_status="confirmed"), None), SpawnStep),
    Case("merge/no-auto-merge-waits", lambda: (record(Step.MERGE), project({"T001": D}, skill=VC), None), WaitForMerge),
    Case("merge/auto-merge-runs", lambda: (record(Step.MERGE, auto_merge=True), project({"T001": D}, skill=VC), None),
         SpawnStep),
    Case("merge/phase-closed-reads-as-done-not-design", _phase_closed_by_merge, Complete),
    Case("merge/run-completed-phase-still-open-retries", lambda: (lambda r: (r, project({"T001": D}, skill=VC), ended(r)))(
        _step_run(Step.MERGE, project({"T001": D}, skill=VC), auto_merge=True)), SpawnStep, lambda a: a.attempt == 2),
    Case("merge/not-started-before-a-passed-verify", lambda: (record(Step.MERGE, auto_merge=True),
         project({"T001": D}, skill=("verify", "in_progress")), None), NeedsAttention,
         lambda a: _attention(AttentionKind.MERGE_BLOCKED)(a) and "verify/in_progress" in a.reason
         and "run /flow.verify" in a.reason and a.options == [RecoveryOption.RETRY, RecoveryOption.ABORT]),
    Case("merge/user-merge-not-started-on-a-merge-step", lambda: (record(Step.MERGE).model_copy(
         update={"merge_requested": True}), project({"T001": D}, skill=("merge", "in_progress")), None), NeedsAttention,
         lambda a: _attention(AttentionKind.MERGE_BLOCKED)(a) and "merge/in_progress" in a.reason),
    Case("merge/not-started-on-main", lambda: (record(Step.MERGE, auto_merge=True), project(
         {"T001": D}, skill=VC).model_copy(update={"git_branch": "main", "phase_branch": "0042-x"}), None),
         NeedsAttention, lambda a: _attention(AttentionKind.MERGE_BLOCKED)(a) and "on branch main" in a.reason
         and "0042-x" in a.reason),
    Case("merge/runs-on-the-phase-branch", lambda: (record(Step.MERGE, auto_merge=True), project(
         {"T001": D}, skill=VC).model_copy(update={"git_branch": "0042-x"}), None), SpawnStep),
    Case("merge/not-started-with-a-deferred-task", lambda: (record(Step.MERGE, auto_merge=True),
         project({"T001": D, "T002": TaskState.DEFERRED}, skill=VC), None), NeedsAttention,
         lambda a: _attention(AttentionKind.MERGE_BLOCKED)(a) and "implement gate fails: 1 task(s) not done (T002)"
         in a.reason and "deferred" in a.reason),
    Case("merge/blocked-run-retry-spends-no-attempt", lambda: (lambda r: (r, project({"T001": D}, skill=(
         "verify", "failed")), ended(r)))(_step_run(Step.MERGE, project({"T001": D}, skill=VC), auto_merge=True)),
         NeedsAttention, _attention(AttentionKind.MERGE_BLOCKED)),
    Case("verify/ended-on-the-merge-step-is-no-pass", lambda: (lambda r: (
        r, project({"T001": D}, skill=("merge", "complete")), ended(r)))(_step_run(Step.VERIFY, project({"T001": D}))),
         SpawnStep, lambda a: a.step == Step.VERIFY and a.attempt == 2),
    Case("verify/ended-in-progress-is-no-pass", lambda: (lambda r: (
        r, project({"T001": D}, skill=("verify", "in_progress")), ended(r)))(_step_run(Step.VERIFY, project({"T001": D}))),
         SpawnStep, lambda a: a.step == Step.VERIFY and a.attempt == 2),
    Case("merge/closed-by-user-while-waiting", lambda: (record(Step.MERGE), project(
        {"T001": D}, skill=("design", "not_started"), phase=None, phase_status="not_started"), None), Complete),
    Case("merge/phase-closed-without-known-start-phase", lambda: (record(Step.MERGE, phase=None, auto_merge=True),
         project({"T001": D}, skill=("design", "not_started"), phase=None, phase_status="not_started"), None), Complete),
    # --- budget
    Case("budget/total-spent-before-spawn", lambda: (_spent(record(), 50.0), project(artifacts=False), None),
         NeedsAttention, _attention(AttentionKind.BUDGET)),
    Case("budget/under-a-cent-left", lambda: (_spent(record(), 49.995), project(artifacts=False), None),
         NeedsAttention, _attention(AttentionKind.BUDGET)),
    Case("budget/cap-is-remaining-when-smaller", lambda: (_spent(record(), 48.0), project(artifacts=False), None),
         SpawnStep, lambda a: a.budget_usd == pytest.approx(2.0)),
    Case("budget/cap-is-per-batch-when-smaller", lambda: (_planned(project(T3), budget={"per_batch": 3.0}),
         project(T3), None), SpawnBatch, lambda a: a.budget_usd == pytest.approx(3.0)),
    Case("budget/run-ended-budget-exceeded", lambda: (lambda r: (r, project(T3, TWO_SECTIONS), ended(
        r, RunStatus.BUDGET_EXCEEDED, cost_usd=5.0)))(_batch_run(project(T3, TWO_SECTIONS))), NeedsAttention,
         _attention(AttentionKind.BUDGET)),
    Case("budget/heal-cap-counts-run-cost-not-yet-in-ledger", lambda: (lambda r: (
        r, project({"T001": D, "T002": O, "T003": O}, TWO_SECTIONS), ended(r, cost_usd=49.0)))(
        _batch_run(project(T3, TWO_SECTIONS))), Heal, lambda a: a.budget_usd == pytest.approx(1.0)),
    # --- rate limit
    Case("rate-limit/waits-until-reset", lambda: (lambda r: (r, project(artifacts=False), ended(
        r, RunStatus.RATE_LIMITED, rate_limit_reset=LATER)))(_step_run(Step.DESIGN, project(artifacts=False))),
         WaitRateLimit, lambda a: a.until == LATER),
    Case("rate-limit/without-reset-time-waits-default", lambda: (lambda r: (r, project(artifacts=False), ended(
        r, RunStatus.RATE_LIMITED)))(_step_run(Step.DESIGN, project(artifacts=False))),
         WaitRateLimit, lambda a: a.until > NOW),
    Case("rate-limit/resume-off-needs-attention", lambda: (lambda r: (r, project(artifacts=False), ended(
        r, RunStatus.RATE_LIMITED)))(_step_run(Step.DESIGN, project(artifacts=False), resume_after_rate_limit=False)),
         NeedsAttention, _attention(AttentionKind.RATE_LIMIT)),
    Case("rate-limit/still-waiting", lambda: _waiting_rate_limit(timedelta(minutes=10)), WaitRateLimit),
    Case("rate-limit/passed-resumes-the-same-session", lambda: _waiting_rate_limit(timedelta(minutes=-1)), ResumeRun,
         lambda a: len(a.run_id) == 36),
    Case("rate-limit/passed-but-total-spent-needs-attention", lambda: (lambda t: (_spent(t[0], 50.0), t[1], None))(
        _waiting_rate_limit(timedelta(minutes=-1))), NeedsAttention, _attention(AttentionKind.BUDGET)),
    Case("pause-now/cancelled-run-while-pause-requested-pauses", lambda: (lambda r: (
        r, project(artifacts=False), ended(r, RunStatus.CANCELLED)))(
        _pause_requested(_step_run(Step.DESIGN, project(artifacts=False)))), Pause),
    # --- questions
    Case("input/run-waiting-for-input", lambda: (lambda r: (r, project(artifacts=False), live(
        r, RunStatus.WAITING_INPUT, questions=[Question(question="Which DB?")])))(
        _step_run(Step.DESIGN, project(artifacts=False))), WaitForAnswers,
         lambda a: [q.question for q in a.questions] == ["Which DB?"]),
    Case("input/run-ended-with-needs-input", lambda: (lambda r: (r, project(artifacts=False), ended(
        r, questions=[Question(question="Which DB?")])))(_step_run(Step.DESIGN, project(artifacts=False))),
         WaitForAnswers),
    # --- paused / misc
    Case("paused/no-run-waits", lambda: (record().model_copy(update={"state": Paused()}),
         project(artifacts=False), None), Wait, lambda a: a.reason == "paused"),
    Case("paused/requested-with-no-run-waits", lambda: (record().model_copy(update={"pause_requested": True}),
         project(artifacts=False), None), Wait),
    Case("paused/requested-while-run-live-keeps-waiting-for-run", lambda: (lambda r: (
        r.model_copy(update={"pause_requested": True}), project(artifacts=False), live(r)))(
        _step_run(Step.DESIGN, project(artifacts=False))), Wait, lambda a: "progress" in a.reason),
    Case("run/cancelled-by-user", lambda: (lambda r: (r, project(artifacts=False), ended(r, RunStatus.CANCELLED)))(
        _step_run(Step.DESIGN, project(artifacts=False))), NeedsAttention, _attention(AttentionKind.RUN_CANCELLED)),
    Case("run/current-run-without-evidence", lambda: (lambda r: (r, project(artifacts=False), None))(
        _step_run(Step.DESIGN, project(artifacts=False))), NeedsAttention, _attention(AttentionKind.UNKNOWN_STATE)),
    Case("run/final-flag-with-live-status", lambda: (lambda r: (r, project(artifacts=False), RunEvidence(
        run_id=r.current_run_id or "", status=RunStatus.RUNNING, final=True)))(
        _step_run(Step.DESIGN, project(artifacts=False))), NeedsAttention, _attention(AttentionKind.UNKNOWN_STATE)),
    Case("phase/changed-under-a-running-orchestration", lambda: (record(Step.ANALYZE), project(T3, phase="0043"),
         None), NeedsAttention, _attention(AttentionKind.PHASE_CHANGED)),
    Case("terminal/completed-waits", lambda: (record().model_copy(update={"state": Completed()}),
         project(), None), Wait),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_decide_table(case: Case) -> None:
    r, p, run = case.setup()
    action = decide(r, p, run, case.now)
    assert isinstance(action, case.expect), action
    assert case.check(action), action
    assert not action.reason.startswith("internal error"), action.reason


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)
