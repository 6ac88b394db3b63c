"""A project's history index: ``{project}/.specflow/workflows/{kind}.index.json`` (``runs.index.json``,
``orchestrations.index.json``). I/O only; what a summary holds is the caller's.

For every *finished* record (a run's ``metadata.json``, an orchestration's ``orchestration-{id}.json``) it keeps a
small summary (what listing, counting and id prefixes need); at start a record with an entry is known from the
summary alone and read from disk only when asked for. Any other — new, not finished, missing from the index, or
the index itself missing, corrupt or from another version — is loaded from its files as without an index, and
indexed again. So a lost or corrupt index costs one slower start, never a record.

Two kinds of entries, by what guarantees them:
- *fingerprinted* (orchestrations): the entry also keeps the (inode, mtime, size) of the record's files, and is
  used only while they match — an orchestration's files change after it finished (a note appended to its log);
- *trusted* (runs): no stat at start (10 000 finished runs were 20 000 stats, most of a restart). It holds because
  the daemon is the only writer of a run's files, a finished run's files change only when it is continued, and
  the run store takes the run out of the index, durably (``write``), before it writes the continued record; a
  run is indexed again only after its final record is durable.

Writes are atomic (temp file and rename). ``flush`` logs a failed write (the next start rebuilds); ``write`` raises
it, for a change the caller must not go past without.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from specflowd.files.atomic import atomic_write_json

__all__ = ["INDEX_VERSION", "FileKey", "HistoryIndex", "file_key", "index_path"]

log = logging.getLogger(__name__)

INDEX_VERSION = 2  # 2: run entries are trusted (a version-1 index did not drop a continued run)

FileKey = tuple[int, ...]


def index_path(workflows: Path, kind: str) -> Path:
    return workflows / f"{kind}.index.json"


def file_key(*paths: Path | str) -> FileKey | None:
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


class HistoryIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, Any] = {}  # as read: each entry is checked when it is used
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
        index.entries = entries
        return index

    def fresh(self, name: str, key: FileKey | None) -> dict[str, Any] | None:
        """The summary of ``name``'s fingerprinted entry when its files are still those indexed."""
        entry = self.entries.get(name)
        if key is None or not isinstance(entry, dict) or entry.get("key") != list(key):
            return None  # a broken entry too: that record is read and indexed again
        return self.trusted(name)

    def trusted(self, name: str) -> dict[str, Any] | None:
        """The summary of ``name``'s entry, without looking at its files."""
        entry = self.entries.get(name)
        summary = entry.get("summary") if isinstance(entry, dict) else None
        return summary if isinstance(summary, dict) else None

    def put_trusted(self, name: str, summary: dict[str, Any]) -> None:
        self._set(name, {"summary": summary})

    def put(self, name: str, key: FileKey | None, summary: dict[str, Any]) -> None:
        if key is None:
            self.drop(name)
            return
        self._set(name, {"key": list(key), "summary": summary})

    def _set(self, name: str, entry: dict[str, Any]) -> None:
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
        try:
            self.write()
        except OSError as exc:
            log.warning("cannot write the history index %s: %s (the next start reads the records)", self.path, exc)

    def write(self) -> None:
        """Write the index if it changed, atomically and durably; raises OSError."""
        if not self.dirty or not self.path.parent.is_dir():
            return
        atomic_write_json(self.path, {"version": INDEX_VERSION, "entries": self.entries})
        self.dirty = False
