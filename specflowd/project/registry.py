"""The project registry ``$SPECFLOW_HOME/registry.json``, shared with other SpecFlow tools.

Rules: never crash on a corrupt or half-written file and never forget the last good view (keep serving it
and expose the problem); writes are atomic and round-trip every key we do not understand.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from specflowd.errors import NotFound, ProjectError, StorageError
from specflowd.files.atomic import atomic_write_json

__all__ = ["ProjectEntry", "Registry"]


class ProjectEntry(BaseModel):
    id: str
    path: str
    name: str
    registered_at: str | None = None
    last_seen: str | None = None
    group: str | None = Field(None, description="the run scheduler group of its runs (registry key `group`)")


@dataclass(frozen=True)
class _Root:
    entry: ProjectEntry
    wide: bool  # the filesystem root, the home directory or above: it matches only its exact path


@dataclass
class _Loaded:
    document: dict[str, Any]
    projects: dict[str, ProjectEntry]
    roots: dict[Path, _Root] = field(default_factory=dict)  # each entry's resolved path (see _index)


# What makes a directory a project root: SpecFlow's own directories, the feature specs, the roadmap, or a git
# checkout (a fresh project before SpecFlow's first step). See docs/daemon.md, "Registry".
PROJECT_MARKERS = (".specflow", ".specify", "specs", "ROADMAP.md", ".git")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, RuntimeError):
        return "symlink loop" if "loop" in str(exc).lower() else str(exc)
    return str(exc) or type(exc).__name__


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (OSError, RuntimeError, ValueError):
        return None


@dataclass(frozen=True)
class _Home:
    """The resolved home directory and its ancestors, looked up once for a whole registry."""

    path: Path
    ancestors: frozenset[Path]

    @classmethod
    def find(cls) -> _Home | None:
        home = _home()
        return None if home is None else cls(home, frozenset(home.parents))


def _container_problem(root: Path, home: _Home | None = None) -> str | None:
    """The filesystem root, the home directory and its ancestors hold projects; they never are one (a
    registered ``/`` would swallow every path). ``home``: when already known."""
    if root == Path(root.anchor):
        return "it is the filesystem root"
    home = home or _Home.find()
    if home is None:
        return None
    if root == home.path:
        return "it is your home directory"
    if root in home.ancestors:
        return "it contains your home directory"
    return None


def _marker_problem(root: Path) -> str | None:
    try:
        if any(os.path.lexists(root / marker) for marker in PROJECT_MARKERS):
            return None
    except (OSError, ValueError):
        pass
    return f"it holds none of {', '.join(PROJECT_MARKERS)}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _parse(text: str) -> _Loaded:
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("top level is not an object")
    raw_projects = document.get("projects", {})
    if not isinstance(raw_projects, dict):
        raise ValueError('"projects" is not an object')
    projects: dict[str, ProjectEntry] = {}
    for project_id, entry in raw_projects.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ValueError(f"project {project_id!r} has no path")
        projects[project_id] = ProjectEntry(
            id=project_id,
            path=entry["path"],
            name=str(entry.get("name") or Path(entry["path"]).name),
            registered_at=entry.get("registered_at"),
            last_seen=entry.get("last_seen"),
            group=entry["group"] if isinstance(entry.get("group"), str) else None,
        )
    return _Loaded(document, projects)


def _resolved(path: str) -> Path:
    """``path`` resolved, a missing one included; a symlink loop raises on every Python: 3.11's ``resolve()``
    raises RuntimeError for one, 3.13's returns a path through it, which would match an entry through the same
    loop (so the strict resolve goes first, and only a missing file falls back to the lenient one)."""
    try:
        return Path(path).resolve(strict=True)
    except FileNotFoundError:
        return Path(path).resolve()


def _index(projects: dict[str, ProjectEntry]) -> dict[Path, _Root]:
    """Each entry under its resolved path, so a ``{project}`` path is matched by a few dictionary lookups
    instead of resolving every registered path on every call. Built when the file is (re)loaded; an entry
    whose path cannot be resolved (a symlink loop, too long) matches nothing; of two entries naming the
    same directory the first in the file wins."""
    home = _Home.find()
    roots: dict[Path, _Root] = {}
    for entry in projects.values():
        try:
            root = _resolved(entry.path)
        except (OSError, RuntimeError, ValueError):  # RuntimeError: a symlink loop (Python 3.11)
            continue
        if root not in roots:
            roots[root] = _Root(entry, wide=_container_problem(root, home) is not None)
    return roots


@dataclass
class Registry:
    """Reads (``resolve``, ``projects``) use the last good view and never block. Loading and changing the file
    may run in worker threads (the daemon keeps fsync off its event loop): they are serialised by a lock."""

    path: Path
    _good: _Loaded = field(default_factory=lambda: _Loaded({"projects": {}}, {}))
    problem: str | None = None
    _fingerprint: tuple[int, int, int] | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def fingerprint(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    @property
    def loaded_fingerprint(self) -> tuple[int, int, int] | None:
        """The file's fingerprint when it was last read (None: it did not exist)."""
        return self._fingerprint

    def changed_on_disk(self) -> bool:
        return self.fingerprint() != self._fingerprint

    def load(self) -> bool:
        """Re-read the file. Returns True when the set of projects changed. Never raises."""
        with self._lock:
            return self._load()

    def _load(self) -> bool:
        self._fingerprint = self.fingerprint()
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            loaded = _Loaded({"projects": {}}, {})
        except OSError as exc:
            self.problem = f"cannot read {self.path}: {exc.strerror}"
            return False
        else:
            try:
                loaded = _parse(text)
            except (ValueError, TypeError) as exc:
                self.problem = f"{self.path} is not valid ({exc}); serving the last good view"
                return False
        loaded.roots = _index(loaded.projects)
        before = {k: v.path for k, v in self._good.projects.items()}
        self._good = loaded
        self.problem = None
        return before != {k: v.path for k, v in loaded.projects.items()}

    def projects(self) -> list[ProjectEntry]:
        return sorted(self._good.projects.values(), key=lambda p: (p.name, p.id))

    def resolved_roots(self) -> list[Path]:
        """The resolved directory of every registered project (one per directory), as the last load resolved
        them: a restart reconciles 500 projects without resolving each path a second time."""
        return list(self._good.roots)

    def count(self) -> int:
        return len(self._good.projects)

    def resolve(self, ref: str) -> ProjectEntry:
        """A registry id, an absolute path of a registered project, or a path inside one. Any path the OS
        cannot resolve (NUL, a symlink loop, too long) is simply not a registered project: ``NotFound``."""
        loaded = self._good
        if ref in loaded.projects:
            return loaded.projects[ref]
        if os.path.isabs(ref):
            try:
                target = _resolved(ref)
            except (OSError, RuntimeError, ValueError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
                raise NotFound(f"no registered project matches {ref!r}: {_reason(exc)}", ref=ref) from None
            exact = loaded.roots.get(target)
            if exact is not None:
                return exact.entry
            for parent in target.parents:  # deepest first: the innermost registered project wins
                root = loaded.roots.get(parent)
                if root is not None and not root.wide:
                    return root.entry
            try:
                missing = not target.exists()
            except OSError:  # e.g. permission denied on a parent: say what is certain
                missing = False
            if missing:
                raise NotFound(f"{ref} does not exist", ref=ref)
            raise NotFound(
                f"{ref} is not inside a registered project; register it with `specflowctl projects add PATH`",
                ref=ref,
            )
        raise NotFound(f"no registered project matches {ref!r} (see `specflowctl projects list`)", ref=ref)

    def _fresh_document(self) -> dict[str, Any]:
        """The document to modify: the file as it is now, so concurrent edits by other tools survive."""
        try:
            return _parse(self.path.read_text(encoding="utf-8")).document
        except FileNotFoundError:
            return {"projects": {}}
        except (OSError, ValueError, TypeError) as exc:
            raise ProjectError(
                f"refusing to rewrite {self.path}: it is not valid JSON right now ({exc}); fix it first",
                path=str(self.path),
            ) from None

    def _write(self, document: dict[str, Any]) -> None:
        try:
            atomic_write_json(self.path, document)
        except (OSError, UnicodeError) as exc:  # UnicodeError: a lone surrogate escaped in the file by hand
            raise StorageError(f"cannot write {self.path}: {_reason(exc)}", path=str(self.path)) from None
        self.load()

    def register(self, path: str, name: str | None = None) -> ProjectEntry:
        with self._lock:
            return self._register(path, name)

    def _register(self, path: str, name: str | None) -> ProjectEntry:
        try:
            root = Path(path).expanduser()
            if not root.is_absolute():
                raise ProjectError(f"project path must be absolute: {path}", path=path)
            root = root.resolve(strict=True)
            if not root.is_dir():
                raise ProjectError(f"not a directory: {path}", path=path)
        except (OSError, RuntimeError, ValueError) as exc:  # missing, a symlink loop, too long, NUL, no such ~user
            raise ProjectError(f"cannot use {path!r} as a project: {_reason(exc)}", path=path) from None
        problem = _container_problem(root) or _marker_problem(root)
        if problem:
            raise ProjectError(f"{root} is not a project root: {problem}", path=str(root))
        document = self._fresh_document()
        projects = document.setdefault("projects", {})
        for project_id, entry in projects.items():
            if isinstance(entry, dict) and entry.get("path") == str(root):
                if name:
                    entry["name"] = name
                entry["last_seen"] = _now()
                self._write(document)
                return self._good.projects[project_id]
        project_id = str(uuid.uuid4())
        projects[project_id] = {
            "path": str(root),
            "name": name or root.name,
            "registered_at": _now(),
            "last_seen": _now(),
        }
        self._write(document)
        return self._good.projects[project_id]

    def set_group(self, ref: str, group: str | None) -> ProjectEntry:
        """Name the run scheduler group of a project's runs (its entry's ``group`` key; None removes the key:
        the default group). Every other key of the entry and the file is kept."""
        with self._lock:
            entry = self.resolve(ref)
            document = self._fresh_document()
            stored = document.get("projects", {}).get(entry.id)
            if not isinstance(stored, dict):  # removed by another tool since this view was loaded
                raise NotFound(f"project {entry.id} is no longer in {self.path}", project=entry.id)
            if group is None:
                stored.pop("group", None)
            else:
                stored["group"] = group
            self._write(document)
            return self._good.projects[entry.id]

    def unregister(self, ref: str) -> ProjectEntry:
        with self._lock:
            return self._unregister(ref)

    def _unregister(self, ref: str) -> ProjectEntry:
        entry = self.resolve(ref)
        document = self._fresh_document()
        document.get("projects", {}).pop(entry.id, None)
        self._write(document)
        return entry
