"""Through the daemon: an agent that prints its result and does not exit is ended after ``[agent]
exit_grace_s`` (set with `specflowctl config`, no restart) and its run counts as completed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.runs.test_runs_e2e import FAKE_CLAUDE, TASKS
from tests.support import running_daemon, wait_until


def test_a_run_that_hangs_after_its_result_is_ended_and_completed(tmp_path: Path) -> None:
    script = tmp_path / "script.json"  # far longer than the test waits: only the grace can end it
    script.write_text(json.dumps([{"action": "complete", "linger": 600}]))
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=FAKE_CLAUDE, FAKE_CLAUDE_SCRIPT=str(script)) as d:
        root = tmp_path / "proj"
        (root / "specs" / "0001-x").mkdir(parents=True)
        (root / "specs" / "0001-x" / "tasks.md").write_text(TASKS)
        d.rpc("projects.register", {"path": str(root)})
        refused = d.ctl("config", "set", "--", "agent.exit_grace_s", "-1", check=False)
        assert refused.returncode != 0 and "exit_grace_s" in refused.stderr
        d.ctl("config", "set", "agent.exit_grace_s", "1")
        run_id = d.rpc("runs.start", {"project": str(root), "skill": "implement", "context": "Do T001."})["run_id"]
        ended: dict[str, Any] = wait_until(
            lambda: (r := d.rpc("runs.get", {"run": run_id}))["status"] not in ("starting", "running") and r,
            timeout=60,
            what="the lingering run to be ended",
        )
        assert ended["status"] == "completed" and ended["ended_after_result"] and ended["stop_reason"] is None
        assert any("had not exited 1 s later" in w for w in ended["warnings"])
        assert f"run {run_id}: the agent printed its result but had not exited" in d.log()
