"""A project's history index: ``{project}/.specflow/workflows/{kind}.index.json`` (``runs.index.json``,
``orchestrations.index.json``). I/O only; what a summary holds is the caller's.

A cache, never the truth. For every *finished* record (a run's ``metadata.json``, an orchestration's
``orchestration-{id}.json``) it keeps the fingerprint of the record's files when they were indexed and a small
summary (what listing, counting and id prefixes need). At start the daemon stats each record's files: one whose
fingerprint matches its entry is known from the summary alone, and read from disk only when asked for; any
other — new, changed, not finished, missing from the index, or the index itself missing, corrupt or from another
version — is loaded from its files as without an index, and indexed again. So a lost, stale or corrupt index
costs one slower start, never a record. Writes are atomic (temp file and rename); a failed write is logged and
changes nothing else.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specflowd.store.atomic import atomic_write_json

__all__ = ["INDEX_VERSION", "FileKey", "HistoryIndex", "IndexEntry", "file_key", "index_path"]

log = logging.getLogger(__name__)

INDEX_VERSION = 1

FileKey = tuple[int, ...]


def index_path(workflows: Path, kind: str) -> Path:
    return workflows / f"{kind}.index.json"


def file_key(*paths: Path) -> FileKey | None:
    """(inode, mtime in ns, size) of each path, flattened; None when one cannot be stat'ed. A directory's own
    entry changes when a file in it is created, renamed or removed (e.g. a temporary file of a write)."""
    key: list[int] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return None
        key += (st.st_ino, st.st_mtime_ns, st.st_size)
    return tuple(key)


@dataclass(frozen=True)
class IndexEntry:
    key: FileKey
    summary: dict[str, Any]


class HistoryIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, IndexEntry] = {}
        self.dirty = False

    @classmethod
    def open(cls, path: Path) -> HistoryIndex:
        """The index on disk; an empty one (to be rebuilt) when it is missing, unreadable, corrupt or of another
        version."""
        index = cls(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return index
        except (OSError, ValueError) as exc:
            log.info("history index %s unreadable (%s): rebuilding it from the records", path, exc)
            index.dirty = True
            return index
        if not isinstance(document, dict):
            document = {}
        entries = document.get("entries")
        if document.get("version") != INDEX_VERSION or not isinstance(entries, dict):
            log.info("history index %s is not of version %s: rebuilding it from the records", path, INDEX_VERSION)
            index.dirty = True
            return index
        for name, raw in entries.items():
            key, summary = (raw.get("key"), raw.get("summary")) if isinstance(raw, dict) else (None, None)
            if isinstance(key, list) and all(isinstance(k, int) for k in key) and isinstance(summary, dict):
                index.entries[name] = IndexEntry(tuple(key), summary)
            else:
                index.dirty = True  # a broken entry: that record is loaded and indexed again
        return index

    def fresh(self, name: str, key: FileKey | None) -> dict[str, Any] | None:
        """The summary of ``name`` when its files are still those indexed."""
        entry = self.entries.get(name)
        if entry is None or key is None or entry.key != key:
            return None
        return entry.summary

    def put(self, name: str, key: FileKey | None, summary: dict[str, Any]) -> None:
        if key is None:
            self.drop(name)
            return
        entry = IndexEntry(key, summary)
        if self.entries.get(name) != entry:
            self.entries[name] = entry
            self.dirty = True

    def drop(self, name: str) -> None:
        if self.entries.pop(name, None) is not None:
            self.dirty = True

    def retain(self, names: set[str]) -> None:
        """Forget the entries of records that are gone."""
        for name in [n for n in self.entries if n not in names]:
            self.drop(name)

    def flush(self) -> None:
        """Write the index if it changed (atomically; a failure is logged: the next start rebuilds)."""
        if not self.dirty or not self.path.parent.is_dir():
            return
        document = {
            "version": INDEX_VERSION,
            "entries": {name: {"key": list(e.key), "summary": e.summary} for name, e in self.entries.items()},
        }
        try:
            atomic_write_json(self.path, document)
        except OSError as exc:
            log.warning("cannot write the history index %s: %s (the next start reads the records)", self.path, exc)
            return
        self.dirty = False
