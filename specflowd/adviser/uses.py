"""Where a model's judgement helps: healing diagnosis, stale runs, failed non-batch steps.

Each use returns a decision that says which path produced it (``source``: helper | fallback) and why, for
the engine's decision log. Without a usable helper (no key, over budget, API down, bad answer) each falls
back to a deterministic rule. Attempt limits stay the state model's: a helper suggestion to restart or retry
beyond them becomes ``needs_attention``.
"""

from __future__ import annotations

from typing import Literal, Protocol, TypeVar, cast

from pydantic import BaseModel, Field

from specflowd.adviser.results import HelperFailure
from specflowd.adviser.runtime import Helper

__all__ = [
    "Diagnosis",
    "HealDecision",
    "StaleAnswer",
    "StaleDecision",
    "StepAnswer",
    "StepDecision",
    "decide_failed_step",
    "decide_stale_run",
    "diagnose_failure",
    "fallback_failed_step",
    "fallback_stale",
]

Source = Literal["helper", "fallback"]
_MAX_CONTEXT_CHARS = 20_000  # the tail of a long log carries the failure; the rest only costs money


def _tail(context: str) -> str:
    if len(context) <= _MAX_CONTEXT_CHARS:
        return context
    return "[…earlier output cut…]\n" + context[-_MAX_CONTEXT_CHARS:]


def _why_fallback(helper: Helper | None, failure: HelperFailure | None) -> str:
    if helper is None:
        return "no helper configured"
    if failure is None:
        return "helper unavailable: no ANTHROPIC_API_KEY"
    return f"helper {failure.kind.value}: {failure.message}"


# --- (a) healing diagnosis ---------------------------------------------------------------------------------


class Diagnosis(BaseModel):
    cause: Literal["missing_file", "syntax_error", "test_failure", "dependency", "environment", "unknown"]
    summary: str = Field(description="One or two sentences: what went wrong")
    suggested_fix: str = Field(description="What the healing run should change")
    files: list[str] = Field(default_factory=list, description="Project-relative paths involved")


class HealDecision(BaseModel):
    source: Source
    reason: str
    diagnosis: Diagnosis | None = Field(description="None = heal with the raw failure context")
    cost_usd: float = 0.0


async def diagnose_failure(helper: Helper | None, *, context: str) -> HealDecision:
    """Diagnose a failed batch for the healing prompt; fallback: heal with the raw context."""
    failure: HelperFailure | None = None
    if helper is not None and helper.available:
        outcome = await helper.ask(
            "A batch of an implementation run failed. Diagnose the cause from the output below; inspect the "
            f"project files if that helps.\n\n<failure>\n{_tail(context)}\n</failure>",
            Diagnosis,
        )
        if not isinstance(outcome, HelperFailure):
            return HealDecision(
                source="helper",
                reason=f"diagnosed: {outcome.value.cause}",
                diagnosis=outcome.value,
                cost_usd=outcome.cost_usd,
            )
        failure = outcome
    return HealDecision(
        source="fallback",
        reason=f"{_why_fallback(helper, failure)}; healing with the raw failure context",
        diagnosis=None,
        cost_usd=failure.cost_usd if failure else 0.0,
    )


# --- (b) stale run -----------------------------------------------------------------------------------------


class StaleAnswer(BaseModel):
    action: Literal["continue", "restart", "abort"]
    reason: str


class StaleDecision(BaseModel):
    source: Source
    action: Literal["continue", "restart", "abort", "needs_attention"]
    reason: str
    cost_usd: float = 0.0


def fallback_stale(restarts_done: int, max_restarts: int = 1) -> StaleDecision:
    """Deterministic rule: restart once, then ask the user."""
    if restarts_done < max_restarts:
        return StaleDecision(source="fallback", action="restart", reason=f"restart {restarts_done + 1}/{max_restarts}")
    return StaleDecision(
        source="fallback", action="needs_attention", reason=f"still stale after {restarts_done} restart(s)"
    )


async def decide_stale_run(
    helper: Helper | None, *, context: str, restarts_done: int, max_restarts: int = 1
) -> StaleDecision:
    """A run produced no output for ``stale_after``: continue waiting, restart it, or abort."""
    prompt = (
        "An agent run has produced no output for a long time. From its last output below, decide whether to "
        f"keep waiting (continue), restart it, or abort it.\n\n<last_output>\n{_tail(context)}\n</last_output>"
    )
    over = f"{restarts_done} restart(s) already done" if restarts_done >= max_restarts else None
    return await _judge(
        helper, prompt, StaleAnswer, StaleDecision, "restart", over, fallback_stale(restarts_done, max_restarts)
    )


# --- (c) failed non-batch step -----------------------------------------------------------------------------


class StepAnswer(BaseModel):
    action: Literal["retry", "skip", "abort"]
    reason: str


class StepDecision(BaseModel):
    source: Source
    action: Literal["retry", "skip", "abort", "needs_attention"]
    reason: str
    cost_usd: float = 0.0


def fallback_failed_step(attempts: int, max_attempts: int) -> StepDecision:
    """Deterministic rule: retry while attempts remain, then ask the user."""
    if attempts < max_attempts:
        return StepDecision(source="fallback", action="retry", reason=f"attempt {attempts + 1}/{max_attempts}")
    return StepDecision(
        source="fallback", action="needs_attention", reason=f"failed {attempts}/{max_attempts} attempts"
    )


async def decide_failed_step(
    helper: Helper | None, *, step: str, context: str, attempts: int, max_attempts: int
) -> StepDecision:
    """A non-batch step (design, analyze, verify, merge) failed: retry it, skip it, or abort."""
    prompt = (
        f"The '{step}' step of an orchestration failed (attempt {attempts} of {max_attempts}). From its "
        "output below, decide: retry it, skip it (only if later steps do not need it), or abort.\n\n"
        f"<output>\n{_tail(context)}\n</output>"
    )
    over = f"{attempts}/{max_attempts} attempts are used" if attempts >= max_attempts else None
    return await _judge(
        helper, prompt, StepAnswer, StepDecision, "retry", over, fallback_failed_step(attempts, max_attempts)
    )


class _Answer(Protocol):
    action: str
    reason: str


A = TypeVar("A", bound=BaseModel)
D = TypeVar("D", StaleDecision, StepDecision)


async def _judge(
    helper: Helper | None,
    prompt: str,
    answer_type: type[A],
    decision_type: type[D],
    repeat_action: str,
    limit_reached: str | None,
    fallback: D,
) -> D:
    """Ask; a verdict that would repeat past the state model's limit becomes needs_attention; without a
    usable helper, the deterministic ``fallback`` with the reason it was used."""
    failure: HelperFailure | None = None
    if helper is not None and helper.available:
        outcome = await helper.ask(prompt, answer_type)
        if not isinstance(outcome, HelperFailure):
            answer = cast(_Answer, outcome.value)
            if answer.action == repeat_action and limit_reached is not None:
                return decision_type(
                    source="helper",
                    action="needs_attention",
                    cost_usd=outcome.cost_usd,
                    reason=f"helper said {repeat_action} ({answer.reason}) but {limit_reached}",
                )
            return decision_type(source="helper", action=answer.action, reason=answer.reason, cost_usd=outcome.cost_usd)
        failure = outcome
    return fallback.model_copy(
        update={
            "reason": f"{_why_fallback(helper, failure)}; {fallback.reason}",
            "cost_usd": failure.cost_usd if failure else 0.0,
        }
    )
