"""The shipped simulated agent, run as a real process with the flags specflowd passes to claude."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from specflowctl.demo import DEMO_FEATURE, create_demo_project

SIM = str(Path(sys.executable).parent / "specflowd-sim-agent")
BASE = [
    "-p",
    "--output-format",
    "stream-json",
    "--verbose",
    "--permission-mode",
    "bypassPermissions",
    "--disallowedTools",
    "AskUserQuestion",
    "--json-schema",
    '{"type":"object"}',
]


def _run(
    root: Path, prompt: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, list[dict[str, Any]]]:
    import os

    full_env = dict(os.environ, SPECFLOW_SIM_DELAY="0", **(env or {}))
    proc = subprocess.run(
        [SIM, *BASE, "--session-id", "11111111-2222-4333-8444-555555555555", *extra],
        input=prompt,
        capture_output=True,
        text=True,
        cwd=root,
        env=full_env,
        timeout=30,
    )
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()]


def test_implement_checks_off_exactly_the_named_ids(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    code, lines = _run(root, '/flow.implement Execute only the "Phase 1: Setup" section (T001, T002).')
    assert code == 0
    assert lines[0]["type"] == "system" and lines[0]["session_id"] == "11111111-2222-4333-8444-555555555555"
    result = lines[-1]
    assert result["type"] == "result" and result["subtype"] == "success"
    assert result["structured_output"]["status"] == "completed"
    assert result["total_cost_usd"] > 0
    text = (root / "specs" / DEMO_FEATURE / "tasks.md").read_text()
    assert "- [x] T001 " in text and "- [x] T002 " in text and "- [ ] T003" in text


def test_fail_once_fails_half_way_then_succeeds(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    prompt = '/flow.implement Execute only the "Phase 2: Core Components" section (T005, T006, T007, T008).'
    code, lines = _run(root, prompt, env={"SPECFLOW_SIM_FAIL_ONCE": "Core Components"})
    assert code == 1 and lines[-1]["is_error"] and lines[-1]["subtype"] == "error_during_execution"
    text = (root / "specs" / DEMO_FEATURE / "tasks.md").read_text()
    assert "[x] T005" in text and "[ ] T008" in text
    code, _ = _run(root, prompt, env={"SPECFLOW_SIM_FAIL_ONCE": "Core Components"})
    assert code == 0
    assert "[x] T008" in (root / "specs" / DEMO_FEATURE / "tasks.md").read_text()


def test_budget_cap_gives_error_max_budget(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    code, lines = _run(root, "/flow.implement (T001, T002, T003)", "--max-budget-usd", "0.001")
    assert code == 1
    assert lines[-1]["subtype"] == "error_max_budget_usd"
    assert "Reached maximum budget" in lines[-1]["errors"][0]


def test_merge_closes_the_phase_and_verify_reports_complete(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    state_path = root / ".specflow" / "orchestration-state.json"
    assert _run(root, "/flow.verify")[0] == 0
    assert json.loads(state_path.read_text())["orchestration"]["step"] == {
        "current": "verify",
        "index": 3,
        "status": "complete",
    }
    assert _run(root, "/flow.merge")[0] == 0
    state = json.loads(state_path.read_text())["orchestration"]
    assert state["step"]["current"] == "design" and state["phase"]["status"] == "not_started"


def test_rejects_unknown_flags_like_the_real_cli(tmp_path: Path) -> None:
    proc = subprocess.run([SIM, "-p", "--no-such-flag"], capture_output=True, text=True, timeout=30, input="")
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr


def test_demo_project_shape(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    tasks = (root / "specs" / DEMO_FEATURE / "tasks.md").read_text()
    assert tasks.count("\n## ") == 4
    assert tasks.count("- [ ] T") == 20


def test_asks_once_then_the_resumed_session_does_the_first_prompts_work(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo", ask=True)
    prompt = '/flow.implement Execute only the "Phase 1: Setup" section (T001, T002).'
    code, lines = _run(root, prompt)
    asked = lines[-1]["structured_output"]
    assert code == 0 and asked["status"] == "needs_input" and asked["questions"][0]["header"] == "storage"
    assert "- [ ] T001" in (root / "specs" / DEMO_FEATURE / "tasks.md").read_text()  # nothing done yet
    answers = "The user answered your questions:\n\n- storage: sqlite\n\nContinue the task with these answers.\n"
    code, lines = _run(root, answers, "--resume", "11111111-2222-4333-8444-555555555555")
    assert code == 0 and lines[-1]["structured_output"]["status"] == "completed"
    assert "[x] T001" in (root / "specs" / DEMO_FEATURE / "tasks.md").read_text()
    assert "storage: sqlite" in (root / ".specflow" / "sim-agent" / "answers.md").read_text()
    assert _run(root, prompt.replace("T001, T002", "T003"))[1][-1]["structured_output"]["status"] == "completed"


def _step(root: Path, current: str, index: int, status: str) -> None:
    path = root / ".specflow" / "orchestration-state.json"
    state = json.loads(path.read_text())
    state["orchestration"]["step"] = {"current": current, "index": index, "status": status}
    path.write_text(json.dumps(state))


def test_merge_marks_the_roadmap_row_complete(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    _step(root, "verify", 3, "complete")  # what a passed /flow.verify leaves
    assert _run(root, "/flow.merge")[0] == 0
    roadmap = (root / "ROADMAP.md").read_text()
    assert "| 0001 | Todo CLI | ✅ Complete |" in roadmap and "| 0002 | Sync | ⬜ Not Started |" in roadmap


def test_merge_refuses_unless_verify_passed_like_the_real_skill(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    _step(root, "merge", 4, "in_progress")
    before = (root / ".specflow" / "orchestration-state.json").read_text(), (root / "ROADMAP.md").read_text()
    code, lines = _run(root, "/flow.merge")
    assert code == 0 and "run `/flow.verify` first" in json.dumps(lines)
    assert ((root / ".specflow" / "orchestration-state.json").read_text(), (root / "ROADMAP.md").read_text()) == before


def test_default_demo_directory_stays_out_of_git_checkouts(tmp_path: Path) -> None:
    from specflowctl.demo import default_demo_dir, git_work_tree

    plain, repo, home = tmp_path / "plain", tmp_path / "repo", tmp_path / "home"
    for d in (plain, repo / "sub", home):
        d.mkdir(parents=True)
    (repo / ".git").mkdir()
    assert git_work_tree(repo / "sub") == repo and git_work_tree(plain) is None
    assert default_demo_dir(plain, home, tmp_path / "sf") == plain / "specflow-demo"
    assert default_demo_dir(repo / "sub", home, tmp_path / "sf") == home / "specflow-demo"
    (home / "specflow-demo").mkdir()
    (home / "specflow-demo" / "x").write_text("used")
    assert default_demo_dir(repo / "sub", home, tmp_path / "sf") == home / "specflow-demo-2"
    (home / ".git").write_text("gitdir: elsewhere")  # a home that is itself a work tree
    assert default_demo_dir(repo, home, tmp_path / "sf") == tmp_path / "sf" / "demos" / "specflow-demo"
