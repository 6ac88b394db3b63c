"""specflowctl projects list|add|remove."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from specflowctl import remote, render
from specflowctl.app import JsonOpt, SocketOpt, emit, rpc
from specflowctl.resolve import host_path, project_ref

app = typer.Typer(help="Registered SpecFlow projects.", no_args_is_help=True)


@app.command("list")
def list_projects(json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """List registered projects."""
    emit(json_out, rpc(sock, "projects.list"), render.project_list)


@app.command("add")
def add(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="The project's root directory", show_default=False)],
    name: Annotated[
        str | None, typer.Option("--name", metavar="NAME", help="Display name [default: the directory name]")
    ] = None,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Register the project at PATH."""
    params: dict[str, Any] = {"path": host_path(path)}
    if name:
        params["name"] = name
    emit(json_out, rpc(sock, "projects.register", params), lambda p: f"registered {p['name']} ({p['id']})")


@app.command("remove")
def remove(
    project: Annotated[str, typer.Argument(metavar="PROJECT", help="Registry id or path", show_default=False)],
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Unregister PROJECT (id or path); its files are untouched."""
    if remote.selected_host():
        ref = project_ref(project)  # a path on that host
    else:
        ref = str(Path(project).absolute()) if Path(project).exists() else project
    emit(json_out, rpc(sock, "projects.unregister", {"project": ref}), lambda p: f"removed {p['name']}")
