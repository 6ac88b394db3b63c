"""Property tests: decide() is total over arbitrary records and evidence, and the engine loop settles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from specflowd.domain.actions import ACTION_TYPES, Heal, NeedsAttention, SpawnBatch, SpawnStep
from specflowd.domain.config import STEP_ORDER, OrchestrationConfig, Step
from specflowd.domain.decide import decide, effective_spent
from specflowd.domain.evidence import ProjectEvidence, RunEvidence, SectionEvidence, SkillStep, TaskState
from specflowd.domain.record import (
    Attention,
    AttentionKind,
    BatchRecord,
    BatchStatus,
    OrchestrationRecord,
    OrchestrationStatus,
    RecoveryOption,
    RunKind,
    RunLedgerEntry,
    StepRecord,
    dump_record,
    load_record,
)
from specflowd.domain.transitions import apply, recover
from specflowd.vocabulary import Question, RunStatus
from tests.domain.builders import NOW, drive

IDS = ["T001", "T002", "T003", "T004", "T005", "T011a"]
RUN_IDS = ["run-a", "run-b", "run-c"]

task_ids = st.lists(st.sampled_from(IDS), max_size=4)
small_usd = st.floats(min_value=0, max_value=60, allow_nan=False)

configs = st.builds(
    OrchestrationConfig,
    auto_merge=st.booleans(),
    skip_design=st.booleans(),
    skip_analyze=st.booleans(),
    additional_context=st.text(max_size=20),
    auto_heal=st.booleans(),
    max_heal_attempts=st.integers(0, 5),
    batch_size_fallback=st.integers(1, 50),
    pause_between_batches=st.booleans(),
    budget=st.fixed_dictionaries({"total": st.floats(0.01, 100), "per_batch": st.floats(0.01, 10), "heal": st.floats(0.01, 5)}),
    max_step_attempts=st.integers(1, 10),
    resume_after_rate_limit=st.booleans(),
)

batches = st.lists(
    st.builds(
        BatchRecord,
        index=st.integers(0, 4),
        name=st.sampled_from(["Phase 1", "Phase 2", "Setup"]),
        task_ids=task_ids,
        status=st.sampled_from(BatchStatus),
        attempts=st.integers(0, 4),
        extra_attempts=st.integers(0, 2),
        heal_attempts=st.integers(0, 6),
    ),
    max_size=4,
)

run_refs = st.dictionaries(
    st.sampled_from(RUN_IDS),
    st.builds(
        RunLedgerEntry,
        kind=st.sampled_from(RunKind),
        step=st.sampled_from(Step),
        batch_index=st.none() | st.integers(0, 5),
        attempt=st.integers(1, 4),
        cost_usd=small_usd,
    ),
    max_size=3,
)

attentions = st.none() | st.builds(
    Attention,
    kind=st.sampled_from(AttentionKind),
    reason=st.text(max_size=10),
    options=st.lists(st.sampled_from(RecoveryOption), max_size=3),
    step=st.none() | st.sampled_from(Step),
    batch_index=st.none() | st.integers(0, 5),
)


@st.composite
def records(draw: st.DrawFn) -> OrchestrationRecord:
    # the schema-1 fields (status, attention, pending_questions, rate_limit_until) go through the record's
    # migrating validator, so the record is validated from a mapping rather than from keyword arguments
    r = OrchestrationRecord.model_validate(
        dict(
            id="orch",
            project_path="/p",
            config=draw(configs),
            status=draw(st.sampled_from(OrchestrationStatus)),
            step=draw(st.sampled_from(Step)),
            steps={s: StepRecord(attempts=draw(st.integers(0, 11)), extra_attempts=draw(st.integers(0, 2))) for s in STEP_ORDER},
            batches=draw(batches),
            batches_planned=draw(st.booleans()),
            next_batch_index=draw(st.integers(0, 6)),
            current_run_id=draw(st.none() | st.sampled_from(RUN_IDS)),
            runs=draw(run_refs),
            spawn_seq=draw(st.integers(0, 20)),
            attention=draw(attentions),
            pending_questions=draw(st.lists(st.builds(Question, question=st.text(max_size=5)), max_size=2)),
            rate_limit_until=draw(st.none() | st.just(NOW + timedelta(minutes=5)) | st.just(NOW - timedelta(minutes=5))),
            phase_number=draw(st.none() | st.sampled_from(["0042", "0043"])),
            merge_requested=draw(st.booleans()),
            pause_requested=draw(st.booleans()),
            created_at=NOW,
            updated_at=NOW,
        )
    )
    r.totals.spent_usd = draw(small_usd)
    return r


projects = st.builds(
    ProjectEvidence,
    spec=st.booleans(),
    plan=st.booleans(),
    tasks=st.booleans(),
    task_states=st.dictionaries(st.sampled_from(IDS), st.sampled_from(TaskState), max_size=6),
    sections=st.lists(st.builds(SectionEvidence, heading=st.sampled_from(["Phase 1", "Phase 2", "Notes"]), task_ids=task_ids), max_size=3),
    skill_step=st.none() | st.builds(
        SkillStep,
        current=st.none() | st.sampled_from([*(s.value for s in Step), "bogus"]),
        status=st.none() | st.sampled_from(["not_started", "in_progress", "complete", "failed", "weird"]),
    ),
    phase_number=st.none() | st.sampled_from(["0042", "0043"]),
    phase_status=st.none() | st.sampled_from(["not_started", "in_progress", "complete"]),
    user_gate=st.booleans(),
    user_gate_status=st.none() | st.sampled_from(["pending", "confirmed", "skipped", "weird"]),
    last_error=st.none() | st.text(max_size=10),
)

runs = st.none() | st.builds(
    RunEvidence,
    run_id=st.sampled_from(RUN_IDS),
    status=st.sampled_from(RunStatus),
    final=st.booleans(),
    error=st.none() | st.text(max_size=10),
    stderr_tail=st.text(max_size=30),
    cost_usd=small_usd,
    rate_limit_reset=st.none() | st.just(NOW + timedelta(minutes=3)),
    questions=st.lists(st.builds(Question, question=st.text(max_size=5)), max_size=1),
)

SETTINGS: dict[str, Any] = {
    "max_examples": 200,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(**SETTINGS)
@given(records(), projects, runs)
def test_decide_is_total_and_returns_one_action_of_the_closed_set(
    record: OrchestrationRecord, project: ProjectEvidence, run: RunEvidence | None
) -> None:
    action = decide(record, project, run, NOW)
    assert type(action) in ACTION_TYPES
    assert not action.reason.startswith("internal error"), action.reason
    if isinstance(action, SpawnStep | SpawnBatch | Heal):
        current = run if run is not None and run.run_id == record.current_run_id else None
        remaining = record.config.budget.total - effective_spent(record, current)
        assert 0 < action.budget_usd <= remaining + 1e-9
    after = apply(record, action, NOW)
    assert load_record(dump_record(after)) == after


@settings(**SETTINGS)
@given(records(), projects, runs)
def test_the_engine_loop_always_reaches_a_wait(
    record: OrchestrationRecord, project: ProjectEvidence, run: RunEvidence | None
) -> None:
    _, action = drive(record, project, run, NOW, limit=40)
    assert type(action) in ACTION_TYPES


RETRY_CHANGES_STATE = {
    AttentionKind.STEP_ATTEMPTS,
    AttentionKind.HEAL_EXHAUSTED,
    AttentionKind.BATCH_FAILED,
    AttentionKind.RUN_CANCELLED,
    AttentionKind.RATE_LIMIT,
}


@settings(**SETTINGS)
@given(records(), projects, runs)
def test_retry_never_falls_straight_back_into_the_same_stop(
    record: OrchestrationRecord, project: ProjectEvidence, run: RunEvidence | None
) -> None:
    stopped, action = drive(record, project, run, NOW, limit=40)
    if not isinstance(action, NeedsAttention) or action.attention_kind not in RETRY_CHANGES_STATE:
        return
    if RecoveryOption.RETRY not in action.options:
        return
    event(f"retry after {action.attention_kind.value}")
    retried = recover(stopped, RecoveryOption.RETRY, NOW)
    _, again = drive(retried, project, None, NOW, limit=40)
    assert not (isinstance(again, NeedsAttention) and again.attention_kind == action.attention_kind), (action, again)
