"""Daemon lifecycle: locking, stale sockets, signals, sd_notify, socket activation."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import SPECFLOWD, Daemon, RawClient, can_connect, sandbox_env, wait_until


def test_sigterm_exits_cleanly_and_removes_socket(daemon: Daemon) -> None:
    with RawClient(daemon.socket) as client:
        client.send({"jsonrpc": "2.0", "id": 1, "method": "daemon.ping", "params": {"delay_ms": 700}})
        wait_until(lambda: daemon.rpc("daemon.status")["connections"] >= 2, what="in-flight call registered")
        started = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        reply = client.read()  # the in-flight request is still answered
        assert reply["id"] == 1 and reply["result"]["pong"]
    assert daemon.proc.wait(5) == 0  # type: ignore[union-attr]
    assert time.monotonic() - started < 5
    assert not daemon.socket.exists()


def test_sigint_and_shutdown_method_exit_zero(tmp_path: Path) -> None:
    d = Daemon(tmp_path, sandbox_env(tmp_path)).start()
    assert d.stop(signal.SIGINT) == 0
    d.start()
    assert d.rpc("daemon.shutdown") == {"stopping": True}
    assert d.proc.wait(5) == 0  # type: ignore[union-attr]


def test_second_daemon_is_refused(daemon: Daemon) -> None:
    second = subprocess.run([SPECFLOWD], env=daemon.env, capture_output=True, text=True, timeout=20)
    assert second.returncode == 1
    assert "already running" in second.stderr or "another specflowd is running" in second.stderr
    assert str(daemon.proc.pid) in second.stderr  # type: ignore[union-attr]
    assert daemon.rpc("daemon.ping")["pong"]  # the first one kept its socket


def test_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    sock_path = Path(env["SPECFLOWD_SOCKET"])
    sock_path.parent.mkdir(parents=True)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(sock_path))  # a socket file nobody listens on, as a killed daemon leaves it
    dead.close()
    assert sock_path.exists() and not can_connect(sock_path)
    d = Daemon(tmp_path, env).start()
    try:
        assert d.rpc("daemon.ping")["pong"]
        assert oct(sock_path.stat().st_mode & 0o777) == oct(0o600)
        assert oct(sock_path.parent.stat().st_mode & 0o777) == oct(0o700)
    finally:
        d.stop()


def test_sd_notify_ready_status_and_watchdog(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    notify_path = Path(env["XDG_RUNTIME_DIR"]) / "notify.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(notify_path))
    receiver.settimeout(10)
    env.update(NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="200000")
    d = Daemon(tmp_path, env).start(wait=False)
    try:
        messages: list[str] = []
        while not any(m.startswith("WATCHDOG=1") for m in messages):
            messages.append(receiver.recv(4096).decode())
        ready = next(m for m in messages if "READY=1" in m)
        assert "STATUS=" in ready
        watchdogs = 1
        while watchdogs < 3:  # keeps pinging at WATCHDOG_USEC/2
            if receiver.recv(4096).decode().startswith("WATCHDOG=1"):
                watchdogs += 1
        assert d.stop() == 0
        stopping = receiver.recv(4096).decode()
        while "STOPPING=1" not in stopping:
            stopping = receiver.recv(4096).decode()
    finally:
        if d.proc and d.proc.poll() is None:
            d.stop()
        receiver.close()


def _activation_wrapper(fd_socket: socket.socket, env: dict[str, str], root: Path) -> subprocess.Popen[bytes]:
    """Start the daemon as systemd would: listening socket on fd 3, LISTEN_FDS=1, LISTEN_PID=<its pid>."""
    fd = fd_socket.fileno()

    def child_setup() -> None:
        os.dup2(fd, 3)
        os.set_inheritable(3, True)

    log = (root / "activated.log").open("wb")
    return subprocess.Popen(
        ["/bin/sh", "-c", f'LISTEN_PID=$$ LISTEN_FDS=1 exec "{SPECFLOWD}"'],
        env=env,
        preexec_fn=child_setup,
        pass_fds=(3, fd),  # keep 3 open: close_fds runs after preexec_fn
        stdout=log,
        stderr=log,
    )


def test_socket_activation_with_passed_fd(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    env.pop("SPECFLOWD_SOCKET")
    sock_path = Path(env["XDG_RUNTIME_DIR"]) / "activated.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock_path))
    listener.listen(16)
    proc = _activation_wrapper(listener, env, tmp_path)
    listener.close()  # the daemon owns it now
    try:
        with RawClient(sock_path) as client:  # connects at once: the socket already listens
            status = client.request("daemon.status")["result"]
        assert status["socket_activated"] is True
        assert status["socket"] == str(sock_path)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        assert sock_path.exists()  # systemd's socket: not ours to delete
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="systemd-socket-activate not installed")
def test_socket_activation_via_systemd_socket_activate(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    env.pop("SPECFLOWD_SOCKET")
    sock_path = Path(env["XDG_RUNTIME_DIR"]) / "sa.sock"
    proc = subprocess.Popen(
        ["systemd-socket-activate", "-l", str(sock_path), SPECFLOWD],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(sock_path.exists, what="activation socket")
        with RawClient(sock_path) as client:
            status = client.request("daemon.status")["result"]
        assert status["socket_activated"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


@pytest.mark.parametrize("framing", ["content-length", "newline"])
def test_shutdown_writes_daemon_stopping_to_subscribers_before_its_reply(daemon: Daemon, framing: str) -> None:
    """Emacs' jsonrpc.el leaves bytes that follow a synchronous reply unread until more output arrives; after
    a shutdown none does, so the event must come first — to the caller and to every other subscriber."""
    with RawClient(daemon.socket, framing) as caller, RawClient(daemon.socket, framing) as other:
        assert caller.request("events.subscribe")["result"]["subscribed"]
        assert other.request("events.subscribe")["result"]["subscribed"]
        caller.send({"jsonrpc": "2.0", "id": 99, "method": "daemon.shutdown"})
        seen: list[str] = []
        while (message := caller.read()) is not None:
            if message.get("id") == 99:
                seen.append("reply")
            elif message.get("method") == "event" and message["params"]["type"] == "daemon.stopping":
                seen.append("event")
        assert seen == ["event", "reply"]
        others: list[str] = []
        while (message := other.read()) is not None:
            others.append(message["params"]["type"] if message.get("method") == "event" else "other")
        assert "daemon.stopping" in others
    assert daemon.proc.wait(10) == 0  # type: ignore[union-attr]


def test_sigterm_writes_daemon_stopping_to_subscribers_before_closing_them(daemon: Daemon) -> None:
    with RawClient(daemon.socket) as sub:
        assert sub.request("events.subscribe")["result"]["subscribed"]
        daemon.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        types: list[str] = []
        while (message := sub.read()) is not None:
            types.append(message["params"]["type"])
        assert "daemon.stopping" in types
    assert daemon.proc.wait(10) == 0  # type: ignore[union-attr]
