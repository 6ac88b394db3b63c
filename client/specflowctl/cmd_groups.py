"""specflowctl groups [add|set-limit|remove|assign]: the run scheduler's groups and their parallel limits, and
which group a project's runs use."""

from __future__ import annotations

from typing import Annotated

import typer

from specflowctl import render
from specflowctl.app import JsonOpt, ProjectArg, SocketOpt, emit, rpc
from specflowctl.resolve import project_ref

app = typer.Typer(
    help="Run scheduler groups: how many agents of each group run at once (0 pauses a group).",
    invoke_without_command=True,
)

GroupArg = Annotated[str, typer.Argument(metavar="GROUP", help="Group name", show_default=False)]


@app.callback()
def groups(ctx: typer.Context, json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """List the groups: limit, running agents, queued runs."""
    if ctx.invoked_subcommand is None:
        emit(json_out, rpc(sock, "groups.list"), render.groups_table)


@app.command("add")
def add(
    group: GroupArg,
    limit: Annotated[int, typer.Option("--limit", metavar="N", help="Agents of this group at once; 0 pauses")] = 2,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Add GROUP with a parallel limit."""
    view = rpc(sock, "groups.add", {"group": group, "limit": limit})
    emit(json_out, view, lambda g: f"added group {g['name']} (limit {g['limit']})")


@app.command("set-limit")
def set_limit(
    group: GroupArg,
    limit: Annotated[int, typer.Argument(metavar="N", help="Agents at once (0-64); 0 pauses", show_default=False)],
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Change GROUP's limit; it applies at once (a higher limit starts queued runs now)."""
    view = rpc(sock, "groups.set_limit", {"group": group, "limit": limit})
    emit(json_out, view, lambda g: f"group {g['name']}: limit {g['limit']}; " + render.group_lines([g], [])[0].strip())


@app.command("remove")
def remove(group: GroupArg, json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """Remove GROUP; its queued runs move to the default group, in their order."""
    removed = rpc(sock, "groups.remove", {"group": group})
    moved = f"; {len(removed['moved'])} queued runs moved to default" if removed["moved"] else ""
    emit(json_out, removed, lambda r: f"removed group {r['group']}{moved}")


@app.command("assign")
def assign(group: GroupArg, project: ProjectArg = None, json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """Run PROJECT's agents in GROUP from now on (`default`: the default group); an orchestration started with
    --group still uses its own."""
    entry = rpc(sock, "projects.set_group", {"project": project_ref(project), "group": group})
    emit(json_out, entry, lambda p: f"{p['name']}: its runs use group {p.get('group') or 'default'}")
