"""The verb core shared by the typer commands and the fast path: stdlib only, no typer, no pydantic.

Exit codes: 0 ok · 1 the daemon answered with an error (or the orchestration failed) · 2 usage · 3 no
daemon answering. Following an orchestration (``orchestrate``, ``status --watch``, ``demo``) ends with the
code of where it stopped: 0 completed · 1 failed · 4 cancelled · 5 waiting for your answers · 6 merge ready
(or the USER GATE) · 7 needs attention · 8 paused.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specflowctl.connection import DaemonUnavailable, RpcClient, RpcError

if TYPE_CHECKING:
    from specflowctl.remote import SshTarget

__all__ = [
    "EXIT_NO_DAEMON",
    "EXIT_RPC_ERROR",
    "EXIT_USAGE",
    "PROTOCOL_VERSION",
    "STOP_CODES",
    "VerbFailed",
    "call",
    "call_target",
    "client_version",
    "emit",
    "socket_path",
    "target",
]

# The socket protocol this client speaks, compared with daemon.hello's ``protocol_version``: daemon and client
# package versions may differ freely as long as they speak the same protocol.
PROTOCOL_VERSION = 2
EXIT_OK = 0
EXIT_RPC_ERROR = 1
EXIT_USAGE = 2
EXIT_NO_DAEMON = 3
EXIT_CANCELLED = 4
EXIT_WAITING_INPUT = 5
EXIT_MERGE_READY = 6
EXIT_NEEDS_ATTENTION = 7
EXIT_PAUSED = 8

# Where following an orchestration stops, and the exit code that says so (the same for every verb)
STOP_CODES = {
    "completed": EXIT_OK,
    "failed": EXIT_RPC_ERROR,
    "cancelled": EXIT_CANCELLED,
    "waiting_input": EXIT_WAITING_INPUT,
    "waiting_merge": EXIT_MERGE_READY,
    "waiting_user_gate": EXIT_MERGE_READY,
    "needs_attention": EXIT_NEEDS_ATTENTION,
    "paused": EXIT_PAUSED,
}


class VerbFailed(Exception):
    def __init__(self, message: str, code: int, kind: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.kind = kind


def socket_path(explicit: Path | str | None) -> Path:
    if explicit:
        return Path(explicit)
    from specflowctl.paths import default_socket_path

    return default_socket_path()


def target(sock: Path | str | None) -> Path | SshTarget:
    """Where this invocation's daemon is: a host's (``--host``, ``SPECFLOWCTL_HOST``, ``[client] host``,
    reached through ssh; docs/remote.md), else this machine's socket."""
    from specflowctl import remote

    try:
        where = remote.target(sock)
    except ValueError as exc:
        raise VerbFailed(str(exc), EXIT_USAGE) from None
    return socket_path(sock) if where is None else where


def call(sock: Path | str | None, method: str, params: dict[str, Any] | None = None) -> Any:
    """One verb = one round trip: ``daemon.hello`` rides along in a batch for the version check."""
    path = target(sock)
    if not isinstance(path, Path):
        return call_target(path, method, params)
    try:
        with RpcClient(path) as client:
            hello, result = client.call_with_hello(method, params)
    except DaemonUnavailable:
        from specflowctl.paths import not_answering

        raise VerbFailed(not_answering(path), EXIT_NO_DAEMON) from None
    except RpcError as exc:
        detail = f" [{exc.kind}]" if exc.kind else ""
        raise VerbFailed(f"{exc.message}{detail}", EXIT_RPC_ERROR, exc.kind) from None
    _check_protocol(hello)
    return result


# One ssh connection per host for the whole invocation: a verb's several calls (status makes three) pay for
# one ssh handshake, not one each. Calls within one process are sequential per host.
_remote_clients: dict[SshTarget, RpcClient] = {}


def call_target(where: SshTarget, method: str, params: dict[str, Any] | None = None) -> Any:
    client = _remote_clients.get(where)
    if client is None or not client.alive():
        if client is not None:
            client.close()
        client = _remote_clients[where] = RpcClient(where)
        if len(_remote_clients) == 1:
            import atexit

            atexit.register(close_remote_clients)
    try:
        hello, result = client.call_with_hello(method, params)
    except DaemonUnavailable as exc:
        _remote_clients.pop(where, None)
        client.close()
        raise VerbFailed(exc.reason, EXIT_NO_DAEMON) from None  # names the host
    except RpcError as exc:
        detail = f" [{exc.kind}]" if exc.kind else ""
        raise VerbFailed(f"{exc.message}{detail}", EXIT_RPC_ERROR, exc.kind) from None
    if hello.get("protocol_version") != PROTOCOL_VERSION:
        # another machine's install drifts on its own: a half-understood conversation is refused, not warned
        _remote_clients.pop(where, None)
        client.close()
        raise VerbFailed(
            f"{where} speaks protocol {hello.get('protocol_version')} (specflowd {hello.get('version')}), this client "
            f"protocol {PROTOCOL_VERSION} (specflowctl {client_version()}): upgrade specflowd on the older side",
            EXIT_NO_DAEMON,
        )
    return result


def close_remote_clients() -> None:
    while _remote_clients:
        _, client = _remote_clients.popitem()
        client.close()


def _check_protocol(hello: dict[str, Any]) -> None:
    if hello.get("protocol_version") != PROTOCOL_VERSION and not os.environ.get("SPECFLOWCTL_NO_VERSION_WARNING"):
        print(
            f"specflowctl: warning: the daemon speaks protocol {hello.get('protocol_version')} "
            f"(specflowd {hello.get('version')}), this client protocol {PROTOCOL_VERSION} "
            f"(specflowctl {client_version()}): restart the daemon or upgrade the older side",
            file=sys.stderr,
        )


def client_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("specflowd")  # the client ships in the specflowd distribution
    except PackageNotFoundError:
        return "0+unknown"


def emit(as_json: bool, data: Any, render: Callable[[Any], str]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    text = render(data)
    if text:
        sys.stdout.write(text + "\n")
