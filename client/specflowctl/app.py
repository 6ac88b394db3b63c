"""Typer-side plumbing of every verb: shared options, and core errors turned into exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from specflowctl import core

__all__ = ["JsonOpt", "SocketOpt", "emit", "fail", "rpc"]

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout")]
SocketOpt = Annotated[
    Path | None, typer.Option("--socket", envvar="SPECFLOWD_SOCKET", help="Daemon socket path", show_default=False)
]

emit = core.emit


def fail(message: str, code: int = core.EXIT_RPC_ERROR) -> NoReturn:
    typer.echo(f"specflowctl: {message}", err=True)
    raise typer.Exit(code)


def rpc(sock: Path | None, method: str, params: dict[str, Any] | None = None) -> Any:
    try:
        return core.call(sock, method, params)
    except core.VerbFailed as exc:
        fail(exc.message, exc.code)
