"""The fake `claude` playing a /flow.* skill refuses what the real skill refuses (its Prerequisites table,
docs/specflow-cli.md), the way the skill does: a "BLOCKED: <remedy>" result, exit 0, the state file and
tasks.md left as they were. Each case starts from a project one prerequisite short of what the skill needs.
The fake claude and the fake `specflow` run as real processes; no daemon."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.runner.conftest import FAKE_CLAUDE

FAKE_SPECFLOW = Path(__file__).resolve().parents[1] / "fake_specflow" / "specflow"
SID = "11111111-2222-4333-8444-555555555555"
HEADLESS = ["-p", "--output-format", "stream-json", "--verbose", "--session-id", SID]
TASKS = "# Tasks\n\n## Phase 1: Setup\n- [x] T001 Create the package\n- [ ] T002 Add the module\n"


def project(tmp_path: Path, *, step: tuple[str, int, str] = ("design", 0, "not_started"), phase: bool = True,
            constitution: bool = True, artifacts: bool = True, tasks: str = TASKS) -> Path:  # fmt: skip
    root = tmp_path / "project"
    (root / ".specflow").mkdir(parents=True)
    if constitution:
        (root / ".specify" / "memory").mkdir(parents=True)
        (root / ".specify" / "memory" / "constitution.md").write_text("# Constitution\n")
    (root / "ROADMAP.md").write_text(
        "| Phase | Name | Status | Verification Gate |\n|---|---|---|---|\n| 0001 | Greeting | ⬜ Not Started | Tests |\n"
    )
    state = {
        "schema_version": "3.0",
        "project": {"id": "5b0e6c1e-0000-4000-8000-000000000001", "name": "greeting", "path": str(root)},
        "last_updated": "2026-01-01T00:00:00.000Z",
        "orchestration": {
            "phase": {"id": None, "number": None, "name": None, "branch": None, "status": "not_started"},
            "next_phase": None,
            "step": {"current": "design", "index": 0, "status": "not_started"},
            "implement": None,
            "dashboard": {},
        },
        "health": {"status": "initializing", "last_check": "2026-01-01T00:00:00.000Z", "issues": []},
    }  # as `specflow init` leaves it
    (root / ".specflow" / "orchestration-state.json").write_text(json.dumps(state, indent=2) + "\n")
    if phase:
        specflow(root, "phase", "open", "0001")
    specflow(root, "state", "set", f"orchestration.step.current={step[0]}", f"orchestration.step.index={step[1]}",
             f"orchestration.step.status={step[2]}")  # fmt: skip
    if artifacts:
        feature = root / "specs" / "0001-greeting"
        feature.mkdir(parents=True)
        for name, text in (("spec.md", "# Spec\n"), ("plan.md", "# Plan\n"), ("tasks.md", tasks)):
            (feature / name).write_text(text)
    return root


def specflow(root: Path, *args: str) -> None:
    done = subprocess.run([str(FAKE_SPECFLOW), *args], cwd=root, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def git(root: Path, branch: str) -> None:
    for args in (["init", "-q", "-b", branch], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def play(tmp_path: Path, root: Path, prompt: str) -> tuple[int, dict[str, Any]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "specflow").exists():
        (bin_dir / "specflow").symlink_to(FAKE_SPECFLOW)
    env = {**os.environ, "IS_SANDBOX": "1", "FAKE_CLAUDE_SKILLS": "1", "HOME": str(tmp_path),
           "PATH": f"{bin_dir}:{os.environ['PATH']}"}  # fmt: skip
    env.pop("FAKE_CLAUDE_SCRIPT", None)
    done = subprocess.run([str(FAKE_CLAUDE), *HEADLESS], input=prompt, capture_output=True, text=True, cwd=root,
                          env=env, timeout=60, check=False)  # fmt: skip
    return done.returncode, json.loads(done.stdout.splitlines()[-1])


def files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts}


CASES: list[tuple[str, str, Callable[[Path], Path], str]] = [
    ("design-no-phase", "/flow.design", lambda t: project(t, phase=False, artifacts=False), "run `specflow phase open`"),
    ("design-no-constitution", "/flow.design", lambda t: project(t, constitution=False, artifacts=False), "run /flow.init"),
    ("analyze-before-design", "/flow.analyze", lambda t: project(t, artifacts=False), "run /flow.design"),
    ("implement-no-constitution", "/flow.implement T002", lambda t: project(t, constitution=False), "run /flow.init"),
    ("verify-tasks-open", "/flow.verify", lambda t: project(t, step=("implement", 2, "in_progress")), "run /flow.implement"),
    ("merge-at-merge-step", "/flow.merge", lambda t: project(t, step=("merge", 4, "in_progress"), tasks=TASKS.replace("[ ]", "[x]")), "run `/flow.verify` first"),
    ("merge-verify-unfinished", "/flow.merge", lambda t: project(t, step=("verify", 3, "in_progress"), tasks=TASKS.replace("[ ]", "[x]")), "run `/flow.verify` first"),
    ("merge-gate-fails", "/flow.merge", lambda t: project(t, step=("verify", 3, "complete")), "implement gate is not passed"),
]  # fmt: skip


@pytest.mark.parametrize(("prompt", "make", "remedy"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_skill_refuses_without_its_prerequisites_and_writes_nothing(
    tmp_path: Path, prompt: str, make: Callable[[Path], Path], remedy: str
) -> None:
    root = make(tmp_path)
    before = files(root)
    code, result = play(tmp_path, root, prompt)
    assert code == 0 and result["result"].startswith("BLOCKED: ") and remedy in result["result"], result
    assert files(root) == before


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("branch", ["main", "master"])
def test_merge_refuses_on_main(tmp_path: Path, branch: str) -> None:
    root = project(tmp_path, step=("verify", 3, "complete"), tasks=TASKS.replace("[ ]", "[x]"))
    git(root, branch)
    before = files(root)
    code, result = play(tmp_path, root, "/flow.merge")
    assert code == 0 and result["result"] == "BLOCKED: Cannot merge from main branch"
    assert files(root) == before


def test_merge_acts_when_verify_passed_on_the_phase_branch(tmp_path: Path) -> None:
    root = project(tmp_path, step=("verify", 3, "complete"), tasks=TASKS.replace("[ ]", "[x]"))
    git(root, "0001-greeting")
    code, result = play(tmp_path, root, "/flow.merge")
    assert code == 0 and result["result"] == "phase closed", result
    state = json.loads((root / ".specflow" / "orchestration-state.json").read_text())["orchestration"]
    assert state["phase"]["number"] is None and state["step"] == {"current": "design", "index": 0, "status": "not_started"}


def test_implement_refuses_off_the_phase_branch(tmp_path: Path) -> None:
    root = project(tmp_path, step=("implement", 2, "in_progress"))
    git(root, "main")
    before = files(root)
    code, result = play(tmp_path, root, "/flow.implement T002")
    assert code == 0 and "not the phase branch 0001-greeting: run `git checkout 0001-greeting`" in result["result"]
    assert files(root) == before
