"""Agent runs: the claude command line, stream-json parsing, supervision, restart re-adoption.

The lead wires :class:`RunManager` (see docs/runs.md)."""

from __future__ import annotations

from specflowd.runner.argv import RESULT_SCHEMA, build_argv
from specflowd.runner.hook import EventHook, render_hook_argv
from specflowd.runner.manager import Publish, RunManager
from specflowd.runner.models import (
    FINAL_STATUSES,
    LogChunk,
    LogItem,
    PendingQuestion,
    Question,
    QuestionOption,
    RunnerSettings,
    RunRecord,
    RunSpec,
    RunStatus,
)

__all__ = [
    "FINAL_STATUSES",
    "RESULT_SCHEMA",
    "EventHook",
    "LogChunk",
    "LogItem",
    "PendingQuestion",
    "Publish",
    "Question",
    "QuestionOption",
    "RunManager",
    "RunRecord",
    "RunSpec",
    "RunStatus",
    "RunnerSettings",
    "build_argv",
    "render_hook_argv",
]
