"""The agent command line (docs/architecture.md#the-agent-command-line), built as an argv list — never a shell
string. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from specflowd.vocabulary import RESULT_SCHEMA, PermissionMode

__all__ = ["build_argv", "child_env", "continuation_prompt"]


def build_argv(
    binary: str,
    *,
    session_id: str,
    budget_usd: float,
    permission_mode: PermissionMode = PermissionMode.BYPASS,
    model: str | None = None,
    fallback_model: str | None = None,
    json_schema: Mapping[str, Any] | None = None,
    append_system_prompt: str | None = None,
    resume: bool = False,
) -> list[str]:
    """``resume`` continues ``session_id`` (``--resume``) instead of creating it (``--session-id``)."""
    argv = [binary, "-p", "--output-format", "stream-json", "--verbose"]
    argv += ["--resume", session_id] if resume else ["--session-id", session_id]
    if model:
        argv += ["--model", model]
    if fallback_model:
        argv += ["--fallback-model", fallback_model]
    argv += ["--max-budget-usd", f"{budget_usd:.4f}".rstrip("0").rstrip(".")]
    argv += ["--permission-mode", str(permission_mode)]
    # Headless: a question tool would block forever; questions come back as structured needs_input instead.
    argv += ["--disallowedTools", "AskUserQuestion"]
    schema = RESULT_SCHEMA if json_schema is None else json_schema
    argv += ["--json-schema", json.dumps(schema, separators=(",", ":"), sort_keys=True)]
    if append_system_prompt:
        argv += ["--append-system-prompt", append_system_prompt]
    return argv


def child_env(
    base: Mapping[str, str], extra: Mapping[str, str], *, permission_mode: PermissionMode, is_root: bool
) -> dict[str, str]:
    """The child's environment. The CLI refuses bypassPermissions for root unless IS_SANDBOX=1."""
    env = dict(base)
    env.update(extra)
    if is_root and permission_mode == PermissionMode.BYPASS:
        env["IS_SANDBOX"] = "1"  # exactly "1": the CLI rejects other values (e.g. "yes")
    return env


def continuation_prompt(answers: Mapping[str, str]) -> str:
    lines = ["The user answered your questions:", ""]
    lines += [f"- {question}: {answer}" for question, answer in answers.items()]
    lines += ["", "Continue the task with these answers."]
    return "\n".join(lines) + "\n"
