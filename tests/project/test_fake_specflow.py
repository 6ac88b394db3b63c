"""The fake SpecFlow CLI (tests/fake_specflow/specflow) against the contract in docs/specflow-cli.md, and
specflowd's grammar against the fake's independent reading of every sample tasks.md."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from specflowd.project.tasks import parse_tasks
from tests.project.samples import TASK_SAMPLES

FAKE = Path(__file__).resolve().parents[1] / "fake_specflow" / "specflow"


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FAKE), *args], cwd=root, capture_output=True, text=True, timeout=60, check=False)


def state(root: Path) -> dict[str, Any]:
    return json.loads((root / ".specflow" / "orchestration-state.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    (root / ".specflow").mkdir(parents=True)
    (root / "ROADMAP.md").write_text(
        "| Phase | Name | Status | Verification Gate |\n|---|---|---|---|\n"
        "| 0040 | Parser | ⬜ Not Started | **USER GATE**: parses |\n"
    )
    document = {
        "schema_version": "3.0",
        "project": {"id": "x", "name": "p", "path": str(root)},
        "orchestration": {"phase": {"number": None, "status": "not_started", "userGateStatus": "confirmed"},
                          "step": {"current": "design", "index": 0, "status": "not_started"}, "dashboard": {}},
        "custom": {"kept": True},
    }  # fmt: skip
    (root / ".specflow" / "orchestration-state.json").write_text(json.dumps(document))
    assert run(root, "phase", "open", "0040").returncode == 0
    return root


@pytest.mark.parametrize("sample", sorted(TASK_SAMPLES.glob("*.md")), ids=lambda p: p.name)
def test_specflowd_counts_every_sample_as_the_cli_reading_does(tmp_path: Path, project: Path, sample: Path) -> None:
    feature = project / "specs" / "0040-parser"
    feature.mkdir(parents=True)
    shutil.copy(sample, feature / "tasks.md")
    for name in ("spec.md", "plan.md"):
        (feature / name).write_text("x")
    cli = json.loads(run(project, "status", "--json").stdout)["progress"]
    ours = parse_tasks(sample.read_text(encoding="utf-8")).counts()
    assert (ours["done"], ours["total"], ours["blocked"]) == (cli["tasksCompleted"], cli["tasksTotal"], cli["tasksBlocked"])


def test_state_set_coerces_drops_and_keeps_like_the_cli(project: Path) -> None:
    done = run(project, "state", "set", "orchestration.phase.number=41", "orchestration.step.index=2",
               "orchestration.phase.extra=1", "orchestration.lastError=boom", "orchestration.phase.goals=[\"a\"]")  # fmt: skip
    assert done.returncode == 0 and done.stdout.splitlines()[0] == 'Set orchestration.phase.number = "41"'
    doc = state(project)
    phase = doc["orchestration"]["phase"]
    assert phase["number"] == "41" and doc["orchestration"]["step"]["index"] == 2 and phase["goals"] == ["a"]
    assert phase["extra"] == 1  # set after the schema's pass over the file: written once,
    assert run(project, "state", "set", "orchestration.step.status=in_progress").returncode == 0
    assert "extra" not in state(project)["orchestration"]["phase"]  # dropped inside phase at the next write
    assert doc["orchestration"]["lastError"] == "boom" and doc["custom"] == {"kept": True}
    assert phase["userGateStatus"] == "confirmed"  # phase open keeps it
    bad = run(project, "state", "set", "orchestration.step.status=x", "no-equals-sign")
    assert bad.returncode == 1 and bad.stdout.startswith("Error: Invalid format") and bad.stderr == ""
    assert state(project)["orchestration"]["step"]["status"] == "in_progress"  # nothing written
    assert run(project, "state", "get", "orchestration.nothing").stdout.strip() == "(not set)"


def test_mark_ticks_every_line_mentioning_the_id_and_is_all_or_nothing(project: Path) -> None:
    feature = project / "specs" / "0040-parser"
    feature.mkdir(parents=True)
    (feature / "tasks.md").write_text(
        "## Phase 1: A\n- [ ] T001 a\n- [ ] T007 b\n- [ ] T007a c\n- [ ] T008 d (depends on T001)\n"
        "  - [ ] T009 indented, mentions T001\n- [~] T010 deferred T001\n"
    )
    refused = run(project, "mark", "T001", "T099")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("Error [VALIDATION]: Unknown task IDs: T099\nSuggestion: Valid task IDs are: T001,")
    assert "- [x]" not in (feature / "tasks.md").read_text()
    assert run(project, "mark", "T001", "T007").returncode == 0
    assert (feature / "tasks.md").read_text().splitlines()[1:] == [
        "- [x] T001 a", "- [x] T007 b", "- [x] T007a c", "- [x] T008 d (depends on T001)",
        "  - [x] T009 indented, mentions T001", "- [~] T010 deferred T001",
    ]  # fmt: skip
    offered = json.loads(run(project, "next", "--json").stdout)
    assert offered == {"action": "none", "reason": "all_tasks_blocked",
                       "suggestion": "Remaining tasks have unmet dependencies. Review blocked tasks."}  # fmt: skip


def test_status_reads_the_gate_from_the_roadmap_and_close_archives_and_resets(project: Path) -> None:
    feature = project / "specs" / "0040-parser"
    feature.mkdir(parents=True)
    (feature / "tasks.md").write_text("## A\n- [x] T001 a\n")
    shown = json.loads(run(project, "status", "--json").stdout)
    assert shown["phase"]["hasUserGate"] and shown["nextAction"] == "run_design"
    assert json.loads(run(project, "phase", "close", "--json").stdout)["action"] == "closed"
    assert not feature.exists() and (project / ".specify" / "archive" / "0040-parser" / "tasks.md").is_file()
    orch = state(project)["orchestration"]
    assert orch["phase"]["number"] is None and orch["phase"]["userGateStatus"] == "confirmed"
    assert orch["step"] == {"current": "design", "index": 0, "status": "not_started"} and orch["implement"] is None
    assert json.loads(run(project, "status", "--json").stdout)["nextAction"] == "start_phase"
    again = run(project, "phase", "close")
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.startswith("Error [VALIDATION]: No active phase\n")  # the CLI's own errors go to stderr


def test_what_the_recording_of_the_real_cli_does_not_show(project: Path) -> None:
    """A CRLF tasks.md holds no task for the CLI; an invalid state file is written back raw (no final newline);
    `--json` is the program's option wherever it stands, so `state get` still prints a scalar as text."""
    feature = project / "specs" / "0040-parser"
    feature.mkdir(parents=True)
    (feature / "tasks.md").write_bytes(b"## Phase 1: A\r\n- [ ] T001 a\r\n")
    assert json.loads(run(project, "status", "--json").stdout)["progress"]["tasksTotal"] == 0
    assert json.loads(run(project, "next", "--json").stdout)["reason"] == "no_tasks_found"
    assert run(project, "state", "get", "--json", "orchestration.step.current").stdout == "design\n"
    path = project / ".specflow" / "orchestration-state.json"
    path.write_text('{"orchestration": {"step": {"current": "verified"}}}')
    assert run(project, "state", "set", "orchestration.step.index=3").returncode == 0
    assert path.read_text().endswith("}") and json.loads(path.read_text())["orchestration"]["step"]["index"] == 3
