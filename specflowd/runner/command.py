"""The agent command line (DESIGN §6), built as an argv list, never a shell string. Pure."""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from specflowd.domain.config import PermissionMode
from specflowd.errors import AgentUnavailable

__all__ = ["RESULT_SCHEMA", "RunSpec", "build_argv", "resolve_binary"]

RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["completed", "needs_input", "error"]},
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
                },
                "required": ["question"],
            },
        },
    },
    "required": ["status"],
}


class RunSpec(BaseModel):
    """What to run. The engine fills it per step/batch; ``runs.start`` per standalone skill."""

    model_config = ConfigDict(extra="forbid")

    project_root: str
    prompt: str
    step: str = Field(description="design | analyze | implement | verify | merge | heal | skill name")
    orchestration_id: str | None = None
    batch: int | None = None
    attempt: int = 1
    session_id: str | None = Field(None, description="pre-assigned; generated when absent")
    model: str | None = None
    fallback_model: str | None = None
    budget_usd: float = Field(5.0, gt=0)
    permission_mode: PermissionMode = PermissionMode.BYPASS
    append_system_prompt: str | None = None
    json_schema: dict[str, Any] | None = Field(default_factory=lambda: dict(RESULT_SCHEMA))
    stale_after_s: float = Field(600.0, gt=0)
    binary: str | None = None


def resolve_binary(configured: str | None) -> str:
    """``configured`` (config / RunSpec), else ``$SPECFLOW_CLAUDE``, else ``claude`` on PATH."""
    candidate = configured or os.environ.get("SPECFLOW_CLAUDE") or "claude"
    found = shutil.which(candidate)
    if found is None:
        raise AgentUnavailable(
            f"the Claude Code CLI {candidate!r} was not found or is not executable; install it or set "
            "SPECFLOW_CLAUDE (or [agent] claude in specflowd.toml)",
            binary=candidate,
        )
    return found


def build_argv(binary: str, spec: RunSpec, session_id: str, *, resume: bool = False) -> list[str]:
    argv = [binary, "-p", "--output-format", "stream-json", "--verbose"]
    argv += ["--resume", session_id] if resume else ["--session-id", session_id]
    if spec.model:
        argv += ["--model", spec.model]
    if spec.fallback_model:
        argv += ["--fallback-model", spec.fallback_model]
    argv += ["--max-budget-usd", f"{spec.budget_usd:.4f}".rstrip("0").rstrip(".")]
    argv += ["--permission-mode", spec.permission_mode.value]
    argv += ["--disallowedTools", "AskUserQuestion"]
    if spec.json_schema is not None:
        argv += ["--json-schema", json.dumps(spec.json_schema, separators=(",", ":"))]
    if spec.append_system_prompt:
        argv += ["--append-system-prompt", spec.append_system_prompt]
    return argv
