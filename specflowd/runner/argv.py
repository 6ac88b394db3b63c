"""The agent command line (docs/runs.md#command-line), built as an argv list — never a shell
string. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from specflowd.runner.sandbox import SANDBOX_PROMPT_NOTE, RunSandbox, sandbox_flags
from specflowd.vocabulary import RESULT_SCHEMA, PermissionMode

__all__ = ["build_argv", "child_env", "continuation_prompt"]


def build_argv(
    binary: str,
    *,
    session_id: str,
    budget_usd: float,
    permission_mode: PermissionMode = PermissionMode.ACCEPT_EDITS,
    model: str | None = None,
    fallback_model: str | None = None,
    json_schema: Mapping[str, Any] | None = None,
    append_system_prompt: str | None = None,
    resume: bool = False,
    sandbox: RunSandbox | None = None,
    user_settings: Mapping[str, Any] | None = None,
    prefix: Sequence[str] = (),
) -> list[str]:
    """``resume`` continues ``session_id`` (``--resume``) instead of creating it (``--session-id``).
    ``sandbox``: how the run is confined (runner/sandbox.py); an enabled one turns Claude Code's sandbox on
    through ``--settings`` (merged over ``user_settings``) and tells the model what it cannot do.
    ``prefix``: a wrapper the agent is exec'd through (a systemd scope)."""
    argv = [*prefix, binary, "-p", "--output-format", "stream-json", "--verbose"]
    argv += ["--resume", session_id] if resume else ["--session-id", session_id]
    if model:
        argv += ["--model", model]
    if fallback_model:
        argv += ["--fallback-model", fallback_model]
    argv += ["--max-budget-usd", f"{budget_usd:.4f}".rstrip("0").rstrip(".")]
    argv += ["--permission-mode", str(permission_mode)]
    # Headless: a question tool would block forever; questions come back as structured needs_input instead.
    argv += ["--disallowedTools", "AskUserQuestion"]
    argv += sandbox_flags(sandbox, user_settings or {})
    schema = RESULT_SCHEMA if json_schema is None else json_schema
    argv += ["--json-schema", json.dumps(schema, separators=(",", ":"), sort_keys=True)]
    if sandbox is not None and sandbox.enabled:
        append_system_prompt = "\n\n".join(filter(None, [append_system_prompt, SANDBOX_PROMPT_NOTE]))
    if append_system_prompt:
        argv += ["--append-system-prompt", append_system_prompt]
    return argv


def child_env(
    base: Mapping[str, str],
    extra: Mapping[str, str],
    *,
    permission_mode: PermissionMode,
    is_root: bool,
    sandboxed: bool,
    temp_dir: Path | None = None,
) -> dict[str, str]:
    """The child's environment. The CLI refuses bypassPermissions for root unless IS_SANDBOX=1, which claims
    a sandbox: it is said only when the run really is in one. ``temp_dir``: the run's own ``$TMPDIR``."""
    env = dict(base)
    env.update(extra)
    env.pop("IS_SANDBOX", None)  # never inherited: the daemon's environment cannot make the claim for a run
    if sandboxed and is_root and permission_mode == PermissionMode.BYPASS:
        env["IS_SANDBOX"] = "1"  # exactly "1": the CLI rejects other values (e.g. "yes")
    if temp_dir is not None:
        env["TMPDIR"] = str(temp_dir)
    return env


def continuation_prompt(answers: Mapping[str, str]) -> str:
    lines = ["The user answered your questions:", ""]
    lines += [f"- {question}: {answer}" for question, answer in answers.items()]
    lines += ["", "Continue the task with these answers."]
    return "\n".join(lines) + "\n"
