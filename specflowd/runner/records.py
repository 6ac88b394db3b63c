"""Data shapes of agent runs: what is persisted (RunRecord = metadata.json, carrying the run's own description,
run_spec.RunSpec, as it was asked for), what the log and question views return. No I/O here."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from specflowd.run_spec import RunSpec
from specflowd.runner.loops import DEFAULT_REPEATS, DEFAULT_WINDOW
from specflowd.runner.sandbox import RunSandbox
from specflowd.vocabulary import FINAL_STATUSES, Question, RunStatus, ToolLoop

__all__ = [
    "DEFAULT_EXIT_GRACE_S",
    "LogChunk",
    "LogItem",
    "PendingQuestion",
    "ProcessIdentity",
    "RunRecord",
    "RunSpec",
    "RunnerSettings",
    "StopReason",
]


# Claude Code exits within a second of its result line; one that is still alive seconds later has hung (a known
# fault) and would otherwise hold its slot until stale_after_s (10 minutes)
DEFAULT_EXIT_GRACE_S = 5.0


class StopReason(StrEnum):
    """Why the daemon itself stopped a process (decides the outcome over whatever the stream says)."""

    CANCELLED = "cancelled"
    BUDGET = "budget"
    STALE = "stale"
    LOOPING = "looping"


class ProcessIdentity(BaseModel):
    """process.pid: enough to tell *this* process from a later one that reuses its pid, and which invocation of
    the run (0 = the first, N = the N-th continuation) it belongs to."""

    pid: int
    create_time: float
    boot_time: float
    pgid: int
    invocation: int | None = None  # None: written by a specflowd that did not record it (trusted as current)


class RunnerSettings(BaseModel):
    """Daemon-wide knobs of the supervisor (per-run knobs live in RunSpec)."""

    model_config = ConfigDict(extra="forbid")

    claude: str | None = Field(None, description="agent binary; else $SPECFLOW_CLAUDE, else `claude` on PATH")
    kill_grace_s: float = Field(5.0, ge=0.0, description="SIGTERM → SIGKILL delay when stopping a run")
    exit_grace_s: float = Field(
        DEFAULT_EXIT_GRACE_S, ge=0.0, le=3600.0,
        description="a process still alive this long after its result line is ended (the result stands); 0 = never",
    )
    poll_interval_s: float = Field(0.25, gt=0.0, le=5.0, description="output stat poll of a run that is writing")
    quiet_poll_interval_s: float = Field(
        2.0, gt=0.0, le=60.0, description="the output poll backs off to this while a run writes nothing"
    )
    progress_interval_s: float = Field(0.5, gt=0.0, description="min gap between run.progress events of a run")
    persist_interval_s: float = Field(1.0, ge=0.0, description="min gap between progress writes of metadata")
    stderr_tail_chars: int = Field(2000, ge=0, le=100_000)
    loop_repeats: int = Field(
        DEFAULT_REPEATS, ge=0, le=10_000, description="stop a run whose tool calls repeat this often in a row; 0 = off"
    )
    loop_window: int = Field(
        DEFAULT_WINDOW, ge=0, le=100_000, description="calls a repeated cycle must fit in (raised to loop_repeats)"
    )
    # USD per million tokens (input, output), matched by substring of the model name, first match wins.
    # Used only for the live estimate until the CLI's own total_cost_usd arrives.
    prices: list[tuple[str, float, float]] = Field(
        default_factory=lambda: [("haiku", 1.0, 5.0), ("sonnet", 3.0, 15.0), ("opus", 5.0, 25.0), ("", 5.0, 25.0)]
    )


class RunRecord(BaseModel):
    """metadata.json of one run; the run id is the Claude session id."""

    model_config = ConfigDict(extra="ignore")

    schema_version: int = 1
    run_id: str
    project_root: Path
    orchestration_id: str | None = None
    step: str
    batch: str | None = None
    attempt: int = 1
    argv: list[str] = Field(default_factory=list)
    status: RunStatus = RunStatus.STARTING
    outcome_detail: str | None = None
    error: str | None = None
    stderr_tail: str | None = None
    cost_usd: float = 0.0
    cost_is_estimate: bool = True
    cost_prior_usd: float = Field(0.0, description="cost of earlier invocations (before answers)")
    budget_usd: float = 5.0
    stale_after_s: float = 600.0
    turns: int = 0
    model: str | None = None
    tool_calls: int = 0
    last_tool: str | None = None
    last_text: str | None = None
    malformed_lines: int = 0
    api_retries: int = 0
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_activity_at: datetime | None = None
    output_offset: int = Field(0, description="bytes of output.jsonl already parsed")
    segment_offset: int = Field(0, description="where the current invocation's output starts")
    continuations: int = 0
    questions: list[Question] = Field(default_factory=list)
    answers: list[dict[str, str]] = Field(default_factory=list, description="answers given, per continuation")
    rate_limit_reset: str | None = None
    warnings: list[str] = Field(default_factory=list, description="things the user should know; not failures")
    exit_code: int | None = None
    stop_reason: StopReason | None = None
    ended_after_result: bool = Field(
        False, description="the agent did not exit after its result line: the daemon ended it (the result stands)"
    )
    loop: ToolLoop | None = Field(None, description="status looping: the tool call(s) the run repeated")
    spec: RunSpec | None = Field(None, description="the run as asked for, kept so a continuation reuses its flags")
    sandbox: RunSandbox | None = Field(None, description="how the current invocation is confined (docs/sandbox.md)")
    sandbox_denials: list[str] = Field(
        default_factory=list, description="what the sandbox refused in the last invocation (docs/sandbox.md#denials)"
    )

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


class PendingQuestion(BaseModel):
    run_id: str
    project_root: Path
    orchestration_id: str | None = None
    step: str
    questions: list[Question]


class LogItem(BaseModel):
    offset: int
    kind: str = Field(description="text | tool | result | retry | system | malformed")
    text: str


class LogChunk(BaseModel):
    run_id: str
    items: list[LogItem]
    next_offset: int
    more: bool = Field(
        default=False, description="more complete output follows next_offset: call again at once (a page is ~256 KiB)"
    )
    cost_usd: float
    status: RunStatus
