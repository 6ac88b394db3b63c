"""specflowctl status [PROJECT] and batches [PROJECT]."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from specflowctl import render
from specflowctl.app import JsonOpt, SocketOpt, emit, rpc
from specflowctl.resolve import project_ref

ProjectArg = Annotated[
    str | None, typer.Argument(help="Registry id or path (default: the project containing the current directory)")
]


def status(project: ProjectArg = None, json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """Phase, step, task progress, current section, next action."""
    emit(json_out, rpc(sock, "projects.status", {"project": project_ref(project)}), render.project_status)


def batches(
    project: ProjectArg = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Fallback batch size")] = None,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """The batch plan an orchestration would run, one row per batch."""
    config: dict[str, Any] = {} if batch_size is None else {"batch_size_fallback": batch_size}
    result = rpc(sock, "orchestrate.preview", {"project": project_ref(project), "config": config})
    emit(json_out, result, render.batch_table)
