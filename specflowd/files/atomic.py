"""Durable file writes: atomic JSON documents and append-only JSONL logs.

Atomic replace = temp file in the same directory, fsync, rename, fsync the directory, so a reader (or a
restarted daemon) sees either the old document or the new one, never a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from specflowd.faults import fault

__all__ = [
    "TEMP_SUFFIX",
    "append_jsonl",
    "atomic_create_dir",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "json_bytes",
    "read_json",
]

# Temporary names are ``.<target name>.<8 random chars>.tmp`` (tempfile's mkstemp/mkdtemp): hidden, and
# recognisable at start as leftovers of a write a crash interrupted (store.leftovers).
TEMP_SUFFIX = ".tmp"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically. Raises OSError (e.g. ENOSPC) leaving the old file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        fault("mid_atomic_write")
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def json_bytes(document: Any) -> bytes:
    """``document`` (JSON values, or a pydantic model: written as its JSON dump, no detour through dicts) as the
    indented JSON (UTF-8, keys in their order) the atomic writers store.

    pydantic-core's encoder (Rust) writes it: the standard library's encoder is pure Python as soon as it
    indents, slow on a large record, and every call leaves a cycle of closures behind for the garbage collector,
    whose full collections stall every client during a burst of writes. A string that is not valid UTF-8 (a lone
    surrogate) raises ``UnicodeEncodeError``, as ``json.dumps``' text would when encoded."""
    try:
        return to_json(document, indent=2) + b"\n"
    except PydanticSerializationError as exc:
        if "surrogates not allowed" in str(exc):
            raise UnicodeEncodeError("utf-8", "", 0, 0, str(exc)) from None
        raise TypeError(str(exc)) from None  # what json.dumps raised for a value it cannot write


def atomic_write_json(path: Path, document: Any, *, mode: int = 0o644) -> None:
    """Write ``document`` as indented JSON, atomically."""
    atomic_write_bytes(path, json_bytes(document), mode=mode)


def atomic_create_dir(path: Path, fill: Callable[[Path], None]) -> None:
    """Create the directory ``path`` with its first files in one step: ``fill`` writes them into a temporary
    sibling, which is then renamed to ``path``. Nobody ever sees ``path`` half-filled, and a crash leaves
    only a hidden temporary directory. FileExistsError when ``path`` exists (nothing is replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise FileExistsError(f"{path} exists")
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent))
    try:
        fill(staging)
        if path.exists():
            raise FileExistsError(f"{path} exists")
        os.rename(staging, path)  # an existing non-empty directory makes this fail, never merges
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(path.parent)


def read_json(path: Path) -> Any:
    """Read a JSON document; raises FileNotFoundError or ValueError (json.JSONDecodeError)."""
    with path.open("rb") as handle:
        return json.loads(handle.read())


def append_jsonl(path: Path, record: Any) -> None:
    """Append one JSON line and fsync it: the log survives a crash line by line. A torn last line (a write
    cut short) is terminated first, so it stays one unreadable line instead of swallowing this one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    with path.open("a+b") as handle:
        if handle.seek(0, os.SEEK_END) > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                line = "\n" + line
        handle.write(line.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
