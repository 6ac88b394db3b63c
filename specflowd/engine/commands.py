"""The user's commands on orchestrations: one function per verb, each with what it promises.

Every verb but ``start`` changes the record with its pure transition (domain/transitions.py) under the
orchestration's lock, so it never interleaves with a decision step; it takes no turn at deciding, so it stays
responsive however many orchestrations are busy. The record holder writes the change (with its decision-log
line and events), then the orchestration's loop is woken to decide on it, or driven again when the verb
revives a stopped one. A verb that reaches a run (``pause --now``, ``cancel``, ``answer``) does so through
the run port.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from pathlib import Path

from specflowd.domain import transitions
from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.domain.observe import observe_project
from specflowd.domain.record import (
    TERMINAL_STATUSES,
    OrchestrationRecord,
    OrchestrationStatus,
    RecoveryOption,
    new_record,
)
from specflowd.engine.record_holder import Started
from specflowd.engine.runtime import EngineRuntime
from specflowd.errors import AlreadyActive, NotFound, SpecflowError
from specflowd.event_catalogue import DecisionLabel

__all__ = ["answer", "cancel", "go_back", "merge", "pause", "recover", "resume", "start"]


async def _change(
    rt: EngineRuntime,
    orch_id: str,
    change: Callable[[OrchestrationRecord], OrchestrationRecord],
    label: DecisionLabel,
    reason: str,
) -> OrchestrationRecord:
    async with rt.lock(orch_id):
        return await rt.change_locked(orch_id, change, label, reason)


async def start(rt: EngineRuntime, root: Path, config: OrchestrationConfig) -> OrchestrationRecord:
    """Start an orchestration of the project at ``root`` with ``config`` and drive it. AlreadyActive when the
    project has an active one. The tasks already done and the USER GATE's value now are its baselines: they
    belong to no run of this orchestration."""
    await rt.ready.wait()
    for existing in rt.holder.read():
        if Path(existing.project_path) == root and existing.status not in TERMINAL_STATUSES:
            raise AlreadyActive(f"orchestration {existing.id} is already active in {root}", orchestration=existing.id)
    view = await rt.project.read(root)
    evidence = view.evidence
    record = new_record(
        id=uuid.uuid4().hex[:12],
        project_path=str(root),
        config=config,
        now=rt.now(),
        phase_number=evidence.phase_number,
        phase_branch=evidence.phase_branch or view.feature,
    )
    observation = observe_project(record, evidence, rt.now())
    record = await rt.holder.commit(None, observation.record, Started(config, observation))
    rt.launch(record.id)
    return record


async def pause(rt: EngineRuntime, orch_id: str, now: bool = False) -> OrchestrationRecord:
    """Pause after the current run; a run still queued does not start. ``now``: stop the current run too (its
    unit of work is pending again when the orchestration resumes)."""
    record = await _change(
        rt, orch_id, lambda r: transitions.pause(r, rt.now()), "paused", "pause requested by the user"
    )
    rt.withdraw(orch_id)  # a run still queued does not start
    if now and record.current_run_id:
        with contextlib.suppress(SpecflowError):  # already ended
            await rt.runs.cancel(record.current_run_id)
    return rt.holder.get(orch_id)


async def resume(rt: EngineRuntime, orch_id: str, budget_total: float | None = None) -> OrchestrationRecord:
    """Undo a pause, end a rate-limit wait early, or go on after a budget stop (``budget_total`` raises the
    total). InvalidState for a finished orchestration."""
    return await _change(
        rt, orch_id, lambda r: transitions.resume(r, rt.now(), budget_total), "resumed", "resumed by the user"
    )


async def cancel(rt: EngineRuntime, orch_id: str) -> OrchestrationRecord:
    """End the orchestration for good, stopping its current run."""
    run_id = rt.holder.get(orch_id).current_run_id
    after = await _change(rt, orch_id, lambda r: transitions.cancel(r, rt.now()), "cancelled", "cancelled by the user")
    if run_id:
        with contextlib.suppress(SpecflowError):  # already ended
            await rt.runs.cancel(run_id)
    return after


async def merge(rt: EngineRuntime, orch_id: str) -> OrchestrationRecord:
    """The user's merge: passes a USER GATE and runs the merge step even without ``auto_merge``."""
    return await _change(
        rt,
        orch_id,
        lambda r: transitions.request_merge(r, rt.now()),
        "merge_requested",
        "merge requested by the user",
    )


async def go_back(rt: EngineRuntime, orch_id: str, step: Step) -> OrchestrationRecord:
    """Return to an earlier (or the current) ``step``: the steps from it on are pending again."""
    return await _change(
        rt, orch_id, lambda r: transitions.go_back(r, step, rt.now()), "went_back", f"go back to {step.value}"
    )


async def recover(
    rt: EngineRuntime, orch_id: str, option: RecoveryOption, budget_total: float | None = None
) -> OrchestrationRecord:
    """The answer to ``needs_attention``: retry what stopped, skip past it, or abort; ``budget_total`` raises
    the total budget. A stopped loop is driven again."""
    return await _change(
        rt,
        orch_id,
        lambda r: transitions.recover(r, option, rt.now(), budget_total),
        "recovered",
        f"recover: {option.value}",
    )


async def answer(rt: EngineRuntime, orch_id: str, answers: dict[str, str]) -> OrchestrationRecord:
    """Answer the questions of the run waiting for them; the run's session goes on with them. NotFound when no
    run waits; the run port's error (nothing changed) when the run is not waiting."""
    record = rt.holder.get(orch_id)
    run_id = record.questions_run_id or record.current_run_id
    if run_id is None:
        raise NotFound(f"orchestration {orch_id} has no run waiting for answers", orchestration=orch_id)
    await rt.runs.answer(run_id, answers)  # raises when the run is not waiting: nothing changed then
    if rt.holder.get(orch_id).status is not OrchestrationStatus.WAITING_INPUT:
        rt.wake(orch_id)  # the engine had not noticed the question yet; it sees the resumed run now
        return rt.holder.get(orch_id)
    return await _change(
        rt,
        orch_id,
        lambda r: transitions.answers_submitted(r, rt.now(), run_id),
        "answered",
        "answers submitted",
    )
