"""The orchestration's vocabulary: its steps in order and its statuses.

Every layer speaks them (the domain's record, the event catalogue, the metrics, the simulated agent) and
every client shows them: rpc.discover publishes them (``x-shared``) and ``python -m specflowd.clientgen``
writes them into the clients. This module imports only the standard library, so the simulated agent, which
starts once per agent run, can share the step list without paying for pydantic.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ORCHESTRATION_STATUSES", "STEPS", "STEP_ORDER", "TERMINAL_STATUSES", "OrchestrationStatus", "Step"]


class Step(StrEnum):
    """A step of the phase, in the order the orchestration runs them."""

    DESIGN = "design"
    ANALYZE = "analyze"
    IMPLEMENT = "implement"
    VERIFY = "verify"
    MERGE = "merge"


STEP_ORDER: tuple[Step, ...] = tuple(Step)
STEPS: tuple[str, ...] = tuple(step.value for step in Step)


class OrchestrationStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    WAITING_INPUT = "waiting_input"
    WAITING_MERGE = "waiting_merge"
    WAITING_USER_GATE = "waiting_user_gate"
    WAITING_RATE_LIMIT = "waiting_rate_limit"
    HEALING = "healing"
    NEEDS_ATTENTION = "needs_attention"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ORCHESTRATION_STATUSES: tuple[str, ...] = tuple(status.value for status in OrchestrationStatus)
TERMINAL_STATUSES = frozenset(
    {OrchestrationStatus.COMPLETED, OrchestrationStatus.FAILED, OrchestrationStatus.CANCELLED}
)
