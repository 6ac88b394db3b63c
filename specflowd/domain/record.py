"""The orchestration record: the one document the daemon writes per orchestration (docs/daemon.md#files-on-disk).

Pure data. Every change goes through ``specflowd.domain.transitions`` so the rules live in one place; the
store only writes ``dump_record(record)`` atomically and reads it back with ``load_record``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from specflowd.domain.config import STEP_ORDER, OrchestrationConfig, Step
from specflowd.orchestration_vocabulary import TERMINAL_STATUSES, OrchestrationStatus
from specflowd.vocabulary import Question

__all__ = [
    "SCHEMA_VERSION",
    "SETTLED_BATCH_STATUSES",
    "TERMINAL_STATUSES",
    "Attention",
    "AttentionKind",
    "AttentionNeeded",
    "BatchRecord",
    "BatchStatus",
    "Cancelled",
    "Completed",
    "DecisionLogEntry",
    "Failed",
    "Healing",
    "Observed",
    "OrchestrationRecord",
    "OrchestrationRecordView",
    "OrchestrationState",
    "OrchestrationStatus",
    "Paused",
    "RecoveryOption",
    "RunKind",
    "RunLedgerEntry",
    "Running",
    "SchemaVersionError",
    "StepRecord",
    "StepStatus",
    "Tick",
    "Totals",
    "WaitingInput",
    "WaitingMerge",
    "WaitingRateLimit",
    "WaitingUserGate",
    "dump_record",
    "load_record",
    "migrate_v1",
    "new_record",
    "record_view",
]

# 2: the status and the data only it uses are one nested ``state`` (1 kept them as flat, optional fields).
SCHEMA_VERSION = 2


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


# ---------------------------------------------------------------- the state: each status carries its own data
#
# Model: pueue's TaskStatus. A state holds exactly what its status needs, so a waiting_input record without
# questions or a needs_attention record without a reason cannot be built, and a transition builds the next
# state instead of clearing fields by hand. ``kind`` is the status's value (the discriminator).


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Running(_State):
    kind: Literal["running"] = "running"


class Paused(_State):
    kind: Literal["paused"] = "paused"


class WaitingInput(_State):
    kind: Literal["waiting_input"] = "waiting_input"
    run_id: str | None = Field(None, description="the run that asked (None: a v1 record that did not say)")
    questions: list[Question] = Field(min_length=1)


class WaitingMerge(_State):
    kind: Literal["waiting_merge"] = "waiting_merge"


class WaitingUserGate(_State):
    kind: Literal["waiting_user_gate"] = "waiting_user_gate"


class WaitingRateLimit(_State):
    kind: Literal["waiting_rate_limit"] = "waiting_rate_limit"
    until: datetime = Field(description="the reset: the engine decides again then")


class Healing(_State):
    kind: Literal["healing"] = "healing"


class AttentionNeeded(_State):
    kind: Literal["needs_attention"] = "needs_attention"
    attention: Attention


class Completed(_State):
    kind: Literal["completed"] = "completed"


class Failed(_State):
    kind: Literal["failed"] = "failed"


class Cancelled(_State):
    kind: Literal["cancelled"] = "cancelled"


OrchestrationState = Annotated[
    Running
    | Paused
    | WaitingInput
    | WaitingMerge
    | WaitingUserGate
    | WaitingRateLimit
    | Healing
    | AttentionNeeded
    | Completed
    | Failed
    | Cancelled,
    Field(discriminator="kind"),
]

# The schema-1 fields that the state replaced; they are still the names clients read (record_view).
_V1_STATE_FIELDS = ("status", "attention", "pending_questions", "questions_run_id", "rate_limit_until")


class _RecordFields(BaseModel):
    """Everything of a record but its state: shared by the stored record and the view clients read."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    id: str
    project_path: str
    config: OrchestrationConfig = Field(default_factory=OrchestrationConfig)
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
    # Not part of the rate-limit wait's state: it outlives the wait (a pause, or resume ending the wait early)
    # until the engine carries out the ResumeRun it causes.
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


class OrchestrationRecord(_RecordFields):
    """The stored record. The status's own data is in ``state``; the read-only properties below answer the
    schema-1 questions (status, attention, pending questions, rate-limit reset) from it."""

    state: OrchestrationState = Field(default_factory=Running)

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        return migrate_v1(data) if isinstance(data, dict) else data

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        # model_copy does not validate: a schema-1 name in ``update`` would be stored unseen behind its property.
        if update is not None and (flat := sorted(set(update) & set(_V1_STATE_FIELDS))):
            raise TypeError(f"{', '.join(flat)} are read from the state: update state= instead")
        return super().model_copy(update=update, deep=deep)

    @property
    def status(self) -> OrchestrationStatus:
        return OrchestrationStatus(self.state.kind)

    @property
    def attention(self) -> Attention | None:
        return self.state.attention if isinstance(self.state, AttentionNeeded) else None

    @property
    def pending_questions(self) -> list[Question]:
        return list(self.state.questions) if isinstance(self.state, WaitingInput) else []

    @property
    def questions_run_id(self) -> str | None:
        return self.state.run_id if isinstance(self.state, WaitingInput) else None

    @property
    def rate_limit_until(self) -> datetime | None:
        return self.state.until if isinstance(self.state, WaitingRateLimit) else None


class OrchestrationRecordView(_RecordFields):
    """The record as clients read it over RPC: the state flattened into schema 1's fields, which every client
    (specflowctl, Neovim, VS Code) reads by name. A field that the status does not use is null (or empty)."""

    status: OrchestrationStatus
    attention: Attention | None = None
    pending_questions: list[Question] = Field(default_factory=list)
    questions_run_id: str | None = None
    rate_limit_until: datetime | None = None


def record_view(record: OrchestrationRecord) -> OrchestrationRecordView:
    fields = {name: getattr(record, name) for name in _RecordFields.model_fields}
    return OrchestrationRecordView.model_construct(
        **fields,
        status=record.status,
        attention=record.attention,
        pending_questions=record.pending_questions,
        questions_run_id=record.questions_run_id,
        rate_limit_until=record.rate_limit_until,
    )


def migrate_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A record document in the current shape. Schema 1 (no ``state``) kept the status and its data in flat
    fields; they become the state. A v1 record that its status's data contradicts becomes what the v1 engine
    decided of it on its next tick, so no decision changes across the upgrade: waiting_input without questions
    needs attention (or, with a run current, is running: the run is judged again); waiting_rate_limit without
    a reset is running (v1 went on with the step); needs_attention without a reason needs attention for an
    unknown state. Data a status did not use (a paused record's old reset) was never read, and is dropped."""
    if "state" in data:
        clash = [name for name in _V1_STATE_FIELDS if name in data]
        if clash:
            raise ValueError(f"a record with a state has no {', '.join(clash)} (schema 1 fields)")
        return data
    rest = {k: v for k, v in data.items() if k not in _V1_STATE_FIELDS}
    rest["schema_version"] = SCHEMA_VERSION
    rest["state"] = _v1_state(data, rest)
    return rest


def _v1_state(v1: dict[str, Any], rest: dict[str, Any]) -> dict[str, Any]:
    status = OrchestrationStatus(v1.get("status") or OrchestrationStatus.RUNNING)
    if status == OrchestrationStatus.WAITING_INPUT:
        if questions := v1.get("pending_questions"):
            return {"kind": status.value, "run_id": v1.get("questions_run_id"), "questions": questions}
        if rest.get("current_run_id") is not None:
            return {"kind": OrchestrationStatus.RUNNING.value}
        return _unknown("waiting_input without pending questions or a run")
    if status == OrchestrationStatus.WAITING_RATE_LIMIT:
        until = v1.get("rate_limit_until")
        return {"kind": status.value, "until": until} if until is not None else {"kind": "running"}
    if status == OrchestrationStatus.NEEDS_ATTENTION:
        attention = v1.get("attention")
        return {"kind": status.value, "attention": attention} if attention is not None else _unknown(
            "needs_attention without a recorded reason"
        )
    return {"kind": status.value}


def _unknown(reason: str) -> dict[str, Any]:
    attention = Attention(kind=AttentionKind.UNKNOWN_STATE, reason=reason)
    return {"kind": OrchestrationStatus.NEEDS_ATTENTION.value, "attention": attention}


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
    """Validate a stored document, migrating an older schema (``migrate_v1``). A missing version is read as 1
    (the first); a newer one is refused (docs/orchestration.md#schema-versions: what a downgrade does)."""
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise SchemaVersionError(f"orchestration record schema_version {version!r} is not an integer")
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"orchestration record schema_version {version} is newer than this daemon supports "
            f"({SCHEMA_VERSION}); upgrade specflowd"
        )
    if version < 1:
        raise SchemaVersionError(f"orchestration record schema_version {version} is unknown")
    if version == 1:
        data = migrate_v1({k: v for k, v in data.items() if k != "schema_version"})
    elif "state" not in data:
        raise SchemaVersionError(f"orchestration record schema_version {version} has no state")
    return OrchestrationRecord.model_validate({**data, "schema_version": SCHEMA_VERSION})
