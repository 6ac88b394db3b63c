"""One agent run, described once. The description a caller builds (``runs.start``, the engine's spawn) is the one
admission reads and the one the runner stores in the run's metadata.json (``RunRecord.spec``), so a new field
of a run is added here and nowhere else. No I/O here.

- ``RunTicket`` — what admission needs of a run: which run, whose, and where it queues (the run scheduler makes
  its queue unit from it, ``RunScheduler.unit``);
- ``RunSpec`` — the whole run: its ticket and what the agent is started with (a continuation reuses it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from specflowd.vocabulary import PermissionMode

__all__ = ["RunSpec", "RunTicket"]


class RunTicket(BaseModel):
    """A run as the admission queue sees it. ``group`` None: the project's group (the registry's), else
    ``default``; a group that no longer exists is ``default`` too."""

    model_config = ConfigDict(extra="forbid")

    project_root: Path
    run_id: str | None = Field(
        None, description="pre-assigned session id (the engine's deterministic ids make spawns idempotent)"
    )
    orchestration_id: str | None = None
    group: str | None = Field(None, description="scheduler group (docs/scheduler.md); none: the project's")
    priority: int = Field(0, description="higher is admitted first within its group")
    kind: str = Field("run", description="batch | step | heal | resume | run (for the queue's views)")


class RunSpec(RunTicket):
    """What to run. ``json_schema`` None = the standard result schema (vocabulary.RESULT_SCHEMA)."""

    prompt: str
    step: str = Field(description="step or skill name, e.g. implement")
    binary: str | None = Field(None, description="agent binary for this run; default: RunnerSettings.claude")
    batch: str | None = None
    attempt: int = Field(1, ge=1)
    model: str | None = None
    fallback_model: str | None = None
    budget_usd: float = Field(5.0, gt=0)
    permission_mode: PermissionMode = PermissionMode.ACCEPT_EDITS
    sandbox: bool = Field(True, description="run in Claude Code's sandbox (docs/sandbox.md)")
    append_system_prompt: str | None = None
    json_schema: dict[str, Any] | None = None
    stale_after_s: float = Field(600.0, gt=0)
    extra_env: dict[str, str] = Field(default_factory=dict)
