"""Test support: start the real daemon as a subprocess in a sandboxed HOME, raw socket clients."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specflowd.runner.sandboxcheck import sandbox_problem

VENV_BIN = Path(sys.executable).parent
SPECFLOWD = str(VENV_BIN / "specflowd")
SPECFLOWCTL = str(VENV_BIN / "specflowctl")

# False while a test outside the e2e tier runs (tests/conftest.py): starting the daemon there is a mistake.
daemon_allowed = True


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def set_sim_pace(project: Path, seconds: float) -> None:
    """Seconds between the simulated agent's tool calls in runs that start from now on in ``project`` (its pace
    file, which wins over SPECFLOW_SIM_DELAY): a test slows only the runs whose timing it needs."""
    sim = project / ".specflow" / "sim-agent"
    sim.mkdir(parents=True, exist_ok=True)
    (sim / "pace").write_text(f"{seconds}\n", encoding="utf-8")


def sandbox_env(root: Path) -> dict[str, str]:
    home = root / "home"
    # Unix socket paths are limited to 107 bytes: keep the runtime dir short, outside pytest's long tmp names
    runtime = Path(tempfile.mkdtemp(prefix="sfr-", dir="/tmp"))
    for d in (home, runtime):
        d.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    inherited = ("SPECFLOW", "NOTIFY_SOCKET", "LISTEN_", "WATCHDOG", "ANTHROPIC_", "DBUS_SESSION_BUS_ADDRESS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    env.update(
        HOME=str(home),
        SPECFLOW_HOME=str(home / ".specflow"),
        XDG_RUNTIME_DIR=str(runtime),
        XDG_CONFIG_HOME=str(home / ".config"),
        SPECFLOWD_SOCKET=str(runtime / "specflowd" / "specflowd.sock"),
        SPECFLOWCTL_NO_VERSION_WARNING="",
    )
    if sandbox_problem(env) is not None:
        # A machine without bubblewrap/socat refuses every sandboxed start (docs/sandbox.md); the fake agents
        # need no sandbox, so the tiers that use them still run there, unconfined by the user's own setting.
        # .ci/run installs both, and the real-CLI sandbox tests skip here with the reason.
        config = home / ".config" / "specflow"
        config.mkdir(parents=True, exist_ok=True)
        (config / "specflowd.toml").write_text("[orchestrate]\nsandbox = false  # this machine cannot sandbox\n")
    return env


def can_connect(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


@dataclass
class Daemon:
    root: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default=Path())

    @property
    def socket(self) -> Path:
        return Path(self.env["SPECFLOWD_SOCKET"])

    @property
    def home(self) -> Path:
        return Path(self.env["SPECFLOW_HOME"])

    def start(self, *args: str, wait: bool = True, **popen: Any) -> Daemon:
        if not daemon_allowed:
            raise AssertionError("this test starts the real daemon: it belongs to the e2e tier (tests/conftest.py)")
        self.log_path = self.root / f"daemon-{time.monotonic_ns()}.log"
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen([SPECFLOWD, *args], env=self.env, stdout=log, stderr=log, **popen)
        if wait:
            wait_until(lambda: self._alive_or_fail() and can_connect(self.socket), what="daemon socket")
        return self

    def _alive_or_fail(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited {self.proc.returncode}: {self.log()}")
        return True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def ctl(
        self, *args: str, check: bool = True, timeout: float = 30.0, cwd: Path | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [SPECFLOWCTL, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=cwd,
            input=input,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"specflowctl {args} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def ctl_json(self, *args: str) -> Any:
        return json.loads(self.ctl(*args, "--json").stdout)

    def raw(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """The whole reply (result or error) of one request."""
        with RawClient(self.socket) as client:
            return client.request(method, params)

    def rpc(self, method: str, params: dict[str, Any] | None = None) -> Any:
        reply = self.raw(method, params)
        if "error" in reply:
            raise AssertionError(f"{method} failed: {reply['error']}")
        return reply["result"]


class RawClient:
    """A deliberately dumb client: bytes on a socket, in either framing."""

    def __init__(self, path: Path, framing: str = "newline", timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.framing = framing
        self.buffer = b""
        self.next_id = 0

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, message: Any) -> None:
        payload = json.dumps(message).encode()
        if self.framing == "newline":
            self.send_raw(payload + b"\n")
        else:
            self.send_raw(b"Content-Length: %d\r\n\r\n" % len(payload) + payload)

    def _fill(self) -> bool:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def read(self) -> Any:
        """Next message, or None when the daemon closed the connection."""
        while True:
            if self.framing == "newline":
                if b"\n" in self.buffer:
                    line, _, self.buffer = self.buffer.partition(b"\n")
                    return json.loads(line)
            else:
                head, sep, rest = self.buffer.partition(b"\r\n\r\n")
                if sep:
                    length = int(head.split(b":")[1])
                    if len(rest) >= length:
                        self.buffer = rest[length:]
                        return json.loads(rest[:length])
            if not self._fill():
                return None

    def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self.next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        while True:
            reply = self.read()
            if reply is None or reply.get("id") == self.next_id:
                return reply


def run_in_pty(argv: list[str], env: dict[str, str], timeout: float = 60.0, cwd: Path | None = None) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as stdout/stderr (what a user at a terminal sees: live lines,
    carriage returns); returns its exit code and everything it wrote."""
    import os
    import pty
    import select

    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"{argv} did not finish within {timeout}s: {b''.join(chunks)[-2000:]!r}")
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    data = os.read(leader, 1 << 16)
                except OSError:  # EIO: the last writer closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
    return proc.wait(timeout=10), b"".join(chunks).decode("utf-8", "replace")


@contextmanager
def running_daemon(root: Path, *args: str, **env: str) -> Iterator[Daemon]:
    """The real daemon in a sandbox under ``root`` (``env`` added to its environment), stopped afterwards."""
    daemon = Daemon(root, {**sandbox_env(root), **env}).start(*args)
    try:
        yield daemon
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.stop()
