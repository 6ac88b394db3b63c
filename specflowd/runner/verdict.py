"""How a run ended, decided from what it printed and how it stopped. Pure; table-tested.

Order of evidence: what the daemon itself did (cancel, budget stop, stale stop) wins; then the result
line; then the absence of one (died mid-stream, or found dead after a daemon restart = interrupted).
A success result without structured output counts as completed: the CLI validated nothing, but the run
reported success and the engine still confirms against tasks.md / the state file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from specflowd.runner.streamjson import RunProgress

__all__ = ["FINAL_STATUSES", "RunStatus", "Verdict", "judge"]


class RunStatus(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    WAITING_INPUT = "waiting_input"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STALE = "stale"
    INTERRUPTED = "interrupted"
    BUDGET_EXCEEDED = "budget_exceeded"
    RATE_LIMITED = "rate_limited"


FINAL_STATUSES = frozenset(
    {
        RunStatus.COMPLETED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.STALE,
        RunStatus.INTERRUPTED,
        RunStatus.BUDGET_EXCEEDED,
        RunStatus.RATE_LIMITED,
    }
)

_RATE = re.compile(r"rate[ _-]?limit|too many requests|overloaded|\b429\b|\b529\b", re.I)
_RESET = re.compile(
    r"(?:reset|retry)s?\s*(?:at|after|in)?\s*[:=]?\s*([0-9T:\-+.Z ]{5,40}|\d+\s*(?:s|sec|seconds|m|min))", re.I
)


@dataclass
class Verdict:
    status: RunStatus
    error: str | None = None
    questions: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None
    rate_limit_reset: str | None = None


def _error_text(result: dict[str, Any]) -> str:
    errors = result.get("errors")
    parts = [str(e) for e in errors] if isinstance(errors, list) else []
    if not parts and result.get("result"):
        parts.append(str(result["result"]))
    return "; ".join(parts)[:2000] or f"run ended with {result.get('subtype', 'an error')}"


def _rate_limited(progress: RunProgress, text: str) -> bool:
    """Called only for runs that did not succeed: a 429/529 seen anywhere, or a rate-limit message."""
    if progress.result and progress.result.get("api_error_status") in (429, 529):
        return True
    if any(e.get("status") in (429, 529) for e in progress.api_errors):
        return True
    return bool(_RATE.search(text))


def _reset_time(progress: RunProgress, text: str) -> str | None:
    for source in [text, *(e.get("error", "") for e in progress.api_errors)]:
        match = _RESET.search(str(source))
        if match:
            return match.group(1).strip()
    return None


def judge(
    progress: RunProgress,
    *,
    exit_code: int | None,
    cancelled: bool = False,
    budget_stopped: bool = False,
    stale_stopped: bool = False,
    after_restart: bool = False,
    stderr_tail: str = "",
) -> Verdict:
    if cancelled:
        return Verdict(RunStatus.CANCELLED, "cancelled by the user")
    if budget_stopped:
        return Verdict(
            RunStatus.BUDGET_EXCEEDED, f"stopped by specflowd: live cost ${progress.cost_usd:.4f} crossed the cap"
        )
    if stale_stopped:
        return Verdict(RunStatus.STALE, "no output for the stale_after period; stopped")
    result = progress.result
    if result is not None:
        subtype = result.get("subtype")
        if subtype == "error_max_budget_usd":
            return Verdict(RunStatus.BUDGET_EXCEEDED, _error_text(result))
        if result.get("is_error") or subtype != "success":
            text = _error_text(result)
            if _rate_limited(progress, text):
                return Verdict(RunStatus.RATE_LIMITED, text, rate_limit_reset=_reset_time(progress, text))
            return Verdict(RunStatus.FAILED, text)
        structured = result.get("structured_output")
        if isinstance(structured, dict):
            status = structured.get("status")
            message = structured.get("message")
            if status == "needs_input":
                questions = [q for q in structured.get("questions") or [] if isinstance(q, dict) and q.get("question")]
                if questions:
                    return Verdict(RunStatus.WAITING_INPUT, questions=questions, message=message)
                return Verdict(RunStatus.FAILED, "the agent asked for input but sent no questions", message=message)
            if status == "error":
                return Verdict(RunStatus.FAILED, str(message or "the agent reported an error")[:2000], message=message)
            return Verdict(RunStatus.COMPLETED, message=message)
        return Verdict(RunStatus.COMPLETED, message=str(result.get("result") or "")[:2000] or None)
    text = stderr_tail[-2000:]
    if progress.api_errors and _rate_limited(progress, text + " ".join(str(e) for e in progress.api_errors)):
        return Verdict(
            RunStatus.RATE_LIMITED, "rate limited (API retries exhausted)", rate_limit_reset=_reset_time(progress, text)
        )
    if after_restart:
        return Verdict(RunStatus.INTERRUPTED, "the process ended while specflowd was down, without a result")
    if exit_code is not None and exit_code != 0:
        return Verdict(
            RunStatus.FAILED,
            f"exited with code {exit_code} without a result" + (f": {text.strip()[-500:]}" if text.strip() else ""),
        )
    return Verdict(RunStatus.FAILED, "the process died mid-stream without a result")
