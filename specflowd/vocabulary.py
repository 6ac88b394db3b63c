"""The agent-protocol vocabulary every layer shares: run statuses and their sets, the questions a run asks,
the CLI's permission modes, and the structured result every run answers with.

This module must import nothing of specflowd (pydantic and the standard library only). It is the leaf that
the domain, the runner, the engine and the handlers all speak, so none of them has to import another to
name a run's status; an import-linter contract (pyproject.toml) keeps it a leaf.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FINAL_STATUSES",
    "LIVE_STATUSES",
    "RESULT_SCHEMA",
    "RESUMABLE_STATUSES",
    "WAIT_REASONS",
    "LoopCall",
    "PermissionMode",
    "Question",
    "QuestionOption",
    "ResultStatus",
    "RunStatus",
    "ToolLoop",
    "WaitReason",
]


class RunStatus(StrEnum):
    """One agent run (metadata.json ``status``). ``budget_exceeded``, ``rate_limited`` and ``looping`` refine a
    failure: the engine stops for the budget, waits out the limit and continues the same session, or heals a
    run the daemon stopped because it repeated the same tool calls (its ``loop`` says which)."""

    STARTING = "starting"
    RUNNING = "running"
    WAITING_INPUT = "waiting_input"
    COMPLETED = "completed"
    FAILED = "failed"
    BUDGET_EXCEEDED = "budget_exceeded"
    RATE_LIMITED = "rate_limited"
    STALE = "stale"
    LOOPING = "looping"  # stopped by the daemon: the same tool call(s) repeated back to back (RunRecord.loop)
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    NOT_STARTED = "not_started"  # found after a restart: the daemon stopped before the agent was started


# A live run has (or may have) a process; waiting_input has none but is not over; the rest never change again.
LIVE_STATUSES = frozenset({RunStatus.STARTING, RunStatus.RUNNING})
FINAL_STATUSES = frozenset(set(RunStatus) - LIVE_STATUSES - {RunStatus.WAITING_INPUT})
# Final, but the session's work was interrupted from outside: its own session may be continued (--resume).
RESUMABLE_STATUSES = frozenset({RunStatus.RATE_LIMITED, RunStatus.STALE})


class LoopCall(BaseModel):
    """One tool call of a loop: the tool's name and its input as canonical JSON (keys sorted), cut short."""

    model_config = ConfigDict(extra="ignore")
    tool: str
    input: str

    def __str__(self) -> str:
        return f"{self.tool} {self.input}"


class ToolLoop(BaseModel):
    """Why a run ended ``looping``: the cycle of tool calls it repeated back to back (one call, or several in
    order), how many times in a row, and how many calls that spans."""

    model_config = ConfigDict(extra="ignore")
    cycle: list[LoopCall] = Field(min_length=1)
    repeats: int = Field(ge=1)
    calls: int = Field(ge=1)

    def describe(self) -> str:
        """``called Bash {"command":"ls"} 8 times in a row`` — a clause for a prompt, a status line, a log."""
        if len(self.cycle) == 1:
            return f"called {self.cycle[0]} {self.repeats} times in a row"
        steps = " → ".join(str(call) for call in self.cycle)
        return f"repeated the same {len(self.cycle)} tool calls {self.repeats} times in a row: {steps}"


class PermissionMode(StrEnum):
    """The CLI's ``--permission-mode`` values."""

    ACCEPT_EDITS = "acceptEdits"
    AUTO = "auto"
    BYPASS = "bypassPermissions"
    DEFAULT = "default"
    DONT_ASK = "dontAsk"
    PLAN = "plan"


class QuestionOption(BaseModel):
    model_config = ConfigDict(extra="ignore")
    label: str
    description: str = ""


class Question(BaseModel):
    """A question a run ends with (``needs_input``); the shape of the CLI's AskUserQuestion input."""

    model_config = ConfigDict(extra="ignore")
    question: str
    header: str = ""
    options: list[QuestionOption] = Field(default_factory=list)
    multiSelect: bool = False
    # the "Other" choice: text of the user's own besides the options (a question without options takes any)
    allowOther: bool = False


class ResultStatus(StrEnum):
    """``structured_output.status`` of a run's final result."""

    COMPLETED = "completed"
    NEEDS_INPUT = "needs_input"
    ERROR = "error"


# What every run must answer through the CLI's StructuredOutput tool (--json-schema).
RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": [s.value for s in ResultStatus]},
        "message": {"type": "string"},
        "questions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "question": {"type": "string"},
                    "header": {"type": "string"},
                    "options": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"label": {"type": "string"}, "description": {"type": "string"}},
                            "required": ["label"],
                        },
                    },
                    "multiSelect": {"type": "boolean"},
                    "allowOther": {
                        "type": "boolean",
                        "description": "the user may answer in their own words instead of an option",
                    },
                },
                "required": ["question"],
            },
        },
    },
    "required": ["status", "message"],
}


class WaitReason(StrEnum):
    """Why a run waits in the scheduler's queue (the admission queue's answer; events and clients show it)."""

    SLOT = "slot"  # every slot of the group is taken
    PAUSED = "paused"  # the group's limit is 0
    RATE_LIMIT = "rate_limit"  # the unit's account waits for a rate-limit reset


WAIT_REASONS: tuple[str, ...] = tuple(reason.value for reason in WaitReason)
