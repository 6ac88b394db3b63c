"""What specflowctl says tells the user what will happen and what to type next, naming only commands that
work here and the source of a value that failed (real CLI, real daemon where one is needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support import SPECFLOWCTL, sandbox_env


def test_no_daemon_suggests_only_what_works_on_this_machine(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    sock = env["SPECFLOWD_SOCKET"]

    def ctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SPECFLOWCTL, *args], env=env, capture_output=True, text=True, timeout=30)

    for argv in (["status"], ["daemon", "status"]):  # the typer verbs and the fast path say the same
        missing = ctl(*argv)
        assert missing.returncode == 3
        assert missing.stderr == (
            f"specflowctl: no specflowd is answering on {sock}. Start one with `specflowctl daemon start` "
            "(or `specflowctl daemon install-unit` once, so systemd starts it on use).\n"
        )
    assert ctl("daemon", "install-unit").returncode == 0
    assert ctl("status").stderr == (
        f"specflowctl: no specflowd is answering on {sock}. Start one with `specflowctl daemon start` "
        "or `systemctl --user start specflowd.socket`.\n"
    )
