"""The orchestration record: the one document the daemon writes per orchestration (docs/daemon.md#files-on-disk).

Pure data. Every change goes through ``specflowd.domain.transitions`` so the rules live in one place; the
store only writes ``dump_record(record)`` atomically and reads it back with ``load_record``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from specflowd.domain.config import STEP_ORDER, OrchestrationConfig, Step
from specflowd.vocabulary import Question

__all__ = [
    "SCHEMA_VERSION",
    "SETTLED_BATCH_STATUSES",
    "TERMINAL_STATUSES",
    "Attention",
    "AttentionKind",
    "BatchRecord",
    "BatchStatus",
    "DecisionLogEntry",
    "Observed",
    "OrchestrationRecord",
    "OrchestrationStatus",
    "RecoveryOption",
    "RunKind",
    "RunLedgerEntry",
    "SchemaVersionError",
    "StepRecord",
    "StepStatus",
    "Tick",
    "Totals",
    "dump_record",
    "load_record",
    "new_record",
]

SCHEMA_VERSION = 1


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


TERMINAL_STATUSES = frozenset(
    {OrchestrationStatus.COMPLETED, OrchestrationStatus.FAILED, OrchestrationStatus.CANCELLED}
)


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    FAILED = "failed"


class BatchStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    HEALED = "healed"
    FAILED = "failed"
    SKIPPED = "skipped"


SETTLED_BATCH_STATUSES = frozenset({BatchStatus.COMPLETED, BatchStatus.HEALED, BatchStatus.SKIPPED})


class AttentionKind(StrEnum):
    BUDGET = "budget"
    HEAL_EXHAUSTED = "heal_exhausted"
    BATCH_FAILED = "batch_failed"  # a batch failed and auto_heal is off
    STEP_ATTEMPTS = "step_attempts"
    NO_TASKS = "no_tasks"
    TASKS_HELD = "tasks_held"  # tasks remain but all are blocked/deferred
    TASKS_REOPENED = "tasks_reopened"  # ids of a completed batch are open again
    RATE_LIMIT = "rate_limit"
    RUN_CANCELLED = "run_cancelled"
    PHASE_CHANGED = "phase_changed"
    TASKS_UNPARSED = "tasks_unparsed"  # open-looking tasks.md lines did not parse: implement is not provably done
    STORAGE = "storage"  # the record or decision log could not be written (disk full); the file keeps the last good
    STEP_FAILED = "step_failed"  # the Claude adviser advised against retrying a failed step
    STALE_RUN = "stale_run"  # the Claude adviser advised against restarting a stale run
    SKILL_VERDICT = "skill_verdict"  # the skill itself set step.status blocked or failed in the state file
    STATE_WRITE = "state_write"  # the running step could not be recorded in the skills' state file
    AGENT_UNAVAILABLE = "agent_unavailable"  # the agent binary is missing or cannot be executed
    MERGE_BLOCKED = "merge_blocked"  # a check /flow.merge makes before it acts fails: merge was not started
    UNKNOWN_STATE = "unknown_state"


class RecoveryOption(StrEnum):
    RETRY = "retry"
    SKIP = "skip"
    ABORT = "abort"


class RunKind(StrEnum):
    STEP = "step"
    BATCH = "batch"
    HEAL = "heal"


class Attention(BaseModel):
    """Why the orchestration stopped for the user, and what it can do about it."""

    kind: AttentionKind
    reason: str
    options: list[RecoveryOption] = Field(default_factory=lambda: list(RecoveryOption))
    step: Step | None = None
    batch_index: int | None = None
    context: dict[str, Any] = Field(default_factory=dict)


class StepRecord(BaseModel):
    status: StepStatus = StepStatus.PENDING
    attempts: int = Field(0, ge=0)
    # Granted by recover(retry), go_back and rate limits: attempt numbers stay monotonic, the allowance grows.
    extra_attempts: int = Field(0, ge=0)
    run_ids: list[str] = Field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class BatchRecord(BaseModel):
    index: int = Field(ge=0)
    name: str
    task_ids: list[str]
    in_section: bool = Field(True, description="a ## section's tasks; False: tasks `specflow next` never offers")
    status: BatchStatus = BatchStatus.PENDING
    attempts: int = Field(0, ge=0)
    extra_attempts: int = Field(0, ge=0)
    heal_attempts: int = Field(0, ge=0)
    extra_heal_attempts: int = Field(0, ge=0)
    run_ids: list[str] = Field(default_factory=list)
    cost_usd: float = Field(0.0, ge=0)
    last_error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RunLedgerEntry(BaseModel):
    """The daemon's ledger entry for one run it started: what the run was for and what it cost."""

    kind: RunKind
    step: Step
    batch_index: int | None = None
    attempt: int = Field(1, ge=1)
    cost_usd: float = Field(0.0, ge=0)
    started_at: datetime | None = None
    never_started: bool = Field(False, description="the daemon stopped before its agent started; attempt given back")
    task_ids: list[str] = Field(default_factory=list, description="the ids the run was asked to complete")


class Tick(BaseModel):
    """A task id that turned done in tasks.md during the orchestration, and the run that was current then."""

    run_id: str | None = Field(None, description="None: no run was current (ticked by hand or by another tool)")
    asked: bool = Field(False, description="the run was asked for this id (its batch or heal named it)")
    by: str = Field(description="who ticked it, for people: batch 2 'Core' (run 1a2b3c4d), outside any run")
    at: datetime


class Observed(BaseModel):
    """What the engine saw of the project during this orchestration (see domain.observe)."""

    tasks_seen: bool = Field(False, description="the phase's tasks.md has been read (done_ids is its baseline)")
    done_ids: list[str] = Field(
        default_factory=list, description="ids done in the phase's tasks.md when last seen (kept once it is archived)"
    )
    ticks: dict[str, Tick] = Field(default_factory=dict, description="ids that turned done during the orchestration")
    unconfirmed_lost: list[str] = Field(
        default_factory=list,
        description="done ids the last reading did not show done: still counted done until a reading confirms it "
        "(a tasks.md being rewritten in place reads half-written for a moment)",
    )
    reopened: dict[str, Tick | None] = Field(
        default_factory=dict,
        description="ids seen done, then not done in two readings in a row: the credit each had (null: done before "
        "the orchestration), which it keeps when it turns done again",
    )
    user_gate_at_start: str | None = Field(None, description="userGateStatus when the orchestration started")
    user_gate_changed: bool = Field(False, description="userGateStatus was seen different from its start value")
    ignored_lines: list[str] = Field(
        default_factory=list, description="task-looking tasks.md lines the SpecFlow CLI does not read (last seen)"
    )


class Totals(BaseModel):
    """Spend in USD, recomputed from the run ledger plus helper calls (never incremented blindly)."""

    spent_usd: float = Field(0.0, ge=0)
    per_batch: dict[int, float] = Field(default_factory=dict)
    per_step: dict[Step, float] = Field(default_factory=dict)
    heal_usd: float = Field(0.0, ge=0)
    helper_usd: float = Field(0.0, ge=0)


class OrchestrationRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    id: str
    project_path: str
    config: OrchestrationConfig = Field(default_factory=OrchestrationConfig)
    status: OrchestrationStatus = OrchestrationStatus.RUNNING
    step: Step = Step.DESIGN
    steps: dict[Step, StepRecord] = Field(default_factory=lambda: {s: StepRecord() for s in STEP_ORDER})
    batches: list[BatchRecord] = Field(default_factory=list)
    batches_planned: bool = False
    next_batch_index: int = Field(0, ge=0)
    superseded_batches: list[BatchRecord] = Field(default_factory=list, description="batches before a go_back")
    current_run_id: str | None = None
    runs: dict[str, RunLedgerEntry] = Field(default_factory=dict)
    spawn_seq: int = Field(0, ge=0, description="spawns so far; seeds the deterministic run id of the next")
    totals: Totals = Field(default_factory=Totals)
    last_error: str | None = None
    attention: Attention | None = None
    pending_questions: list[Question] = Field(default_factory=list)
    questions_run_id: str | None = None
    rate_limit_until: datetime | None = None
    resumable_run_id: str | None = Field(
        None, description="the rate-limited run whose own session continues (--resume) when the wait ends"
    )
    phase_number: str | None = None
    phase_branch: str | None = None
    accepted_unparsed: list[str] = Field(
        default_factory=list, description="unparsable tasks.md lines the user chose to go on without (recover skip)"
    )
    merge_requested: bool = False
    pause_requested: bool = False
    observed: Observed | None = Field(None, description="None until the engine first looked at the project")
    created_at: datetime
    updated_at: datetime

    def step_record(self, step: Step) -> StepRecord:
        return self.steps.get(step) or StepRecord()

    def batch(self, index: int) -> BatchRecord | None:
        return next((b for b in self.batches if b.index == index), None)


class DecisionLogEntry(BaseModel):
    """One line of ``orchestration-{id}.events.jsonl``."""

    time: datetime
    action: str
    reason: str
    status_before: OrchestrationStatus
    status_after: OrchestrationStatus
    step: Step | None = None
    batch_index: int | None = None
    run_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class SchemaVersionError(ValueError):
    """The stored record was written by a newer (or unknown) schema than this daemon understands."""


def new_record(
    *,
    id: str,
    project_path: str,
    config: OrchestrationConfig,
    now: datetime,
    phase_number: str | None = None,
    phase_branch: str | None = None,
) -> OrchestrationRecord:
    return OrchestrationRecord(
        id=id,
        project_path=project_path,
        config=config,
        phase_number=phase_number,
        phase_branch=phase_branch,
        created_at=now,
        updated_at=now,
    )


def dump_record(record: OrchestrationRecord) -> dict[str, Any]:
    return record.model_dump(mode="json")


def load_record(data: dict[str, Any]) -> OrchestrationRecord:
    """Validate a stored document. A missing version is read as 1 (the first); anything else is refused."""
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise SchemaVersionError(f"orchestration record schema_version {version!r} is not an integer")
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"orchestration record schema_version {version} is newer than this daemon supports "
            f"({SCHEMA_VERSION}); upgrade specflowd"
        )
    if version < 1:
        raise SchemaVersionError(f"orchestration record schema_version {version} is unknown")
    return OrchestrationRecord.model_validate({**data, "schema_version": version})
