"""PROJECT arguments: a registry id, a path, or (default) the registered project containing the cwd."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def project_ref(project: str | None) -> str:
    """What to send as ``{project}``: the daemon resolves ids, project roots and paths inside a project.
    Anything that looks like a path is sent absolute, so the daemon can say when it does not exist."""
    from specflowctl import remote

    host = remote.selected_host()
    if host is not None:
        return _remote_ref(project, host)
    if project is None:
        return os.getcwd()
    candidate = Path(project).expanduser()
    if candidate.exists() or "/" in project or project.startswith((".", "~")):
        return str(candidate.absolute())
    return project


def host_path(path: Path) -> str:
    """A directory to register: absolute here; through --host, it must already be absolute on that host."""
    from specflowctl import remote

    host = remote.selected_host()
    if host is None:
        return str(path.expanduser().absolute())
    return _remote_ref(str(path), host)


def _remote_ref(project: str | None, host: str) -> str:
    """Through --host a path is a path on that host, which this machine cannot expand or make absolute:
    ids and absolute paths go as they are; the default is this directory's path, taken to be the same there
    (a checkout at the same place), and the daemon says so when it is not registered."""
    if project is None:
        return os.getcwd()
    if project.startswith("/") or not ("/" in project or project.startswith((".", "~"))):
        return project
    sys.stderr.write(
        f"specflowctl: with --host {host}, PROJECT is a registry id or an absolute path on {host} (got {project!r})\n"
    )
    raise SystemExit(2)
