"""specflowctl orchestrate / pause / resume / cancel / merge / go-back / recover / demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from specflowctl import core, render
from specflowctl.app import JsonOpt, SocketOpt, emit, fail, rpc
from specflowctl.connection import DaemonUnavailable, RpcClient
from specflowctl.resolve import project_ref

ProjectArg = Annotated[str | None, typer.Argument(help="Registry id or path (default: the project containing the cwd)")]
STOPS = {"completed", "failed", "cancelled", "needs_attention", "waiting_merge", "waiting_user_gate", "waiting_input"}


def _config(**options: Any) -> dict[str, Any]:
    config: dict[str, Any] = {}
    budget: dict[str, float] = {}
    for key, value in options.items():
        if value is None or value is False:
            continue
        if key.startswith("budget_"):
            budget[key.removeprefix("budget_")] = value
        else:
            config[key] = value
    if budget:
        config["budget"] = budget
    return config


def orchestrate(
    project: ProjectArg = None,
    auto_merge: Annotated[bool, typer.Option("--auto-merge", help="Merge when verify passes")] = False,
    skip_design: Annotated[bool, typer.Option("--skip-design")] = False,
    skip_analyze: Annotated[bool, typer.Option("--skip-analyze")] = False,
    context: Annotated[str | None, typer.Option("--context", help="Appended to every step's prompt")] = None,
    no_auto_heal: Annotated[bool, typer.Option("--no-auto-heal")] = False,
    max_heal_attempts: Annotated[int | None, typer.Option("--max-heal-attempts")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Fallback batch size")] = None,
    pause_between_batches: Annotated[bool, typer.Option("--pause-between-batches")] = False,
    budget_batch: Annotated[float | None, typer.Option("--budget-batch", help="USD per batch")] = None,
    budget_total: Annotated[float | None, typer.Option("--budget-total", help="USD in total")] = None,
    budget_heal: Annotated[float | None, typer.Option("--budget-heal", help="USD per heal")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="STEP=MODEL, repeatable")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Agent binary for this orchestration")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Start without asking")] = False,
    detach: Annotated[bool, typer.Option("--detach", help="Start and return")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan, spawn nothing")] = False,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Complete the phase: preview, confirm, then follow design → analyze → implement → verify → merge."""
    models: dict[str, str] = {}
    for item in model or []:
        step, sep, name = item.partition("=")
        if not sep:
            fail(f"--model takes STEP=MODEL, got {item!r}", 2)
        models[step.strip()] = name.strip()
    config = _config(
        auto_merge=auto_merge, skip_design=skip_design, skip_analyze=skip_analyze, additional_context=context,
        max_heal_attempts=max_heal_attempts, batch_size_fallback=batch_size,
        pause_between_batches=pause_between_batches, budget_per_batch=budget_batch, budget_total=budget_total,
        budget_heal=budget_heal, agent=agent,
    )  # fmt: skip
    if no_auto_heal:
        config["auto_heal"] = False
    if models:
        config["models"] = models
    ref = project_ref(project)
    preview = rpc(sock, "orchestrate.preview", {"project": ref, "config": config})
    if dry_run or not json_out:
        if json_out:
            emit(True, preview, str)
            return
        typer.echo(render.preview(preview))
    if dry_run:
        typer.echo(render.prompts(preview))
        return
    if not yes and not typer.confirm("Start this orchestration?", default=True):
        raise typer.Exit(1)
    started = rpc(sock, "orchestrate.start", {"project": ref, "config": config})
    record = started["record"]
    if detach:
        emit(
            json_out,
            started,
            lambda v: f"started orchestration {v['record']['id']} (follow: specflowctl status --watch)",
        )
        return
    final = follow(sock, record["id"], json_out)
    if final["status"] not in ("completed", "waiting_merge", "waiting_user_gate"):
        raise typer.Exit(1)


def follow(sock: Path | None, orch_id: str, json_out: bool) -> dict[str, Any]:
    """Print decisions as they happen (from events) until the orchestration stops or needs the user."""
    path = core.socket_path(sock)
    try:
        events = RpcClient(path, timeout=None).events()
        view = rpc(sock, "orchestrate.status", {"id": orch_id})
        record = view["record"]
        if not json_out:
            typer.echo(render.orchestration_line(record))
        for event in events:
            data = event.get("data", {})
            if data.get("orchestration") != orch_id:
                continue
            if json_out:
                sys.stdout.write(json.dumps(event) + "\n")
                sys.stdout.flush()
            elif event["type"].startswith("orchestration.") and "action" in data and data["action"] != "wait":
                typer.echo(f"  {data['action']:<16} {data.get('reason', '')}")
                if data["action"] == "finish_batch":  # a batch done: where we are and what is left
                    view = rpc(sock, "orchestrate.status", {"id": orch_id})
                    typer.echo(f"  {'':<16} {render.progress_line(view['progress'])}")
            if event["type"] == "orchestration.status" or data.get("status") in STOPS:
                view = rpc(sock, "orchestrate.status", {"id": orch_id})
                record = view["record"]
                if record["status"] in STOPS:
                    break
    except DaemonUnavailable:
        fail(f"lost the daemon on {path}", core.EXIT_NO_DAEMON)
    if not json_out:
        typer.echo(render.orchestration(record, [], view.get("progress")))
    return dict(record)


def _control(method: str, project: str | None, sock: Path | None, json_out: bool, **params: Any) -> None:
    payload = {"project": project_ref(project), **{k: v for k, v in params.items() if v is not None}}
    view = rpc(sock, method, payload)
    emit(json_out, view, lambda v: render.orchestration(v["record"], v["decisions"][-3:], v.get("progress")))


def pause(
    project: ProjectArg = None,
    now: Annotated[bool, typer.Option("--now", help="Stop the running run now")] = False,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Pause after the running run ends (or --now)."""
    _control("orchestrate.pause", project, sock, json_out, now=now)


def resume(
    project: ProjectArg = None,
    budget: Annotated[float | None, typer.Option("--budget", help="New total budget (USD)")] = None,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Resume a paused or stopped orchestration, optionally raising the total budget."""
    _control("orchestrate.resume", project, sock, json_out, budget=budget)


def cancel(project: ProjectArg = None, json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """Cancel the orchestration (stops its run's process group; the record is kept)."""
    _control("orchestrate.cancel", project, sock, json_out)


def merge(project: ProjectArg = None, json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """Merge a phase waiting for your decision."""
    _control("orchestrate.merge", project, sock, json_out)


def go_back(
    step: Annotated[str, typer.Argument(help="design | analyze | implement | verify")],
    project: ProjectArg = None,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Return to an earlier step."""
    _control("orchestrate.go_back", project, sock, json_out, step=step)


def recover(
    action: Annotated[str, typer.Argument(help="retry | skip | abort")],
    project: ProjectArg = None,
    budget: Annotated[float | None, typer.Option("--budget")] = None,
    json_out: JsonOpt = False,
    sock: SocketOpt = None,
) -> None:
    """Recover from needs_attention."""
    _control("orchestrate.recover", project, sock, json_out, action=action, budget=budget)


def demo(
    directory: Annotated[Path | None, typer.Argument(help="Where to create the demo project [./specflow-demo]")] = None,
    sock: SocketOpt = None,
) -> None:
    """Create a sample project and complete its phase with the built-in simulated agent, live."""
    from specflowctl.cmd_daemon import ensure_daemon
    from specflowctl.demo import create_demo_project

    target = (directory or Path("specflow-demo")).expanduser().absolute()
    if target.exists() and any(target.iterdir()):
        fail(f"{target} is not empty; pass another directory")
    ensure_daemon(sock)
    root = create_demo_project(target)
    rpc(sock, "projects.register", {"path": str(root), "name": "specflow-demo"})
    typer.echo(f"demo project: {root}")
    agent = str(Path(sys.executable).parent / "specflowd-sim-agent")
    config = {"auto_merge": True, "agent": agent}
    typer.echo(render.preview(rpc(sock, "orchestrate.preview", {"project": str(root), "config": config})))
    record = rpc(sock, "orchestrate.start", {"project": str(root), "config": config})["record"]
    final = follow(sock, record["id"], False)
    raise typer.Exit(0 if final["status"] == "completed" else 1)
