"""specflowctl status / batches / ls / log / questions: what is going on, now and before."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from specflowctl import core, render
from specflowctl.app import JsonOpt, ProjectArg, SocketOpt, emit, fail, follow_to_exit, rpc, subscribed
from specflowctl.resolve import project_ref
from specflowctl.scope import AllOpt, scoped_call
from specflowctl.shared_facts import CONFIG_DEFAULTS, TERMINAL_STATUSES

_TERMINAL = frozenset(TERMINAL_STATUSES)


def _overview(sock: Path | None, json_out: bool) -> None:
    """``status`` outside any registered project: every project's orchestrations instead of an error."""
    listed = rpc(sock, "orchestrate.list", {"include_finished": True})
    projects = rpc(sock, "projects.list")
    if json_out:
        emit(True, {"project": None, "orchestrations": listed["orchestrations"], "projects": projects["projects"]}, str)
        return
    typer.echo(f"{Path.cwd()} is not inside a registered project; all orchestrations:")
    typer.echo(render.orchestration_table(listed["orchestrations"], time.time()))
    typer.echo("projects:\n" + render.project_list(projects))


def status(
    project: ProjectArg = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Follow the orchestration live until it stops or waits for you")
    ] = False,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Phase, step, task progress, next action; the orchestration's step bar, batch, spend, questions and
    decisions. With --watch: follow it; the exit code says where it stopped (as for orchestrate)."""
    ref = project_ref(project)
    try:
        project_status = core.call(sock, "projects.status", {"project": ref})
    except core.VerbFailed as exc:
        if project is None and exc.kind == "not_found":
            _overview(sock, json_out)
            return
        fail(exc.message, exc.code)
    events = subscribed(sock, ref) if watch else None  # subscribe before reading what we then follow
    view = None
    with contextlib.suppress(core.VerbFailed):  # no orchestration yet
        view = core.call(sock, "orchestrate.status", {"project": ref})
    if events is not None:
        if view is None:
            events.close()
            fail(f"no orchestration in {project_status['project']} to watch; start one with `specflowctl orchestrate`")
        follow_to_exit(sock, events, view["record"]["id"], json_out, project)
    questions = rpc(sock, "questions.list", {"project": ref})["questions"]
    orch_run = view["record"].get("questions_run_id") if view else None
    standalone = [q for q in questions if q["run_id"] != orch_run]
    result: dict[str, Any] = {"project": project_status, "orchestration": view, "questions": questions}

    def text(r: dict[str, Any]) -> str:
        v = r["orchestration"]
        if v and v["record"]["status"] == "completed" and r["project"].get("phase_status") != "in_progress":
            # the phase it completed is closed: lead with what was done and what comes next, not "not_started"
            import shutil

            done = render.completed_phase(v["record"], r["project"], time.time(), bool(shutil.which("specflow")))
            shown = render.orchestration(v["record"], v["decisions"][-5:], v.get("progress"), v.get("queued"))
            return f"{r['project']['project']}\n{done}\n{shown}"
        out = render.project_status(r["project"])
        if r["orchestration"]:
            v = r["orchestration"]
            out += "\n" + render.orchestration(
                v["record"], v["decisions"][-5:], v.get("progress"), v.get("queued"), v.get("sandbox")
            )
        elif r["project"].get("queued"):  # a standalone run waits for its slot
            out += "\nrun queued: " + render.queued_text(r["project"]["queued"])
        for pending in standalone:
            out += "\n" + render.questions_block(pending["questions"], pending["run_id"])
        return out

    emit(json_out, result, text)


def batches(
    project: ProjectArg = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            metavar="N",
            help=f"Tasks per batch when tasks.md has no sections [default: {CONFIG_DEFAULTS['batch_size_fallback']}]",
        ),
    ] = None,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """The batch plan an orchestration would run, one row per batch."""
    config: dict[str, Any] = {} if batch_size is None else {"batch_size_fallback": batch_size}
    params = {"project": project_ref(project), "config": config, "check_agent": False}
    emit(json_out, rpc(sock, "orchestrate.preview", params), render.batch_table)


def orchestrations(
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
    hosts: Annotated[
        str | None,
        typer.Option(
            "--hosts",
            metavar="A,B,C",
            help="Every listed host's orchestrations in one table with a host column, asked concurrently over ssh "
            "(default: [client] hosts of the settings file, unless --host is given)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Every project's orchestrations, active first: short id, status, step, tasks, spend, age; then the agent
    runs waiting in the run scheduler's queue (position, group, project, what they wait for)."""
    from specflowctl import remote

    several = remote.host_list(hosts) if hosts is not None or not remote.host_given() else []
    if several:
        from specflowctl.cmd_remote import ls_hosts

        ls_hosts(several, json_out)
        return
    listed = rpc(sock, "orchestrate.list", {"include_finished": True})
    scheduler = rpc(sock, "scheduler.status")
    queued = {q["orchestration"]: q for q in scheduler["queue"] if q.get("orchestration")}

    def text(d: dict[str, Any]) -> str:
        table = render.orchestration_table(d["orchestrations"], time.time(), queued)
        queue = render.queue_table(d["scheduler"])
        return table + ("\n\n" + queue if queue else "")

    emit(json_out, {**listed, "scheduler": scheduler}, text)


def _orchestration_id(sock: Path | None, orch: str | None) -> dict[str, Any]:
    """The record ``orch`` names (an id prefix), else the current project's orchestration."""
    params = {"id": orch} if orch else {"project": project_ref(None)}
    return dict(rpc(sock, "orchestrate.status", params)["record"])


def _page(sock: Path | None, orch_id: str, since: int) -> dict[str, Any]:
    return dict(rpc(sock, "orchestrate.log", {"id": orch_id, "since": since}))


def log(
    orch: Annotated[
        str | None,
        typer.Argument(metavar="ORCH", help="Orchestration id or unique prefix (default: this project's)"),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new decisions until the orchestration ends")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per decision (JSON lines)")] = False,
    sock: SocketOpt = None,
) -> None:
    """An orchestration's whole decision log: every decision, why, and what it cost."""
    record = _orchestration_id(sock, orch)
    events = subscribed(sock, record["project_path"]) if follow else None  # first: no entry is missed
    lines: list[str] = []
    since, more = 0, True
    while more:
        page = _page(sock, record["id"], since)
        since, more = page["next_offset"], page["more"]
        lines += [json.dumps(e) if json_out else render.decision_line(e) for e in page["entries"]]
    if events is None:
        _print_paged("\n".join(lines), json_out)
        return
    _write(lines)
    status = str(rpc(sock, "orchestrate.status", {"id": record["id"]})["record"]["status"])
    while status not in _TERMINAL:
        event = events.next_event(None) or {}
        data = event.get("data") or {}
        if data.get("orchestration") != record["id"]:
            continue
        page = _page(sock, record["id"], since)
        since = page["next_offset"]
        _write([json.dumps(e) if json_out else render.decision_line(e) for e in page["entries"]])
        if event.get("type") == "orchestration.status":
            status = str(data.get("status"))
    events.close()


def _write(lines: list[str]) -> None:
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


def _print_paged(text: str, json_out: bool) -> None:
    """Through the user's pager ($PAGER, else less) on a terminal when it does not fit; plain otherwise."""
    import shutil

    if not text:
        return
    height = shutil.get_terminal_size((80, 24)).lines
    if json_out or not sys.stdout.isatty() or text.count("\n") < height - 2:
        sys.stdout.write(text + "\n")
        return
    import os
    import pydoc

    os.environ.setdefault("LESS", "FRX")
    pydoc.pager(text)


def questions(
    project: ProjectArg = None,
    every: AllOpt = False,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Questions agents are waiting on (this project's; --all: every project's), with their options and the
    command that answers them."""
    pending, _ = scoped_call(sock, "questions.list", project, every, "the questions")

    def text(d: dict[str, Any]) -> str:
        if not d["questions"]:
            return "no questions are waiting"
        blocks = []
        for q in d["questions"]:
            where = Path(q["project_root"]).name + (f" · {q['step']}" if q.get("step") else "")
            blocks.append(f"{where}\n" + render.questions_block(q["questions"], q["run_id"]))
        return "\n\n".join(blocks)

    emit(json_out, pending, text)
