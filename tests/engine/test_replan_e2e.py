"""Tasks added to tasks.md while a phase is being implemented: the engine re-plans between batches (decide.py,
_next_for_implement → Replan "add batches for tasks added to tasks.md"). Real daemon, the shipped simulated
agent as `claude`; tasks.md is edited only while the orchestration is paused between batches (no run is live,
so the edit cannot race the agent), and every wait polls a condition with a deadline."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from tests.engine.common import decision_log, status
from tests.support import Daemon, wait_until

CONFIG = {"pause_between_batches": True, "skip_analyze": True, "auto_merge": True}
SPAWN_ACTIONS = ("spawn_batch", "spawn_step", "heal")
STOPPED = ("completed", "needs_attention", "failed", "cancelled")
T016_LINE = "- [ ] T016 Colourise the output\n"  # the first task of "## Phase 4: Polish" (create_demo_project)





def tasks_path(root: Path) -> Path:
    return root / "specs" / DEMO_FEATURE / "tasks.md"


def edit_tasks(root: Path, *, insert_after_t016: str = "", append: str = "") -> None:
    """Rewrite tasks.md atomically (a reader never sees half a file)."""
    path = tasks_path(root)
    text = path.read_text()
    if insert_after_t016:
        assert text.count(T016_LINE) == 1, text
        text = text.replace(T016_LINE, T016_LINE + insert_after_t016)
    assert text.endswith("\n")
    text += append
    tmp = path.with_name("tasks.md.edit")
    tmp.write_text(text)
    os.replace(tmp, path)


def start_and_pause_after_first_batch(d: Daemon) -> tuple[Path, str]:
    root = create_demo_project(d.root / "demo")
    d.rpc("projects.register", {"path": str(root)})
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": CONFIG})["record"]["id"]

    def paused_after_first() -> dict[str, Any] | None:
        r = status(d, orch_id)
        if r["status"] in STOPPED:
            raise AssertionError(f"stopped before the first pause: {json.dumps(r['attention'])}\n{d.log()}")
        return r if r["status"] == "paused" and r["batches"] and r["batches"][0]["status"] == "completed" else None

    paused = wait_until(paused_after_first, timeout=30, what="paused after batch 1")
    assert paused["current_run_id"] is None
    assert [b["status"] for b in paused["batches"]] == ["completed", "pending", "pending", "pending"]
    runs = d.rpc("runs.list", {"project": str(root)})["runs"]
    assert [(r["step"], r["status"]) for r in runs] == [("implement", "completed")]  # nothing runs now
    return root, orch_id


def resume_until_done(d: Daemon, orch_id: str) -> tuple[dict[str, Any], int]:
    """Resume each time the orchestration pauses between batches; the final record and the resume count."""
    resumes = 0
    while True:
        d.rpc("orchestrate.resume", {"id": orch_id})
        resumes += 1
        record = wait_until(
            lambda: (r := status(d, orch_id))["status"] in ("paused", *STOPPED) and r, timeout=30, what="pause or end"
        )
        if record["status"] != "paused":
            return record, resumes
        assert resumes < 20, "the orchestration keeps pausing"


def assert_each_run_spawned_once(d: Daemon, root: Path, log: list[dict[str, Any]]) -> list[str]:
    spawned = [e["run_id"] for e in log if e["action"] in SPAWN_ACTIONS]
    assert len(spawned) == len(set(spawned)), f"a run id was spawned twice: {spawned}"
    listed = [r["run_id"] for r in d.rpc("runs.list", {"project": str(root)})["runs"]]
    assert sorted(listed) == sorted(spawned)
    return spawned


def test_tasks_added_mid_phase_get_their_own_batches(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root, orch_id = start_and_pause_after_first_batch(d)
    # a new open task inside a section whose batch has not run yet, and a whole new section at the end
    edit_tasks(
        root,
        insert_after_t016="- [ ] T023 Add a `--json` flag to the list command\n",
        append="\n## Phase 5: Extra\n\n- [ ] T021 Add an export command\n- [ ] T022 Document the export command\n",
    )
    assert len(status(d, orch_id)["batches"]) == 4  # paused: nothing is re-planned until resumed

    record, resumes = resume_until_done(d, orch_id)
    assert record["status"] == "completed", json.dumps(record["attention"]) + d.log()
    batches = [(b["index"], b["name"], b["task_ids"], b["status"]) for b in record["batches"]]
    assert batches[:4] == [
        (0, "Phase 1: Setup", ["T001", "T002", "T003", "T004"], "completed"),
        (1, "Phase 2: Core Components", ["T005", "T006", "T007", "T008", "T009", "T010"], "completed"),
        (2, "Phase 3: User Story 1 - Due dates", ["T011", "T012", "T013", "T014", "T015"], "completed"),
        (3, "Phase 4: Polish", ["T016", "T017", "T018", "T019", "T020"], "completed"),
    ]
    # the added ids: one new batch per section in file order (T023's section comes before Phase 5)
    assert batches[4:] == [
        (4, "Phase 4: Polish", ["T023"], "completed"),
        (5, "Phase 5: Extra", ["T021", "T022"], "completed"),
    ]
    held = [t for b in record["batches"] for t in b["task_ids"]]
    assert len(held) == len(set(held)) == 23  # every id in exactly one batch
    assert resumes == 5  # a pause after each batch but the last: batches 1..5 each waited for a resume

    text = tasks_path(root).read_text()
    assert text.count("- [x] T") == 23 and "- [ ] " not in text
    assert "- [x] T023 Add a `--json` flag" in text and "- [x] T022 Document the export command" in text

    log = decision_log(root, orch_id)
    actions = [e["action"] for e in log]
    assert actions[0] == "start" and actions[-1] == "complete"
    replans = [e for e in log if e["action"] == "replan"]
    assert [e["reason"] for e in replans] == [
        "plan batches: 20 open task(s)",
        "add batches for tasks added to tasks.md: 3 open task(s)",
    ]
    assert replans[1]["detail"]["batches"] == [
        {"index": 4, "name": "Phase 4: Polish", "task_ids": ["T023"], "in_section": True},
        {"index": 5, "name": "Phase 5: Extra", "task_ids": ["T021", "T022"], "in_section": True},
    ]
    # the re-plan came with the resume after batch 1, before batch 2 was spawned
    spawns = [e for e in log if e["action"] == "spawn_batch"]
    assert [e["detail"]["batch_index"] for e in spawns] == [0, 1, 2, 3, 4, 5]
    assert log.index(spawns[0]) < log.index(replans[1]) < log.index(spawns[1])
    assert len(spawns) == len(record["batches"])
    assert [e["detail"]["task_ids"] for e in spawns[4:]] == [["T023"], ["T021", "T022"]]

    spawned = assert_each_run_spawned_once(d, root, log)
    prompt = (root / ".specflow" / "workflows" / spawns[5]["run_id"] / "prompt.txt").read_text()
    assert '"Phase 5: Extra" section: T021, T022.' in prompt
    assert len(spawned) == 6 + 2  # six batches, verify, merge (analyze skipped, design not needed)


def test_malformed_task_lines_added_mid_phase_stop_before_verify(sim_daemon: Daemon) -> None:
    """Task lines the SpecFlow CLI does not read (no id, an unknown checkbox state) and a duplicate id added
    mid-phase: the parser names them (file:line, why) and schedules only the CLI's tasks. Open-looking lines
    may be unfinished work, so when every batch is done the engine stops (needs_attention, tasks_unparsed)
    instead of verifying and merging; `recover skip` goes on without them and the phase completes."""
    d = sim_daemon
    root, orch_id = start_and_pause_after_first_batch(d)
    junk = [
        "- [ ] Add an import command\n",  # checkbox without a task id
        "- [ ] T005 Define the Todo model again\n",  # duplicate of an open id (the first, in Phase 2, wins)
        "- [?] T024 Decide on a licence\n",  # unknown checkbox state
    ]
    edit_tasks(
        root, insert_after_t016="".join(junk), append="\n## Phase 5: Extra\n\n- [ ] T021 Add an export command\n"
    )
    problems = d.rpc("projects.status", {"project": str(root)})["problems"]
    messages = sorted(p["message"] for p in problems if p["kind"] == "parse_warning")
    assert len(messages) == 3, problems
    assert messages[0].startswith("duplicate task id T005 (first on line ")
    assert messages[1] == (
        "not a task for the SpecFlow CLI, never scheduled (checkbox `[?]` is not one of `[ ]` `[x]` `[X]` `[b]` "
        "`[B]` `[~]` `[-]`): - [?] T024 Decide on a licence"
    )
    assert messages[2] == (
        "not a task for the SpecFlow CLI, never scheduled (no task id (T + exactly three digits, optional "
        "lowercase letter)): - [ ] Add an import command"
    )

    stopped, _ = resume_until_done(d, orch_id)
    assert stopped["status"] == "needs_attention" and stopped["step"] == "implement", d.log()
    assert stopped["attention"]["kind"] == "tasks_unparsed" and "3 open-looking line(s)" in stopped["attention"]["reason"]
    lines = stopped["attention"]["context"]["lines"]
    assert len(lines) == 3 and all(line.split(": ", 1)[1].startswith(j.strip()) for line, j in zip(lines, junk, strict=True))
    assert stopped["steps"]["verify"]["attempts"] == 0  # stopped before verify
    d.rpc("orchestrate.recover", {"id": orch_id, "action": "skip"})
    record = wait_until(lambda: (r := status(d, orch_id))["status"] in STOPPED and r, timeout=30, what="done")
    assert record["status"] == "completed", json.dumps(record["attention"]) + d.log()
    assert record["attention"] is None and record["accepted_unparsed"] == stopped["attention"]["context"]["lines"]
    assert record["steps"]["implement"]["status"] == "completed"
    names = [(b["name"], b["task_ids"], b["status"]) for b in record["batches"]]
    assert names[4:] == [("Phase 5: Extra", ["T021"], "completed")]
    assert len(names) == 5
    held = [t for b in record["batches"] for t in b["task_ids"]]
    assert held.count("T005") == 1 and "T024" not in held

    text = tasks_path(root).read_text()
    assert text.count("- [x] T") == 21
    assert "- [x] T005 Define the Todo model\n" in text
    for line in junk:  # untouched: the agent was never asked about them
        assert line in text

    log = decision_log(root, orch_id)
    actions = [e["action"] for e in log]
    assert actions.count("needs_attention") == 1 and "recovered" in actions and actions[-1] == "complete"
    (ignored,) = [e for e in log if e["action"] == "ignored_lines"]  # named once, when the engine first saw them
    no_id, unknown_box = ignored["lines"]  # file order; the duplicate T005 is a task for the CLI, not ignored
    assert re.fullmatch(r"specs/0001-todo-cli/tasks\.md:\d+: no task id \(.*\): - \[ \] Add an import command", no_id)
    assert re.fullmatch(r"specs/0001-todo-cli/tasks\.md:\d+: checkbox `\[\?\]` .*: - \[\?\] T024 Decide on a licence", unknown_box)
    assert [e["reason"] for e in log if e["action"] == "replan"] == [
        "plan batches: 20 open task(s)",
        "add batches for tasks added to tasks.md: 1 open task(s); 2 task-looking line(s) ignored",
    ]
    assert [e["detail"]["batch_index"] for e in log if e["action"] == "spawn_batch"] == [0, 1, 2, 3, 4]
    assert_each_run_spawned_once(d, root, log)
    assert "crashed" not in d.log() and "Traceback" not in d.log()
