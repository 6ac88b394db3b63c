"""The decision loop: one task per active orchestration, deciding with the pure domain layer.

Each step reads the evidence (the project, the current run) → ``decide()`` → carries the action out
(engine/execute.py: the record and its decision log are written *before* acting). The loop wakes on the
runner's events for its runs, on changes of tasks.md / the state file, and at the one deadline a decision
names (a rate limit's reset); otherwise it sleeps: an idle orchestration costs no wake-ups. A step takes a
turn (``DECIDING_AT_ONCE`` at a time) and the orchestration's lock, which the user's commands take too.

Three decisions are worth a Claude Helper's look first (``needs_advice``): the helper is asked *without* the
lock, so pause and cancel stay responsive while it thinks, and its advice is acted on only if the record did
not move on meanwhile (kept for the same decision otherwise, so it is paid for once). A bug or a failed write
stops its orchestration visibly (``needs_attention``), never the daemon.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import anyio

from specflowd.domain import transitions
from specflowd.domain.actions import Action, Heal, NeedsAttention, SpawnBatch, SpawnStep
from specflowd.domain.decide import decide
from specflowd.domain.evidence import ProjectEvidence, RunEvidence
from specflowd.domain.observe import observe_project
from specflowd.domain.record import TERMINAL_STATUSES, AttentionKind, OrchestrationRecord, RecoveryOption
from specflowd.engine.execute import carry_out
from specflowd.engine.ports import Advice
from specflowd.engine.record_holder import Advised, Observed, Saved, Warned
from specflowd.engine.runtime import FOREVER, EngineRuntime, changed
from specflowd.errors import StorageError
from specflowd.event_catalogue import (
    EventPayload,
    QuestionAsked,
    RunFinished,
    RunProgress,
    RunStarted,
    RunWarning,
)
from specflowd.vocabulary import RunStatus

__all__ = ["drive", "needs_advice", "notice"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Consult:
    """A decision to ask the Claude Helper about before carrying it out (see engine.consult)."""

    record: OrchestrationRecord
    action: Action
    run: RunEvidence | None
    project: ProjectEvidence
    key: str  # identifies the decision, so a repeated one reuses the advice already paid for


def needs_advice(action: Action, run: RunEvidence | None) -> bool:
    """Is ``action`` one the Claude Helper may improve: a heal (diagnosis), the restart of a stale run, the retry
    of a failed step?"""
    if isinstance(action, Heal):
        return True
    if run is None or not run.final or not isinstance(action, SpawnStep | SpawnBatch):
        return False  # (a heal is always advised: diagnosis, or the stale review)
    return run.status == RunStatus.STALE or (isinstance(action, SpawnStep) and action.last_error is not None)


def notice(rt: EngineRuntime, payload: EventPayload) -> None:
    """An event from elsewhere in the daemon: the runner's events wake the orchestration their run belongs
    to; a run's warning is also written to its decision log and shown to followers."""
    match payload:
        case RunWarning(orchestration=str(orch_id), run_id=run_id, message=message):
            record = rt.holder.loaded(orch_id)
            if record is not None:

                async def warn() -> None:
                    # not a failure: the user should know (decision log, status, followers); the run goes on
                    await rt.holder.commit(record, record, Warned(run_id, message))

                rt.start_soon(warn)  # its log line is written off the loop
            rt.wake(orch_id)
        case RunStarted(orchestration=str(orch_id)) | RunProgress(orchestration=str(orch_id)):
            rt.wake(orch_id)
        case RunFinished(orchestration=str(orch_id)) | QuestionAsked(orchestration=str(orch_id)):
            rt.wake(orch_id)
        case _:
            pass


async def _sleep(rt: EngineRuntime, orch_id: str, until: datetime | None = None) -> None:
    """Until woken (the runner's events, the project's files, a user's verb, an admission) or ``until``
    (a rate limit's reset), whichever comes first. Nothing else can change a decision: decide() reads no
    clock but for the rate limit's reset."""
    wake = rt.wakes[orch_id]
    if until is None:
        await wake.wait()
        rt.wakes[orch_id] = anyio.Event()
        return
    deadline = until
    async with anyio.create_task_group() as tg:

        async def timer() -> None:
            await rt.clock.sleep_until(deadline)
            tg.cancel_scope.cancel()

        tg.start_soon(timer)
        await wake.wait()
        tg.cancel_scope.cancel()
    rt.wakes[orch_id] = anyio.Event()


async def _watch_files(rt: EngineRuntime, orch_id: str) -> None:
    """Wake the orchestration when tasks.md or the skills' state file changes."""
    root = Path(rt.holder.get(orch_id).project_path)
    while rt.holder.get(orch_id).status not in TERMINAL_STATUSES:
        await rt.project.changed(root)
        rt.wake(orch_id)


async def drive(rt: EngineRuntime, orch_id: str) -> None:
    """Decide until the orchestration ends, with its file watcher beside it (stopped with it)."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_files, rt, orch_id)
        await _decide_until_done(rt, orch_id)
        tg.cancel_scope.cancel()


async def _decide_until_done(rt: EngineRuntime, orch_id: str) -> None:
    try:
        while rt.holder.get(orch_id).status not in TERMINAL_STATUSES:
            await _step(rt, orch_id)
    except StorageError as exc:  # disk full, file too large: stop this one, keep the last good record
        log.error("orchestration %s stopped: %s", orch_id, exc.message)
        await _stop_visibly(rt, orch_id, AttentionKind.STORAGE, f"{exc.message}; free space, then recover retry")
    except Exception:  # a bug must stop this orchestration visibly, not the daemon
        log.exception("orchestration %s crashed", orch_id)
        reason = "internal error in the engine (see the daemon log)"
        await _stop_visibly(rt, orch_id, AttentionKind.UNKNOWN_STATE, reason)
    finally:
        rt.wakes.pop(orch_id, None)


async def _stop_visibly(rt: EngineRuntime, orch_id: str, kind: AttentionKind, reason: str) -> None:
    """needs_attention on disk when it can be written, else in memory only (the file keeps the last good
    record, which a restart resumes from); either way status and events show it."""
    before = rt.holder.get(orch_id)
    action = NeedsAttention(attention_kind=kind, reason=reason, options=[RecoveryOption.RETRY, RecoveryOption.ABORT])
    try:
        await rt.record(before, action)
    except StorageError:  # a decision is held in memory before it is written; tell followers
        rt.holder.announce_unsaved(before, rt.holder.get(orch_id), reason)


async def _step(rt: EngineRuntime, orch_id: str) -> None:
    async with rt.turns, rt.lock(orch_id):  # the turn first: a waiting step never holds the lock
        outcome = await _decide_and_act(rt, orch_id)
    if isinstance(outcome, _Consult):
        # the helper may think for a while: without the lock, so pause/cancel/answers stay responsive
        advice = rt.advice.get(orch_id)
        if advice is None or advice[0] != outcome.key:
            advice = (outcome.key, await rt.adviser.advise(outcome.record, outcome.action, outcome.run))
            rt.advice[orch_id] = advice
        async with rt.turns, rt.lock(orch_id):
            outcome = await _act_on_advice(rt, orch_id, outcome, advice[1])
    if outcome is not None:
        await _sleep(rt, orch_id, until=None if outcome is FOREVER else outcome)


async def _decide_and_act(rt: EngineRuntime, orch_id: str) -> datetime | _Consult | None:
    """One decision under the lock; returns when to sleep until (``FOREVER`` = until woken), None to
    decide again at once, or the decision to ask the Claude Helper about first."""
    record = rt.holder.get(orch_id)
    if record.status in TERMINAL_STATUSES:
        return None
    project = (await rt.project.read(Path(record.project_path))).evidence
    run = None
    if record.current_run_id:
        run = rt.runs.evidence(record.current_run_id)
        if run.final and run.status == RunStatus.NOT_STARTED:
            await _not_started(rt, record, run)
            return None  # decide again on the record that gave the attempt back
        observed = transitions.observe_run(record, run, rt.now())
        if observed is not record:
            record = await rt.holder.commit(record, observed, Saved())
    observation = observe_project(record, project, rt.now())
    if observation.record is not record:
        record = await rt.holder.commit(record, observation.record, Observed(observation))
    action = decide(record, project, run, rt.now())
    if needs_advice(action, run):
        key = f"{run.run_id if run else '-'}>{getattr(action, 'run_id', '-')}"
        return _Consult(record=record, action=action, run=run, project=project, key=key)
    return await carry_out(rt, record, action, project)


async def _not_started(rt: EngineRuntime, record: OrchestrationRecord, run: RunEvidence) -> None:
    """The current run's agent never started (the daemon stopped before the exec): nothing ran, nothing
    is judged. A first invocation gives its attempt back; a continuation (answers, rate limit) starts its
    unit of work afresh like any session that could not be continued."""
    run_id = run.run_id
    if run.continuations:
        await rt.change_locked(
            record.id,
            lambda r: transitions.resume_failed(r, run_id, rt.now()),
            "resume_failed",
            f"the continuation of run {run_id} never started; starting its work afresh",
        )
        return
    await rt.change_locked(
        record.id,
        lambda r: transitions.run_not_started(r, run_id, rt.now()),
        "not_started",
        f"run {run_id} never started (specflowd stopped before its agent was started); its attempt is given back",
    )


async def _act_on_advice(rt: EngineRuntime, orch_id: str, asked: _Consult, advice: Advice) -> datetime | None:
    """Back under the lock: note the helper's spend and verdict, then act on it unless the record moved
    on meanwhile (a pause, a cancel): then decide again (the advice is kept for the same decision)."""
    record = rt.holder.get(orch_id)
    if changed(record, asked.record):
        return None
    rt.advice.pop(orch_id, None)
    noted = transitions.note_helper_cost(record, advice.cost_usd, rt.now()) if advice.cost_usd else record
    record = await rt.holder.commit(record, noted, Advised(advice))
    return await carry_out(rt, record, advice.action, asked.project)
