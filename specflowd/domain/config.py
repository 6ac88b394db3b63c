"""Orchestration configuration: the defaults and bounds (docs/configuration.md#orchestrate).

One model serves the RPC params (``orchestrate.preview/start {config}``), the TOML defaults file and the
persisted record. Out-of-bounds values fail validation; the RPC layer turns that into ``invalid_config``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from specflowd.orchestration_vocabulary import STEP_ORDER, Step
from specflowd.vocabulary import PermissionMode

__all__ = ["STEP_ORDER", "Budget", "OrchestrationConfig", "Step", "budget_conflicts"]


_MAX_USD = 10_000.0


class Budget(BaseModel):
    """Spending caps in USD. ``per_batch`` caps one batch run; ``heal`` one healing run."""

    model_config = ConfigDict(extra="forbid")

    per_batch: float = Field(5.00, gt=0, le=_MAX_USD)
    total: float = Field(50.00, gt=0, le=_MAX_USD)
    heal: float = Field(2.00, gt=0, le=_MAX_USD)
    # the Claude adviser refuses a per-call budget over $100 (HelperConfig.call_budget_usd): refuse it here, at
    # orchestrate.start, instead of crashing the orchestration at its first helper call (found by the fuzz tier)
    helper_call: float = Field(0.50, gt=0, le=100.0)


def budget_conflicts(budget: Budget, prefix: str = "budget.") -> tuple[list[str], list[str]]:
    """Caps that contradict each other, each naming its pair: (refused, warned). A run's cap over the total
    can never be spent, so it is a mistake; a heal allowed more than the batch it heals may be meant."""
    refused, warned = [], []
    for key, what in (("per_batch", "a batch run"), ("heal", "a healing run")):
        cap = getattr(budget, key)
        if cap > budget.total:
            refused.append(
                f"{prefix}{key} (${cap:.2f}) is more than {prefix}total (${budget.total:.2f}): "
                f"{what} could never spend its cap; lower {prefix}{key} or raise {prefix}total"
            )
    if budget.per_batch < budget.heal <= budget.total:
        warned.append(
            f"{prefix}heal (${budget.heal:.2f}) is more than {prefix}per_batch (${budget.per_batch:.2f}): "
            "a healing run may cost more than the batch it heals"
        )
    return refused, warned


class OrchestrationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_merge: bool = False
    skip_design: bool = False
    skip_analyze: bool = False
    additional_context: str = Field("", max_length=20_000, description="Appended to every step's prompt")
    auto_heal: bool = True
    max_heal_attempts: int = Field(1, ge=0, le=5)
    batch_size_fallback: int = Field(15, ge=1, le=50)
    pause_between_batches: bool = False
    budget: Budget = Field(default_factory=Budget)
    models: dict[Step, str] = Field(default_factory=dict, description="Model per step; unset = CLI default")
    fallback_model: str | None = None
    stale_after_s: float = Field(600.0, ge=5.0, le=86_400.0, description="No output this long = stale run")
    max_step_attempts: int = Field(2, ge=1, le=10)
    # acceptEdits confines the Write/Edit tools to the project; bypassPermissions only when asked for (docs/sandbox.md)
    permission_mode: PermissionMode = PermissionMode.ACCEPT_EDITS
    sandbox: bool = Field(True, description="run every agent's shell commands in Claude Code's sandbox")
    resume_after_rate_limit: bool = True
    agent: str | None = Field(
        None, description="agent binary for this orchestration (default: settings file, $SPECFLOW_CLAUDE, claude)"
    )
    # the run scheduler (docs/scheduler.md); the name rule is the scheduler's GROUP_NAME, held equal by a test
    group: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="scheduler group of this orchestration's runs (default: the project's, else default)",
    )
    priority: int = Field(0, ge=-100, le=100, description="higher is admitted first within its group")
