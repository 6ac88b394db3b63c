"""The helper's read-only tools, run by the daemon itself: Read, Grep, Glob. No write, no shell, ever.

Every path the model names is resolved (symlinks followed) and must stay inside the project root: ``..``
escapes, absolute paths elsewhere and symlinks that point out of the root are refused with ``ToolRefused``.
Outputs are capped so a tool result cannot blow the context (or the budget).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "READ_ONLY",
    "TOOL_SCHEMAS",
    "ToolError",
    "ToolRefused",
    "glob_files",
    "grep_files",
    "read_file",
    "resolve_inside",
    "run_tool",
]

READ_ONLY: frozenset[str] = frozenset({"Read", "Grep", "Glob"})

READ_MAX_BYTES = 64 * 1024
READ_MAX_LINES = 2000
GREP_MAX_RESULTS = 100
GREP_MAX_FILE_BYTES = 1024 * 1024
GREP_MAX_SCANNED_BYTES = 32 * 1024 * 1024
GLOB_MAX_RESULTS = 200
# Directories no helper question needs and whose size would only burn time.
_SKIP_DIRS = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache", ".ruff_cache"})


class ToolError(Exception):
    """The tool could not do what was asked (bad input, missing file): reported to the model as an error."""


class ToolRefused(ToolError):
    """The request would leave the project root."""


def resolve_inside(root: Path, name: str) -> Path:
    """Resolve ``name`` (relative to ``root`` or absolute) and refuse it unless it stays inside ``root``."""
    if "\x00" in name:
        raise ToolRefused("path contains a NUL byte")
    real_root = root.resolve()
    candidate = Path(name)
    target = (candidate if candidate.is_absolute() else real_root / candidate).resolve()
    if target != real_root and real_root not in target.parents:
        raise ToolRefused(f"path {name!r} is outside the project root")
    return target


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root.resolve()).as_posix() or "."


def read_file(root: Path, path: str, *, offset: int = 1, limit: int = READ_MAX_LINES) -> str:
    """Lines ``offset``.. (1-based) of a text file, numbered like ``cat -n``, at most READ_MAX_BYTES."""
    target = resolve_inside(root, path)
    if not target.is_file():
        raise ToolError(f"{path}: not a file")
    if offset < 1 or limit < 1:
        raise ToolError("offset and limit must be >= 1")
    limit = min(limit, READ_MAX_LINES)
    out: list[str] = []
    size = 0
    truncated = False
    with target.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if b"\x00" in raw:
                raise ToolError(f"{path}: binary file")
            if number < offset:
                continue
            if number >= offset + limit:
                truncated = True
                break
            line = f"{number:6d}\t{raw.decode('utf-8', errors='replace').rstrip(chr(10))}"
            size += len(line) + 1
            if size > READ_MAX_BYTES:
                truncated = True
                break
            out.append(line)
    if truncated:
        out.append(f"[truncated: read more with offset={offset + len(out)}]")
    return "\n".join(out) if out else "[no lines in that range]"


def _walk_files(root: Path, start: Path) -> Iterator[Path]:
    if start.is_file():
        yield start
        return
    real_root = root.resolve()
    for directory, dirnames, filenames in os.walk(start):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for filename in sorted(filenames):
            path = Path(directory) / filename
            real = path.resolve()
            # A symlinked file pointing out of the root is skipped, never read.
            if real_root in real.parents and real.is_file():
                yield path


def grep_files(root: Path, pattern: str, *, path: str = ".", glob: str | None = None, ignore_case: bool = False) -> str:
    """``file:line:text`` for each matching line, at most GREP_MAX_RESULTS lines."""
    start = resolve_inside(root, path)
    if not start.exists():
        raise ToolError(f"{path}: no such file or directory")
    try:
        regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ToolError(f"invalid regex: {exc}") from None
    results: list[str] = []
    scanned = 0
    for file in _walk_files(root, start):
        rel = _relative(root, file)
        if glob is not None and not (fnmatch.fnmatch(rel, glob) or fnmatch.fnmatch(file.name, glob)):
            continue
        try:
            size = file.stat().st_size
            if size > GREP_MAX_FILE_BYTES:
                continue
            data = file.read_bytes()
        except OSError:
            continue
        if b"\x00" in data:
            continue
        scanned += size
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if regex.search(line):
                results.append(f"{rel}:{number}:{line[:300]}")
                if len(results) >= GREP_MAX_RESULTS:
                    results.append(f"[truncated at {GREP_MAX_RESULTS} matches]")
                    return "\n".join(results)
        if scanned > GREP_MAX_SCANNED_BYTES:
            results.append("[stopped: scan limit reached]")
            break
    return "\n".join(results) if results else "[no matches]"


def glob_files(root: Path, pattern: str, *, path: str = ".") -> str:
    """Project-relative paths matching ``pattern`` (``**`` recursive), at most GLOB_MAX_RESULTS."""
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        raise ToolRefused(f"pattern {pattern!r} would leave the search directory")
    start = resolve_inside(root, path)
    if not start.is_dir():
        raise ToolError(f"{path}: not a directory")
    real_root = root.resolve()
    results: list[str] = []
    for match in sorted(start.glob(pattern)):
        if any(part in _SKIP_DIRS for part in match.relative_to(start).parts):
            continue
        real = match.resolve()
        if real != real_root and real_root not in real.parents:
            continue
        results.append(_relative(root, match))
        if len(results) >= GLOB_MAX_RESULTS:
            results.append(f"[truncated at {GLOB_MAX_RESULTS} paths]")
            break
    return "\n".join(results) if results else "[no matches]"


TOOL_SCHEMAS: Mapping[str, dict[str, Any]] = {
    "Read": {
        "name": "Read",
        "description": "Read a text file of the project, numbered lines. Paths are relative to the project root.",
        "input_schema": {
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "offset": {"type": "integer", "minimum": 1, "description": "first line (1-based)"},
                "limit": {"type": "integer", "minimum": 1, "maximum": READ_MAX_LINES},
            },
            "required": ["path"],
        },
    },
    "Grep": {
        "name": "Grep",
        "description": "Search project files for a Python regular expression; returns file:line:text.",
        "input_schema": {
            "type": "object",
            "properties": {
                "pattern": {"type": "string"},
                "path": {"type": "string", "description": "file or directory, default the root"},
                "glob": {"type": "string", "description": "only files matching this glob, e.g. *.py"},
                "ignore_case": {"type": "boolean"},
            },
            "required": ["pattern"],
        },
    },
    "Glob": {
        "name": "Glob",
        "description": "List project files matching a glob pattern such as src/**/*.py.",
        "input_schema": {
            "type": "object",
            "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}},
            "required": ["pattern"],
        },
    },
}


def _str_arg(args: Mapping[str, object], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if not isinstance(value, str):
        raise ToolError(f"{name!r} must be a string")
    return value


def _int_arg(args: Mapping[str, object], name: str, default: int) -> int:
    value = args.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ToolError(f"{name!r} must be an integer")
    return value


def run_tool(root: Path, name: str, args: Mapping[str, object], allowed: frozenset[str] = READ_ONLY) -> str:
    """Run one tool call of the model. Raises ToolError (incl. ToolRefused) for anything it will not do."""
    if name not in allowed or name not in READ_ONLY:
        raise ToolRefused(f"tool {name!r} is not available")
    if name == "Read":
        return read_file(
            root,
            _str_arg(args, "path"),
            offset=_int_arg(args, "offset", 1),
            limit=_int_arg(args, "limit", READ_MAX_LINES),
        )
    if name == "Grep":
        glob = args.get("glob")
        return grep_files(
            root,
            _str_arg(args, "pattern"),
            path=_str_arg(args, "path", "."),
            glob=glob if isinstance(glob, str) else None,
            ignore_case=bool(args.get("ignore_case", False)),
        )
    return glob_files(root, _str_arg(args, "pattern"), path=_str_arg(args, "path", "."))
