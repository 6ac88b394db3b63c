"""An agent that rewrites tasks.md in place (truncate, then write: as editors and the real `specflow mark` do)
while the daemon reads it: a reading of a half-written file never credits a task to the wrong run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from tests.engine.common import decision_log, status
from tests.support import running_daemon, wait_until

# The shipped simulated agent, whose every tick is followed by in-place rewrites of tasks.md that leave it
# truncated at different points for a few milliseconds each (the agent is the only writer, so no tick is lost)
CHURNING_AGENT = f"""#!{sys.executable}
import sys, time
import specflowd.simagent as sim

original = sim.check_off


def churning(tasks_md, task_id):
    done = original(tasks_md, task_id)
    text = tasks_md.read_bytes()
    for cut in (0, len(text) // 4, len(text) // 2, 3 * len(text) // 4) * 6:
        with open(tasks_md, "r+b") as handle:
            handle.truncate(0)
            handle.write(text[:cut])
            handle.flush()
            time.sleep(0.006)
            handle.write(text[cut:])
        time.sleep(0.002)
    return done


sim.check_off = churning
sys.exit(sim.main())
"""


def test_a_phase_whose_agent_rewrites_tasks_md_in_place_reports_no_unasked_tick(tmp_path: Path) -> None:
    agent = tmp_path / "churning-claude"
    agent.write_text(CHURNING_AGENT)
    agent.chmod(0o755)
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=str(agent), SPECFLOW_SIM_DELAY="0.05") as d:
        root = create_demo_project(tmp_path / "demo")
        d.rpc("projects.register", {"path": str(root)})
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"auto_merge": True}})["record"]["id"]
        record = wait_until(
            lambda: (r := status(d, orch_id))["status"] in ("completed", "needs_attention", "failed") and r,
            timeout=180,
            what="the phase to end",
        )
        assert record["status"] == "completed", json.dumps(record["attention"])
        assert (root / "specs" / DEMO_FEATURE / "tasks.md").read_text().count("- [x] T") == 20
        unasked = [e for e in decision_log(root, orch_id) if e["action"] == "unasked_ticks"]
        assert unasked == [], unasked
        ticks = record["observed"]["ticks"]
        assert sorted(ticks) == [f"T{n:03d}" for n in range(1, 21)] and all(t["asked"] for t in ticks.values())
