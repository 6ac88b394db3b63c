"""On-disk layout of ``{project}/.specflow/workflows/`` (docs/architecture.md#files) for orchestration documents.

``orchestration-{id}.json`` is replaced atomically after every change; ``orchestration-{id}.events.jsonl``
is the append-only decision log. Documents are plain dicts here: the domain layer owns their schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from specflowd.errors import StorageError
from specflowd.store.atomic import append_jsonl, atomic_write_json

__all__ = ["WorkflowDir"]

_RECORD = re.compile(r"^orchestration-(?P<id>[A-Za-z0-9_-]+)\.json$")


class WorkflowDir:
    def __init__(self, project_root: Path) -> None:
        self.root = project_root / ".specflow" / "workflows"

    def record_path(self, orchestration_id: str) -> Path:
        return self.root / f"orchestration-{orchestration_id}.json"

    def events_path(self, orchestration_id: str) -> Path:
        return self.root / f"orchestration-{orchestration_id}.events.jsonl"

    def save(self, orchestration_id: str, document: dict[str, Any]) -> None:
        try:
            atomic_write_json(self.record_path(orchestration_id), document)
        except OSError as exc:
            raise StorageError(
                f"cannot write orchestration {orchestration_id}: {exc.strerror}; the previous state is intact",
                orchestration=orchestration_id,
            ) from None

    def append_event(self, orchestration_id: str, entry: dict[str, Any]) -> None:
        try:
            append_jsonl(self.events_path(orchestration_id), entry)
        except OSError as exc:
            raise StorageError(
                f"cannot append to the decision log of {orchestration_id}: {exc.strerror}",
                orchestration=orchestration_id,
            ) from None

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(m["id"] for p in self.root.iterdir() if (m := _RECORD.match(p.name)))

    def load(self, orchestration_id: str) -> dict[str, Any]:
        """Raises FileNotFoundError, or ValueError for a corrupt document."""
        document = json.loads(self.record_path(orchestration_id).read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise ValueError("orchestration document is not an object")
        return document

    def read_events(self, orchestration_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        path = self.events_path(orchestration_id)
        if not path.exists():
            return []
        entries = list(_parse_lines(path))
        return entries[-limit:] if limit else entries


def _parse_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn last line after a crash: skip it, keep the rest
            if isinstance(entry, dict):
                yield entry
