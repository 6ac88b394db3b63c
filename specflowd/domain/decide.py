"""decide(): the one pure function that says what an orchestration does next (the rules: docs/orchestration.md;
the principles: docs/architecture.md#principles).

Total: every input yields exactly one action of ``actions.Action``; a combination the rules do not cover
becomes ``NeedsAttention(unknown_state)`` with a reason, never a guess. No I/O, no clock (``now`` is given).
The rule order below is the documented one (docs/orchestration.md):

1. terminal record → Wait;  2. the current run (live → Wait, questions → WaitForAnswers, ended → judge it);
3. the record's waiting statuses;  4. the current step's pre-spawn rules, budget checks, spawns.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from specflowd.domain.actions import (
    Action,
    Advance,
    Complete,
    FinishBatch,
    Heal,
    HealContext,
    NeedsAttention,
    Pause,
    PlannedBatch,
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
from specflowd.domain.config import STEP_ORDER, Step
from specflowd.domain.evidence import ProjectEvidence, RunEvidence, TaskState
from specflowd.domain.gate import merge_wait_reason, user_gate_passed
from specflowd.domain.merge_ready import merge_blocked, verify_passed
from specflowd.domain.record import (
    SETTLED_BATCH_STATUSES,
    TERMINAL_STATUSES,
    AttentionKind,
    AttentionNeeded,
    BatchRecord,
    BatchStatus,
    OrchestrationRecord,
    Paused,
    RecoveryOption,
    RunKind,
    RunLedgerEntry,
    WaitingInput,
    WaitingRateLimit,
)
from specflowd.vocabulary import FINAL_STATUSES, RunStatus

__all__ = [
    "DEFAULT_RATE_LIMIT_WAIT",
    "MIN_SPAWN_BUDGET_USD",
    "RUN_ID_NAMESPACE",
    "decide",
    "effective_spent",
    "next_run_id",
    "phase_closed",
    "step_after",
]

# Below this a run cannot do useful work; spawning it would only fail on the CLI's budget check.
MIN_SPAWN_BUDGET_USD = 0.01
# When a rate-limited run does not say when the limit resets.
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=5)
RUN_ID_NAMESPACE = uuid.UUID("5f0c7a52-3e51-4d0e-9a56-1d2b7c0f9e11")
_INTERNAL = "internal error in decide"
_STDERR_LIMIT = 2000
_CLOSED_PHASE_STATUSES = frozenset({"complete", "completed", "closed", "merged", "done"})
# step.status values by which a skill itself says it cannot go on: /flow.analyze ends `blocked` when its
# findings need the user, /flow.orchestrate (and any skill) may set `failed`
_VERDICT_STATUSES = frozenset({"blocked", "failed"})


def decide(record: OrchestrationRecord, project: ProjectEvidence, run: RunEvidence | None, now: datetime) -> Action:
    try:
        return _decide(record, project, run, now)
    except Exception as exc:  # totality net: a bug here must stop the orchestration, not crash the engine
        return NeedsAttention(
            attention_kind=AttentionKind.UNKNOWN_STATE, reason=f"{_INTERNAL}: {type(exc).__name__}: {exc}"
        )


# ---------------------------------------------------------------- helpers


def next_run_id(record: OrchestrationRecord) -> str:
    """The session id of the next spawn: a pure function of (orchestration, spawn counter)."""
    return str(uuid.uuid5(RUN_ID_NAMESPACE, f"{record.id}:{record.spawn_seq + 1}"))


def step_after(step: Step) -> Step | None:
    index = STEP_ORDER.index(step)
    return STEP_ORDER[index + 1] if index + 1 < len(STEP_ORDER) else None


def effective_spent(record: OrchestrationRecord, run: RunEvidence | None) -> float:
    """Spend so far, counting the current run's reported cost even if the ledger has not seen it yet."""
    spent = record.totals.spent_usd
    if run is not None:
        noted = record.runs[run.run_id].cost_usd if run.run_id in record.runs else 0.0
        spent += max(0.0, run.cost_usd - noted)
    return spent


def phase_closed(record: OrchestrationRecord, project: ProjectEvidence) -> bool:
    """Merge's completion signal: the phase the orchestration started on is closed.

    ``phase close`` resets the state file to step design/not_started and the phase to not_started (usually
    with number null), so that reset reads as "closed", never as "run design again"."""
    if project.phase_status is not None and project.phase_status.lower() in _CLOSED_PHASE_STATUSES:
        return True
    if record.phase_number is not None:
        return project.phase_number != record.phase_number
    step = project.skill_step
    return (
        project.phase_status == "not_started"
        and step is not None
        and step.current == Step.DESIGN.value
        and step.status == "not_started"
    )


def _phase_changed(record: OrchestrationRecord, project: ProjectEvidence) -> bool:
    return (
        record.phase_number is not None
        and project.phase_number is not None
        and project.phase_number != record.phase_number
    )


def _skill_reported_complete(project: ProjectEvidence, step: Step) -> bool:
    """The skill's own completion signal: its step marked complete, or the state file already moved on to a
    later step (a skill that advances the step has finished its own). Earlier steps never count: ``phase
    close`` resets to design."""
    if step == Step.VERIFY:  # only verify/complete: what /flow.merge, the step after it, requires
        return verify_passed(project)
    s = project.skill_step
    if s is None or s.current is None:
        return False
    try:
        current = Step(s.current)
    except ValueError:
        return False
    if current == step:
        return (s.status or "").lower() in {"complete", "completed"}
    return STEP_ORDER.index(current) > STEP_ORDER.index(step) and step != Step.MERGE


def _skill_verdict(
    project: ProjectEvidence, step: Step, run: RunEvidence, *, batch_index: int | None = None
) -> NeedsAttention | None:
    """The skill's own verdict on the step it ran: ``step.status`` blocked or failed on that step. The engine
    writes ``in_progress`` before every run, so such a value was written by this run, and re-running the
    step would only meet the same verdict: stop for the user with the skill's message."""
    s = project.skill_step
    status = (s.status or "").strip().lower() if s is not None else ""
    if s is None or s.current != step.value or status not in _VERDICT_STATUSES:
        return None
    message = (run.message or run.error or "").strip()
    reason = f"/flow.{step.value} reported step.status={status}" + (f": {message}" if message else "")
    if project.last_error:
        reason += f" (state file lastError: {project.last_error})"
    return _attention(
        AttentionKind.SKILL_VERDICT,
        reason,
        step=step,
        batch_index=batch_index,
        context={**_run_context(run), "step_status": status, "message": message or None,
                 "last_error": project.last_error},
    )  # fmt: skip


def _attention(
    kind: AttentionKind,
    reason: str,
    *,
    step: Step | None = None,
    batch_index: int | None = None,
    context: dict[str, object] | None = None,
    options: list[RecoveryOption] | None = None,
) -> NeedsAttention:
    return NeedsAttention(
        attention_kind=kind,
        reason=reason,
        step=step,
        batch_index=batch_index,
        context=context or {},
        options=options if options is not None else list(RecoveryOption),
    )


def _budget_cap(
    record: OrchestrationRecord, run: RunEvidence | None, unit_cap: float, what: str
) -> float | NeedsAttention:
    """The per-run cap, or NeedsAttention(budget) when the total cannot cover a useful run."""
    total = record.config.budget.total
    spent = effective_spent(record, run)
    remaining = total - spent
    if remaining < MIN_SPAWN_BUDGET_USD:
        return _attention(
            AttentionKind.BUDGET,
            f"budget exhausted before {what}: spent ${spent:.2f} of ${total:.2f}; "
            "resume with a higher budget total to continue",
            step=record.step,
            context={"spent_usd": round(spent, 4), "total_usd": total},
            options=[RecoveryOption.RETRY, RecoveryOption.ABORT],
        )
    return min(unit_cap, remaining)


def _step_cap(record: OrchestrationRecord) -> float:
    # The config has no per-step cap; one step run gets what one batch gets.
    return record.config.budget.per_batch


def _run_context(run: RunEvidence | None) -> dict[str, object]:
    if run is None:
        return {}
    return {
        "run_id": run.run_id,
        "run_status": run.status.value,
        "error": run.error,
        "stderr_tail": run.stderr_tail[-_STDERR_LIMIT:],
        "last_messages": run.last_messages[-5:],
        **({"loop": run.loop.describe()} if run.loop is not None else {}),
    }


def _run_failure_text(run: RunEvidence) -> str:
    return run.error or run.message or f"run ended {run.status.value}"


# ---------------------------------------------------------------- the rules


def _decide(record: OrchestrationRecord, project: ProjectEvidence, run: RunEvidence | None, now: datetime) -> Action:
    if record.status in TERMINAL_STATUSES:
        return Wait(reason=f"orchestration is {record.status.value}")

    if record.current_run_id is not None:
        if run is None or run.run_id != record.current_run_id:
            return _attention(
                AttentionKind.UNKNOWN_STATE,
                f"run {record.current_run_id} is recorded as current but there is no evidence of it",
                step=record.step,
                options=[RecoveryOption.RETRY, RecoveryOption.ABORT],
            )
        ref = record.runs.get(run.run_id)
        if ref is None:
            return _attention(AttentionKind.UNKNOWN_STATE, f"run {run.run_id} is not in the ledger", step=record.step)
        return _judge_run(record, project, run, ref, now)

    # No current run from here on; a run passed in is an old one and says nothing about the next move.
    state = record.state
    if isinstance(state, AttentionNeeded):
        a = state.attention
        return NeedsAttention(
            attention_kind=a.kind,
            reason=a.reason,
            options=list(a.options),
            step=a.step,
            batch_index=a.batch_index,
            context=dict(a.context),
        )
    if record.pause_requested or isinstance(state, Paused):
        return Wait(reason="paused")
    if isinstance(state, WaitingInput):
        return WaitForAnswers(reason="questions are pending", run_id=state.run_id, questions=list(state.questions))
    if isinstance(state, WaitingRateLimit) and now < state.until:
        return WaitRateLimit(reason="rate limited", until=state.until)
    # a rate limit that has passed: carry on with the step below
    if record.resumable_run_id is not None and record.resumable_run_id in record.runs:
        cap = _budget_cap(record, None, MIN_SPAWN_BUDGET_USD, f"continuing run {record.resumable_run_id}")
        if isinstance(cap, NeedsAttention):
            return cap
        return ResumeRun(
            reason="the rate limit has passed: continue the same session", run_id=record.resumable_run_id
        )
    if _phase_changed(record, project) and record.step != Step.MERGE:
        return _attention(
            AttentionKind.PHASE_CHANGED,
            f"the project's phase changed from {record.phase_number} to {project.phase_number} "
            f"during {record.step.value}",
            step=record.step,
            options=[RecoveryOption.SKIP, RecoveryOption.ABORT],
        )
    return _next_for_step(record, project, now)


def _judge_run(
    record: OrchestrationRecord, project: ProjectEvidence, run: RunEvidence, ref: RunLedgerEntry, now: datetime
) -> Action:
    if not run.final:
        if run.status == RunStatus.WAITING_INPUT:
            return WaitForAnswers(reason="the run asked questions", run_id=run.run_id, questions=run.questions)
        if run.status in FINAL_STATUSES:
            return Wait(reason=f"run {run.status.value}, waiting for its output to be final")
        return Wait(reason="run in progress")
    if run.status not in FINAL_STATUSES:
        return _attention(
            AttentionKind.UNKNOWN_STATE,
            f"run {run.run_id} is final but its status is {run.status.value}",
            step=ref.step,
            batch_index=ref.batch_index,
            context=_run_context(run),
        )
    if run.questions and run.status == RunStatus.COMPLETED:
        return WaitForAnswers(reason="the run ended asking questions", run_id=run.run_id, questions=run.questions)
    if run.status == RunStatus.BUDGET_EXCEEDED:
        return _attention(
            AttentionKind.BUDGET,
            f"run {run.run_id} reached its budget cap (${run.cost_usd:.2f})",
            step=ref.step,
            batch_index=ref.batch_index,
            context=_run_context(run),
        )
    if run.status == RunStatus.RATE_LIMITED:
        if record.config.resume_after_rate_limit:
            until = run.rate_limit_reset or now + DEFAULT_RATE_LIMIT_WAIT
            return WaitRateLimit(reason="the agent hit a rate limit", until=until, run_id=run.run_id)
        return _attention(
            AttentionKind.RATE_LIMIT,
            "the agent hit a rate limit and resume_after_rate_limit is off",
            step=ref.step,
            batch_index=ref.batch_index,
            context={**_run_context(run), "reset": run.rate_limit_reset.isoformat() if run.rate_limit_reset else None},
        )
    if run.status == RunStatus.CANCELLED and record.pause_requested:
        return Pause(reason="paused now: the running run was stopped", run_id=run.run_id)
    if run.status == RunStatus.CANCELLED:
        return _attention(
            AttentionKind.RUN_CANCELLED,
            f"run {run.run_id} was cancelled",
            step=ref.step,
            batch_index=ref.batch_index,
            context=_run_context(run),
        )
    if ref.kind in (RunKind.BATCH, RunKind.HEAL):
        return _judge_batch_run(record, project, run, ref, now)
    return _judge_step_run(record, project, run, ref)


def _judge_step_run(
    record: OrchestrationRecord, project: ProjectEvidence, run: RunEvidence, ref: RunLedgerEntry
) -> Action:
    step = ref.step
    ok = run.status == RunStatus.COMPLETED
    verdict = _skill_verdict(project, step, run)
    if verdict is not None:
        return verdict
    if step == Step.DESIGN:
        # Confirm twice: the run ended and the artifacts exist.
        if project.artifacts_complete:
            return Advance(reason="design produced spec, plan and tasks", from_step=step, to_step=Step.ANALYZE)
        why = "design ended without spec.md, plan.md and tasks.md all present"
    elif step == Step.MERGE:
        if ok and (phase_closed(record, project) or _skill_reported_complete(project, step)):
            return Complete(reason="merge closed the phase")
        why = "merge ended but the phase is not closed" if ok else f"merge: {_run_failure_text(run)}"
    else:
        if ok and _skill_reported_complete(project, step):
            nxt = step_after(step)
            if nxt is None:  # unreachable with STEP_ORDER, kept for totality
                return _attention(AttentionKind.UNKNOWN_STATE, f"no step after {step.value}", step=step)
            return Advance(reason=f"{step.value} completed", from_step=step, to_step=nxt)
        why = (
            f"{step.value} run completed but the skill did not report completion"
            if ok
            else f"{step.value}: {_run_failure_text(run)}"
        )
    return _spawn_step(record, project, step, run=run, last_error=why)


def _batch_ids_split(batch: BatchRecord, project: ProjectEvidence) -> tuple[list[str], list[str]]:
    done = [t for t in batch.task_ids if project.is_done(t)]
    remaining = [t for t in batch.task_ids if not project.is_done(t)]
    return done, remaining


def _judge_batch_run(
    record: OrchestrationRecord, project: ProjectEvidence, run: RunEvidence, ref: RunLedgerEntry, now: datetime
) -> Action:
    if ref.batch_index is None or (batch := record.batch(ref.batch_index)) is None:
        return _attention(AttentionKind.UNKNOWN_STATE, f"run {run.run_id} names no known batch", step=Step.IMPLEMENT)
    done, remaining = _batch_ids_split(batch, project)
    healed = ref.kind == RunKind.HEAL
    if not remaining and batch.task_ids:
        return FinishBatch(reason=f"every task of '{batch.name}' is checked", batch_index=batch.index, healed=healed)
    verdict = _skill_verdict(project, Step.IMPLEMENT, run, batch_index=batch.index)
    if verdict is not None:
        return verdict
    error = _run_failure_text(run) if run.status != RunStatus.COMPLETED else None
    ended = run.status.value if run.loop is None else f"{run.status.value} (it {run.loop.describe()})"
    partial = f"run ended {ended} with {len(remaining)} of {len(batch.task_ids)} tasks still open"
    context = HealContext(
        error=error or partial,
        stderr_tail=run.stderr_tail[-_STDERR_LIMIT:],
        last_messages=list(run.last_messages[-5:]),
        loop=run.loop,
    )
    full_context: dict[str, object] = {
        **_run_context(run),
        "section": batch.name,
        "done_ids": done,
        "remaining_ids": remaining,
        "heal_attempts": batch.heal_attempts,
    }
    cfg = record.config
    if not cfg.auto_heal:
        return _attention(
            AttentionKind.BATCH_FAILED,
            f"batch '{batch.name}' failed ({partial}) and auto_heal is off",
            step=Step.IMPLEMENT,
            batch_index=batch.index,
            context=full_context,
        )
    if batch.heal_attempts >= cfg.max_heal_attempts + batch.extra_heal_attempts:
        return _attention(
            AttentionKind.HEAL_EXHAUSTED,
            f"batch '{batch.name}' still has open tasks after {batch.heal_attempts} heal attempt(s): {partial}",
            step=Step.IMPLEMENT,
            batch_index=batch.index,
            context=full_context,
        )
    cap = _budget_cap(record, run, cfg.budget.heal, f"healing '{batch.name}'")
    if isinstance(cap, NeedsAttention):
        return cap
    return Heal(
        reason=f"heal '{batch.name}': {partial}",
        run_id=next_run_id(record),
        batch_index=batch.index,
        name=batch.name,
        remaining_ids=remaining,
        done_ids=done,
        in_section=batch.in_section,
        attempt=batch.heal_attempts + 1,
        budget_usd=cap,
        model=cfg.models.get(Step.IMPLEMENT),
        context=context,
    )


def _spawn_step(
    record: OrchestrationRecord,
    project: ProjectEvidence,
    step: Step,
    *,
    run: RunEvidence | None = None,
    last_error: str | None = None,
) -> Action:
    if step == Step.MERGE and (blocked := merge_blocked(project)) is not None:
        return blocked  # /flow.merge would refuse: no attempt is spent on the refusal
    rec = record.step_record(step)
    allowed = record.config.max_step_attempts + rec.extra_attempts
    if rec.attempts >= allowed:
        return _attention(
            AttentionKind.STEP_ATTEMPTS,
            f"{step.value} used all {rec.attempts} attempt(s)" + (f"; last: {last_error}" if last_error else ""),
            step=step,
            context={**_run_context(run), "attempts": rec.attempts, "last_error": last_error or record.last_error},
        )
    cap = _budget_cap(record, run, _step_cap(record), step.value)
    if isinstance(cap, NeedsAttention):
        return cap
    return SpawnStep(
        reason=f"run {step.value}" + (f" again after: {last_error}" if last_error else ""),
        run_id=next_run_id(record),
        step=step,
        attempt=rec.attempts + 1,
        budget_usd=cap,
        model=record.config.models.get(step),
        last_error=last_error,
    )


def _next_for_step(record: OrchestrationRecord, project: ProjectEvidence, now: datetime) -> Action:
    cfg = record.config
    step = record.step
    if step == Step.DESIGN:
        if cfg.skip_design:
            return Advance(reason="skip_design", from_step=step, to_step=Step.ANALYZE, skipped=True)
        if project.artifacts_complete:
            return Advance(
                reason="spec.md, plan.md and tasks.md exist", from_step=step, to_step=Step.ANALYZE, skipped=True
            )
        return _spawn_step(record, project, step)
    if step == Step.ANALYZE:
        if cfg.skip_analyze:
            return Advance(reason="skip_analyze", from_step=step, to_step=Step.IMPLEMENT, skipped=True)
        return _spawn_step(record, project, step)
    if step == Step.IMPLEMENT:
        return _next_for_implement(record, project)
    if step == Step.VERIFY:
        return _spawn_step(record, project, step)
    return _next_for_merge(record, project)


def _plan(record: OrchestrationRecord, project: ProjectEvidence, ids: set[str]) -> list[PlannedBatch]:
    """Batches for ``ids``, one per section in file order; ids no section names go in fallback chunks."""
    batches: list[PlannedBatch] = []
    placed: set[str] = set()
    index = record.next_batch_index
    for section in project.sections:
        chosen = [t for t in dict.fromkeys(section.task_ids) if t in ids and t not in placed]
        if chosen:
            batches.append(PlannedBatch(index=index, name=section.heading, task_ids=chosen))
            placed.update(chosen)
            index += 1
    leftover = [t for t in project.task_states if t in ids and t not in placed]
    size = record.config.batch_size_fallback
    for n, start in enumerate(range(0, len(leftover), size), start=1):
        chunk = leftover[start : start + size]
        batches.append(PlannedBatch(index=index, name=f"Unsectioned tasks {n}", task_ids=chunk, in_section=False))
        index += 1
    return batches


def _next_for_implement(record: OrchestrationRecord, project: ProjectEvidence) -> Action:
    states = project.task_states
    if not states:
        return _attention(
            AttentionKind.NO_TASKS,
            "tasks.md has no tasks" if project.tasks else "there is no tasks.md",
            step=Step.IMPLEMENT,
            context={"problems": project.problems},
        )
    indexes = [b.index for b in record.batches]
    if len(set(indexes)) != len(indexes):
        return _attention(
            AttentionKind.UNKNOWN_STATE,
            "the record has two batches with one index",
            step=Step.IMPLEMENT,
            options=[RecoveryOption.ABORT],
        )
    empty = next((b for b in record.batches if not b.task_ids and b.status not in SETTLED_BATCH_STATUSES), None)
    if empty is not None:  # an empty list is never "all done"
        return _attention(
            AttentionKind.UNKNOWN_STATE,
            f"batch '{empty.name}' has no task ids",
            step=Step.IMPLEMENT,
            batch_index=empty.index,
            options=[RecoveryOption.SKIP, RecoveryOption.ABORT],
        )
    open_ids = set(project.ids_in(TaskState.OPEN))
    planned = {t for b in record.batches for t in b.task_ids}
    unplanned = open_ids - planned
    if unplanned:
        batches = _plan(record, project, unplanned)
        what = "plan batches" if not record.batches_planned else "add batches for tasks added to tasks.md"
        ignored = f"; {len(project.ignored_lines)} task-looking line(s) ignored" if project.ignored_lines else ""
        return Replan(
            reason=f"{what}: {len(unplanned)} open task(s){ignored}",
            batches=batches,
            ignored_lines=list(project.ignored_lines),
        )

    for batch in record.batches:
        if batch.status in SETTLED_BATCH_STATUSES:
            continue
        done, remaining = _batch_ids_split(batch, project)
        if not remaining and not batch.run_ids:
            return _finish_without_run(record, batch)
        if not remaining:
            return FinishBatch(reason=f"every task of '{batch.name}' is already checked", batch_index=batch.index)
        if batch.status == BatchStatus.FAILED:
            return _attention(
                AttentionKind.BATCH_FAILED,
                f"batch '{batch.name}' failed",
                step=Step.IMPLEMENT,
                batch_index=batch.index,
                context={"remaining_ids": remaining, "done_ids": done, "last_error": batch.last_error},
            )
        return _spawn_batch(record, batch, remaining)

    # Every batch is settled. Confirm twice: ids of completed batches must still be done.
    skipped = {t for b in record.batches if b.status == BatchStatus.SKIPPED for t in b.task_ids}
    reopened = sorted(open_ids - skipped)
    if reopened:
        return _attention(
            AttentionKind.TASKS_REOPENED,
            f"task(s) {', '.join(reopened)} of completed batches are open again",
            step=Step.IMPLEMENT,
            context={"reopened_ids": reopened},
        )
    blocked = sorted(t for t in project.ids_in(TaskState.BLOCKED) if t not in skipped)
    if blocked or (not project.ids_in(TaskState.DONE) and not skipped):
        held = sorted(t for t, s in states.items() if s in (TaskState.BLOCKED, TaskState.DEFERRED))
        return _attention(
            AttentionKind.TASKS_HELD,
            f"task(s) {', '.join(blocked)} are blocked" if blocked else "no task is done; the rest are deferred",
            step=Step.IMPLEMENT,
            context={"held_ids": held, "blocked_ids": blocked},
        )
    unparsed = [line for line in project.unparsed_open if line not in record.accepted_unparsed]
    if unparsed:  # confirm twice: a line that did not parse may be unfinished work
        return _attention(
            AttentionKind.TASKS_UNPARSED,
            f"{len(unparsed)} open-looking line(s) in tasks.md could not be parsed ({unparsed[0]}"
            + (", …" if len(unparsed) > 1 else "")
            + "): fix them and recover retry, or recover skip to go on without them",
            step=Step.IMPLEMENT,
            context={"lines": unparsed},
        )
    return Advance(
        reason="every scheduled task is done" if record.batches else "all tasks were already done",
        from_step=Step.IMPLEMENT,
        to_step=Step.VERIFY,
        skipped=not record.batches,
    )


def _finish_without_run(record: OrchestrationRecord, batch: BatchRecord) -> FinishBatch:
    """A batch that never ran and whose ids are all done: other runs (``specflow mark`` ticks every line that
    mentions an id) or the user ticked them. Reported as such, never as a batch that ran."""
    ticks = record.observed.ticks if record.observed is not None else {}
    who = [f"{t} by {ticks[t].by}" if t in ticks else f"{t} (not seen turning done)" for t in batch.task_ids]
    return FinishBatch(
        reason=f"batch '{batch.name}' did not run: all its tasks were ticked outside it ({'; '.join(who)})",
        batch_index=batch.index,
        without_run=True,
    )


def _spawn_batch(record: OrchestrationRecord, batch: BatchRecord, remaining: list[str]) -> Action:
    allowed = record.config.max_step_attempts + batch.extra_attempts
    if batch.attempts >= allowed:
        return _attention(
            AttentionKind.STEP_ATTEMPTS,
            f"batch '{batch.name}' used all {batch.attempts} attempt(s)",
            step=Step.IMPLEMENT,
            batch_index=batch.index,
            context={"remaining_ids": remaining, "last_error": batch.last_error},
        )
    cap = _budget_cap(record, None, record.config.budget.per_batch, f"batch '{batch.name}'")
    if isinstance(cap, NeedsAttention):
        return cap
    return SpawnBatch(
        reason=f"implement '{batch.name}'",
        run_id=next_run_id(record),
        batch_index=batch.index,
        name=batch.name,
        task_ids=remaining,
        in_section=batch.in_section,
        attempt=batch.attempts + 1,
        budget_usd=cap,
        model=record.config.models.get(Step.IMPLEMENT),
    )


def _next_for_merge(record: OrchestrationRecord, project: ProjectEvidence) -> Action:
    if phase_closed(record, project):
        return Complete(reason="the phase is closed")
    if record.merge_requested:
        return _spawn_step(record, project, Step.MERGE)
    seen = record.observed
    passed = seen is not None and user_gate_passed(
        project.user_gate_status, seen.user_gate_at_start, seen.user_gate_changed
    )
    why = merge_wait_reason(project.user_gate, passed, record.config.auto_merge, project.user_gate_status)
    if why is not None and project.user_gate and not passed:
        return WaitForUserGate(reason=why)
    if why is not None:
        return WaitForMerge(reason=why)
    return _spawn_step(record, project, Step.MERGE)
