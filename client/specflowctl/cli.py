"""specflowctl: the thin client. Every verb is one or two RPC calls; heavy modules load lazily."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from specflowctl.fast import try_fast_path

if TYPE_CHECKING:
    import typer


def build_app() -> typer.Typer:
    import typer

    from specflowctl import cmd_daemon, cmd_orchestrate, cmd_projects, cmd_runs, cmd_status

    app = typer.Typer(
        name="specflowctl",
        help="Control specflowd, the SpecFlow orchestration daemon.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.add_typer(cmd_daemon.app, name="daemon")
    app.add_typer(cmd_projects.app, name="projects")
    app.command("status")(cmd_status.status)
    app.command("batches")(cmd_status.batches)
    app.command("run")(cmd_runs.run)
    app.command("runs")(cmd_runs.runs)
    app.command("logs")(cmd_runs.logs)
    app.command("answer")(cmd_runs.answer)
    app.command("run-cancel")(cmd_runs.run_cancel)
    app.command("orchestrate")(cmd_orchestrate.orchestrate)
    for name in ("pause", "resume", "cancel", "merge", "recover", "demo"):
        app.command(name)(getattr(cmd_orchestrate, name))
    app.command("go-back")(cmd_orchestrate.go_back)
    return app


def main() -> None:
    code = try_fast_path(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    build_app()()
