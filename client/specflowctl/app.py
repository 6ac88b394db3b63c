"""Typer-side plumbing of every verb: shared options, and core errors turned into exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from specflowctl import core

__all__ = ["JsonOpt", "SocketOpt", "emit", "fail", "follow_to_exit", "root", "rpc", "subscribed", "tri_state"]

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout")]
ProjectArg = Annotated[
    str | None,
    typer.Argument(
        metavar="PROJECT",  # optional: the usage line adds the brackets
        help="Registry id or path (default: the project containing the current directory)",
        show_default=False,
    ),
]
SocketOpt = Annotated[
    Path | None,
    typer.Option(
        "--socket",
        metavar="PATH",
        envvar="SPECFLOWD_SOCKET",
        help="Daemon socket path [default: $XDG_RUNTIME_DIR/specflowd/specflowd.sock]",
        show_default=False,
    ),
]


def tri_state(name: str, help: str) -> Any:
    """``--NAME/--no-NAME`` with no default of its own (None): when neither is given the config file decides,
    and either form overrides it (``--no-auto-merge`` beats ``auto_merge = true``)."""
    return typer.Option(f"--{name}/--no-{name}", help=help, show_default=False)


emit = core.emit


def fail(message: str, code: int = core.EXIT_RPC_ERROR) -> NoReturn:
    typer.echo(f"specflowctl: {message}", err=True)
    raise typer.Exit(code)


def rpc(sock: Path | None, method: str, params: dict[str, Any] | None = None) -> Any:
    try:
        return core.call(sock, method, params)
    except core.VerbFailed as exc:
        fail(exc.message, exc.code)


def follow_to_exit(sock: Path | None, events: Any, orch_id: str, json_out: bool, project_hint: str | None) -> NoReturn:
    """Follow an orchestration on an already subscribed connection; exit with where it stopped."""
    from specflowctl.follow import Follower

    try:
        code = Follower(sock, events, orch_id, json_out=json_out, project_hint=project_hint).follow()
    except core.VerbFailed as exc:
        fail(exc.message, exc.code)
    raise typer.Exit(code)


def subscribed(sock: Path | None, project: str | None) -> Any:
    """A connection subscribed to ``project``'s events (see ``follow.subscribe``); errors exit."""
    from specflowctl.follow import subscribe

    try:
        return subscribe(sock, project)
    except core.VerbFailed as exc:
        fail(exc.message, exc.code)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"specflowctl {core.client_version()}")
        raise typer.Exit()


# Verbs that act on this machine's files: a host from the environment or the settings file does not apply
_LOCAL_VERBS = ("config", "demo", "bridge")


def root(
    ctx: typer.Context,
    _: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit")
    ] = False,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            metavar="[USER@]HOST[:PORT]",
            envvar="SPECFLOWCTL_HOST",
            help="Talk to HOST's daemon through `ssh HOST specflowctl bridge` (default: [client] host of the "
            "settings file, else this machine). PROJECT paths, --agent and other paths are then paths on HOST. "
            "The ssh command: SPECFLOWCTL_SSH / [client] ssh",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Control specflowd, the SpecFlow orchestration daemon.

    Following an orchestration (orchestrate, status --watch, demo) exits with where it stopped: 0 completed,
    1 failed, 4 cancelled, 5 waiting for your answers, 6 merge ready, 7 needs attention, 8 paused. Otherwise:
    1 the daemon refused, 2 usage, 3 no daemon answering.
    """
    from specflowctl import remote

    if ctx.invoked_subcommand in _LOCAL_VERBS:
        source = ctx.get_parameter_source("host")
        if host and source is not None and source.name == "COMMANDLINE":
            verb = ctx.invoked_subcommand
            fail(f"`{verb}` works on this machine: run `ssh HOST specflowctl {verb} …`", core.EXIT_USAGE)
        remote.select(None, local=True)
    else:
        remote.select(host)
