"""What specflowctl says tells the user what will happen and what to type next, naming only commands that
work here and the source of a value that failed (real CLI, real daemon where one is needed)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests.cli.conftest import demo_project
from tests.engine.common import SIM
from tests.support import SPECFLOWCTL, running_daemon, sandbox_env, wait_until


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


def test_pause_says_when_resume_after_cancel_says_what_does_and_ctrl_c_says_it_goes_on(tmp_path: Path) -> None:
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=SIM, SPECFLOW_SIM_DELAY="1") as d:  # a batch takes seconds
        root = demo_project(d)
        d.ctl("orchestrate", "--yes", "--detach", "--skip-analyze", cwd=root)

        def running_batch() -> bool:
            record = d.rpc("orchestrate.status", {"project": str(root)})["record"]
            return any(b["status"] == "running" for b in record.get("batches") or [])

        wait_until(running_batch, 30, what="batch 1 running")
        watch = subprocess.Popen(
            [SPECFLOWCTL, "status", "--watch"], env=d.env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert watch.stdout is not None and watch.stdout.readline().startswith("orchestration ")  # following
        watch.send_signal(signal.SIGINT)
        _, err = watch.communicate(timeout=30)
        record = d.rpc("orchestrate.status", {"project": str(root)})["record"]
        short = record["id"][:8]
        assert watch.returncode == 130 and record["status"] == "running"
        assert err == (
            f"\nstopped following; orchestration {short} goes on in the daemon. Follow it again with "
            "`specflowctl status --watch`; stop it with `specflowctl pause` or `specflowctl cancel`.\n"
        )
        paused = d.ctl("pause", cwd=root).stdout.splitlines()
        assert paused[:2] == [
            "pauses after batch 1 ends (use --now to stop it now)",
            f"orchestration {short}: Pausing after batch 1 ends, step implement",
        ]
        assert f"orchestration {short}: Pausing after batch 1 ends, step implement" in d.ctl("status", cwd=root).stdout
        wait_until(lambda: d.rpc("orchestrate.status", {"project": str(root)})["record"]["status"] == "paused", 30)
        assert d.ctl("pause", cwd=root).stdout.startswith("paused: `specflowctl resume` continues\n")
        d.ctl("cancel", cwd=root)
        resumed = d.ctl("resume", cwd=root, check=False)
        assert resumed.returncode == 1
        assert resumed.stderr == (
            f"specflowctl: orchestration {short} is cancelled and cannot resume: `specflowctl orchestrate` starts a "
            "new one for the open tasks [invalid_state]\n"
        )
