"""specflowctl: the thin client. Every verb is one or two RPC calls; heavy modules load lazily."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from specflowctl.fast import try_fast_path

if TYPE_CHECKING:
    import typer


def build_app() -> typer.Typer:
    import typer

    from specflowctl import (
        cmd_config,
        cmd_daemon,
        cmd_groups,
        cmd_orchestrate,
        cmd_projects,
        cmd_remote,
        cmd_runs,
        cmd_status,
    )
    from specflowctl.app import root

    app = typer.Typer(
        name="specflowctl",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # plain help: no box drawing, no `<bool>` type column
    )
    app.callback()(root)  # --version, and the help text with the exit codes
    app.command("demo")(cmd_orchestrate.demo)
    app.command("orchestrate")(cmd_orchestrate.orchestrate)
    app.command("status")(cmd_status.status)
    app.command("ls")(cmd_status.orchestrations)
    app.command("orchestrations", hidden=True)(cmd_status.orchestrations)  # alias of ls
    app.command("log")(cmd_status.log)
    app.command("questions")(cmd_status.questions)
    app.command("answer")(cmd_runs.answer)
    for name in ("pause", "resume", "cancel", "merge", "recover"):
        app.command(name)(getattr(cmd_orchestrate, name))
    app.command("go-back")(cmd_orchestrate.go_back)
    app.command("batches")(cmd_status.batches)
    app.command("run")(cmd_runs.run)
    app.command("runs")(cmd_runs.runs)
    app.command("logs")(cmd_runs.logs)
    app.command("run-cancel")(cmd_runs.run_cancel)
    app.add_typer(cmd_config.app, name="config")
    app.add_typer(cmd_projects.app, name="projects")
    app.add_typer(cmd_daemon.app, name="daemon")
    app.add_typer(cmd_groups.app, name="groups")
    app.command("bridge")(cmd_remote.bridge)
    return app


def main() -> None:
    code = try_fast_path(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    build_app()()
