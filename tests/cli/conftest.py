from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from specflowctl.demo import create_demo_project
from tests.engine.common import FAKE, SIM
from tests.support import Daemon, running_daemon

QUESTIONS = [
    {
        "question": "Which storage should the todo list use?",
        "header": "storage",
        "options": [{"label": "json", "description": "one JSON file"}, {"label": "sqlite"}],
    }
]


@pytest.fixture
def sim_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """The real daemon with the simulated agent as `claude`, instant (SPECFLOW_SIM_DELAY=0)."""
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=SIM, SPECFLOW_SIM_DELAY="0") as d:
        yield d


@pytest.fixture
def asking_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """The real daemon with the fake `claude`: the first run asks QUESTIONS, then every run completes."""
    script = tmp_path / "script.json"
    resumed = {"action": "complete", "tasks": ["T001", "T002", "T003", "T004"]}  # the answered session's batch
    script.write_text(json.dumps([{"action": "ask", "questions": QUESTIONS}, resumed]))
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=FAKE, FAKE_CLAUDE_SCRIPT=str(script)) as d:
        yield d


def demo_project(d: Daemon, name: str = "demo") -> Path:
    root = create_demo_project(d.root / name)
    d.rpc("projects.register", {"path": str(root)})
    return root
