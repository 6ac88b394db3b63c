"""A random walk through whole orchestrations: random run outcomes, random task progress, random recoveries.

Invariants checked on every walk: run ids never repeat, no run gets a cap above what the total has left
(so spend never passes the total), every step and batch attempt stays within its allowance, and Complete
is only reached with every scheduled task done and the phase closed.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from specflowd.domain.actions import (
    Complete,
    Heal,
    NeedsAttention,
    SpawnBatch,
    SpawnStep,
    Wait,
    WaitForAnswers,
    WaitForMerge,
    WaitForUserGate,
    WaitRateLimit,
)
from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.domain.evidence import ProjectEvidence, RunEvidence, SectionEvidence, SkillStep, TaskState
from specflowd.domain.record import TERMINAL_STATUSES, BatchStatus, OrchestrationStatus, new_record
from specflowd.domain.transitions import answers_submitted, recover, request_merge, resume
from specflowd.errors import InvalidState
from specflowd.vocabulary import Question, RunStatus
from tests.domain.builders import NOW, drive

IDS = ["T001", "T002", "T003", "T004", "T005"]
SECTIONS = [SectionEvidence(heading="Phase 1", task_ids=IDS[:2]), SectionEvidence(heading="Phase 2", task_ids=IDS[2:])]
OUTCOMES = [
    RunStatus.COMPLETED,
    RunStatus.COMPLETED,
    RunStatus.COMPLETED,
    RunStatus.FAILED,
    RunStatus.STALE,
    RunStatus.INTERRUPTED,
    RunStatus.CANCELLED,
    RunStatus.BUDGET_EXCEEDED,
    RunStatus.RATE_LIMITED,
    RunStatus.WAITING_INPUT,
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_random_walk_keeps_the_invariants(data: st.DataObject) -> None:
    config = OrchestrationConfig(
        auto_merge=data.draw(st.booleans()),
        skip_design=data.draw(st.booleans()),
        skip_analyze=data.draw(st.booleans()),
        max_heal_attempts=data.draw(st.integers(0, 2)),
        auto_heal=data.draw(st.booleans()),
        max_step_attempts=data.draw(st.integers(1, 3)),
        pause_between_batches=data.draw(st.booleans()),
        budget={"total": data.draw(st.sampled_from([3.0, 10.0, 50.0])), "per_batch": 2.0, "heal": 1.0},
    )
    states = {t: data.draw(st.sampled_from([TaskState.OPEN, TaskState.OPEN, TaskState.DONE])) for t in IDS}
    artifacts = data.draw(st.booleans())
    skill: SkillStep | None = None
    phase: str | None = "0042"
    phase_status = "in_progress"
    user_gate = data.draw(st.booleans())
    r = new_record(id="walk", project_path="/p", config=config, now=NOW, phase_number="0042")
    now = NOW
    run: RunEvidence | None = None
    seen: set[str] = set()

    for _ in range(80):
        project = ProjectEvidence(
            spec=artifacts, plan=artifacts, tasks=artifacts, task_states=dict(states) if artifacts else {},
            sections=SECTIONS if artifacts else [], skill_step=skill, phase_number=phase, phase_status=phase_status,
            user_gate=user_gate,
        )
        r, action = drive(r, project, run, now)
        event(action.kind)
        run = None
        assert r.totals.spent_usd <= r.config.budget.total + 1e-6
        for s, rec in r.steps.items():
            assert rec.attempts <= r.config.max_step_attempts + rec.extra_attempts, s
        for b in r.batches:
            assert b.heal_attempts <= r.config.max_heal_attempts + b.extra_heal_attempts
        if isinstance(action, SpawnStep | SpawnBatch | Heal):
            assert action.run_id not in seen
            seen.add(action.run_id)
            assert action.budget_usd <= r.config.budget.total - r.totals.spent_usd + 1e-6
            outcome = data.draw(st.sampled_from(OUTCOMES))
            cost = data.draw(st.floats(0, action.budget_usd))
            step = action.step if isinstance(action, SpawnStep) else Step.IMPLEMENT
            if outcome in (RunStatus.COMPLETED, RunStatus.FAILED):
                if step == Step.DESIGN:
                    artifacts = artifacts or data.draw(st.booleans())
                elif step == Step.IMPLEMENT:
                    ids = action.remaining_ids if isinstance(action, Heal) else getattr(action, "task_ids", [])
                    for t in ids:
                        if data.draw(st.booleans()):
                            states[t] = TaskState.DONE
                elif data.draw(st.booleans()):
                    skill = SkillStep(current=step.value, status="complete")
                if step == Step.MERGE and data.draw(st.booleans()):
                    phase, phase_status, skill = None, "not_started", SkillStep(current="design", status="not_started")
            questions = [Question(question="?")] if outcome == RunStatus.WAITING_INPUT else []
            run = RunEvidence(
                run_id=action.run_id, status=outcome, final=outcome != RunStatus.WAITING_INPUT, cost_usd=cost,
                questions=questions,
            )
        elif isinstance(action, WaitForAnswers):
            r = answers_submitted(r, now)
            assert r.current_run_id is not None
            run = RunEvidence(run_id=r.current_run_id, status=RunStatus.FAILED, final=True, error="after answers")
        elif isinstance(action, WaitForMerge | WaitForUserGate):
            r = request_merge(r, now)
        elif isinstance(action, WaitRateLimit):
            now = action.until + timedelta(seconds=1)
        elif isinstance(action, NeedsAttention):
            option = data.draw(st.sampled_from(action.options))
            raise_to = data.draw(st.none() | st.just(r.config.budget.total + 5.0))
            try:
                r = recover(r, option, now, budget_total=raise_to)
            except InvalidState:
                break  # the only way on is more budget, which this walk did not give
        elif isinstance(action, Complete):
            assert r.status == OrchestrationStatus.COMPLETED
            assert phase is None or r.merge_requested or r.config.auto_merge
            settled = {BatchStatus.COMPLETED, BatchStatus.HEALED, BatchStatus.SKIPPED}
            assert all(b.status in settled for b in r.batches)
            break
        elif isinstance(action, Wait):
            if r.status in TERMINAL_STATUSES:
                break
            assert r.status == OrchestrationStatus.PAUSED
            r = resume(r, now)
