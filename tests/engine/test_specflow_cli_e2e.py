"""Real SpecFlow projects end to end: the real daemon, the SpecFlow CLI on PATH (the fake under
tests/fake_specflow, or the real one when ``SPECFLOW_E2E_SPECFLOW`` names it) and the fake `claude` playing
each /flow.* skill by the `specflow …` calls its skill file makes. What the CLI and the skills see of
specflowd's bookkeeping is asserted through the CLI itself (the state file the skills read). The engine's side
of the USER GATE, a skill's verdict and a failing CLI is tested in-process: test_engine_skills.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.engine.common import FAKE, decision_log, status
from tests.support import Daemon, running_daemon, wait_until

FAKE_SPECFLOW = Path(__file__).resolve().parents[1] / "fake_specflow" / "specflow"
STOPPED = ("completed", "needs_attention", "failed", "waiting_input", "waiting_user_gate", "waiting_merge")

PHASE_TASKS = """# Tasks: Greeting

## Phase 1: Setup
- [ ] T001 Create the package
- [ ] T002 Add the greeting module (depends on T001)
- [ ] T003 Add the CLI entry point

## Phase 2: Polish
- [ ] T004 Document the greeting
- [ ] T005 Add a changelog entry
"""


@pytest.fixture(params=["fake", "real"])
def specflow_cli(request: pytest.FixtureRequest) -> Path:
    """The SpecFlow CLI the project is driven with."""
    if request.param == "real":
        real = os.environ.get("SPECFLOW_E2E_SPECFLOW")
        if not real:
            pytest.skip("SPECFLOW_E2E_SPECFLOW does not name a SpecFlow CLI")
        return Path(real)
    return FAKE_SPECFLOW


def _bin_dir(tmp_path: Path, cli: Path) -> Path:
    """A directory with `specflow` for the PATH of the daemon (and so of the agents it starts)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "specflow").symlink_to(cli)
    return bin_dir


def _specflow(cli: Path, root: Path, *args: str) -> str:
    done = subprocess.run([str(cli), *args], cwd=root, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"specflow {args}: {done.stdout}{done.stderr}"
    return done.stdout


def _project(tmp_path: Path, cli: Path, *, gate: bool = False, gate_status: str | None = None,
             tasks: str | None = None) -> Path:  # fmt: skip
    """A SpecFlow project after `specflow phase open 0001` (the state file as `specflow state init` leaves it,
    plus whatever an earlier phase left: ``gate_status``). With ``tasks`` the design artifacts exist."""
    root = tmp_path / "project"
    (root / ".specflow").mkdir(parents=True)
    gate_cell = "**USER GATE**: it greets" if gate else "Tests pass"
    (root / "ROADMAP.md").write_text(
        "# Roadmap\n\n| Phase | Name | Status | Verification Gate |\n|-------|------|--------|-------------------|\n"
        f"| 0001 | Greeting | ⬜ Not Started | {gate_cell} |\n| 0002 | Farewell | ⬜ Not Started | Tests pass |\n"
    )
    state = {
        "schema_version": "3.0",
        "project": {"id": "5b0e6c1e-0000-4000-8000-000000000001", "name": "greeting", "path": str(root)},
        "last_updated": "2026-01-01T00:00:00.000Z",
        "orchestration": {
            "phase": {"id": None, "number": None, "name": None, "branch": None, "status": "not_started",
                      "userGateStatus": gate_status},
            "next_phase": None,
            "step": {"current": "design", "index": 0, "status": "not_started"},
            "implement": None,
            "dashboard": {},
        },
        "health": {"status": "initializing", "last_check": "2026-01-01T00:00:00.000Z", "issues": []},
    }  # fmt: skip
    (root / ".specflow" / "orchestration-state.json").write_text(json.dumps(state, indent=2) + "\n")
    (root / ".specify" / "memory").mkdir(parents=True)  # what `specflow init` writes and the skills require
    (root / ".specify" / "memory" / "constitution.md").write_text("# Constitution\n")
    _specflow(cli, root, "phase", "open", "0001", "--json")
    if tasks is not None:
        feature = root / "specs" / "0001-greeting"
        feature.mkdir(parents=True)
        (feature / "spec.md").write_text("# Spec\n")
        (feature / "plan.md").write_text("# Plan\n")
        (feature / "tasks.md").write_text(tasks)
    return root


@contextmanager
def _daemon(tmp_path: Path, cli: Path, **env: str) -> Iterator[Daemon]:
    bin_dir = _bin_dir(tmp_path, cli)
    with running_daemon(
        tmp_path,
        SPECFLOW_CLAUDE=FAKE,
        FAKE_CLAUDE_SKILLS="1",
        FAKE_CLAUDE_STATE_LOG=str(tmp_path / "state-at-start.jsonl"),
        FAKE_CLAUDE_ARGV_LOG=str(tmp_path / "argv.jsonl"),
        FAKE_SPECFLOW_LOG=str(tmp_path / "specflow.jsonl"),
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        **env,
    ) as d:
        yield d


def _start(d: Daemon, root: Path, **config: Any) -> str:
    d.rpc("projects.register", {"path": str(root)})
    return str(d.rpc("orchestrate.start", {"project": str(root), "config": config})["record"]["id"])


def _until_stopped(d: Daemon, orch_id: str, timeout: float = 120) -> dict[str, Any]:
    record: dict[str, Any] = wait_until(
        lambda: (r := status(d, orch_id))["status"] in STOPPED and r, timeout=timeout, what="the orchestration to stop"
    )
    return record


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _prompts(tmp_path: Path) -> list[str]:
    return [str(e["prompt"]) for e in _jsonl(tmp_path / "argv.jsonl")]


def test_a_whole_phase_shows_the_running_step_at_every_run_start(tmp_path: Path, specflow_cli: Path) -> None:
    """design → analyze → implement (batch 1 fails half-way and is healed, batch 2) → verify → merge with
    auto_merge, each a skill played through the CLI and checking its prerequisites as the real skill does.
    The state file shows the running step when each run starts (none pre-set before design and merge);
    after `phase close` the project says start_phase and the orchestration keeps its N/N."""
    root = _project(tmp_path, specflow_cli)
    tasks_md = tmp_path / "design-tasks.md"
    tasks_md.write_text(PHASE_TASKS)
    script = tmp_path / "script.json"  # design, analyze, then batch 1 marks one task and fails
    script.write_text(json.dumps([{"action": "skill"}, {"action": "skill"}, {"action": "skill", "fail_after": 1}]))
    with _daemon(tmp_path, specflow_cli, FAKE_CLAUDE_SCRIPT=str(script), FAKE_CLAUDE_TASKS_MD=str(tasks_md)) as d:
        orch_id = _start(d, root, auto_merge=True)
        record = _until_stopped(d, orch_id)
        assert record["status"] == "completed", json.dumps(record["attention"]) + d.log()

        started = _jsonl(tmp_path / "state-at-start.jsonl")
        seen = [(e["skill"], e["step"]["current"], e["step"]["index"], e["step"]["status"]) for e in started]
        assert seen == [
            ("/flow.design", "design", 0, "not_started"),  # as `phase open` left it: design sets its own status
            ("/flow.analyze", "analyze", 1, "in_progress"),
            ("/flow.implement", "implement", 2, "in_progress"),  # batch 1 (fails after T001)
            ("/flow.implement", "implement", 2, "in_progress"),  # its heal
            ("/flow.implement", "implement", 2, "in_progress"),  # batch 2
            ("/flow.verify", "verify", 3, "in_progress"),
            ("/flow.merge", "verify", 3, "complete"),  # never pre-set: what /flow.merge requires to act
        ]
        (tmp_path / "steps-at-run-start.json").write_text(json.dumps(seen))  # kept for the record
        assert [b["status"] for b in record["batches"]] == ["healed", "completed"]

        if specflow_cli == FAKE_SPECFLOW:  # the daemon's writes: one `specflow state set` of three keys per run
            writes = [e for e in _jsonl(tmp_path / "specflow.jsonl") if e["argv"][:2] == ["state", "set"]
                      and e["argv"][2].startswith("orchestration.step.current=")]  # fmt: skip
            assert len(writes) == 5 and all(e["cwd"] == str(root) and e["exit"] == 0 for e in writes)
            assert {len(e["argv"]) for e in writes} == {5}
            assert not any("status=complete" in a for e in writes for a in e["argv"])

        # after `phase close`: specs archived, state reset; status says what `specflow status` says
        assert not (root / "specs" / "0001-greeting").exists()
        assert (root / ".specify" / "archive" / "0001-greeting" / "tasks.md").is_file()
        cli_status = json.loads(_specflow(specflow_cli, root, "status", "--json"))
        shown = d.ctl_json("status", str(root))
        project, progress = shown["project"], shown["orchestration"]["progress"]
        assert project["cli_next_action"] == cli_status["nextAction"] == "start_phase"
        assert project["next_phase"] == "0002 Farewell" and project["problems"] == []
        assert (progress["tasks_done"], progress["tasks_total"]) == (5, 5)
        text = d.ctl("status", str(root)).stdout
        assert "next: open the next phase, 0002 Farewell, with SpecFlow's `specflow phase open`" in text
        assert "tasks 5/5 · elapsed" in text and "problem" not in text and "not_started" not in text




def test_a_verify_that_did_not_pass_starts_no_merge(tmp_path: Path, specflow_cli: Path) -> None:
    """/flow.verify fails twice (writes no step.status): no merge run is started, and the orchestration stops
    naming verify. The merge skill is never asked, so it never has to refuse."""
    root = _project(tmp_path, specflow_cli, tasks=PHASE_TASKS)
    script = tmp_path / "script.json"  # batch 1, batch 2, then verify fails on both attempts
    script.write_text(json.dumps([{"action": "skill"}] * 2 + [{"action": "skill", "incomplete": True}] * 2))
    with _daemon(tmp_path, specflow_cli, FAKE_CLAUDE_SCRIPT=str(script)) as d:
        orch_id = _start(d, root, auto_merge=True, skip_analyze=True)
        record = _until_stopped(d, orch_id)
        attention = record["attention"]
        assert record["status"] == "needs_attention" and attention["kind"] == "step_attempts", d.log()
        assert attention["step"] == "verify" and "verify" in attention["reason"]
        skills = [e["skill"] for e in _jsonl(tmp_path / "state-at-start.jsonl")]
        assert skills == ["/flow.implement", "/flow.implement", "/flow.verify", "/flow.verify"]
        step = json.loads(_specflow(specflow_cli, root, "status", "--json"))["step"]
        assert (step["current"], step["status"]) == ("verify", "in_progress")  # nothing wrote merge
        text = d.ctl("status", str(root)).stdout
        assert "verify" in text


IGNORED_AND_MENTIONS = """# Tasks: Parser

## Phase 1: Setup
- [ ] T001 Create the package
- [ ] T002 Wire the CLI

## Phase 2: Core
- [ ] T007 Parse input
- [ ] T007a Parse flags
- [ ] T008 Validate input (depends on T001)

## Phase 3: Docs
- [ ] T009 Document the package made in T001
  - [ ] T010 indented sub-task
* [ ] T011 star bullet
- [ ] T1000 four digits
"""


def test_ignored_lines_are_named_and_extra_ticks_reported(tmp_path: Path, specflow_cli: Path) -> None:
    """Lines the CLI does not read are warned everywhere and never scheduled; `specflow mark T001` also ticks
    T008 and T009 (they mention T001): reported, and the Docs batch is finished as one that did not run."""
    root = _project(tmp_path, specflow_cli, tasks=IGNORED_AND_MENTIONS)
    with _daemon(tmp_path, specflow_cli) as d:
        d.rpc("projects.register", {"path": str(root)})
        lines = {14: "indented", 15: "`*` bullet", 16: "`T1000` is not a task id"}
        batches = d.ctl("batches", str(root)).stdout
        problems = d.rpc("projects.status", {"project": str(root)})["problems"]
        assert sorted(p["line"] for p in problems) == sorted(lines)
        for line, why in lines.items():
            assert re.search(rf"tasks\.md:{line}: not a task for the SpecFlow CLI, never scheduled \({re.escape(why)}", batches)
        assert "T010" not in batches.split("warning:")[0] and "T1000" not in batches.split("warning:")[0]

        orch_id = _start(d, root, auto_merge=True, skip_analyze=True)
        stopped = _until_stopped(d, orch_id)
        assert stopped["status"] == "needs_attention" and stopped["attention"]["kind"] == "tasks_unparsed"
        assert len(stopped["attention"]["context"]["lines"]) == 3  # the open-looking ignored lines
        d.rpc("orchestrate.recover", {"id": orch_id, "action": "skip"})
        record = _until_stopped(d, orch_id)
        assert record["status"] == "completed", json.dumps(record["attention"])

        assert [(b["task_ids"], bool(b["run_ids"])) for b in record["batches"]] == [
            (["T001", "T002"], True), (["T007", "T007a", "T008"], True), (["T009"], False),
        ]  # fmt: skip
        ticks = record["observed"]["ticks"]
        assert {i for i, t in ticks.items() if not t["asked"]} == {"T008", "T009"}
        assert ticks["T008"]["by"].startswith("batch 1 'Phase 1: Setup'")
        for prompt in _prompts(tmp_path):  # the agent was never asked about a line the CLI does not read
            assert not {"T010", "T011", "T1000"} & set(re.findall(r"\bT\d+\b", prompt))
        verify = next(p for p in _prompts(tmp_path) if p.startswith("/flow.verify"))
        assert verify.endswith("check that each is really done: T008, T009.")

        log = decision_log(root, orch_id)
        actions = [e["action"] for e in log]
        (ignored,) = [e for e in log if e["action"] == "ignored_lines"]
        assert [int(line.split(":")[1]) for line in ignored["lines"]] == sorted(lines)
        (unasked,) = [e for e in log if e["action"] == "unasked_ticks"]
        assert [t["id"] for t in unasked["ticks"]] == ["T008", "T009"]
        unrun = next(e for e in log if e["action"] == "finish_batch" and e["batch_index"] == 2)
        assert unrun["detail"]["without_run"] and "did not run" in unrun["reason"] and "T009 by batch 1" in unrun["reason"]
        assert actions.count("spawn_batch") == 2
        text = d.ctl("status", str(root)).stdout
        assert "ticked by a run not asked for it: T008 by batch 1 'Phase 1: Setup'" in text
        assert "batch 3 'Phase 3: Docs' did not run: its tasks were ticked outside it" in text
