"""The real Claude Code CLI, run with specflowd's own command line against a scripted Messages API.

These pin the CLI contract specflowd depends on (docs/runs.md#command-line): the init line carries our pre-assigned
session id, tools really execute in the project directory, the answer comes back as validated
``structured_output``, ``--resume`` continues the same session, ``total_cost_usd`` is priced from the usage
the API reports, and ``--max-budget-usd`` ends the run with ``error_max_budget_usd`` and exit status 1.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from specflowd.runner.argv import build_argv, continuation_prompt
from tests.e2e.conftest import CliRun, RunCli
from tests.e2e.messages_api import ScriptedMessagesAPI, bash, edit, read, structured_output, tools

pytestmark = pytest.mark.real_cli

PROMPT = "Implement the open tasks in specs/0001-x/tasks.md and check them off.\n"
QUESTION = "Which database should the configuration loader target?"


def _tasks(project: Path) -> Path:
    return project / "specs" / "0001-x" / "tasks.md"


def _tool_results(run: CliRun) -> list[dict[str, Any]]:
    return [
        block
        for line in run.lines
        if line.get("type") == "user"
        for block in line["message"]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]


def test_completes_tasks_with_real_tools_and_structured_output(
    claude_cli: Path, project: Path, scripted_api: ScriptedMessagesAPI, run_cli: RunCli
) -> None:
    tasks = _tasks(project)
    scripted_api.extend(
        [
            # Bash runs for real in the project dir: the relative path proves the cwd.
            tools(bash("sed -i 's/^- \\[ \\] T001 /- [x] T001 /' specs/0001-x/tasks.md"), say="Checking T001."),
            # The real Edit tool refuses a file not yet Read in this session, so read first as a model would.
            tools(read(str(tasks))),
            tools(edit(str(tasks), "- [ ] T002 ", "- [x] T002 ")),
            tools(structured_output(status="completed", message="T001 and T002 done")),
        ]
    )
    session_id = str(uuid.uuid4())

    run = run_cli(build_argv(str(claude_cli), session_id=session_id, budget_usd=1), PROMPT, project)
    run.save_sample("completed-run")

    assert run.returncode == 0, run.stderr
    content = tasks.read_text()
    assert "- [x] T001 " in content
    assert "- [x] T002 " in content
    assert "- [ ] T003 " in content  # untouched
    assert run.init["session_id"] == session_id
    assert "StructuredOutput" in run.init["tools"]
    assert "AskUserQuestion" not in run.init["tools"]  # --disallowedTools took effect
    result = run.result
    assert result["subtype"] == "success"
    assert result["is_error"] is False
    assert result["session_id"] == session_id
    assert result["structured_output"] == {"status": "completed", "message": "T001 and T002 done"}
    assert result["total_cost_usd"] > 0
    results = _tool_results(run)
    assert len(results) == 4  # Bash, Read, Edit, StructuredOutput
    assert not any(block.get("is_error") for block in results), results
    assert scripted_api.remaining_turns == 0
    assert scripted_api.exhausted_hits == 0
    # What the CLI sent: the prompt arrived over stdin, and the schema became the StructuredOutput tool.
    first = next(r for r in scripted_api.requests if r.main_loop)
    assert PROMPT.strip() in json.dumps(first.body)
    assert "StructuredOutput" in first.tool_names


def test_needs_input_then_resume_completes_in_the_same_session(
    claude_cli: Path, project: Path, scripted_api: ScriptedMessagesAPI, run_cli: RunCli
) -> None:
    question = {
        "question": QUESTION,
        "header": "Database",
        "options": [{"label": "PostgreSQL", "description": "the default"}, {"label": "SQLite"}],
        "multiSelect": False,
    }
    scripted_api.extend(
        [tools(structured_output(status="needs_input", message="One decision needed", questions=[question]))]
    )
    session_id = str(uuid.uuid4())

    first = run_cli(build_argv(str(claude_cli), session_id=session_id, budget_usd=1), PROMPT, project)
    first.save_sample("needs-input-run")

    assert first.returncode == 0, first.stderr
    assert first.init["session_id"] == session_id
    assert first.result["subtype"] == "success"
    assert first.result["structured_output"]["status"] == "needs_input"
    assert first.result["structured_output"]["questions"] == [question]
    requests_before_resume = len([r for r in scripted_api.requests if r.main_loop])

    tasks = _tasks(project)
    answer = continuation_prompt({QUESTION: "SQLite"})
    scripted_api.extend(
        [
            tools(bash("sed -i 's/^- \\[ \\] T002 /- [x] T002 /' specs/0001-x/tasks.md")),
            tools(structured_output(status="completed", message="configured for SQLite")),
        ]
    )
    resumed = run_cli(
        build_argv(str(claude_cli), session_id=session_id, budget_usd=1, resume=True), answer, project
    )
    resumed.save_sample("resumed-run")

    assert resumed.returncode == 0, resumed.stderr
    assert resumed.init["session_id"] == session_id
    assert resumed.result["subtype"] == "success"
    assert resumed.result["session_id"] == session_id
    assert resumed.result["structured_output"] == {"status": "completed", "message": "configured for SQLite"}
    assert "- [x] T002 " in tasks.read_text()
    # A real resume: the first model call of the second invocation carries the earlier conversation
    # (the original prompt and the needs_input answer) followed by the user's answer.
    resumed_first = [r for r in scripted_api.requests if r.main_loop][requests_before_resume]
    sent = json.dumps((resumed_first.body or {}).get("messages"))
    assert PROMPT.strip() in sent
    assert QUESTION in sent
    assert sent.index(PROMPT.strip()) < sent.rindex("SQLite")
    assert scripted_api.exhausted_hits == 0


def test_tiny_budget_ends_with_error_max_budget_usd_and_exit_1(
    claude_cli: Path, project: Path, scripted_api: ScriptedMessagesAPI, run_cli: RunCli
) -> None:
    # One usage-heavy turn that wants to go on (a tool call): the CLI must stop after pricing it.
    scripted_api.extend(
        [
            tools(bash("echo first"), input_tokens=200_000, output_tokens=4_000),
            tools(structured_output(status="completed", message="should never be reached")),
        ]
    )
    session_id = str(uuid.uuid4())

    run = run_cli(build_argv(str(claude_cli), session_id=session_id, budget_usd=0.0001), PROMPT, project)
    run.save_sample("budget-exceeded-run")

    assert run.returncode == 1, run.stdout
    result = run.result
    assert result["subtype"] == "error_max_budget_usd"
    assert result["is_error"] is True
    assert result["session_id"] == session_id
    assert result["total_cost_usd"] > 0.0001
    assert "structured_output" not in result
    assert any("budget" in str(e).lower() for e in result.get("errors", [])), result
    assert scripted_api.remaining_turns == 1  # the run stopped before asking for the next turn
