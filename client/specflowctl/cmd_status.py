"""specflowctl status [PROJECT] and batches [PROJECT]."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import typer

from specflowctl import render
from specflowctl.app import JsonOpt, SocketOpt, emit, rpc
from specflowctl.resolve import project_ref

ProjectArg = Annotated[
    str | None, typer.Argument(help="Registry id or path (default: the project containing the current directory)")
]


def status(
    project: ProjectArg = None,
    watch: Annotated[bool, typer.Option("--watch", help="Follow the orchestration live (from events)")] = False,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Phase, step, task progress, next action; the orchestration's step bar, batch, spend and decisions."""
    from specflowctl import core

    ref = project_ref(project)
    result: dict[str, Any] = {"project": rpc(sock, "projects.status", {"project": ref}), "orchestration": None}
    with contextlib.suppress(core.VerbFailed):  # no orchestration yet
        result["orchestration"] = core.call(sock, "orchestrate.status", {"project": ref})
    view = result["orchestration"]
    if watch and view is not None and not json_out:
        from specflowctl.cmd_orchestrate import follow

        follow(sock, view["record"]["id"], False)
        return

    def both(r: dict[str, Any]) -> str:
        text = render.project_status(r["project"])
        if r["orchestration"]:
            view = r["orchestration"]
            text += "\n" + render.orchestration(view["record"], view["decisions"][-5:], view.get("progress"))
        return text

    emit(json_out, result, both)


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
