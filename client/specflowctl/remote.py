"""Reaching a daemon on another host: ``ssh HOST specflowctl bridge`` as the connection (stdlib only).

OpenSSH does the transport, the authentication and the encryption with the user's own keys, agent, config
and jump hosts; nothing here listens on a network. A connection to a host is one ``ssh`` child whose stdin
and stdout are one end of a socket pair, so the JSON-RPC client reads and writes it exactly as it does the
daemon's Unix socket. docs/remote.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # imported where used: the polled fast path loads this module and must stay light
    import socket
    import subprocess

__all__ = [
    "SshTarget",
    "client_settings",
    "explain_exit",
    "host_given",
    "host_list",
    "open_stream",
    "parse_host",
    "reap",
    "select",
    "selected_host",
    "target",
]

DEFAULT_CONNECT_TIMEOUT_S = 10
# The host chosen on the command line (--host); _UNSET = fall back to SPECFLOWCTL_HOST, then [client] host.
_UNSET = object()
_selected: Any = _UNSET


class SshTarget(NamedTuple):
    """A daemon reached through ``ssh``: ``host`` as the user wrote it, and the whole ssh command line (the
    user's ssh command, the destination, and the command the remote login runs)."""

    host: str
    argv: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.host


def client_settings() -> dict[str, Any]:
    """The ``[client]`` table of the settings file (``$XDG_CONFIG_HOME/specflow/specflowd.toml``); {} when
    the file is absent, unreadable or has none. The daemon validates the table (``config set``)."""
    from specflowctl.paths import user_config_path

    try:
        data = user_config_path().read_bytes()
    except OSError:
        return {}
    if b"client" not in data:  # the common case: no tomllib import on the polled fast path
        return {}
    import tomllib

    try:
        table = tomllib.loads(data.decode("utf-8")).get("client")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    return table if isinstance(table, dict) else {}


def select(host: str | None, *, local: bool = False) -> None:
    """``--host`` given on the command line (None: not given); ``local`` pins this machine's daemon whatever
    the environment or the settings file say (verbs that act on local files)."""
    global _selected
    _selected = None if local else (host if host else _UNSET)


def host_given() -> bool:
    """A host was chosen on the command line or in the environment (not only in the settings file)."""
    return (_selected is not _UNSET) or bool(os.environ.get("SPECFLOWCTL_HOST"))


def selected_host() -> str | None:
    """The host every verb talks to: ``--host``, else ``SPECFLOWCTL_HOST``, else ``[client] host``; None =
    this machine's socket."""
    if _selected is not _UNSET:
        return str(_selected) if _selected else None
    env = os.environ.get("SPECFLOWCTL_HOST")
    if env is not None:
        return env or None  # an empty variable pins the local daemon
    host = client_settings().get("host")
    return str(host) if isinstance(host, str) and host else None


def host_list(explicit: str | None) -> list[str]:
    """``--hosts a,b,c``, else ``[client] hosts``; duplicates dropped, order kept."""
    if explicit is not None:
        names = [h.strip() for h in explicit.split(",")]
    else:
        configured = client_settings().get("hosts") or []
        names = [str(h).strip() for h in configured] if isinstance(configured, list) else []
    return list(dict.fromkeys(h for h in names if h))


def parse_host(host: str) -> tuple[str, int | None]:
    """``[user@]HOST[:PORT]`` (IPv6 as ``[addr]:PORT``) → (ssh destination, port or None)."""
    user, at, rest = host.rpartition("@")
    prefix = f"{user}@" if at else ""
    port: int | None = None
    if rest.startswith("["):
        address, bracket, tail = rest[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise ValueError(f"{host!r}: an IPv6 host is written [ADDRESS] or [ADDRESS]:PORT")
        rest, port_text = address, tail[1:]
    elif rest.count(":") == 1:
        rest, _, port_text = rest.partition(":")
    else:
        port_text = ""
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{host!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    if not rest or rest.startswith("-") or any(c.isspace() for c in host):
        raise ValueError(f"{host!r} is not a host: write [user@]HOST[:PORT]")
    return prefix + rest, port


def ssh_command() -> list[str]:
    """``SPECFLOWCTL_SSH``, else ``[client] ssh``, else ``ssh`` (split as a shell would, no shell run)."""
    import shlex

    configured = os.environ.get("SPECFLOWCTL_SSH") or client_settings().get("ssh") or "ssh"
    words = shlex.split(str(configured))
    return words or ["ssh"]


def remote_specflowctl() -> str:
    """The specflowctl the remote login runs (its PATH decides unless this is a path)."""
    configured = os.environ.get("SPECFLOWCTL_REMOTE") or client_settings().get("remote_specflowctl")
    return str(configured) if configured else "specflowctl"


def build_target(host: str, remote_socket: str | None = None) -> SshTarget:
    import shlex

    destination, port = parse_host(host)
    argv = ssh_command()
    if not any("connecttimeout" in word.lower() for word in argv):
        # without it an unreachable host hangs for the TCP timeout (minutes); a user's own -o wins
        argv += ["-o", f"ConnectTimeout={DEFAULT_CONNECT_TIMEOUT_S}"]
    if port is not None:
        argv += ["-p", str(port)]
    remote = [remote_specflowctl(), "bridge"] + (["--socket", remote_socket] if remote_socket else [])
    # -T: no terminal (a byte stream); the remote command is one string the login shell runs
    argv += ["-T", "--", destination, shlex.join(remote)]
    return SshTarget(host, tuple(argv))


def target(explicit_socket: Path | str | None) -> SshTarget | None:
    """The remote target of this invocation, or None for the local socket. With a host, ``--socket`` names
    the socket on that host; ``SPECFLOWD_SOCKET`` describes this machine and is not sent."""
    host = selected_host()
    if host is None:
        return None
    remote_socket = None
    if explicit_socket and str(explicit_socket) != os.environ.get("SPECFLOWD_SOCKET"):
        remote_socket = str(explicit_socket)
    return build_target(host, remote_socket)


def open_stream(where: SshTarget, timeout: float | None) -> tuple[socket.socket, subprocess.Popen[bytes], IO[bytes]]:
    """Start ``ssh … specflowctl bridge``: our end of the socket pair, the child, and the file its stderr
    goes to (read when the connection fails, to say why)."""
    import socket
    import subprocess
    import tempfile

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the connection, closed by reap()
    try:
        proc = subprocess.Popen(
            list(where.argv), stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=errors, close_fds=True
        )
    except OSError as exc:
        ours.close()
        errors.close()
        raise ConnectionError(
            f"cannot run {where.argv[0]!r} to reach {where.host} ({exc.strerror or exc}): "
            "set SPECFLOWCTL_SSH or [client] ssh"
        ) from None
    finally:
        theirs.close()
    ours.settimeout(timeout)
    return ours, proc, errors


def explain_exit(where: SshTarget, returncode: int | None, stderr: str) -> str:
    """One line naming the host, what went wrong and what to do."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("Warning:")]
    last = lines[-1] if lines else ""
    host = where.host
    if returncode == 255:
        return (
            f"cannot reach {host} over ssh ({last or 'ssh exited 255'}); check the host name, its sshd and your ssh "
            "settings (SPECFLOWCTL_SSH, [client] ssh)"
        )
    if returncode == 127 or "not found" in last:
        return (
            f"specflowctl is not installed on {host} or not on its login PATH ({last or 'exit 127'}); install "
            "specflowd there or set SPECFLOWCTL_REMOTE / [client] remote_specflowctl to its path"
        )
    if "No such command" in stderr:
        return f"the specflowctl on {host} has no `bridge` verb (an older release): upgrade specflowd on {host}"
    detail = last or (f"exit {returncode}" if returncode is not None else "closed")
    return f"the connection to {host} closed before the daemon answered ({detail})"


def reap(proc: subprocess.Popen[bytes], errors: IO[bytes], wait: float = 2.0) -> tuple[int | None, str]:
    """Wait briefly for an ``ssh`` child whose stream we closed (it exits once the remote bridge has), stop
    it if it lingers; its exit code and what it wrote on stderr."""
    import subprocess

    try:
        returncode: int | None = proc.wait(wait)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(1.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        returncode = None
    try:
        errors.seek(0)
        stderr = errors.read(1 << 16).decode("utf-8", "replace")
    except (OSError, ValueError):
        stderr = ""
    finally:
        errors.close()
    return returncode, stderr
