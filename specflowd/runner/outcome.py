"""How a finished invocation ends, decided in one pure function (table-tested).

Order of precedence:
1. the daemon stopped the process itself (cancel / live budget / stale / looping) — its reason wins; a
   looping stop names the repeated call(s) in its error;
2. a ``result`` line decides: ``error_max_budget_usd`` → budget_exceeded; an error result that names a rate
   limit (API status 429/529, "rate limit"/"usage limit"/"overloaded" text, or retries that were rate
   limits) → rate_limited; any other error → failed; success → by ``structured_output.status``
   (completed / needs_input with questions → waiting_input / error → failed). A success result with no
   structured_output at all counts as completed: the CLI validates the schema when one was given, so this
   only happens for schema-less runs, and the engine confirms completion by evidence (tasks.md, artifacts)
   anyway (confirm twice: docs/architecture.md#principles);
3. no result line: found dead after a daemon restart → interrupted; rate-limit retries were the last thing
   seen → rate_limited; otherwise failed (non-zero exit or died mid-stream).

Before all of these: a run whose invocation never started (a restart found no trace of a process: no
process.pid, no holder of its lock, no output) is not_started — nothing ran, so nothing can be judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specflowd.runner.records import StopReason
from specflowd.runner.stream import RATE_LIMIT_STATUSES, ResultInfo, find_rate_limit_reset, looks_rate_limited
from specflowd.vocabulary import Question, ResultStatus, RunStatus, ToolLoop

__all__ = ["Outcome", "OutcomeInputs", "decide_outcome"]

_STOPPED = {
    StopReason.CANCELLED: (RunStatus.CANCELLED, "cancelled by request"),
    StopReason.BUDGET: (RunStatus.BUDGET_EXCEEDED, "stopped by the daemon: live cost crossed the run's cap"),
    StopReason.STALE: (RunStatus.STALE, "stopped by the daemon: no output for the stale limit"),
    StopReason.LOOPING: (RunStatus.LOOPING, "stopped by the daemon: the agent repeated the same tool calls"),
}


@dataclass(frozen=True)
class OutcomeInputs:
    result: ResultInfo | None
    exit_code: int | None = None  # None: unknown (not our child, or found dead after a restart)
    stop_reason: StopReason | None = None
    found_dead_after_restart: bool = False
    never_started: bool = False
    rate_limit_seen: bool = False
    last_retry_error: str | None = None
    loop: ToolLoop | None = None  # what repeated, when the daemon stopped the run for looping


@dataclass(frozen=True)
class Outcome:
    status: RunStatus
    detail: str
    error: str | None = None
    questions: list[Question] = field(default_factory=list)
    rate_limit_reset: str | None = None


def _error_text(result: ResultInfo) -> str:
    return "; ".join(e for e in result.errors if e) or result.text or result.subtype


def decide_outcome(inputs: OutcomeInputs) -> Outcome:
    if inputs.never_started:
        return Outcome(RunStatus.NOT_STARTED, "the daemon stopped before the agent was started; nothing ran")
    if inputs.stop_reason is not None:
        status, detail = _STOPPED[inputs.stop_reason]
        if status == RunStatus.CANCELLED:
            return Outcome(status, detail)
        if status == RunStatus.LOOPING and inputs.loop is not None:
            return Outcome(status, detail, error=f"{detail}: it {inputs.loop.describe()}")
        return Outcome(status, detail, error=detail)
    result = inputs.result
    if result is not None:
        return _from_result(result, inputs)
    if inputs.found_dead_after_restart:
        return Outcome(RunStatus.INTERRUPTED, "process gone after a daemon restart, no result line")
    if inputs.rate_limit_seen:
        text = inputs.last_retry_error or "rate limited"
        return Outcome(
            RunStatus.RATE_LIMITED,
            "API rate limit, no result",
            error=text,
            rate_limit_reset=find_rate_limit_reset(text),
        )
    if inputs.exit_code is not None and inputs.exit_code != 0:
        detail = f"exited with code {inputs.exit_code} without a result"
    else:
        detail = "process ended mid-stream without a result"
    return Outcome(RunStatus.FAILED, detail, error=detail)


def _from_result(result: ResultInfo, inputs: OutcomeInputs) -> Outcome:
    if result.subtype == "error_max_budget_usd":
        return Outcome(RunStatus.BUDGET_EXCEEDED, "the CLI stopped at --max-budget-usd", error=_error_text(result))
    if result.is_error or result.subtype != "success":
        text = _error_text(result)
        if result.api_error_status in RATE_LIMIT_STATUSES or looks_rate_limited(text) or inputs.rate_limit_seen:
            reset = find_rate_limit_reset(text) or find_rate_limit_reset(inputs.last_retry_error or "")
            return Outcome(RunStatus.RATE_LIMITED, "API rate limit", error=text, rate_limit_reset=reset)
        return Outcome(RunStatus.FAILED, f"error result ({result.subtype})", error=text)
    structured = result.structured_output
    if structured is None:
        return Outcome(RunStatus.COMPLETED, "success result without structured output")
    status = structured.get("status")
    message = structured.get("message") if isinstance(structured.get("message"), str) else ""
    if status == ResultStatus.COMPLETED:
        return Outcome(RunStatus.COMPLETED, message or "completed")
    if status == ResultStatus.NEEDS_INPUT:
        questions = _questions(structured.get("questions"))
        if questions:
            return Outcome(RunStatus.WAITING_INPUT, message or "needs input", questions=questions)
        return Outcome(RunStatus.FAILED, "needs_input without questions", error=message or "needs_input, no questions")
    if status == ResultStatus.ERROR:
        return Outcome(RunStatus.FAILED, "the agent reported an error", error=message or "error")
    return Outcome(RunStatus.FAILED, f"unknown structured status {status!r}", error=message or str(structured))


def _questions(raw: object) -> list[Question]:
    out: list[Question] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("question"), str):
            try:
                out.append(Question.model_validate(item))
            except ValueError:
                continue
    return out
