"""The Claude adviser's verdicts on a failed step or a stale run, turned into decide()'s vocabulary (pure).

decide() alone is deterministic: it retries a failed step while attempts remain and restarts (or heals) a
stale run. When the helper is available the engine asks it first; these functions map its verdict onto an
action. The attempt limits stay decide()'s: a verdict can only make the engine *less* persistent (stop for
the user, skip analyze) or continue a stale session once instead of starting it over — never add attempts.
"""

from __future__ import annotations

from specflowd.domain.actions import Action, Advance, Heal, NeedsAttention, ResumeRun, SpawnBatch, SpawnStep
from specflowd.domain.config import Step
from specflowd.domain.record import AttentionKind, RecoveryOption

__all__ = ["MAX_STALE_CONTINUATIONS", "review_failed_step", "review_stale_run"]

# A stale session is continued at most this often; after that it is started over (or healed) as decided.
MAX_STALE_CONTINUATIONS = 1
_ALL_OPTIONS = [RecoveryOption.RETRY, RecoveryOption.SKIP, RecoveryOption.ABORT]


def review_failed_step(action: SpawnStep, verdict: str, reason: str) -> Action:
    """``action`` is decide()'s retry of a failed step; ``verdict`` is retry | skip | abort | needs_attention.

    Only analyze may be skipped on the helper's word (nothing later needs its output); skipping design,
    verify or merge, like abort, is the user's call."""
    if verdict == "retry":
        return action
    if verdict == "skip" and action.step == Step.ANALYZE:
        return Advance(
            reason=f"the helper advised skipping analyze: {reason}",
            from_step=Step.ANALYZE,
            to_step=Step.IMPLEMENT,
            skipped=True,
        )
    return NeedsAttention(
        attention_kind=AttentionKind.STEP_FAILED,
        reason=f"{action.step.value} failed and the helper advised {verdict}: {reason}",
        step=action.step,
        context={"last_error": action.last_error, "helper_verdict": verdict, "attempts": action.attempt - 1},
        options=list(_ALL_OPTIONS),
    )


def review_stale_run(
    action: SpawnStep | SpawnBatch | Heal, run_id: str, continuations: int, verdict: str, reason: str
) -> Action:
    """``action`` is decide()'s answer to a run that went stale (a new run or a heal); ``verdict`` is
    continue | restart | abort | needs_attention."""
    if verdict == "continue" and continuations < MAX_STALE_CONTINUATIONS:
        return ResumeRun(
            reason=f"the helper advised continuing the stale session: {reason}", run_id=run_id, cause="stale"
        )
    if verdict in ("restart", "continue"):
        return action
    step = action.step if isinstance(action, SpawnStep) else Step.IMPLEMENT
    batch_index = None if isinstance(action, SpawnStep) else action.batch_index
    return NeedsAttention(
        attention_kind=AttentionKind.STALE_RUN,
        reason=f"run {run_id} went stale and the helper advised {verdict}: {reason}",
        step=step,
        batch_index=batch_index,
        context={"run_id": run_id, "helper_verdict": verdict},
        options=list(_ALL_OPTIONS),
    )
