"""Carrying out decide()'s action: one ``match`` over the domain's ``Action`` union, a case for every action.

A new action in domain/actions.py makes ``mypy --strict`` fail here (``assert_never``) until it is placed:

- a spawn (step, batch, heal) asks the run port for a slot, writes the running step into the skills' state
  file, is recorded, and only then starts its run (engine/spawn.py): a restart after the record repeats the
  same run id, which the runner refuses to start twice;
- a continuation (``ResumeRun``) is admitted, recorded, then continues the run's session;
- a wait is applied and logged only when it changes the record (a wait already in force is not logged again
  on every wake-up); the loop then sleeps until woken, or until a rate limit's reset;
- a transition (finish a batch, advance, replan) is recorded and the loop decides again at once.

Every record written goes through the record holder (engine/record_holder.py).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import assert_never

from specflowd.domain import transitions
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
from specflowd.domain.config import Step
from specflowd.domain.evidence import ProjectEvidence
from specflowd.domain.merge_ready import gate_stop
from specflowd.domain.record import OrchestrationRecord
from specflowd.engine.bookkeeping import running_step, state_write_stop, writes_running_step
from specflowd.engine.runtime import FOREVER, EngineRuntime, changed
from specflowd.engine.spawn import admit, resume_run, start_run
from specflowd.faults import fault

__all__ = ["carry_out"]


async def carry_out(
    rt: EngineRuntime, record: OrchestrationRecord, action: Action, project: ProjectEvidence
) -> datetime | None:
    """Carry out ``action`` decided on ``record``; returns when to sleep until (``FOREVER``: until woken), or
    None to decide again at once."""
    match action:
        case SpawnStep() | SpawnBatch() | Heal():
            rt.withdraw(record.id, keep=action.run_id)
            return await _spawn(rt, record, action, project)
        case ResumeRun():
            rt.withdraw(record.id, keep=action.run_id)
            if await admit(rt, record, action):
                after = await rt.record(record, action)
                await resume_run(rt, after, action)
            return FOREVER
        case WaitRateLimit():
            rt.withdraw(record.id)
            await _wait(rt, record, action)
            return action.until
        case (
            Wait()
            | WaitForAnswers()
            | WaitForMerge()
            | WaitForUserGate()
            | Pause()
            | NeedsAttention()
            | Complete()
            | Fail()
        ):
            rt.withdraw(record.id)
            await _wait(rt, record, action)
            return FOREVER
        case FinishBatch() | Advance() | Replan():
            rt.withdraw(record.id)
            await rt.record(record, action)
            return None
        case _:
            assert_never(action)


async def _wait(rt: EngineRuntime, record: OrchestrationRecord, action: Action) -> None:
    """Apply a waiting action; logged only when it changes the record (not again on every wake-up)."""
    after = transitions.apply(record, action, rt.now())
    if changed(record, after):
        await rt.record(record, action, after)


async def _spawn(
    rt: EngineRuntime, record: OrchestrationRecord, action: SpawnStep | SpawnBatch | Heal, project: ProjectEvidence
) -> datetime:
    root = Path(record.project_path)
    if isinstance(action, SpawnStep) and action.step == Step.MERGE:
        # /flow.merge refuses without a passed implement gate: where the SpecFlow CLI is installed its
        # verdict is asked (decide() judged by the task states) before a slot is taken
        stop = gate_stop(await rt.skill_state.implement_gate(root))
        if stop is not None:
            await rt.record(record, stop)
            return FOREVER
    # a run starts only once the run port admits it; nothing is recorded before (the same decision names the
    # same run id, so deciding again after a wake-up or a restart asks for the same run)
    if not await admit(rt, record, action):
        return FOREVER
    if writes_running_step(step := running_step(action), project.skill_step):
        # the state file shows the step before its run starts; a failed write stops before the spawn
        written = await rt.skill_state.mark_running(root, step)
        stop = state_write_stop(step, action, written)
        if stop is not None:
            rt.runs.withdraw(action.run_id)  # its slot goes back: nothing starts
            await rt.record(record, stop)
            return FOREVER
    after = await rt.record(record, action)
    fault("after_spawn_decision")
    await start_run(rt, after, action)
    return FOREVER
