"""Asking the Claude Helper about a decision before the engine carries it out (uses a, b and c).

decide() is deterministic; three of its answers can be improved by a model's judgement: a heal (diagnose the
failure for the heal prompt), the restart of a stale run (continue it instead, or stop for the user) and
the retry of a failed step (skip analyze, or stop for the user). ``advise`` makes that call and returns the
action to carry out plus what to log. Without a key or money it returns decide()'s own action, labelled
``fallback``. The engine calls it *outside* the orchestration's lock, so pause and cancel stay responsive
while the helper thinks. This is the real ``Adviser`` port (engine/ports.py); which decisions are worth
asking about is the engine's (``needs_advice`` in engine/loop.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from specflowd.domain.actions import Action, Heal, SpawnBatch, SpawnStep
from specflowd.domain.evidence import RunEvidence
from specflowd.domain.record import OrchestrationRecord
from specflowd.domain.review import review_failed_step, review_stale_run
from specflowd.engine.ports import Advice
from specflowd.vocabulary import RunStatus

if TYPE_CHECKING:
    from specflowd.adviser.runtime import Helper

__all__ = ["HelperAdviser", "advise"]

_STDERR_LIMIT = 2000


def _helper(record: OrchestrationRecord) -> Helper | None:
    """One call's helper, capped by budget.helper_call and by what the orchestration has left; None without
    a key or money (the uses then take their deterministic fallback)."""
    from specflowd.adviser.config import HelperConfig
    from specflowd.adviser.ledger import HelperLedger
    from specflowd.adviser.runtime import Helper

    config = HelperConfig.from_env(os.environ, call_budget_usd=record.config.budget.helper_call)
    remaining = record.config.budget.total - record.totals.spent_usd
    if not config.available or remaining <= 0:
        return None
    return Helper(config, Path(record.project_path), ledger=HelperLedger(remaining))


def _failure_text(run: RunEvidence) -> str:
    return "\n".join(
        [f"run status: {run.status.value}", f"error: {run.error or '-'}", "stderr tail:",
         run.stderr_tail[-_STDERR_LIMIT:], "last messages:", *run.last_messages]
    )  # fmt: skip


async def advise(record: OrchestrationRecord, action: Action, run: RunEvidence | None) -> Advice:
    from specflowd.adviser.uses import decide_failed_step, decide_stale_run, diagnose_failure

    helper = _helper(record)
    if (
        run is not None
        and run.final
        and run.status == RunStatus.STALE
        and isinstance(action, SpawnStep | SpawnBatch | Heal)
    ):
        # a stale run's question is whether to continue it, not why it failed: no diagnosis then
        stale = await decide_stale_run(helper, context=_failure_text(run), restarts_done=0)
        reviewed = review_stale_run(action, run.run_id, run.continuations, stale.action, stale.reason)
        extra = {"verdict": stale.action, "run_id": run.run_id}
        return Advice(reviewed, "stale_review", stale.source, stale.reason, stale.cost_usd, extra)
    if isinstance(action, Heal):
        ctx = action.context
        context = "\n".join(
            [f"section: {action.name}", f"tasks still open: {', '.join(action.remaining_ids)}",
             f"error: {ctx.error or '-'}", "stderr tail:", ctx.stderr_tail, "last messages:", *ctx.last_messages]
        )  # fmt: skip
        heal = await diagnose_failure(helper, context=context)
        text = None
        if (d := heal.diagnosis) is not None:
            text = f"{d.cause}: {d.summary}\nSuggested fix: {d.suggested_fix}"
            text += f"\nFiles: {', '.join(d.files)}" if d.files else ""
        healed = action.model_copy(update={"context": ctx.model_copy(update={"diagnosis": text})})
        return Advice(healed, "heal_diagnosis", heal.source, heal.reason, heal.cost_usd)
    assert run is not None
    assert isinstance(action, SpawnStep)
    allowed = record.config.max_step_attempts + record.step_record(action.step).extra_attempts
    step = await decide_failed_step(
        helper,
        step=action.step.value,
        context=f"{action.last_error}\n{_failure_text(run)}",
        attempts=action.attempt - 1,
        max_attempts=allowed,
    )
    reviewed = review_failed_step(action, step.action, step.reason)
    extra = {"verdict": step.action, "step": action.step.value}
    return Advice(reviewed, "step_review", step.source, step.reason, step.cost_usd, extra)


class HelperAdviser:
    """The ``Adviser`` port: ``advise`` above."""

    async def advise(self, record: OrchestrationRecord, action: Action, run: RunEvidence | None) -> Advice:
        return await advise(record, action, run)
