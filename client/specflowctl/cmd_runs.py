"""specflowctl run / runs / logs / answer / run-cancel: standalone supervised skill runs and questions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from specflowctl import answering, core, render
from specflowctl.app import JsonOpt, ProjectArg, SocketOpt, emit, fail, rpc, subscribed
from specflowctl.connection import DaemonUnavailable
from specflowctl.resolve import project_ref
from specflowctl.scope import AllOpt, scoped_call
from specflowctl.shared_facts import CONFIG_DEFAULTS, FINAL_RUN_STATUSES

FINAL = frozenset(FINAL_RUN_STATUSES)
_SANDBOX_DEFAULT = "on" if CONFIG_DEFAULTS["sandbox"] else "off"


def run(
    project: Annotated[str, typer.Argument(metavar="PROJECT", help="Registry id or path", show_default=False)],
    skill: Annotated[str, typer.Argument(metavar="SKILL", help="e.g. verify or /flow.verify", show_default=False)],
    context: Annotated[
        str | None, typer.Option("--context", metavar="TEXT", help="Text appended to the prompt")
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option("--budget", metavar="USD", help="USD cap for this run [default: [orchestrate.budget] per_batch]"),
    ] = None,
    sandbox: Annotated[
        bool | None,
        typer.Option(
            "--sandbox/--no-sandbox",
            help=f"In Claude Code's sandbox [default: {_SANDBOX_DEFAULT}, or [orchestrate] sandbox]",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Start one skill as a supervised headless Claude Code run."""
    params: dict[str, Any] = {"project": project_ref(project), "skill": skill}
    if context:
        params["context"] = context
    if budget:
        params["budget_usd"] = budget
    if sandbox is not None:
        params["sandbox"] = sandbox
    started = rpc(sock, "runs.start", params)
    emit(json_out, started, lambda r: f"started run {r['run_id'][: render.RUN_ID_LEN]} ({r['step']})")


def runs(
    project: ProjectArg = None,
    every: AllOpt = False,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """List a project's agent runs (--all: every project's)."""
    listed, all_projects = scoped_call(sock, "runs.list", project, every, "the runs")
    emit(json_out, listed, lambda d: render.run_table(d, with_project=all_projects))


def run_cancel(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id or unique prefix (see `specflowctl runs`)")],
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Stop a run (SIGTERM to its process group, SIGKILL after a grace period)."""
    emit(json_out, rpc(sock, "runs.cancel", {"run": run_id}), lambda r: f"run {r['run_id']}: {r['status']}")


def logs(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id or unique prefix (see `specflowctl runs`)")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the run ends")] = False,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """A run's transcript: assistant text, one line per tool call, cost so far."""
    since = 0
    path = core.target(sock)  # for the message: a socket, or a host
    run = rpc(sock, "runs.get", {"run": run_id})  # the full id; prefixes are resolved by the daemon
    events = subscribed(sock, str(run["project_root"])) if follow else None  # before the first read
    while True:
        chunk = rpc(sock, "runs.log", {"run": run["run_id"], "since": since})
        since = chunk["next_offset"]
        if json_out:
            for entry in chunk["items"]:
                sys.stdout.write(json.dumps(entry) + "\n")
        else:
            for entry in chunk["items"]:
                typer.echo(render.log_entry(entry))
        sys.stdout.flush()
        if chunk.get("more"):  # one page of a longer output: read on at once
            continue
        if events is None or chunk["status"] in FINAL:
            if not json_out:
                typer.echo(f"-- {chunk['status']}, cost {render.money(chunk['cost_usd'])}")
            return
        try:  # wake on this run's events rather than polling blindly
            while (events.next_event(None) or {}).get("data", {}).get("run_id") != run["run_id"]:
                pass
        except DaemonUnavailable:
            fail(f"lost the daemon on {path}", core.EXIT_NO_DAEMON)


def _waiting_run(sock: Path | None) -> str:
    """The current project's one run waiting for answers."""
    pending = rpc(sock, "questions.list", {"project": project_ref(None)})["questions"]
    if not pending:
        fail("no run in this project is waiting for answers (see `specflowctl questions`)")
    if len(pending) > 1:
        ids = ", ".join(p["run_id"][: render.RUN_ID_LEN] for p in pending)
        fail(f"several runs wait for answers ({ids}): name one, `specflowctl answer RUN`", core.EXIT_USAGE)
    return str(pending[0]["run_id"])


def ask_question(question: dict[str, Any]) -> str:
    """One question at the terminal, asked again until the reply is one it takes; the answer is echoed."""
    typer.echo(question["question"])
    for line in answering.option_lines(question):
        typer.echo(line)
    while True:
        value, said = answering.read_reply(question, typer.prompt(answering.prompt_text(question)))
        typer.echo(f"  {said}" if value is not None else f"specflowctl: {said}", err=value is None)
        if value is not None:
            return value


def answer(
    run_id: Annotated[
        str | None,
        typer.Argument(metavar="RUN", help="Run id or unique prefix (default: this project's waiting run)"),
    ] = None,
    answer_opt: Annotated[
        list[str] | None,
        typer.Option(
            "--answer", metavar="KEY=VALUE", help="An answer; KEY = the question's header or text (repeatable)"
        ),
    ] = None,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Answer a waiting run's questions (interactively, or with --answer KEY=VALUE) and resume it."""
    answers: dict[str, str] = {}
    for item in answer_opt or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--answer takes KEY=VALUE, got {item!r}", core.EXIT_USAGE)
        answers[key.strip()] = value.strip()
    if run_id is None:
        run_id = _waiting_run(sock)
    if not answers:
        record = rpc(sock, "runs.get", {"run": run_id})
        if record["status"] != "waiting_input":
            fail(f"run {run_id} is not waiting for answers ({record['status']})")
        for question in record["questions"]:
            answers[question.get("header") or question["question"]] = ask_question(question)
    emit(
        json_out,
        rpc(sock, "questions.answer", {"run": run_id, "answers": answers}),
        lambda r: f"resumed run {r['run_id'][: render.RUN_ID_LEN]}",
    )
