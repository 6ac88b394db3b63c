"""A looping agent through the real daemon: the fake `claude` repeats one Bash call until killed, the runner
stops it as ``looping``, the engine heals the batch and the phase completes; the decision log, the run list
and `specflowctl status` say what looped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.engine.common import FAKE, decision_log
from tests.engine.test_specflow_cli_e2e import FAKE_SPECFLOW, _daemon, _project, _start, _until_stopped
from tests.support import running_daemon, wait_until

TASKS = """# Tasks: Greeting

## Phase 1: Setup
- [ ] T001 Create the package
- [ ] T002 Add the greeting module (depends on T001)

## Phase 2: Polish
- [ ] T003 Document the greeting
"""
NPM_TEST = {"command": "npm test", "description": "Run the tests"}


def test_a_looping_batch_is_stopped_healed_and_the_phase_completes(tmp_path: Path) -> None:
    root = _project(tmp_path, FAKE_SPECFLOW, tasks=TASKS)
    script = tmp_path / "script.json"  # batch 1 loops until killed; the heal and the rest play their skills
    script.write_text(json.dumps([{"action": "loop", "input": NPM_TEST, "delay": 0.05}]))
    with _daemon(tmp_path, FAKE_SPECFLOW, FAKE_CLAUDE_SCRIPT=str(script)) as d:
        orch_id = _start(d, root, skip_analyze=True, auto_merge=True)
        record = _until_stopped(d, orch_id)
        assert record["status"] == "completed", json.dumps(record["attention"]) + d.log()
        assert [b["status"] for b in record["batches"]] == ["healed", "completed"]

        runs = sorted(d.rpc("runs.list", {"project": str(root)})["runs"], key=lambda r: r["created_at"])
        looped = runs[0]
        assert (looped["step"], looped["status"]) == ("implement", "looping")
        assert looped["loop"]["repeats"] == 8 and [c["tool"] for c in looped["loop"]["cycle"]] == ["Bash"]
        assert json.loads(looped["loop"]["cycle"][0]["input"]) == NPM_TEST
        assert [r["status"] for r in runs[1:]] == ["completed"] * (len(runs) - 1)

        log = decision_log(root, orch_id)
        (heal,) = [e for e in log if e["action"] == "heal"]
        assert 'run ended looping (it called Bash {"command":"npm test"' in heal["reason"], heal
        heal_prompt = [json.loads(x)["prompt"] for x in (tmp_path / "argv.jsonl").read_text().splitlines()][1]
        assert 'The previous session called Bash {"command":"npm test","description":"Run the tests"} 8 times' in (
            heal_prompt
        )
        shown = d.ctl("status", str(root)).stdout  # after the phase, the cause of the heal stays visible
        assert (
            "batch 1 'Phase 1: Setup' healed after: stopped by the daemon: the agent repeated the same tool calls: "
            'it called Bash {"command":"npm test"' in shown
        ), shown
        assert "looping" in d.ctl("runs", str(root)).stdout
        assert f"run {looped['run_id']} is looping, stopping it: it called Bash" in d.log()


def test_loop_repeats_from_the_settings_file_apply_to_the_next_run(tmp_path: Path) -> None:
    project = tmp_path / "plain"
    (project / ".specflow").mkdir(parents=True)
    script = tmp_path / "script.json"  # the first run repeats its call 12 times then completes; the second forever
    script.write_text(json.dumps([{"action": "loop", "times": 12, "delay": 0.01}, {"action": "loop", "delay": 0.05}]))
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=FAKE, FAKE_CLAUDE_SCRIPT=str(script)) as d:
        d.rpc("projects.register", {"path": str(project)})

        def run_once() -> dict[str, Any]:
            run_id = d.rpc("runs.start", {"project": str(project), "skill": "implement"})["run_id"]
            ended: dict[str, Any] = wait_until(
                lambda: (r := d.rpc("runs.get", {"run": run_id}))["status"] not in ("starting", "running") and r,
                timeout=60,
                what="the run to end",
            )
            return ended

        refused = d.ctl("config", "set", "--", "agent.loop_repeats", "-1", check=False)
        assert refused.returncode != 0 and "loop_repeats" in refused.stderr
        d.ctl("config", "set", "agent.loop_repeats", "0")  # detection off, no restart
        first = run_once()
        assert first["status"] == "completed" and first["loop"] is None and first["tool_calls"] >= 12
        d.ctl("config", "unset", "agent.loop_repeats")  # the default (8) again, still no restart
        second = run_once()
        assert second["status"] == "looping" and second["loop"]["repeats"] == 8
