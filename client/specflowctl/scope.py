"""Which projects a listing verb covers: PROJECT, else the project containing the current directory (as every
verb defaults), ``--all`` for every project; outside any registered project, every project, said on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from specflowctl import core
from specflowctl.app import fail
from specflowctl.resolve import project_ref

__all__ = ["AllOpt", "scoped_call"]

AllOpt = Annotated[bool, typer.Option("--all", "-a", help="Every project's, with a project column")]


def scoped_call(
    sock: Path | None, method: str, project: str | None, every: bool, what: str, **params: Any
) -> tuple[Any, bool]:
    """``method``'s result for the scope, and whether it covers every project (then show a project column)."""
    if every and project is not None:
        fail("give PROJECT or --all, not both", core.EXIT_USAGE)
    try:
        if every:
            return core.call(sock, method, params), True
        return core.call(sock, method, {**params, "project": project_ref(project)}), False
    except core.VerbFailed as exc:
        if project is not None or every or exc.kind != "not_found":
            fail(exc.message, exc.code)
    typer.echo(f"({Path.cwd()} is not inside a registered project: {what} of every project)", err=True)
    try:
        return core.call(sock, method, params), True
    except core.VerbFailed as exc:
        fail(exc.message, exc.code)
