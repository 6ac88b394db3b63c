"""Answers are checked before they reach the agent: an option number out of range or text a question does
not take is asked again at the terminal and refused by the daemon (real CLI, real daemon, fake `claude`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import demo_project
from tests.engine.common import FAKE
from tests.support import Daemon, running_daemon, wait_until

STORAGE = {
    "question": "Which storage should the todo list use?",
    "header": "storage",
    "options": [{"label": "json", "description": "one JSON file"}, {"label": "sqlite"}],
}
NAME = {"question": "What should the table be called?", "header": "table", "options": [{"label": "todos"}],
        "allowOther": True}  # fmt: skip


@pytest.fixture
def waiting(tmp_path: Path) -> Iterator[tuple[Daemon, Path, str]]:
    """A standalone run waiting on STORAGE (options only) and NAME (options or the user's own words)."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"action": "ask", "questions": [STORAGE, NAME]}, {"action": "complete"}]))
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=FAKE, FAKE_CLAUDE_SCRIPT=str(script)) as d:
        root = demo_project(d)
        run_id = d.rpc("runs.start", {"project": str(root), "skill": "verify"})["run_id"]
        wait_until(lambda: d.rpc("runs.get", {"run": run_id})["status"] == "waiting_input", 30, what="the question")
        yield d, root, run_id


def test_an_answer_that_is_not_an_option_is_refused_and_nothing_is_lost(waiting: tuple[Daemon, Path, str]) -> None:
    d, root, run_id = waiting
    refused = d.ctl("answer", "--answer", "storage=postgres", "--answer", "table=items", cwd=root, check=False)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr == (
        "specflowctl: storage: 'postgres' is not an option: answer one of 'json', 'sqlite' [invalid_params]\n"
    )
    reply = d.raw("questions.answer", {"run": run_id, "answers": {"storage": "7"}})
    assert reply["error"]["code"] == -32602 and reply["error"]["data"]["kind"] == "invalid_params"
    assert reply["error"]["data"]["valid_values"] == {"storage": ["json", "sqlite"]}
    assert d.rpc("runs.get", {"run": run_id})["status"] == "waiting_input"  # still waiting, nothing sent
    # an option in another case is the option; a question with the "Other" choice takes the user's words
    d.ctl("answer", "--answer", "storage=SQLite", "--answer", "table=items", cwd=root)
    assert d.rpc("runs.get", {"run": run_id})["status"] != "waiting_input"


def test_interactive_answers_are_asked_again_until_valid_and_echoed(waiting: tuple[Daemon, Path, str]) -> None:
    d, root, run_id = waiting
    done = d.ctl("answer", cwd=root, input="7\npostgres\n2\nmy_items\n")
    assert done.stdout.splitlines() == [
        "Which storage should the todo list use?",
        "  1. json - one JSON file",
        "  2. sqlite",
        "answer (1-2): answer (1-2): answer (1-2):   storage: sqlite",
        "What should the table be called?",
        "  1. todos",
        "  or type your own answer",
        "answer (1 or text):   table: my_items  (your own words)",
        f"resumed run {run_id[:8]}",
    ]
    assert done.stderr.splitlines() == [
        "specflowctl: 7 is not an option: pick 1-2",
        "specflowctl: 'postgres' is not an option: pick 1-2 (this question takes only its options)",
    ]
    assert d.rpc("runs.get", {"run": run_id})["answers"] == [{"storage": "sqlite", "table": "my_items"}]
