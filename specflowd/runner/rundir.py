"""Files of one run directory, ``{project}/.specflow/workflows/{session_id}/`` (docs/architecture.md#files).
I/O only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from specflowd.runner.models import ProcessIdentity, RunRecord
from specflowd.store.atomic import atomic_write_json, atomic_write_text, read_json

__all__ = ["RunDir", "iter_run_dirs", "workflows_dir"]


def workflows_dir(project_root: Path) -> Path:
    return project_root / ".specflow" / "workflows"


class RunDir:
    def __init__(self, project_root: Path, run_id: str) -> None:
        self.path = workflows_dir(project_root) / run_id
        self.metadata = self.path / "metadata.json"
        self.prompt = self.path / "prompt.txt"
        self.output = self.path / "output.jsonl"
        self.stderr = self.path / "stderr.log"
        self.pid_file = self.path / "process.pid"

    def continuation_prompt(self, n: int) -> Path:
        return self.path / f"prompt-{n}.txt"

    def save(self, record: RunRecord) -> None:
        atomic_write_json(self.metadata, json.loads(record.model_dump_json()))

    def load(self) -> RunRecord:
        return RunRecord.model_validate(read_json(self.metadata))

    def write_text(self, path: Path, text: str) -> None:
        atomic_write_text(path, text)

    def save_identity(self, identity: ProcessIdentity) -> None:
        atomic_write_json(self.pid_file, identity.model_dump())

    def load_identity(self) -> ProcessIdentity | None:
        try:
            return ProcessIdentity.model_validate(read_json(self.pid_file))
        except (OSError, ValueError, ValidationError):
            return None


def iter_run_dirs(project_root: Path) -> Iterator[RunDir]:
    """Every run directory that has a metadata.json (the caller loads it and handles a broken one)."""
    root = workflows_dir(project_root)
    if not root.is_dir():
        return
    for child in sorted(root.iterdir()):
        if child.is_dir() and (child / "metadata.json").is_file():
            yield RunDir(project_root, child.name)
