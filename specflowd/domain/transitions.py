"""Pure record transitions: applying a decided action, noting spend, and the user's recovery verbs.

Every function takes a record and returns a new one (the input is never mutated), stamped ``updated_at``.
The user verbs raise ``InvalidState`` when they make no sense for the record's status; each recovery
changes the state that caused the stop, so deciding again does not land straight back in needs_attention.
"""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from specflowd.domain.actions import (
    Action,
    Advance,
    Complete,
    Fail,
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
from specflowd.domain.config import STEP_ORDER, Budget, Step
from specflowd.domain.decide import MIN_SPAWN_BUDGET_USD
from specflowd.domain.evidence import RunEvidence
from specflowd.domain.record import (
    TERMINAL_STATUSES,
    Attention,
    AttentionKind,
    BatchRecord,
    BatchStatus,
    DecisionLogEntry,
    OrchestrationRecord,
    OrchestrationStatus,
    RecoveryOption,
    RunKind,
    RunLedgerEntry,
    StepRecord,
    StepStatus,
    Totals,
)
from specflowd.errors import InvalidState

__all__ = [
    "answers_submitted",
    "apply",
    "cancel",
    "go_back",
    "log_entry",
    "note_helper_cost",
    "observe_run",
    "pause",
    "recover",
    "request_merge",
    "resume",
    "resume_failed",
    "run_not_started",
]

_S = OrchestrationStatus


def _copy(record: OrchestrationRecord, now: datetime) -> OrchestrationRecord:
    new = record.model_copy(deep=True)
    new.updated_at = now
    return new


def _set_step(record: OrchestrationRecord, step: Step, **changes: object) -> None:
    current = record.steps.get(step) or StepRecord()
    record.steps[step] = current.model_copy(update=changes)


def _recompute_totals(record: OrchestrationRecord) -> None:
    per_batch: dict[int, float] = {}
    per_step: dict[Step, float] = {}
    heal = 0.0
    for ref in record.runs.values():
        per_step[ref.step] = per_step.get(ref.step, 0.0) + ref.cost_usd
        if ref.batch_index is not None:
            per_batch[ref.batch_index] = per_batch.get(ref.batch_index, 0.0) + ref.cost_usd
        if ref.kind == RunKind.HEAL:
            heal += ref.cost_usd
    helper = record.totals.helper_usd
    record.totals = Totals(
        spent_usd=sum(per_step.values()) + helper,
        per_batch=per_batch,
        per_step=per_step,
        heal_usd=heal,
        helper_usd=helper,
    )
    for batch in record.batches:
        batch.cost_usd = per_batch.get(batch.index, batch.cost_usd)


# ---------------------------------------------------------------- spend


def observe_run(record: OrchestrationRecord, run: RunEvidence, now: datetime) -> OrchestrationRecord:
    """Note a run's reported cost in the ledger (idempotent; cost never goes down). Unknown runs are ignored."""
    ref = record.runs.get(run.run_id)
    if ref is None or run.cost_usd <= ref.cost_usd:
        return record
    new = _copy(record, now)
    new.runs[run.run_id] = ref.model_copy(update={"cost_usd": run.cost_usd})
    _recompute_totals(new)
    return new


def note_helper_cost(record: OrchestrationRecord, usd: float, now: datetime) -> OrchestrationRecord:
    new = _copy(record, now)
    new.totals.helper_usd += max(0.0, usd)
    _recompute_totals(new)
    return new


# ---------------------------------------------------------------- apply


def apply(record: OrchestrationRecord, action: Action, now: datetime) -> OrchestrationRecord:
    """The record after the engine carries out ``action`` (for spawns: before the child is exec'd)."""
    new = _copy(record, now)
    match action:
        case Wait():
            if new.pause_requested and new.current_run_id is None and new.status not in TERMINAL_STATUSES:
                new.status = _S.PAUSED
        case SpawnStep():
            entry = RunLedgerEntry(kind=RunKind.STEP, step=action.step, attempt=action.attempt)
            _start_run(new, action.run_id, entry, now)
            new.step = action.step
            prev = new.step_record(action.step)
            _set_step(
                new,
                action.step,
                status=StepStatus.RUNNING,
                attempts=action.attempt,
                run_ids=[*prev.run_ids, action.run_id],
                started_at=prev.started_at or now,
                finished_at=None,
            )
            if action.last_error:
                new.last_error = action.last_error
            new.status = _S.RUNNING
        case SpawnBatch() | Heal():
            heal = isinstance(action, Heal)
            ref = RunLedgerEntry(
                kind=RunKind.HEAL if heal else RunKind.BATCH,
                step=Step.IMPLEMENT,
                batch_index=action.batch_index,
                attempt=action.attempt,
                task_ids=list(action.remaining_ids if isinstance(action, Heal) else action.task_ids),
            )
            _start_run(new, action.run_id, ref, now)
            new.step = Step.IMPLEMENT
            prev = new.step_record(Step.IMPLEMENT)
            _set_step(
                new,
                Step.IMPLEMENT,
                status=StepStatus.RUNNING,
                run_ids=[*prev.run_ids, action.run_id],
                started_at=prev.started_at or now,
            )
            batch = new.batch(action.batch_index)
            if batch is not None:
                batch.status = BatchStatus.RUNNING
                batch.run_ids.append(action.run_id)
                batch.started_at = batch.started_at or now
                if isinstance(action, Heal):
                    batch.heal_attempts = action.attempt
                    batch.last_error = action.context.error
                else:
                    batch.attempts = action.attempt
            new.status = _S.HEALING if heal else _S.RUNNING
        case FinishBatch():
            batch = new.batch(action.batch_index)
            if batch is not None:
                batch.status = BatchStatus.HEALED if action.healed else BatchStatus.COMPLETED
                batch.finished_at = now
            new.current_run_id = None
            new.status = _S.RUNNING
            more = any(b.status in (BatchStatus.PENDING, BatchStatus.RUNNING) for b in new.batches)
            if new.config.pause_between_batches and more:
                new.pause_requested = True
                new.status = _S.PAUSED
        case Advance():
            _set_step(
                new,
                action.from_step,
                status=StepStatus.SKIPPED if action.skipped else StepStatus.COMPLETED,
                finished_at=now,
            )
            new.step = action.to_step
            _set_step(new, action.to_step, status=StepStatus.PENDING)
            new.current_run_id = None
            new.status = _S.RUNNING
        case Replan():
            for planned in action.batches:
                new.batches.append(
                    BatchRecord(
                        index=planned.index,
                        name=planned.name,
                        task_ids=list(planned.task_ids),
                        in_section=planned.in_section,
                    )
                )
                new.next_batch_index = max(new.next_batch_index, planned.index + 1)
            new.batches_planned = True
        case WaitForAnswers():
            new.status = _S.WAITING_INPUT
            new.pending_questions = list(action.questions)
            new.questions_run_id = action.run_id
        case WaitForMerge():
            new.status = _S.WAITING_MERGE
        case WaitForUserGate():
            new.status = _S.WAITING_USER_GATE
        case WaitRateLimit():
            if action.run_id is not None and action.run_id == new.current_run_id:
                new.resumable_run_id = action.run_id  # its session continues when the wait ends
                new.current_run_id = None
            new.status = _S.WAITING_RATE_LIMIT
            new.rate_limit_until = action.until
        case ResumeRun():
            new.current_run_id = action.run_id
            new.resumable_run_id = None
            new.rate_limit_until = None
            new.attention = None
            resumed = new.runs.get(action.run_id)
            if resumed and resumed.batch_index is not None and (batch := new.batch(resumed.batch_index)) is not None:
                batch.status = BatchStatus.RUNNING
            new.status = _S.HEALING if _current_is_heal(new) else _S.RUNNING
        case Pause():
            _grant_retry_for_run(new, action.run_id)  # stopped by the user, not by its work: no attempt used
            new.current_run_id = None
            new.pause_requested = True
            new.status = _S.PAUSED
        case NeedsAttention():
            new.status = _S.NEEDS_ATTENTION
            new.attention = Attention(
                kind=action.attention_kind,
                reason=action.reason,
                options=list(action.options),
                step=action.step,
                batch_index=action.batch_index,
                context=dict(action.context),
            )
            new.last_error = action.reason
            if new.current_run_id is not None and action.attention_kind != AttentionKind.UNKNOWN_STATE:
                new.current_run_id = None  # the run ended; keep an unexplained one visible for retry to clear
            if action.batch_index is not None and (batch := new.batch(action.batch_index)) is not None:
                if batch.status not in (BatchStatus.COMPLETED, BatchStatus.HEALED, BatchStatus.SKIPPED):
                    batch.status = BatchStatus.FAILED
                    batch.last_error = action.reason
            elif action.step is not None and action.attention_kind == AttentionKind.STEP_ATTEMPTS:
                _set_step(new, action.step, status=StepStatus.FAILED)
        case Complete():
            _set_step(new, Step.MERGE, status=StepStatus.COMPLETED, finished_at=now)
            new.step = Step.MERGE
            new.status = _S.COMPLETED
            new.current_run_id = None
        case Fail():
            new.status = _S.FAILED
            new.last_error = action.reason
            new.current_run_id = None
        case _:
            assert_never(action)
    return new


def _start_run(record: OrchestrationRecord, run_id: str, ref: RunLedgerEntry, now: datetime) -> None:
    record.runs[run_id] = ref.model_copy(update={"started_at": now})
    record.current_run_id = run_id
    record.spawn_seq += 1
    record.attention = None
    record.rate_limit_until = None
    record.resumable_run_id = None
    record.pending_questions = []
    record.questions_run_id = None


def resume_failed(record: OrchestrationRecord, run_id: str, now: datetime) -> OrchestrationRecord:
    """Continuing ``run_id``'s session failed (after ``resume_run`` made it current again): its unit of work
    starts afresh, without using an attempt (the interruption was not its fault)."""
    new = _copy(record, now)
    _grant_retry_for_run(new, run_id)
    if new.current_run_id == run_id:
        new.current_run_id = None
    if new.resumable_run_id == run_id:
        new.resumable_run_id = None
    new.status = _S.RUNNING
    return new


def run_not_started(record: OrchestrationRecord, run_id: str, now: datetime) -> OrchestrationRecord:
    """``run_id`` was recorded but its agent never started (the daemon stopped between the decision and the
    exec): nothing ran, so its attempt is given back. A step or batch run's unit is pending again with one
    more attempt allowed (attempt numbers stay monotonic). A heal gets one more heal allowed and the run it
    was healing becomes current again, so the same judgement decides the heal anew."""
    new = _copy(record, now)
    if new.current_run_id == run_id:
        new.current_run_id = None
    new.status = _S.RUNNING
    ref = new.runs.get(run_id)
    if ref is None:
        return new
    new.runs[run_id] = ref.model_copy(update={"never_started": True})
    batch = new.batch(ref.batch_index) if ref.batch_index is not None else None
    if ref.kind == RunKind.HEAL and batch is not None:
        healed = [r for r in batch.run_ids if r != run_id and r in new.runs and not new.runs[r].never_started]
        if healed:
            batch.extra_heal_attempts += 1
            new.current_run_id = healed[-1]
            return new
    _grant_retry_for_run(new, run_id)
    return new


def _grant_retry_for_run(record: OrchestrationRecord, run_id: str) -> None:
    """A run stopped through no fault of its own (rate limit, pause --now) does not use up an attempt."""
    ref = record.runs.get(run_id)
    if ref is None:
        return
    if ref.batch_index is not None and (batch := record.batch(ref.batch_index)) is not None:
        batch.extra_attempts += 1
        batch.status = BatchStatus.PENDING
    elif ref.kind == RunKind.STEP:
        step = record.step_record(ref.step)
        _set_step(record, ref.step, extra_attempts=step.extra_attempts + 1, status=StepStatus.PENDING)


# ---------------------------------------------------------------- user verbs


def pause(record: OrchestrationRecord, now: datetime) -> OrchestrationRecord:
    if record.status in TERMINAL_STATUSES:
        raise InvalidState(f"orchestration is {record.status.value}")
    new = _copy(record, now)
    new.pause_requested = True
    if new.current_run_id is None and new.status in (_S.RUNNING, _S.HEALING, _S.WAITING_RATE_LIMIT):
        new.status = _S.PAUSED
    return new


def resume(record: OrchestrationRecord, now: datetime, budget_total: float | None = None) -> OrchestrationRecord:
    """Undo a pause, end a rate-limit wait early, or continue after a budget stop with a raised total."""
    if record.status in TERMINAL_STATUSES:  # say what does work: every client shows this line
        then = "nothing is left to resume" if record.status == _S.COMPLETED else "start a new one for the open tasks"
        raise InvalidState(f"orchestration is {record.status.value} and cannot resume: {then}")
    new = _copy(record, now)
    if budget_total is not None:
        new.config = new.config.model_copy(
            update={"budget": Budget.model_validate({**new.config.budget.model_dump(), "total": budget_total})}
        )
    new.pause_requested = False
    if new.status == _S.PAUSED:
        new.status = _S.HEALING if _current_is_heal(new) else _S.RUNNING
    elif new.status == _S.WAITING_RATE_LIMIT:
        new.rate_limit_until = None
        new.status = _S.RUNNING
    elif new.status == _S.NEEDS_ATTENTION and new.attention is not None and new.attention.kind == AttentionKind.BUDGET:
        return recover(new, RecoveryOption.RETRY, now)
    elif budget_total is None and record.status != _S.PAUSED and not record.pause_requested:
        raise InvalidState(f"orchestration is {record.status.value}, not paused")
    return new


def _current_is_heal(record: OrchestrationRecord) -> bool:
    ref = record.runs.get(record.current_run_id) if record.current_run_id else None
    return ref is not None and ref.kind == RunKind.HEAL


def cancel(record: OrchestrationRecord, now: datetime) -> OrchestrationRecord:
    if record.status in TERMINAL_STATUSES:
        raise InvalidState(f"orchestration is already {record.status.value}")
    new = _copy(record, now)
    new.status = _S.CANCELLED
    new.current_run_id = None  # the engine cancels the run itself
    new.attention = None  # a cancelled orchestration offers no recovery
    new.pending_questions = []
    return new


def answers_submitted(
    record: OrchestrationRecord, now: datetime, continued_run_id: str | None = None
) -> OrchestrationRecord:
    """The user answered; the engine continues the session (``--resume``), possibly as a new run id."""
    if record.status != _S.WAITING_INPUT:
        raise InvalidState(f"orchestration is {record.status.value}, not waiting for answers")
    new = _copy(record, now)
    if continued_run_id is not None and continued_run_id != new.current_run_id:
        old = new.runs.get(new.current_run_id or new.questions_run_id or "")
        if old is not None:
            new.runs[continued_run_id] = old.model_copy(update={"cost_usd": 0.0, "started_at": now})
            step = new.step_record(old.step)
            _set_step(new, old.step, run_ids=[*step.run_ids, continued_run_id])
            if old.batch_index is not None and (batch := new.batch(old.batch_index)) is not None:
                batch.run_ids.append(continued_run_id)
        new.current_run_id = continued_run_id
    new.pending_questions = []
    new.questions_run_id = None
    new.status = _S.HEALING if _current_is_heal(new) else _S.RUNNING
    return new


def request_merge(record: OrchestrationRecord, now: datetime) -> OrchestrationRecord:
    """The user's merge: passes a USER GATE and runs merge even without auto_merge."""
    if record.status not in (_S.WAITING_MERGE, _S.WAITING_USER_GATE) and record.step != Step.MERGE:
        raise InvalidState(f"orchestration is at {record.step.value} ({record.status.value}); verify has not finished")
    if record.status in TERMINAL_STATUSES:
        raise InvalidState(f"orchestration is {record.status.value}")
    new = _copy(record, now)
    new.merge_requested = True
    new.step = Step.MERGE
    if new.status in (_S.WAITING_MERGE, _S.WAITING_USER_GATE, _S.NEEDS_ATTENTION):
        new.status = _S.RUNNING
        new.attention = None
    return new


def go_back(record: OrchestrationRecord, step: Step, now: datetime) -> OrchestrationRecord:
    """Return to an earlier (or the current) step. The engine must have cancelled any live run first.

    Steps from ``step`` on are pending again with a fresh attempt allowance (attempt numbers stay
    monotonic, so run ids never repeat); going back to implement or earlier re-plans batches from the
    tasks still open, keeping the old batches as history."""
    if record.status in TERMINAL_STATUSES:
        raise InvalidState(f"orchestration is {record.status.value}")
    if STEP_ORDER.index(step) > STEP_ORDER.index(record.step):
        raise InvalidState(f"cannot go back from {record.step.value} to the later step {step.value}")
    new = _copy(record, now)
    for s in STEP_ORDER[STEP_ORDER.index(step) :]:
        rec = new.step_record(s)
        _set_step(new, s, status=StepStatus.PENDING, extra_attempts=rec.attempts, finished_at=None)
    if STEP_ORDER.index(step) <= STEP_ORDER.index(Step.IMPLEMENT):
        new.superseded_batches.extend(new.batches)
        new.batches = []
        new.batches_planned = False
    new.step = step
    new.current_run_id = None
    new.attention = None
    new.pending_questions = []
    new.questions_run_id = None
    new.rate_limit_until = None
    new.resumable_run_id = None
    new.merge_requested = False
    new.pause_requested = False
    new.status = _S.RUNNING
    return new


def recover(
    record: OrchestrationRecord, option: RecoveryOption, now: datetime, budget_total: float | None = None
) -> OrchestrationRecord:
    """The answer to needs_attention. retry: one more attempt of what stopped; skip: move past it; abort."""
    if record.status != _S.NEEDS_ATTENTION:
        raise InvalidState(f"orchestration is {record.status.value}, not needs_attention")
    attention = record.attention
    new = _copy(record, now)
    if option == RecoveryOption.ABORT:
        new.status = _S.FAILED
        new.current_run_id = None
        new.attention = None  # nothing is offered any more; the reason stays in last_error and the log
        return new
    kind = attention.kind if attention is not None else AttentionKind.UNKNOWN_STATE
    if attention is not None and option not in attention.options:
        raise InvalidState(f"{option.value} is not an option here ({', '.join(o.value for o in attention.options)})")
    if budget_total is not None:
        new.config = new.config.model_copy(
            update={"budget": Budget.model_validate({**new.config.budget.model_dump(), "total": budget_total})}
        )
    step = attention.step if attention is not None and attention.step is not None else new.step
    batch = new.batch(attention.batch_index) if attention is not None and attention.batch_index is not None else None

    if option == RecoveryOption.RETRY:
        # Stopped before a spawn because the total is used up: only more budget changes that.
        total_used_up = new.config.budget.total - new.totals.spent_usd < MIN_SPAWN_BUDGET_USD
        if kind == AttentionKind.BUDGET and total_used_up:
            raise InvalidState(
                f"the budget total ${new.config.budget.total:.2f} is spent; retry with a higher budget_total"
            )
        if batch is not None:
            batch.status = BatchStatus.PENDING
            batch.extra_attempts = max(batch.extra_attempts, batch.attempts - new.config.max_step_attempts + 1)
            batch.extra_heal_attempts = batch.heal_attempts  # a fresh heal allowance for the new attempt
            new.step = Step.IMPLEMENT
        elif kind in (
            AttentionKind.STEP_ATTEMPTS,
            AttentionKind.STEP_FAILED,
            AttentionKind.STALE_RUN,
            AttentionKind.BUDGET,
            AttentionKind.RATE_LIMIT,
            AttentionKind.RUN_CANCELLED,
            AttentionKind.SKILL_VERDICT,
            AttentionKind.STATE_WRITE,
            AttentionKind.AGENT_UNAVAILABLE,
            AttentionKind.UNKNOWN_STATE,
        ):
            rec = new.step_record(step)
            _set_step(
                new,
                step,
                status=StepStatus.PENDING,
                extra_attempts=max(rec.extra_attempts, rec.attempts - new.config.max_step_attempts + 1),
            )
            new.step = step  # retry what stopped, even if the record had moved on
        new.current_run_id = None
    else:  # skip
        if batch is not None:
            batch.status = BatchStatus.SKIPPED
            batch.finished_at = now
        elif kind == AttentionKind.PHASE_CHANGED:
            new.phase_number = None  # accept the new phase as the one to finish
        elif kind == AttentionKind.TASKS_UNPARSED and attention is not None:
            lines = attention.context.get("lines", [])
            new.accepted_unparsed = [*new.accepted_unparsed, *(str(x) for x in lines)]  # go on without them
        else:
            idx = STEP_ORDER.index(step)
            _set_step(new, step, status=StepStatus.SKIPPED, finished_at=now)
            if idx + 1 < len(STEP_ORDER):
                new.step = STEP_ORDER[idx + 1]
            elif step == Step.MERGE:
                new.status = _S.COMPLETED
                new.attention = None
                new.current_run_id = None
                return new
        new.current_run_id = None
    new.attention = None
    new.status = _S.RUNNING
    return new


# ---------------------------------------------------------------- the decision log


def log_entry(
    before: OrchestrationRecord, action: Action, after: OrchestrationRecord, now: datetime
) -> DecisionLogEntry:
    detail = action.model_dump(mode="json", exclude={"kind", "reason"})
    return DecisionLogEntry(
        time=now,
        action=action.kind,
        reason=action.reason,
        status_before=before.status,
        status_after=after.status,
        step=after.step,
        batch_index=getattr(action, "batch_index", None),
        run_id=getattr(action, "run_id", None) or after.current_run_id,
        detail=detail,
    )
