"""What a helper call returns: a typed value or a typed failure. Failures are values, not exceptions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel

__all__ = ["FailureKind", "HelperFailure", "HelperResult"]

T = TypeVar("T", bound=BaseModel)


class FailureKind(StrEnum):
    SCHEMA_VALIDATION_FAILED = "schema_validation_failed"
    BUDGET_EXCEEDED = "budget_exceeded"
    TIMEOUT = "timeout"
    API_ERROR = "api_error"
    INVALID_SESSION = "invalid_session"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class HelperResult(Generic[T]):
    value: T
    session_id: str
    cost_usd: float
    turns: int
    duration_s: float
    model_used: str


@dataclass(frozen=True)
class HelperFailure:
    kind: FailureKind
    message: str
    cost_usd: float = 0.0
    session_id: str | None = None
    turns: int = 0
    duration_s: float = 0.0
    model_used: str | None = None
