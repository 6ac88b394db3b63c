"""The demo project: a small SpecFlow project (ROADMAP, spec, plan, 4-section tasks.md) to orchestrate
with the simulated agent, so a newcomer sees a whole phase complete without spending a cent."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["DEMO_FEATURE", "DEMO_QUESTIONS", "create_demo_project", "default_demo_dir", "git_work_tree"]

DEMO_FEATURE = "0001-todo-cli"
# What the simulated agent asks with ``specflowctl demo --ask`` (the result schema's question shape)
DEMO_QUESTIONS = [
    {
        "question": "Where should the todo list keep its items?",
        "header": "storage",
        "options": [
            {"label": "json", "description": "one JSON file next to the program"},
            {"label": "sqlite", "description": "a SQLite database"},
        ],
    }
]

_SECTIONS: list[tuple[str, list[str]]] = [
    (
        "Phase 1: Setup",
        [
            "Create the package layout",
            "Add pyproject.toml with a console script",
            "Configure ruff and pytest",
            "Add a README with usage",
        ],
    ),
    (
        "Phase 2: Core Components",
        [
            "Define the Todo model",
            "Implement the JSON store (depends on T005)",
            "Add the `add` command",
            "Add the `list` command",
            "Add the `done` command (after T008)",
            "Unit tests for the store",
        ],
    ),
    (
        "Phase 3: User Story 1 - Due dates",
        [
            "Parse due dates",
            "Show overdue items first",
            "Add `--due` to the add command",
            "Tests for due dates",
            "Document due dates",
        ],
    ),
    (
        "Phase 4: Polish",
        [
            "Colourise the output",
            "Add shell completion",
            "Write the changelog",
            "Run the full test suite [V]",
            "Tag the release",
        ],
    ),
]


def _tasks_md() -> str:
    lines = ["# Tasks: Todo CLI", "", "**Input**: Design documents from `/specs/0001-todo-cli/`", ""]
    number = 1
    for heading, tasks in _SECTIONS:
        lines += [f"## {heading}", ""]
        for text in tasks:
            marker = " [P]" if number % 3 == 0 else ""
            lines.append(f"- [ ] T{number:03d}{marker} {text}")
            number += 1
        lines.append("")
    return "\n".join(lines)


def git_work_tree(path: Path) -> Path | None:
    """The git work tree ``path`` lies in (a ``.git`` directory or file in it or a parent), else None."""
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _free(directory: Path) -> Path:
    """``directory``, or ``directory-2``, ``-3``… : the first that is absent or empty."""
    candidate, n = directory, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        n += 1
        candidate = directory.with_name(f"{directory.name}-{n}")
    return candidate


def default_demo_dir(cwd: Path, home: Path, specflow_home: Path) -> Path:
    """Where ``specflowctl demo`` puts its project when not told: ``./specflow-demo`` unless the current
    directory is inside a git checkout (a demo project there would litter someone's repository), then
    ``~/specflow-demo``, else under SPECFLOW_HOME. A used directory gets a ``-2``, ``-3``… suffix."""
    for base in (cwd, home):
        if git_work_tree(base) is None:
            return _free(base / "specflow-demo")
    return _free(specflow_home / "demos" / "specflow-demo")


def create_demo_project(root: Path, *, ask: bool = False, pace: float | None = None) -> Path:
    """Create the demo project in ``root`` (which must be empty or absent). Returns the project root.
    ``ask``: the simulated agent asks DEMO_QUESTIONS before the first batch; ``pace``: seconds between its
    simulated tool calls (its ``pace`` file, which wins over the daemon's SPECFLOW_SIM_DELAY)."""
    root = root.expanduser().absolute()
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    feature = root / "specs" / DEMO_FEATURE
    feature.mkdir(parents=True)
    (root / "ROADMAP.md").write_text(
        "# Roadmap\n\n| Phase | Name | Status | Verification Gate |\n|-------|------|--------|-------------------|\n"
        "| 0001 | Todo CLI | 🔄 In Progress | Tests pass |\n| 0002 | Sync | ⬜ Not Started | USER GATE |\n",
        encoding="utf-8",
    )
    (feature / "spec.md").write_text("# Spec: Todo CLI\n\nA tiny command-line todo list.\n", encoding="utf-8")
    (feature / "plan.md").write_text("# Plan: Todo CLI\n\nPython, JSON file storage, argparse.\n", encoding="utf-8")
    (feature / "tasks.md").write_text(_tasks_md(), encoding="utf-8")
    state = {
        "schema_version": "3.0",
        "orchestration": {
            "phase": {
                "number": "0001",
                "name": "Todo CLI",
                "branch": DEMO_FEATURE,
                "status": "in_progress",
                "hasUserGate": False,
                "userGateStatus": None,
            },
            "step": {"current": "design", "index": 0, "status": "complete"},
        },
    }
    (root / ".specflow").mkdir()
    (root / ".specflow" / "orchestration-state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
    sim = root / ".specflow" / "sim-agent"
    if ask:
        sim.mkdir(exist_ok=True)
        (sim / "ask.json").write_text(json.dumps(DEMO_QUESTIONS, indent=2), encoding="utf-8")
    if pace is not None:
        sim.mkdir(exist_ok=True)
        (sim / "pace").write_text(f"{pace}\n", encoding="utf-8")
    return root
