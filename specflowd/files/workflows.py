"""On-disk layout of ``{project}/.specflow/workflows/`` (docs/daemon.md#files-on-disk) for orchestration documents.

``orchestration-{id}.json`` is replaced atomically after every change; ``orchestration-{id}.events.jsonl``
is the append-only decision log. Documents are plain dicts here: the domain layer owns their schema.
``Journal`` writes the two crash-consistently (see its docstring).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from specflowd.errors import StorageError
from specflowd.faults import fault
from specflowd.files.atomic import append_jsonl, atomic_write_json

__all__ = ["LOG_KEY", "Journal", "WorkflowDir", "workflows_dir"]

log = logging.getLogger(__name__)

# The record document's key for the decision log's bookkeeping (not part of the domain record).
LOG_KEY = "decision_log"

_RECORD = re.compile(r"^orchestration-(?P<id>[A-Za-z0-9_-]+)\.json$")


@functools.lru_cache(maxsize=4096)
def workflows_dir(project_root: Path) -> Path:
    """``{project}/.specflow/workflows``, where run directories and orchestration documents live. Cached: a
    restart asks for it for every run directory it scans, and joining Paths is a large part of a scan."""
    return project_root / ".specflow" / "workflows"


class WorkflowDir:
    def __init__(self, project_root: Path) -> None:
        self.root = workflows_dir(project_root)

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
        try:
            names = os.listdir(self.root)  # names, not Paths: the directory holds every run's directory too
        except OSError:
            return []
        return sorted(m["id"] for name in names if (m := _RECORD.match(name)))

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

    def last_seq(self, orchestration_id: str) -> int:
        """The highest ``seq`` in the decision log (0 when none: a new log, or one from before sequence numbers)."""
        seqs = [e["seq"] for e in self.read_events(orchestration_id) if isinstance(e.get("seq"), int)]
        return max(seqs, default=0)


    def read_events_from(
        self, orchestration_id: str, since: int = 0, limit: int = 500
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """Up to ``limit`` entries from byte offset ``since``: (entries, next offset, more remain). Only complete
        lines are read, so a line being appended right now is returned by the next call, whole."""
        entries: list[dict[str, Any]] = []
        offset = since
        try:
            with self.events_path(orchestration_id).open("rb") as handle:
                handle.seek(since)
                for line in handle:
                    if not line.endswith(b"\n") or len(entries) >= limit:
                        return entries, offset, len(entries) >= limit and line.endswith(b"\n")
                    offset += len(line)
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue  # a torn line after a crash: skip it, keep the rest
                    if isinstance(entry, dict):
                        entries.append(entry)
        except FileNotFoundError:
            pass
        return entries, offset, False


class Journal:
    """One orchestration's record document and its decision log, written so that after any crash the log
    holds every decision the record reflects.

    Each change is one ``commit(document, entry)``: the entry gets the next sequence number, the document is
    saved carrying it under ``decision_log: {seq, pending: [entries not yet in the log]}``, then the entry is
    appended. A SIGKILL between the two leaves a record whose pending entry is missing from the log;
    ``open()`` (the next load) appends every pending entry whose ``seq`` the log does not have yet. The log
    therefore never holds a decision the record does not reflect, and is complete again before the engine
    acts on the record. An append that fails (disk full) keeps its entry pending, carried by every later
    save and appended by the next commit or load that can."""

    def __init__(self, files: WorkflowDir, orchestration_id: str, seq: int = 0) -> None:
        self.files = files
        self.id = orchestration_id
        self.seq = seq
        self.pending: list[dict[str, Any]] = []

    @classmethod
    def open(cls, files: WorkflowDir, orchestration_id: str) -> tuple[dict[str, Any], Journal]:
        """Load the record document (without the bookkeeping key) and repair its decision log.
        Raises like ``WorkflowDir.load``; an invalid bookkeeping value is a ValueError."""
        document = files.load(orchestration_id)
        meta = document.pop(LOG_KEY, None) or {}  # absent in records written before sequence numbers
        seq = meta.get("seq", 0) if isinstance(meta, dict) else None
        pending = meta.get("pending", []) if isinstance(meta, dict) else None
        if not isinstance(seq, int) or not isinstance(pending, list) or not all(isinstance(e, dict) for e in pending):
            raise ValueError(f"{LOG_KEY} is not {{seq: int, pending: [objects]}}")
        journal = cls(files, orchestration_id, seq)
        logged = files.last_seq(orchestration_id)
        journal.pending = [e for e in pending if isinstance(e.get("seq"), int) and e["seq"] > logged]
        if journal.pending:
            log.warning(
                "orchestration %s: %d decision(s) of the record were missing from its log; appending them",
                orchestration_id,
                len(journal.pending),
            )
            try:
                journal._flush()
            except StorageError as exc:  # kept pending; the next commit tries again
                log.warning("%s", exc.message)
        return document, journal

    def commit(self, document: dict[str, Any], entry: dict[str, Any], *, held: bool = False) -> None:
        """Save ``document`` and append ``entry`` (given the next ``seq``). StorageError when either fails.

        When the save fails the change did not happen on disk: its entry is dropped, unless ``held`` (the
        caller keeps the change in memory anyway, to be saved by a later write) — then it stays pending and
        reaches the log with the first save that succeeds."""
        staged = {"seq": self.seq + 1, **entry}
        try:
            self.save(document, staged)
        except StorageError:
            if held:
                self.seq, self.pending = staged["seq"], [*self.pending, staged]
            raise
        self.seq, self.pending = staged["seq"], [*self.pending, staged]
        fault("between_record_and_log")
        self._flush()

    def save(self, document: dict[str, Any], staged: dict[str, Any] | None = None) -> None:
        """Save ``document`` without a new decision (e.g. a noted cost); pending entries ride along."""
        pending = [*self.pending, staged] if staged else list(self.pending)
        seq = staged["seq"] if staged else self.seq
        self.files.save(self.id, {**document, LOG_KEY: {"seq": seq, "pending": pending}})

    def _flush(self) -> None:
        while self.pending:
            self.files.append_event(self.id, self.pending[0])
            self.pending.pop(0)


def _parse_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn last line after a crash: skip it, keep the rest
            if isinstance(entry, dict):
                yield entry
