"""specflowctl orchestrate / pause / resume / cancel / merge / go-back / recover / demo."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from specflowctl import core, render
from specflowctl.app import JsonOpt, ProjectArg, SocketOpt, emit, fail, follow_to_exit, rpc, subscribed, tri_state
from specflowctl.resolve import project_ref
from specflowctl.shared_facts import CONFIG_DEFAULTS, RecoveryOptions, Steps


def _default(key: str) -> str:
    """``[default: 5.00]``: the daemon's default for a config key (USD with cents, booleans on/off)."""
    value = CONFIG_DEFAULTS[key]
    if isinstance(value, bool):
        return f"[default: {'on' if value else 'off'}, or the config file's]"
    if key.startswith("budget.") and isinstance(value, int | float):
        return f"[default: {value:.2f}]"
    return f"[default: {value}]"


def _config(**options: Any) -> dict[str, Any]:
    """The orchestration config overrides the user gave (None = not given: the config file decides)."""
    config: dict[str, Any] = {}
    budget: dict[str, float] = {}
    for key, value in options.items():
        if value is None:
            continue
        if key.startswith("budget_"):
            budget[key.removeprefix("budget_")] = value
        else:
            config[key] = value
    if budget:
        config["budget"] = budget
    return config


def _refuse_if_busy(sock: Path | None, ref: str) -> None:
    """A second orchestration on a busy project is refused before any preview, naming the one running."""
    active = rpc(sock, "orchestrate.list", {"project": ref})["orchestrations"]
    if active:
        other = active[-1]
        fail(
            f"orchestration {other['id'][: render.ORCH_ID_LEN]} is already active in {other['project_path']} "
            f"({other['status']}); follow it with `specflowctl status --watch` [already_active]"
        )


def _refuse_without_agent(preview: dict[str, Any]) -> None:
    """No working agent: say where its value came from and how to fix it there (as the preview names sources)."""
    check = preview.get("agent")
    if check and not check["ok"]:
        source = check["source"]
        if source == "--agent":  # the orchestration's `agent` setting: the command line or the settings file
            origin = (preview.get("settings") or {}).get("sources", {}).get("agent", "command line")
            if origin == "command line":
                fix = (
                    "Check the path given to --agent, or leave --agent out to use [agent] claude, SPECFLOW_CLAUDE "
                    "or claude on PATH"
                )
            else:
                source = f"orchestrate.agent in {origin}"
                fix = (
                    "Fix it (`specflowctl config set orchestrate.agent PATH`) or remove it (`specflowctl config "
                    "unset orchestrate.agent`)"
                )
        else:
            fix = _AGENT_FIX[source]
        fail(f"no working agent ({source}): {check['problem']}. {fix} [agent_unavailable]")


_AGENT_FIX = {
    "[agent] claude": "Fix it (`specflowctl config set agent.claude PATH`) or remove it (`specflowctl config unset "
    "agent.claude`) to use SPECFLOW_CLAUDE or claude on PATH",
    "SPECFLOW_CLAUDE": "Fix or unset SPECFLOW_CLAUDE in the daemon's environment and restart it (`specflowctl "
    "daemon stop`), or set [agent] claude (`specflowctl config set agent.claude PATH`)",
    "PATH": "Install Claude Code so that claude is on the daemon's PATH, or name the binary: `specflowctl config set "
    "agent.claude PATH` or SPECFLOW_CLAUDE",
}


def orchestrate(
    project: ProjectArg = None,
    auto_merge: Annotated[
        bool | None, tri_state("auto-merge", f"Merge when verify passes {_default('auto_merge')}")
    ] = None,
    skip_design: Annotated[
        bool | None, tri_state("skip-design", f"Skip design even when artifacts are missing {_default('skip_design')}")
    ] = None,
    skip_analyze: Annotated[bool | None, tri_state("skip-analyze", f"Skip analyze {_default('skip_analyze')}")] = None,
    auto_heal: Annotated[
        bool | None, tri_state("auto-heal", f"Heal a failed batch automatically {_default('auto_heal')}")
    ] = None,
    pause_between_batches: Annotated[
        bool | None, tri_state("pause-between-batches", f"Pause after every batch {_default('pause_between_batches')}")
    ] = None,
    sandbox: Annotated[
        bool | None,
        tri_state("sandbox", f"Run every agent in Claude Code's sandbox {_default('sandbox')}"),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option("--context", metavar="TEXT", help="Text appended to every step's prompt", show_default=False),
    ] = None,
    max_heal_attempts: Annotated[
        int | None,
        typer.Option(
            "--max-heal-attempts",
            metavar="N",
            help=f"Heal runs per batch {_default('max_heal_attempts')}",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            metavar="N",
            help=f"Tasks per batch when tasks.md has no sections {_default('batch_size_fallback')}",
        ),
    ] = None,
    budget_batch: Annotated[
        float | None,
        typer.Option(
            "--budget-batch", metavar="USD", help=f"USD cap per batch or step run {_default('budget.per_batch')}"
        ),
    ] = None,
    budget_total: Annotated[
        float | None,
        typer.Option(
            "--budget-total", metavar="USD", help=f"USD cap for the whole orchestration {_default('budget.total')}"
        ),
    ] = None,
    budget_heal: Annotated[
        float | None,
        typer.Option("--budget-heal", metavar="USD", help=f"USD cap per heal run {_default('budget.heal')}"),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", metavar="STEP=MODEL", help="Model for a step, repeatable [default: the CLI's]"),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent", metavar="BIN", help="Agent binary [default: [agent] claude, $SPECFLOW_CLAUDE, claude on PATH]"
        ),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            "--group", metavar="G", help="Run scheduler group of its agent runs [default: the project's, else default]"
        ),
    ] = None,
    priority: Annotated[
        int | None,
        typer.Option(
            "--priority", metavar="N", help=f"Higher is admitted first within its group {_default('priority')}"
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Start without asking")] = False,
    detach: Annotated[bool, typer.Option("--detach", help="Start, print the id and return")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan and every prompt; start nothing")] = False,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Complete the phase: preview, confirm, then follow design → analyze → implement → verify → merge.

    Following ends where the orchestration stops or waits for you; the exit code says which: 0 completed,
    1 failed, 4 cancelled, 5 waiting for your answers, 6 merge ready, 7 needs attention, 8 paused.
    """
    if json_out and not (yes or dry_run):
        fail("--json cannot answer the confirmation: add --yes to start, or --dry-run to preview", core.EXIT_USAGE)
    models: dict[str, str] = {}
    for item in model or []:
        step, sep, name = item.partition("=")
        if not sep:
            fail(f"--model takes STEP=MODEL, got {item!r}", core.EXIT_USAGE)
        models[step.strip()] = name.strip()
    config = _config(
        auto_merge=auto_merge, skip_design=skip_design, skip_analyze=skip_analyze, additional_context=context,
        auto_heal=auto_heal, max_heal_attempts=max_heal_attempts, batch_size_fallback=batch_size,
        pause_between_batches=pause_between_batches, budget_per_batch=budget_batch, budget_total=budget_total,
        budget_heal=budget_heal, agent=agent, models=models or None, group=group, priority=priority,
        sandbox=sandbox,
    )  # fmt: skip
    ref = project_ref(project)
    if not dry_run:
        _refuse_if_busy(sock, ref)
    preview = rpc(sock, "orchestrate.preview", {"project": ref, "config": config})
    if json_out and dry_run:
        emit(True, preview, str)
        return
    if not json_out:
        typer.echo(render.preview(preview))
    if dry_run:
        typer.echo(render.prompts(preview))
        return
    _refuse_without_agent(preview)
    total = preview["budget"]["total"]
    question = f"Start this orchestration (spending at most {render.money(total)} in total)?"
    if not yes and not typer.confirm(question, True):
        raise typer.Exit(1)
    events = None if detach else subscribed(sock, ref)  # before start: no decision is missed
    started = rpc(sock, "orchestrate.start", {"project": ref, "config": config})
    record = started["record"]
    if events is None:
        short = record["id"][: render.ORCH_ID_LEN]
        emit(json_out, started, lambda v: f"started orchestration {short} (follow: specflowctl status --watch)")
        return
    follow_to_exit(sock, events, record["id"], json_out, project)


def _follow(sock: Path | None, events: Any, orch_id: str, json_out: bool, hint: str, inline: bool) -> int:
    from specflowctl.follow import Follower

    try:
        return Follower(sock, events, orch_id, json_out=json_out, project_hint=hint, inline_answers=inline).follow()
    except core.VerbFailed as exc:
        fail(exc.message, exc.code)


def _answer_inline(sock: Path | None, orch_id: str) -> None:
    """The orchestration's waiting questions, asked at the terminal; the same session resumes with them."""
    from specflowctl.cmd_runs import ask_question

    record = rpc(sock, "orchestrate.status", {"id": orch_id})["record"]
    answers = {q.get("header") or q["question"]: ask_question(q) for q in record.get("pending_questions") or []}
    rpc(sock, "questions.answer", {"orchestration": orch_id, "answers": answers})
    typer.echo("answered: the same session goes on")


def _control(
    method: str, project: str | None, sock: Path | None, json_out: bool, headline: Any = None, **params: Any
) -> None:
    """One steering verb; ``headline(record)``: a first line saying what the verb did or will do."""
    payload = {"project": project_ref(project), **{k: v for k, v in params.items() if v is not None}}
    view = rpc(sock, method, payload)

    def text(v: dict[str, Any]) -> str:
        shown = _view_text(v)
        first = headline(v["record"]) if headline else None
        return f"{first}\n{shown}" if first else shown

    emit(json_out, view, text)


def _view_text(view: dict[str, Any]) -> str:
    return render.orchestration(
        view["record"], view["decisions"][-3:], view.get("progress"), view.get("queued"), view.get("sandbox")
    )


def _pause_headline(project: str | None, now: bool) -> Any:
    def headline(record: dict[str, Any]) -> str | None:
        pausing = render.pending_pause(record)
        if pausing and now:  # the daemon stops the run; the record says paused once it has
            return "pausing now: the running run is being stopped"
        if pausing:
            return f"pauses {pausing} (use --now to stop it now)"
        if record["status"] == "paused":
            return f"paused: `specflowctl resume{f' {project}' if project else ''}` continues"
        return None

    return headline


def pause(
    project: ProjectArg = None,
    now: Annotated[bool, typer.Option("--now", help="Stop the running run now instead of after it ends")] = False,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Pause after the running run ends (or --now)."""
    _control("orchestrate.pause", project, sock, json_out, _pause_headline(project, now), now=now)


def resume(
    project: ProjectArg = None,
    budget: Annotated[
        float | None,
        typer.Option("--budget", metavar="USD", help="Raise the total budget to this many USD", show_default=False),
    ] = None,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Resume a paused or stopped orchestration, optionally raising the total budget."""
    payload = {"project": project_ref(project), **({"budget": budget} if budget is not None else {})}
    try:
        view = core.call(sock, "orchestrate.resume", payload)
    except core.VerbFailed as exc:
        if exc.kind == "invalid_state":
            _explain_no_resume(sock, project, exc)
        fail(exc.message, exc.code)
    emit(json_out, view, _view_text)


def _explain_no_resume(sock: Path | None, project: str | None, refused: core.VerbFailed) -> None:
    """A finished orchestration does not resume: say what does instead (a new one for the open tasks)."""
    with contextlib.suppress(core.VerbFailed):
        record = core.call(sock, "orchestrate.status", {"project": project_ref(project)})["record"]
        short, status, target = record["id"][: render.ORCH_ID_LEN], record["status"], f" {project}" if project else ""
        if status in ("cancelled", "failed"):
            fail(
                f"orchestration {short} is {status} and cannot resume: `specflowctl orchestrate{target}` starts a "
                "new one for the open tasks [invalid_state]"
            )
        if status == "completed":
            fail(f"orchestration {short} is completed: nothing to resume; see `specflowctl status{target}`")
    fail(refused.message, refused.code)


def cancel(project: ProjectArg = None, json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """Cancel the orchestration (stops its run's process group; the record is kept)."""
    _control("orchestrate.cancel", project, sock, json_out)


def merge(project: ProjectArg = None, json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """Merge a phase waiting for your decision."""
    _control("orchestrate.merge", project, sock, json_out)


def go_back(
    step: Annotated[
        Steps,
        typer.Argument(
            metavar="STEP", help="The step to return to (the current or an earlier one)", show_default=False
        ),
    ],
    project: ProjectArg = None,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Return to an earlier step."""
    _control("orchestrate.go_back", project, sock, json_out, step=step)


def recover(
    action: Annotated[
        RecoveryOptions,
        typer.Argument(
            metavar="ACTION", help="What to do about the stop (status lists the options)", show_default=False
        ),
    ],
    project: ProjectArg = None,
    budget: Annotated[
        float | None,
        typer.Option("--budget", metavar="USD", help="Raise the total budget to this many USD", show_default=False),
    ] = None,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Recover from needs_attention."""
    _control("orchestrate.recover", project, sock, json_out, action=action, budget=budget)


def demo(
    directory: Annotated[
        Path | None,
        typer.Argument(
            metavar="DIRECTORY",
            help="Where to create the demo project [default: ./specflow-demo, or ~/specflow-demo inside a git "
            "checkout]",
            show_default=False,
        ),
    ] = None,
    ask: Annotated[bool, typer.Option("--ask", help="The simulated agent asks you a question first")] = False,
    in_git: Annotated[
        bool, typer.Option("--in-git", help="Allow DIRECTORY inside a git checkout (it adds files there)")
    ] = False,
    detach: Annotated[bool, typer.Option("--detach", help="Start, print how to follow and steer it, return")] = False,
    pace: Annotated[
        float | None,
        typer.Option(
            "--pace",
            metavar="SECONDS",
            min=0,
            max=60,
            help="Seconds between simulated tool calls, to try pause/resume/cancel [default: 0.2]",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Create a sample project and complete its phase with the built-in simulated agent, live.

    With --ask on a terminal the agent's question is asked here and the demo goes on with the answer."""
    from specflowctl.cmd_daemon import ensure_daemon
    from specflowctl.demo import create_demo_project, default_demo_dir, git_work_tree
    from specflowctl.paths import specflow_home

    def say(text: str) -> None:
        if not json_out:
            typer.echo(text)

    if directory is None:
        target = default_demo_dir(Path.cwd(), Path.home(), specflow_home())
    else:
        target = directory.expanduser().absolute()
        tree = git_work_tree(target.parent if not target.exists() else target)
        if tree is not None and not in_git:
            fail(f"{target} is inside the git checkout {tree}: pass a directory outside it, or --in-git", 2)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            fail(f"{target} is not empty; pass another directory")
    status, started = ensure_daemon(sock)
    root = create_demo_project(target, ask=ask, pace=pace)
    rpc(sock, "projects.register", {"path": str(root), "name": root.name})
    if json_out:
        info = {"project": str(root), "daemon_pid": status["pid"], "daemon_started": started}
        sys.stdout.write(json.dumps({"type": "demo.project", "data": info}) + "\n")
    say(f"demo project: {root}")
    agent = str(Path(sys.executable).parent / "specflowd-sim-agent")
    config = {"auto_merge": True, "agent": agent}
    say(render.preview(rpc(sock, "orchestrate.preview", {"project": str(root), "config": config})))
    events = None if detach else subscribed(sock, str(root))
    record = rpc(sock, "orchestrate.start", {"project": str(root), "config": config})["record"]
    try:
        if events is None:
            emit(json_out, {"type": "demo.started", "data": {"orchestration": record["id"]}}, lambda _: "")
            say(f"started orchestration {record['id'][: render.ORCH_ID_LEN]} (detached)")
            say(f"  follow: specflowctl status --watch {root}")
            say(f"  steer:  specflowctl pause|resume|cancel {root}")
            return
        inline = ask and not json_out and sys.stdin.isatty()
        code = _follow(sock, events, record["id"], json_out, str(root), inline)
        while code == core.EXIT_WAITING_INPUT and inline:
            events = subscribed(sock, str(root))  # before answering: the resumed session's events are not missed
            _answer_inline(sock, record["id"])
            code = _follow(sock, events, record["id"], json_out, str(root), inline)
        raise typer.Exit(code)
    finally:
        log = specflow_home() / "specflowd.log"
        state = "is now running in the background (started for this demo)" if started else "keeps running"
        say(f"\nThe demo project is in {root}")
        say("  (cd there and try `specflowctl status`, `specflowctl log`, `specflowctl ls`)")
        say(f"specflowd {state}: pid {status['pid']}")
        say(f"  log: {log} · stop it with `specflowctl daemon stop`")
