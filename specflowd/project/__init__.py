"""The project model: the tasks.md grammar, the batch planner, the snapshot reader and the status and
preview builders. Everything but ``snapshot.read_project_snapshot`` (and the registry) is pure."""

from __future__ import annotations

from specflowd.project.planner import PREAMBLE_BATCH, Batch, BatchPlan, plan_batches
from specflowd.project.problems import Problem, ProblemKind
from specflowd.project.roadmap import PhaseRow, parse_roadmap
from specflowd.project.snapshot import ProjectSnapshot, read_project_snapshot
from specflowd.project.state import SkillState, StateRead, parse_state
from specflowd.project.status import (
    BatchView,
    HeldTask,
    OrchestrationPreview,
    ProjectStatus,
    StepPlan,
    TaskCounts,
    build_preview,
    build_project_status,
)
from specflowd.project.tasks import Section, Task, TasksDocument, TaskState, TasksWarning, checked_ids, parse_tasks

__all__ = [
    "PREAMBLE_BATCH",
    "Batch",
    "BatchPlan",
    "BatchView",
    "HeldTask",
    "OrchestrationPreview",
    "PhaseRow",
    "Problem",
    "ProblemKind",
    "ProjectSnapshot",
    "ProjectStatus",
    "Section",
    "SkillState",
    "StateRead",
    "StepPlan",
    "Task",
    "TaskCounts",
    "TaskState",
    "TasksDocument",
    "TasksWarning",
    "build_preview",
    "build_project_status",
    "checked_ids",
    "parse_roadmap",
    "parse_state",
    "parse_tasks",
    "plan_batches",
    "read_project_snapshot",
]
