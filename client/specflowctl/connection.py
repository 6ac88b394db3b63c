"""Blocking JSON-RPC client over the daemon's Unix socket (stdlib only: the CLI must start fast).

Speaks newline-delimited JSON. ``call_with_hello`` sends ``daemon.hello`` and the real call as one batch, so
the version check costs no extra round trip.
"""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

    from specflowctl.remote import SshTarget

__all__ = ["DaemonUnavailable", "RpcClient", "RpcError"]


class DaemonUnavailable(Exception):
    def __init__(self, socket_path: Path | SshTarget, reason: str) -> None:
        super().__init__(f"no specflowd is answering on {socket_path} ({reason})")
        self.socket_path = socket_path
        self.reason = reason


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", "")) if isinstance(self.data, dict) else ""


class RpcClient:
    def __init__(self, socket_path: Path | SshTarget, *, timeout: float | None = 30.0) -> None:
        self.socket_path = socket_path  # a local socket, or a host reached through `ssh HOST specflowctl bridge`
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._ssh: tuple[subprocess.Popen[bytes], IO[bytes]] | None = None
        self._buffer = b""
        self._ids = itertools.count(1)

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._ssh is not None:
            from specflowctl.remote import reap

            reap(*self._ssh)
            self._ssh = None

    def alive(self) -> bool:
        """Connected, and the other side has not closed (e.g. the daemon's idle timeout): safe to reuse."""
        if self._sock is None or (self._ssh is not None and self._ssh[0].poll() is not None):
            return False
        import select

        readable, _, _ = select.select([self._sock], [], [], 0)
        return not readable  # nothing is pending on an idle connection but an end of stream

    def _unavailable(self, reason: str) -> DaemonUnavailable:
        """Why the connection failed; through ssh, what ssh and the remote side said."""
        if self._ssh is not None and not isinstance(self.socket_path, Path):
            from specflowctl.remote import explain_exit, reap

            proc, errors = self._ssh
            self._ssh = None
            returncode, stderr = reap(proc, errors, wait=5.0)
            return DaemonUnavailable(self.socket_path, explain_exit(self.socket_path, returncode, stderr))
        return DaemonUnavailable(self.socket_path, reason)

    def _connect(self) -> socket.socket:
        if self._sock is None and not isinstance(self.socket_path, Path):
            from specflowctl.remote import open_stream

            try:
                sock, proc, errors = open_stream(self.socket_path, self._timeout)
            except ConnectionError as exc:
                raise DaemonUnavailable(self.socket_path, str(exc)) from None
            self._sock, self._ssh = sock, (proc, errors)
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self._timeout)
            try:
                sock.connect(str(self.socket_path))
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                sock.close()
                raise DaemonUnavailable(self.socket_path, exc.strerror or type(exc).__name__) from None
            except OSError as exc:
                sock.close()
                raise DaemonUnavailable(self.socket_path, exc.strerror or str(exc)) from None
            self._sock = sock
        return self._sock

    def _send(self, message: Any) -> None:
        try:
            self._connect().sendall(json.dumps(message).encode() + b"\n")
        except OSError as exc:
            raise self._unavailable(str(exc)) from None

    def _read_message(self, timeout: float | None = -1.0) -> Any:
        sock = self._connect()
        if timeout != -1.0:
            sock.settimeout(timeout)
        while b"\n" not in self._buffer:
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                raise
            except OSError as exc:
                raise self._unavailable(str(exc)) from None
            if not chunk:
                raise self._unavailable("connection closed by the daemon")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            if isinstance(self.socket_path, Path):
                raise
            # through ssh: typically a login script of the far host printing on stdout, ahead of the bridge
            self.close()
            raise DaemonUnavailable(
                self.socket_path,
                f"{self.socket_path} sent text that is not JSON-RPC ({line[:60]!r}); a login script there printing "
                "on stdout? Make it quiet for non-interactive shells",
            ) from None

    def _request(self, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params is not None:
            message["params"] = params
        return message

    def _await_reply(self, ids: set[int]) -> Any:
        """Read until a reply carrying one of ``ids`` (a batch reply carries several); keep nothing else."""
        while True:
            message = self._read_message()
            if isinstance(message, list):
                return message
            if message.get("id") in ids:
                return message

    @staticmethod
    def _unwrap(reply: dict[str, Any]) -> Any:
        if "error" in reply:
            error = reply["error"]
            raise RpcError(int(error.get("code", -32000)), str(error.get("message")), error.get("data"))
        return reply.get("result")

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        request = self._request(method, params)
        self._send(request)
        return self._unwrap(self._await_reply({request["id"]}))

    def call_with_hello(self, method: str, params: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
        hello, request = self._request("daemon.hello", None), self._request(method, params)
        self._send([hello, request])
        replies = self._await_reply({hello["id"], request["id"]})
        if not isinstance(replies, list):
            replies = [replies]
        by_id = {reply.get("id"): reply for reply in replies}
        hello_result = self._unwrap(by_id[hello["id"]])
        return hello_result, self._unwrap(by_id[request["id"]])

    def events(self, project: str | None = None, *, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Subscribe and yield event params until the connection closes."""
        self.subscribe(project)
        while True:
            message = self._read_message(timeout)
            if isinstance(message, dict) and message.get("method") == "event":
                yield message["params"]

    def subscribe(self, project: str | None = None) -> None:
        """Subscribe now (not lazily): a follower subscribes *before* it reads the state it then follows, so
        nothing that happens in between is missed. Use this connection for events only afterwards."""
        self.call("events.subscribe", {"project": project} if project else {})

    def next_event(self, timeout: float | None) -> dict[str, Any] | None:
        """The next event's params, or None when ``timeout`` seconds pass without one (the buffer keeps any
        partial message, so a timeout loses nothing)."""
        while True:
            try:
                message = self._read_message(timeout)
            except TimeoutError:
                return None
            if isinstance(message, dict) and message.get("method") == "event":
                return dict(message["params"])
