"""What decide() looks at besides the record: the project's files and the current run, as plain models.

The engine fills these from the tasks.md parser / batch planner, the skills' state file and the run
supervisor. Keeping our own small shapes here keeps the domain free of I/O and of the other packages; a
run's status and questions are the shared agent-protocol words of ``specflowd.vocabulary``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from specflowd.vocabulary import Question, RunStatus, ToolLoop

__all__ = [
    "ProjectEvidence",
    "RunEvidence",
    "SectionEvidence",
    "SkillStep",
    "TaskState",
]


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    BLOCKED = "blocked"
    DEFERRED = "deferred"


class SectionEvidence(BaseModel):
    """One schedulable group in file order: a ``##`` section (or a fallback chunk) and its task ids."""

    heading: str
    task_ids: list[str] = Field(default_factory=list)


class SkillStep(BaseModel):
    """``orchestration.step`` of the skills' state file; strings, since other tools write that file."""

    current: str | None = None
    index: int | None = None
    status: str | None = None


class ProjectEvidence(BaseModel):
    spec: bool = False
    plan: bool = False
    tasks: bool = False
    task_states: dict[str, TaskState] = Field(default_factory=dict)
    sections: list[SectionEvidence] = Field(default_factory=list)
    skill_step: SkillStep | None = None
    phase_number: str | None = None
    phase_status: str | None = None
    phase_branch: str | None = None
    git_branch: str | None = Field(None, description="the branch checked out in the project (None: no git, detached)")
    user_gate: bool = Field(False, description="USER GATE in the phase's ROADMAP row (where the CLI reads it)")
    user_gate_status: str | None = Field(None, description="orchestration.phase.userGateStatus, as written")
    last_error: str | None = Field(None, description="orchestration.lastError of the state file")
    problems: list[str] = Field(default_factory=list)
    unparsed_open: list[str] = Field(
        default_factory=list,
        description="open-looking tasks.md lines the SpecFlow CLI does not read ('line N: text (why)')",
    )
    ignored_lines: list[str] = Field(
        default_factory=list, description="every task-looking line the CLI does not read ('path:N: why: text')"
    )

    @property
    def artifacts_complete(self) -> bool:
        return self.spec and self.plan and self.tasks

    def ids_in(self, state: TaskState) -> list[str]:
        return [task_id for task_id, s in self.task_states.items() if s == state]

    def is_done(self, task_id: str) -> bool:
        return self.task_states.get(task_id) == TaskState.DONE


class RunEvidence(BaseModel):
    run_id: str
    step: str | None = None
    batch_index: int | None = None
    attempt: int = 1
    status: RunStatus
    final: bool = False
    error: str | None = None
    stderr_tail: str = ""
    last_messages: list[str] = Field(default_factory=list)
    cost_usd: float = Field(0.0, ge=0)
    rate_limit_reset: datetime | None = None
    questions: list[Question] = Field(default_factory=list)
    message: str | None = Field(None, description="the structured result's message, when there is one")
    continuations: int = Field(0, ge=0, description="times the session was continued (answers, rate limit, stale)")
    loop: ToolLoop | None = Field(None, description="status looping: the tool call(s) the run repeated")
