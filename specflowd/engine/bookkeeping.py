"""Step bookkeeping in the skills' state file, exactly as ``/flow.orchestrate`` does it.

Before a run of analyze (index 1), implement (2: every batch and heal) and verify (3) the engine sets
``orchestration.step.current / index / status=in_progress`` in one write, so ``specflow status`` shows the
step that is running and the skill's own ``step.status=complete|blocked|failed`` lands on its step. Design
runs on what ``phase open`` left (design/0/not_started: the skill sets its own status); design/0/in_progress
is written only where the step is empty. Merge gets no write, ever: ``/flow.merge`` reads the step and
refuses unless it still says verify/complete (what a passed verify left). It never writes ``complete``
(that is the skill's half of the dual confirmation).

Idempotent by construction: the same three values for the same spawn. A crash between this write and the
spawn's record repeats it on restart (the same decision, the same run id); a retry, a heal or a new attempt
writes again (a skill may have left ``failed`` or ``blocked``). Continuing a session (answers, a rate limit,
a stale stop) and re-adopting a live run after a restart write nothing: the skill's run goes on and its own
writes stand. A write that fails stops the orchestration (``needs_attention`` kind ``state_write``, with the
command's output) before the spawn is recorded: no run, no attempt used, never a guess.

Pure: the write itself is the ``SkillStateWriter`` port's (engine/adapters.py → files/skill_state.py).
"""

from __future__ import annotations

from typing import Any

from specflowd.domain.actions import Heal, NeedsAttention, SpawnBatch, SpawnStep
from specflowd.domain.config import STEP_ORDER, Step
from specflowd.domain.evidence import SkillStep
from specflowd.domain.record import AttentionKind, RecoveryOption
from specflowd.engine.ports import StateWrite

__all__ = ["running_step", "running_step_values", "state_write_stop", "writes_running_step"]


def running_step(action: SpawnStep | SpawnBatch | Heal) -> Step:
    """The step a run of ``action`` works on: its own, or implement for every batch and heal."""
    return action.step if isinstance(action, SpawnStep) else Step.IMPLEMENT


def writes_running_step(step: Step, current: SkillStep | None) -> bool:
    """Whether the running step is written before a run of ``step``, given the state file's step now."""
    if step == Step.MERGE:
        return False
    if step == Step.DESIGN:
        return current is None or not current.current
    return True


def running_step_values(step: Step) -> dict[str, Any]:
    """The keys written before a run of ``step``."""
    return {
        "orchestration.step.current": step.value,
        "orchestration.step.index": STEP_ORDER.index(step),
        "orchestration.step.status": "in_progress",
    }


def state_write_stop(step: Step, action: SpawnStep | SpawnBatch | Heal, result: StateWrite) -> NeedsAttention | None:
    """The stop to record when writing the running step of ``action`` failed (None when it worked)."""
    if result.ok:
        return None
    return NeedsAttention(
        attention_kind=AttentionKind.STATE_WRITE,
        reason=f"cannot record the running step ({step.value}) in the state file: {result.output}",
        step=step,
        batch_index=None if isinstance(action, SpawnStep) else action.batch_index,
        options=[RecoveryOption.RETRY, RecoveryOption.ABORT],
        context={"command": result.via, "output": result.output},
    )
