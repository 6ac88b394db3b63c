"""Questions are first-class: shown with their options and the exact command, listed, answered by prefix or
for the current project, and a wrong key is refused with the valid ones (real CLI, real daemon)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

from tests.cli.conftest import demo_project
from tests.support import SPECFLOWCTL, Daemon, sandbox_env


def test_a_question_from_the_foreground_view_to_the_answer(asking_daemon: Daemon) -> None:
    d = asking_daemon
    root = demo_project(d)
    asked = d.ctl("orchestrate", str(root), "--yes", "--skip-analyze", check=False, timeout=120)
    assert asked.returncode == 5, asked.stdout + asked.stderr
    out = asked.stdout
    assert "[storage] Which storage should the todo list use?" in out
    assert "1. json — one JSON file" in out and "2. sqlite" in out
    command = re.search(r"answer: (specflowctl answer [0-9a-f]{8} --answer storage=json)", out)
    assert command, out
    assert f"`specflowctl status --watch {root}`" in out
    listed = d.ctl("questions").stdout
    assert "Which storage should the todo list use?" in listed and command.group(1) in listed
    assert "Which storage" in d.ctl("status", str(root)).stdout
    wrong = d.ctl("answer", "--answer", "stor=json", cwd=root, check=False)  # no RUN: this project's waiting run
    assert wrong.returncode == 1 and "valid keys: 'storage'" in wrong.stderr and "invalid_params" in wrong.stderr
    typed = d.ctl(*shlex.split(command.group(1))[1:], cwd=root)  # exactly what the view said to type
    assert typed.stdout.startswith("resumed run ")
    followed = d.ctl("status", "--watch", str(root), check=False, timeout=120)
    # the session went on with the answer and the phase ran on to verify, which the fake `claude` never
    # reports complete (it writes no state file): the view ends there, at "needs attention"
    assert followed.returncode == 7 and "step verify" in followed.stdout, followed.stdout + followed.stderr
    assert d.ctl("answer", cwd=root, check=False).stderr.startswith("specflowctl: no run in this project is waiting")


def test_demo_asks_then_tells_where_it_is_and_how_to_stop(tmp_path: Path) -> None:
    env = dict(sandbox_env(tmp_path), SPECFLOW_SIM_DELAY="0")
    try:
        asked = subprocess.run(
            [SPECFLOWCTL, "demo", "--ask", str(tmp_path / "demo")], env=env, capture_output=True, text=True, timeout=120
        )
        assert asked.returncode == 5, asked.stdout + asked.stderr
        assert "[storage] Where should the todo list keep its items?" in asked.stdout
        assert f"The demo project is in {tmp_path / 'demo'}" in asked.stdout
        assert "specflowd is now running in the background (started for this demo)" in asked.stdout
        assert "`specflowctl daemon stop`" in asked.stdout
        run = re.search(r"specflowctl answer ([0-9a-f]{8})", asked.stdout)
        assert run
        subprocess.run([SPECFLOWCTL, "answer", run.group(1), "--answer", "storage=sqlite"], env=env, check=True, timeout=30)
        done = subprocess.run(
            [SPECFLOWCTL, "status", "--watch", "--json", str(tmp_path / "demo")],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0 and json.loads(done.stdout.splitlines()[-1])["data"]["status"] == "completed"
        assert "storage: sqlite" in (tmp_path / "demo" / ".specflow" / "sim-agent" / "answers.md").read_text()
        again = subprocess.run(
            [SPECFLOWCTL, "demo", "--json", str(tmp_path / "demo2")], env=env, capture_output=True, text=True, timeout=120
        )
        lines = [json.loads(line) for line in again.stdout.splitlines()]
        assert again.returncode == 0 and lines[0]["type"] == "demo.project" and lines[0]["data"]["daemon_started"] is False
        assert lines[-1]["type"] == "follow.end" and lines[-1]["data"]["exit_code"] == 0
    finally:
        subprocess.run([SPECFLOWCTL, "daemon", "stop"], env=env, capture_output=True, timeout=30)


def test_demo_from_a_git_checkout_goes_to_the_home_directory(tmp_path: Path) -> None:
    env = dict(sandbox_env(tmp_path), SPECFLOW_SIM_DELAY="0")
    checkout = tmp_path / "checkout"
    (checkout / ".git").mkdir(parents=True)  # like running the README's first line in this repository
    try:
        demo = subprocess.run([SPECFLOWCTL, "demo"], env=env, cwd=checkout, capture_output=True, text=True, timeout=120)
        home_demo = Path(env["HOME"]) / "specflow-demo"
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert f"demo project: {home_demo}" in demo.stdout and list(checkout.iterdir()) == [checkout / ".git"]
        refused = subprocess.run([SPECFLOWCTL, "demo", str(checkout / "d")], env=env, capture_output=True, text=True, timeout=30)
        assert refused.returncode == 2 and "--in-git" in refused.stderr and not (checkout / "d").exists()
    finally:
        subprocess.run([SPECFLOWCTL, "daemon", "stop"], env=env, capture_output=True, timeout=30)
