"""The verb core shared by the typer commands and the fast path: stdlib only, no typer, no pydantic.

Exit codes: 0 ok · 1 the daemon answered with an error · 2 usage · 3 no daemon answering.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specflowctl.connection import DaemonUnavailable, RpcClient, RpcError

__all__ = ["CLIENT_VERSION", "EXIT_NO_DAEMON", "EXIT_RPC_ERROR", "VerbFailed", "call", "emit", "socket_path"]

CLIENT_VERSION = "0.1.0"
EXIT_RPC_ERROR = 1
EXIT_NO_DAEMON = 3


class VerbFailed(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def socket_path(explicit: Path | str | None) -> Path:
    if explicit:
        return Path(explicit)
    from specflowd.paths import default_socket_path

    return default_socket_path()


def call(sock: Path | str | None, method: str, params: dict[str, Any] | None = None) -> Any:
    """One verb = one round trip: ``daemon.hello`` rides along in a batch for the version check."""
    path = socket_path(sock)
    try:
        with RpcClient(path) as client:
            hello, result = client.call_with_hello(method, params)
    except DaemonUnavailable:
        raise VerbFailed(
            f"no specflowd is answering on {path}. Start one with `systemctl --user start specflowd` or `specflowd &`.",
            EXIT_NO_DAEMON,
        ) from None
    except RpcError as exc:
        detail = f" [{exc.kind}]" if exc.kind else ""
        raise VerbFailed(f"{exc.message}{detail}", EXIT_RPC_ERROR) from None
    if hello.get("version") != CLIENT_VERSION and not os.environ.get("SPECFLOWCTL_NO_VERSION_WARNING"):
        print(
            f"specflowctl: warning: daemon is version {hello.get('version')}, this client is {CLIENT_VERSION}",
            file=sys.stderr,
        )
    return result


def emit(as_json: bool, data: Any, render: Callable[[Any], str]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    text = render(data)
    if text:
        sys.stdout.write(text + "\n")
