"""How one failed API request is handled: retry the same model, fall back to the next, or give up. Pure."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ErrorAction", "backoff_delay", "classify_status", "parse_retry_after"]


class ErrorAction(StrEnum):
    RETRY = "retry"  # transient: same model again after a pause
    FALLBACK = "fallback"  # this model cannot serve us: try the next one
    FAIL = "fail"  # the request itself is wrong (or unauthorised): no model will do better


def classify_status(status: int | None) -> ErrorAction:
    """``None`` = no HTTP status (connection error)."""
    if status is None or status == 429 or status in (500, 502, 503, 504):
        return ErrorAction.RETRY
    if status in (403, 404, 529):
        return ErrorAction.FALLBACK
    return ErrorAction.FAIL


def parse_retry_after(headers: dict[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds, fractional accepted); dates ignored."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = lowered.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue
        if value >= 0:
            return value
    return None


def backoff_delay(attempt: int, *, retry_after: float | None, base_s: float, cap_s: float) -> float:
    """Pause before retry ``attempt`` (0-based): the server's retry-after if given, else exponential; capped."""
    delay = retry_after if retry_after is not None else base_s * (2**attempt)
    return min(max(0.0, delay), cap_s)
