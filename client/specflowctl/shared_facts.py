# GENERATED from the daemon's rpc.discover document (x-shared; specflowd/handlers/rpc.py): do not edit.
# Regenerate: python -m specflowd.clientgen
"""Steps, statuses, wait reasons, attention kinds and config defaults, as the daemon defines them."""

from __future__ import annotations

from typing import Final, Literal

STEPS: Final[tuple[str, ...]] = ("design", "analyze", "implement", "verify", "merge")
Steps = Literal["design", "analyze", "implement", "verify", "merge"]
ORCHESTRATION_STATUSES: Final[tuple[str, ...]] = (
    "running",
    "paused",
    "waiting_input",
    "waiting_merge",
    "waiting_user_gate",
    "waiting_rate_limit",
    "healing",
    "needs_attention",
    "completed",
    "failed",
    "cancelled",
)
OrchestrationStatuses = Literal[
    "running",
    "paused",
    "waiting_input",
    "waiting_merge",
    "waiting_user_gate",
    "waiting_rate_limit",
    "healing",
    "needs_attention",
    "completed",
    "failed",
    "cancelled",
]
TERMINAL_STATUSES: Final[tuple[str, ...]] = ("cancelled", "completed", "failed")
TerminalStatuses = Literal["cancelled", "completed", "failed"]
ATTENTION_KINDS: Final[tuple[str, ...]] = (
    "budget",
    "heal_exhausted",
    "batch_failed",
    "step_attempts",
    "no_tasks",
    "tasks_held",
    "tasks_reopened",
    "rate_limit",
    "run_cancelled",
    "phase_changed",
    "tasks_unparsed",
    "storage",
    "step_failed",
    "stale_run",
    "skill_verdict",
    "state_write",
    "agent_unavailable",
    "merge_blocked",
    "unknown_state",
)
AttentionKinds = Literal[
    "budget",
    "heal_exhausted",
    "batch_failed",
    "step_attempts",
    "no_tasks",
    "tasks_held",
    "tasks_reopened",
    "rate_limit",
    "run_cancelled",
    "phase_changed",
    "tasks_unparsed",
    "storage",
    "step_failed",
    "stale_run",
    "skill_verdict",
    "state_write",
    "agent_unavailable",
    "merge_blocked",
    "unknown_state",
]
RECOVERY_OPTIONS: Final[tuple[str, ...]] = ("retry", "skip", "abort")
RecoveryOptions = Literal["retry", "skip", "abort"]
RUN_STATUSES: Final[tuple[str, ...]] = (
    "starting",
    "running",
    "waiting_input",
    "completed",
    "failed",
    "budget_exceeded",
    "rate_limited",
    "stale",
    "looping",
    "cancelled",
    "interrupted",
    "not_started",
)
RunStatuses = Literal[
    "starting",
    "running",
    "waiting_input",
    "completed",
    "failed",
    "budget_exceeded",
    "rate_limited",
    "stale",
    "looping",
    "cancelled",
    "interrupted",
    "not_started",
]
FINAL_RUN_STATUSES: Final[tuple[str, ...]] = (
    "budget_exceeded",
    "cancelled",
    "completed",
    "failed",
    "interrupted",
    "looping",
    "not_started",
    "rate_limited",
    "stale",
)
FinalRunStatuses = Literal[
    "budget_exceeded",
    "cancelled",
    "completed",
    "failed",
    "interrupted",
    "looping",
    "not_started",
    "rate_limited",
    "stale",
]
WAIT_REASONS: Final[tuple[str, ...]] = ("slot", "paused", "rate_limit")
WaitReasons = Literal["slot", "paused", "rate_limit"]
CONFIG_DEFAULTS: Final[dict[str, bool | int | float | str | None]] = {
    "additional_context": "",
    "agent": None,
    "auto_heal": True,
    "auto_merge": False,
    "batch_size_fallback": 15,
    "budget.heal": 2.0,
    "budget.helper_call": 0.5,
    "budget.per_batch": 5.0,
    "budget.total": 50.0,
    "fallback_model": None,
    "group": None,
    "max_heal_attempts": 1,
    "max_step_attempts": 2,
    "pause_between_batches": False,
    "permission_mode": "acceptEdits",
    "priority": 0,
    "resume_after_rate_limit": True,
    "sandbox": True,
    "skip_analyze": False,
    "skip_design": False,
    "stale_after_s": 600.0,
}
