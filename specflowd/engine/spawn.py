"""Starting and continuing agent runs through the run port: admission, the run request, and what a run that
cannot start becomes.

A run starts only once the run port admits it, and nothing is recorded for it before: a queued run is asked
for again when the port wakes its orchestration (the same decision names the same run id). The request a
spawn sends is built in one place, ``run_request``, from decide()'s action and the orchestration's
configuration. A run that cannot start does not crash the loop: its unit of work is pending again, and the
orchestration stops for the user when the agent is missing or the runner refused.
"""

from __future__ import annotations

import logging
from pathlib import Path

from specflowd.domain import transitions
from specflowd.domain.actions import Heal, NeedsAttention, ResumeRun, SpawnBatch, SpawnStep
from specflowd.domain.config import Step
from specflowd.domain.prompts import continue_prompt, prompt_for, system_prompt
from specflowd.domain.record import AttentionKind, OrchestrationRecord, RecoveryOption
from specflowd.engine.ports import Queued, RunRequest
from specflowd.engine.record_holder import Kept
from specflowd.engine.runtime import EngineRuntime
from specflowd.errors import AgentUnavailable, SpecflowError
from specflowd.vocabulary import RESULT_SCHEMA

__all__ = ["admit", "resume_run", "run_request", "start_run"]

log = logging.getLogger(__name__)

Spawn = SpawnStep | SpawnBatch | Heal


def _run_kind(action: Spawn | ResumeRun) -> str:
    """What a run is, for the scheduler's views: step, batch, heal or resume."""
    match action:
        case SpawnStep():
            return "step"
        case SpawnBatch():
            return "batch"
        case Heal():
            return "heal"
        case _:
            return "resume"


async def admit(rt: EngineRuntime, record: OrchestrationRecord, action: Spawn | ResumeRun) -> bool:
    """May the action's run begin now? When the run port queues it, it is noted as this orchestration's
    queued run (withdrawn when the orchestration decides otherwise) and the port wakes the loop later."""
    admission = await rt.runs.admit(
        action.run_id,
        Path(record.project_path),
        record.id,
        group=record.config.group,
        priority=record.config.priority,
        kind=_run_kind(action),
    )
    if isinstance(admission, Queued):
        rt.queued[record.id] = action.run_id
        return False
    rt.queued.pop(record.id, None)
    return True


def run_request(record: OrchestrationRecord, action: Spawn) -> RunRequest:
    """What the run port is asked to start for ``action`` (recorded in ``record``)."""
    config = record.config
    if isinstance(action, SpawnStep):
        step, batch = action.step.value, None
    else:
        step, batch = ("heal" if isinstance(action, Heal) else "implement"), action.batch_index
    return RunRequest(
        orchestration_id=record.id,
        project_root=Path(record.project_path),
        run_id=action.run_id,
        step=step,
        batch=None if batch is None else str(batch),
        attempt=action.attempt,
        prompt=prompt_for(record, action),
        append_system_prompt=system_prompt(config.additional_context),
        json_schema=RESULT_SCHEMA,
        budget_usd=action.budget_usd,
        model=action.model,
        fallback_model=config.fallback_model,
        permission_mode=config.permission_mode,
        stale_after_s=config.stale_after_s,
        binary=config.agent,
        sandbox=config.sandbox,
    )


async def start_run(rt: EngineRuntime, record: OrchestrationRecord, action: Spawn) -> None:
    """Start the run of a recorded spawn. When it cannot start, the orchestration stops for the user."""
    request = run_request(record, action)
    step = request.step
    try:
        await rt.runs.start(request)
    except AgentUnavailable as exc:
        # The binary went away (uninstalled, PATH or config changed): say so now. The run never started,
        # so its unit of work is pending again without using an attempt; retry once the agent is back.
        log.warning("orchestration %s: cannot start %s: %s", record.id, step, exc.message)
        current = rt.holder.get(record.id)
        unstarted = await rt.holder.commit(current, transitions.resume_failed(current, action.run_id, rt.now()), Kept())
        missing = NeedsAttention(
            attention_kind=AttentionKind.AGENT_UNAVAILABLE,
            reason=f"cannot start the {step} run: {exc.message}; then `specflowctl recover retry`",
            options=[RecoveryOption.RETRY, RecoveryOption.ABORT],
            step=action.step if isinstance(action, SpawnStep) else Step.IMPLEMENT,
            batch_index=None if isinstance(action, SpawnStep) else action.batch_index,
            context=dict(exc.data),
        )
        await rt.record(unstarted, missing)
    except SpecflowError as exc:
        log.warning("orchestration %s: cannot start %s: %s", record.id, step, exc.message)
        failure = NeedsAttention(
            attention_kind=AttentionKind.UNKNOWN_STATE,
            reason=f"cannot start the {step} run: {exc.message}",
            context={"kind": exc.kind},
        )
        await rt.record(rt.holder.get(record.id), failure)


async def resume_run(rt: EngineRuntime, record: OrchestrationRecord, action: ResumeRun) -> None:
    """Continue a rate-limited or stale run's own session, capped by what the orchestration has left; when it
    cannot be continued, its unit of work starts afresh."""
    try:
        prompt = continue_prompt(action.cause)
        left = record.config.budget.total - record.totals.spent_usd  # the run's own cap, and never past the total
        await rt.runs.resume(action.run_id, prompt, budget_usd=left)
    except SpecflowError as exc:
        # e.g. its budget is spent or its record is gone: the unit of work starts afresh instead
        log.warning("orchestration %s: cannot continue run %s: %s", record.id, action.run_id, exc.message)
        await rt.change_locked(
            record.id,
            lambda r: transitions.resume_failed(r, action.run_id, rt.now()),
            "resume_failed",
            f"cannot continue run {action.run_id}: {exc.message}; starting its work afresh",
        )
