"""Step bookkeeping in the skills' state file, as /flow.orchestrate and the SpecFlow dashboard did it.

Before every run it starts (design 0, analyze 1, implement 2 for every batch and heal, verify 3, merge 4) the
engine sets ``orchestration.step.current / index / status=in_progress`` in one write, so ``specflow status``
shows the step that is running and a skill's own ``step.status=complete|blocked|failed`` lands on its step.
It never writes ``complete`` (that is the skill's half of the dual confirmation).

Idempotent by construction: the same three values for the same spawn. A crash between this write and the
spawn's record repeats it on restart (the same decision, the same run id); a retry, a heal or a new attempt
writes again (a skill may have left ``failed`` or ``blocked``). Continuing a session (answers, a rate limit,
a stale stop) and re-adopting a live run after a restart write nothing: the skill's run goes on and its own
writes stand. A write that fails stops the orchestration (``needs_attention`` kind ``state_write``, with the
command's output) before the spawn is recorded: no run, no attempt used, never a guess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from specflowd.domain.actions import Heal, NeedsAttention, SpawnBatch, SpawnStep
from specflowd.domain.config import STEP_ORDER, Step
from specflowd.domain.models import AttentionKind, RecoveryOption
from specflowd.paths import user_config_path
from specflowd.settings import load_settings
from specflowd.store.skill_state import find_specflow_cli, set_state_values

__all__ = ["mark_running_step", "running_step_values"]


def running_step_values(step: Step) -> dict[str, Any]:
    """The keys written before a run of ``step`` (pure)."""
    return {
        "orchestration.step.current": step.value,
        "orchestration.step.index": STEP_ORDER.index(step),
        "orchestration.step.status": "in_progress",
    }


async def mark_running_step(project_root: Path, action: SpawnStep | SpawnBatch | Heal) -> NeedsAttention | None:
    """Record the step of the run ``action`` is about to start; the stop to record when that fails."""
    step = action.step if isinstance(action, SpawnStep) else Step.IMPLEMENT
    settings = await anyio.to_thread.run_sync(load_settings, user_config_path())
    cli = await anyio.to_thread.run_sync(find_specflow_cli, settings.specflow.cli)
    result = await set_state_values(project_root, running_step_values(step), cli)
    if result.ok:
        return None
    batch_index = None if isinstance(action, SpawnStep) else action.batch_index
    return NeedsAttention(
        attention_kind=AttentionKind.STATE_WRITE,
        reason=f"cannot record the running step ({step.value}) in the state file: {result.output}",
        step=step,
        batch_index=batch_index,
        options=[RecoveryOption.RETRY, RecoveryOption.ABORT],
        context={"command": result.via, "output": result.output},
    )
