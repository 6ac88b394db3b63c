"""PROJECT arguments: a registry id, a path, or (default) the registered project containing the cwd."""

from __future__ import annotations

import os
from pathlib import Path


def project_ref(project: str | None) -> str:
    """What to send as ``{project}``: the daemon resolves ids, project roots and paths inside a project."""
    if project is None:
        return os.getcwd()
    candidate = Path(project).expanduser()
    if candidate.exists():
        return str(candidate.absolute())
    return project
