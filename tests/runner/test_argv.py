from __future__ import annotations

import json
from pathlib import Path

import pytest

from specflowd.errors import AgentUnavailable
from specflowd.runner.argv import build_argv, child_env, continuation_prompt
from specflowd.runner.process import resolve_binary
from specflowd.vocabulary import RESULT_SCHEMA, PermissionMode

SID = "11111111-2222-4333-8444-555555555555"


def _value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_minimal_argv_has_the_headless_flags_in_order() -> None:
    argv = build_argv("/bin/claude", session_id=SID, budget_usd=5.0)
    assert argv[:6] == ["/bin/claude", "-p", "--output-format", "stream-json", "--verbose", "--session-id"]
    assert _value(argv, "--session-id") == SID
    assert _value(argv, "--max-budget-usd") == "5"
    assert _value(argv, "--permission-mode") == "bypassPermissions"
    assert _value(argv, "--disallowedTools") == "AskUserQuestion"
    assert json.loads(_value(argv, "--json-schema")) == RESULT_SCHEMA
    for absent in ("--model", "--fallback-model", "--append-system-prompt", "--resume"):
        assert absent not in argv


def test_optional_flags_and_resume() -> None:
    argv = build_argv(
        "claude",
        session_id=SID,
        budget_usd=0.125,
        permission_mode=PermissionMode.ACCEPT_EDITS,
        model="claude-sonnet-4-5",
        fallback_model="claude-haiku-4-5",
        json_schema={"type": "object"},
        append_system_prompt="be brief; $(rm -rf /)",
        resume=True,
    )
    assert _value(argv, "--resume") == SID and "--session-id" not in argv
    assert _value(argv, "--model") == "claude-sonnet-4-5"
    assert _value(argv, "--fallback-model") == "claude-haiku-4-5"
    assert _value(argv, "--max-budget-usd") == "0.125"
    assert _value(argv, "--permission-mode") == "acceptEdits"
    assert _value(argv, "--json-schema") == '{"type":"object"}'
    # one argv element, never interpreted by a shell
    assert _value(argv, "--append-system-prompt") == "be brief; $(rm -rf /)"


def test_result_schema_shape() -> None:
    props = RESULT_SCHEMA["properties"]
    assert props["status"]["enum"] == ["completed", "needs_input", "error"]
    item = props["questions"]["items"]["properties"]
    assert set(item) == {"question", "header", "options", "multiSelect", "allowOther"}
    assert set(item["options"]["items"]["properties"]) == {"label", "description"}


@pytest.mark.parametrize(
    ("mode", "is_root", "expected"),
    [
        (PermissionMode.BYPASS, True, "1"),
        (PermissionMode.BYPASS, False, None),
        (PermissionMode.ACCEPT_EDITS, True, None),
    ],
)
def test_child_env_sets_is_sandbox_only_for_root_bypass(
    mode: PermissionMode, is_root: bool, expected: str | None
) -> None:
    env = child_env({"PATH": "/bin"}, {"X": "y"}, permission_mode=mode, is_root=is_root)
    assert env.get("IS_SANDBOX") == expected
    assert env["X"] == "y" and env["PATH"] == "/bin"


def test_continuation_prompt_lists_every_answer() -> None:
    text = continuation_prompt({"Which database?": "SQLite", "Name": "demo"})
    assert "- Which database?: SQLite" in text and "- Name: demo" in text


def test_resolve_binary_precedence_and_missing(tmp_path: Path) -> None:
    assert resolve_binary("/bin/sh", {"SPECFLOW_CLAUDE": "/nope"}) == "/bin/sh"
    assert resolve_binary(None, {"SPECFLOW_CLAUDE": "/bin/sh"}) == "/bin/sh"
    with pytest.raises(AgentUnavailable) as info:
        resolve_binary(None, {"PATH": str(tmp_path)})
    on_path = tmp_path / "claude"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    assert resolve_binary(None, {"PATH": str(tmp_path)}) == str(on_path)
    assert info.value.kind == "agent_unavailable" and "claude" in info.value.message
