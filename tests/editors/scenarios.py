"""What the editor tests share: the demo project registered with a real daemon, the asking agent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from specflowctl.demo import create_demo_project
from tests.engine.common import FAKE, SIM
from tests.support import Daemon, running_daemon

SIM_AGENT = {"SPECFLOW_CLAUDE": SIM, "SPECFLOW_SIM_DELAY": "0"}  # the shipped simulated agent, instant

# what the asking agent's first batch run asks: one question with options, one without
QUESTIONS = [
    {"question": "Which storage?", "header": "storage", "options": [{"label": "json"}, {"label": "sqlite", "description": "one file"}]},
    {"question": "Which table?"},
]
ANSWERS = {"storage": "sqlite", "Which table?": "todos"}  # keyed by header, else question text


@contextmanager
def demo_daemon(root: Path, agent: dict[str, str]) -> Iterator[tuple[Daemon, Path]]:
    """The real daemon (``agent`` in its environment) with the demo project registered."""
    with running_daemon(root, **agent) as d:
        project = create_demo_project(root / "demo")
        d.rpc("projects.register", {"path": str(project)})
        yield d, project


def asking_agent(root: Path) -> dict[str, str]:
    """The scriptable fake CLI: the first run asks QUESTIONS, the resumed one completes batch 1."""
    script = root / "script.json"
    script.write_text(json.dumps([{"action": "ask", "questions": QUESTIONS}, {"action": "complete", "tasks": ["T001", "T002", "T003", "T004"]}]))
    return {"SPECFLOW_CLAUDE": FAKE, "FAKE_CLAUDE_SCRIPT": str(script), "FAKE_CLAUDE_ARGV_LOG": str(root / "argv.jsonl")}


def assert_resumed_with_answers(root: Path) -> None:
    """The asking agent's second invocation resumed the first one's session, with the answers in its prompt."""
    invocations = [json.loads(line) for line in (root / "argv.jsonl").read_text().splitlines()]
    first, resumed = invocations[0]["argv"], invocations[1]["argv"]
    assert resumed[resumed.index("--resume") + 1] == first[first.index("--session-id") + 1]
    assert all(answer in invocations[1]["prompt"] for answer in ANSWERS.values()), invocations[1]["prompt"]
