"""The demo can be steered: --detach returns at once, --pace slows the simulated agent so pause/resume/cancel
can be tried, and --ask at a terminal asks the question inline and goes on (real CLI, the daemon it starts)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

from tests.support import SPECFLOWCTL, sandbox_env, wait_until


def _ctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SPECFLOWCTL, *args], env=env, capture_output=True, text=True, timeout=60)


def test_detached_paced_demo_can_be_paused_resumed_and_cancelled(tmp_path: Path) -> None:
    env = dict(sandbox_env(tmp_path), SPECFLOW_SIM_DELAY="0")  # the pace file must win over this
    demo = tmp_path / "demo"
    try:
        started = _ctl(env, "demo", "--detach", "--pace", "2", str(demo))
        assert started.returncode == 0, started.stdout + started.stderr
        lines = started.stdout.splitlines()
        short = next(line.split()[2] for line in lines if line.startswith("started orchestration "))
        assert f"started orchestration {short} (detached)" in lines
        assert f"  follow: specflowctl status --watch {demo}" in lines
        assert f"  steer:  specflowctl pause|resume|cancel {demo}" in lines
        assert (demo / ".specflow" / "sim-agent" / "pace").read_text() == "2.0\n"

        def status() -> str:
            return str(_ctl(env, "status", str(demo)).stdout)

        def batch_live() -> bool:  # a batch's agent is running (between runs `pause --now` pauses at once)
            shown = json.loads(_ctl(env, "status", "--json", str(demo)).stdout)["orchestration"]["record"]
            return shown["status"] == "running" and shown["step"] == "implement" and shown["current_run_id"] is not None

        wait_until(batch_live, 60, what="a batch's run to be live")
        paused = _ctl(env, "pause", "--now", str(demo))  # at 2 s a tool call, batch 1 runs for 8 s
        assert paused.returncode == 0 and paused.stdout.startswith("pausing now: the running run is being stopped\n")
        wait_until(lambda: f"orchestration {short}: Paused" in status(), 30, what="paused")
        assert f"orchestration {short}: Running" in _ctl(env, "resume", str(demo)).stdout
        assert f"orchestration {short}: Cancelled" in _ctl(env, "cancel", str(demo)).stdout
        assert _ctl(env, "demo", "--pace", "-1", str(tmp_path / "d2")).returncode == 2  # out of range: usage
    finally:
        _ctl(env, "daemon", "stop")


def test_demo_ask_at_a_terminal_asks_inline_and_goes_on(tmp_path: Path) -> None:
    env = dict(sandbox_env(tmp_path), SPECFLOW_SIM_DELAY="0")
    demo = tmp_path / "demo"
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [SPECFLOWCTL, "demo", "--ask", str(demo)], env=env, stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    seen, answered = b"", False
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 1 << 16)
                except OSError:  # EIO: the demo closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and b"answer (1-2" in seen:
                os.write(leader, b"2\n")  # sqlite
                answered = True
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=30)
    finally:
        os.close(leader)
        _ctl(env, "daemon", "stop")
    text = seen.decode("utf-8", "replace")
    assert answered and code == 0, text[-3000:]
    assert "Where should the todo list keep its items?" in text and "storage: sqlite" in text
    assert "answered: the same session goes on" in text and "Completed" in text
    assert "specflowctl answer" not in text  # no instructions to answer elsewhere
    assert "storage: sqlite" in (demo / ".specflow" / "sim-agent" / "answers.md").read_text()
