"""The run lock with the real Claude Code CLI (docs/runs.md#restart): the agent keeps the descriptor the
daemon passes it for its whole life, so a restarted daemon finds the live agent through the lock even
without process.pid — and `find_agent` picks the CLI itself, not one of its tool processes."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from specflowd.runner import process
from specflowd.runner.argv import build_argv
from specflowd.runner.process import LockState, find_agent, lock_holders, lock_state, take_lock
from tests.e2e.conftest import cli_env
from tests.e2e.messages_api import ScriptedMessagesAPI, bash, structured_output, tools

pytestmark = pytest.mark.real_cli


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_the_real_cli_holds_the_run_lock_until_it_exits(
    claude_cli: Path, project: Path, scripted_api: ScriptedMessagesAPI, cli_home: Path, tmp_path: Path
) -> None:
    # the tool call waits for the test: the agent is provably mid-run while the lock is examined
    scripted_api.extend(
        [
            tools(bash("touch tool-started; while [ ! -e release ]; do sleep 0.05; done")),
            tools(structured_output(status="completed", message="done")),
        ]
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "prompt.txt").write_text("Run the command.\n")
    lock, output = run_dir / "process.lock", run_dir / "output.jsonl"
    argv = build_argv(str(claude_cli), session_id=str(uuid.uuid4()), budget_usd=1)
    fd = take_lock(lock)
    try:
        popen = process.spawn(
            argv,
            cwd=project,
            env=cli_env(scripted_api.base_url, cli_home),
            stdin_path=run_dir / "prompt.txt",
            stdout_path=output,
            stderr_path=run_dir / "stderr.log",
            lock_fd=fd,
        )
    finally:
        os.close(fd)
    try:
        wait_for((project / "tool-started").exists, "the Bash tool to run")
        assert lock_state(lock) is LockState.HELD
        assert lock_holders(lock) == [popen.pid]  # measured with 2.1.197: its Bash tool does not inherit it
        agent = find_agent(lock, output, 0)
        assert agent is not None and agent.pid == popen.pid and agent.pgid == popen.pid
        (project / "release").touch()
        assert popen.wait(timeout=60) == 0, (run_dir / "stderr.log").read_text()
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, 9)
            popen.wait()
    assert lock_state(lock) is LockState.FREE
