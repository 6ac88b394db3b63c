"""PROJECT arguments: a registry id, a path, or (default) the registered project containing the cwd."""

from __future__ import annotations

import os
from pathlib import Path


def project_ref(project: str | None) -> str:
    """What to send as ``{project}``: the daemon resolves ids, project roots and paths inside a project.
    Anything that looks like a path is sent absolute, so the daemon can say when it does not exist."""
    if project is None:
        return os.getcwd()
    candidate = Path(project).expanduser()
    if candidate.exists() or "/" in project or project.startswith((".", "~")):
        return str(candidate.absolute())
    return project
