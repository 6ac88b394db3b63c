"""A run's directory ``{project}/.specflow/workflows/{session_id}/`` and its metadata document."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from specflowd.errors import StorageError
from specflowd.runner.verdict import FINAL_STATUSES, RunStatus
from specflowd.store.atomic import atomic_write_json

__all__ = ["ProcessIdentity", "RunDir", "RunRecord", "now_iso"]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ProcessIdentity(BaseModel):
    pid: int
    create_time: float
    boot_time: float
    pgid: int


class RunRecord(BaseModel):
    run_id: str
    project_root: str
    step: str
    orchestration_id: str | None = None
    batch: int | None = None
    attempt: int = 1
    argv: list[str] = Field(default_factory=list)
    status: RunStatus = RunStatus.STARTING
    error: str | None = None
    message: str | None = None
    questions: list[dict[str, Any]] = Field(default_factory=list)
    answers: list[dict[str, str]] = Field(default_factory=list)
    cost_usd: float = 0.0
    budget_usd: float = 0.0
    turns: int = 0
    model: str | None = None
    tool_calls: int = 0
    bad_lines: int = 0
    offset: int = 0
    continuations: int = 0
    exit_code: int | None = None
    stderr_tail: str = ""
    last_texts: list[str] = Field(default_factory=list)
    rate_limit_reset: str | None = None
    stale_after_s: float = 600.0
    created_at: str = Field(default_factory=now_iso)
    started_at: str | None = None
    finished_at: str | None = None
    last_activity: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


class RunDir:
    def __init__(self, project_root: Path, run_id: str) -> None:
        self.path = project_root / ".specflow" / "workflows" / run_id
        self.metadata = self.path / "metadata.json"
        self.output = self.path / "output.jsonl"
        self.stderr = self.path / "stderr.log"
        self.pidfile = self.path / "process.pid"

    def prompt_file(self, continuation: int) -> Path:
        return self.path / ("prompt.txt" if continuation == 0 else f"prompt-{continuation}.txt")

    def save(self, record: RunRecord) -> None:
        try:
            atomic_write_json(self.metadata, record.model_dump(mode="json"))
        except OSError as exc:
            raise StorageError(
                f"cannot write run metadata {self.metadata}: {exc.strerror}", run=record.run_id
            ) from None

    def load(self) -> RunRecord:
        return RunRecord.model_validate_json(self.metadata.read_bytes())

    def save_identity(self, identity: ProcessIdentity) -> None:
        atomic_write_json(self.pidfile, identity.model_dump())

    def load_identity(self) -> ProcessIdentity | None:
        try:
            return ProcessIdentity.model_validate(json.loads(self.pidfile.read_text()))
        except (OSError, ValueError):
            return None

    def stderr_tail(self, limit: int = 2000) -> str:
        try:
            with self.stderr.open("rb") as handle:
                handle.seek(0, 2)
                size = handle.tell()
                handle.seek(max(0, size - limit))
                return handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    @staticmethod
    def scan(project_root: Path) -> list[RunDir]:
        root = project_root / ".specflow" / "workflows"
        if not root.is_dir():
            return []
        return [RunDir(project_root, p.name) for p in sorted(root.iterdir()) if (p / "metadata.json").is_file()]
