"""Builders of small on-disk projects for the snapshot/status tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.project.samples import ROADMAP_SAMPLES, STATE_SAMPLE

TASKS = "# Tasks: current\n## Phase 1: Setup\n- [x] T001 a\n## Phase 2: Core\n- [ ] T002 b\n- [ ] T003 c (after T002)\n"


class ProjectBuilder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def feature(self, name: str, *artifacts: str, tasks: str | None = None) -> Path:
        directory = self.root / "specs" / name
        directory.mkdir(parents=True, exist_ok=True)
        for artifact in artifacts:
            if artifact == "checklists":
                (directory / "checklists").mkdir()
            else:
                (directory / f"{artifact}.md").write_text(f"# {artifact}\n", encoding="utf-8")
        if tasks is not None:
            (directory / "tasks.md").write_text(tasks, encoding="utf-8")
        return directory

    def state(self, **phase: Any) -> dict[str, Any]:
        """Write the real sample state file, with ``orchestration.phase`` fields overridden."""
        document: dict[str, Any] = json.loads(STATE_SAMPLE.read_text(encoding="utf-8"))
        document["orchestration"]["phase"].update(phase)
        self.write_state(json.dumps(document))
        return document

    def write_state(self, text: str) -> None:
        (self.root / ".specflow").mkdir(exist_ok=True)
        (self.root / ".specflow" / "orchestration-state.json").write_text(text, encoding="utf-8")

    def roadmap(self, sample: str = "roadmap-edge-cases.md") -> None:
        shutil.copy(ROADMAP_SAMPLES / sample, self.root / "ROADMAP.md")


@pytest.fixture
def project(tmp_path: Path) -> ProjectBuilder:
    root = tmp_path / "proj"
    root.mkdir()
    return ProjectBuilder(root)
