"""Stops from outside the work through the real daemon: a rate limit (wait for the reset, then the same session
continues) and the steering verbs from the CLI. The engine's side of each (and many more cases) is tested
in-process on a fake clock: tests/engine/test_engine_control.py."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from tests.engine.common import FAKE, SIM, decision_log, status
from tests.support import Daemon, sandbox_env, set_sim_pace, wait_until


def test_rate_limit_waits_for_the_reset_then_resumes_the_same_session(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    script = tmp_path / "script.json"
    first_section = ["T001", "T002", "T003", "T004"]
    argv_log = tmp_path / "argv.jsonl"
    env.update(SPECFLOW_CLAUDE=FAKE, FAKE_CLAUDE_SCRIPT=str(script), FAKE_CLAUDE_ARGV_LOG=str(argv_log))
    d = Daemon(tmp_path, env).start()
    try:
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        # the script is read when the agent starts: the reset counts from now, not from before the daemon's start
        reset = int(time.time()) + 4  # long enough to observe the wait on a loaded machine
        script.write_text(json.dumps([{"action": "rate_limit", "reset_epoch": reset}, {"action": "complete", "tasks": first_section}]))
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True}})["record"]["id"]
        # the decision log, not a status poll: on a loaded machine the wait may be over before a poll sees it
        waited = wait_until(lambda: [e for e in decision_log(root, orch_id) if e["action"] == "wait_rate_limit"], timeout=30, what="rate-limit wait")
        (entry,) = waited
        assert entry["status_after"] == "waiting_rate_limit" and entry["run_id"]
        assert entry["detail"]["until"].startswith(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(reset)))
        waiting = {"resumable_run_id": entry["run_id"]}
        wait_until(lambda: status(d, orch_id)["batches"][0]["status"] == "completed", timeout=30, what="batch 1 done after the reset")
        done = time.time()
        assert done >= reset  # it did wait for the reset time
        record = status(d, orch_id)
        first, second = [json.loads(x) for x in argv_log.read_text().splitlines()][:2]
        session = first["argv"][first["argv"].index("--session-id") + 1]
        assert session == waiting["resumable_run_id"]
        assert second["argv"][second["argv"].index("--resume") + 1] == session  # the same session continues
        assert "rate limit" in second["prompt"]
        assert record["batches"][0]["attempts"] == 1 and record["batches"][0]["run_ids"] == [session]
        actions = [e["action"] for e in decision_log(root, orch_id)]
        assert actions.count("wait_rate_limit") == 1 and actions.count("resume_run") == 1
        assert actions.index("wait_rate_limit") < actions.index("resume_run") < actions.index("finish_batch")
        run = d.rpc("runs.get", {"run": session})
        assert run["status"] == "completed" and run["continuations"] == 1
    finally:
        d.stop()


def test_the_steering_verbs_from_the_cli(tmp_path: Path) -> None:
    """pause (after the run), resume, pause --now, resume, go-back, merge: each through specflowctl."""
    env = sandbox_env(tmp_path)
    # 0.6 s per task: a batch runs 2.4–3.6 s, so `pause --now` (a CLI start, ~1 s on a loaded machine) lands
    # while the run it targets still works
    env.update(SPECFLOW_CLAUDE=SIM, SPECFLOW_SIM_DELAY="0.6")
    d = Daemon(tmp_path, env).start()
    try:
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True}})["record"]["id"]
        wait_until(lambda: (b := status(d, orch_id)["batches"]) and b[0]["status"] == "running", timeout=30, what="batch 1")
        d.ctl("pause", str(root))
        paused = wait_until(lambda: (r := status(d, orch_id))["status"] == "paused" and r, timeout=30, what="paused")
        # the pause lands after the run in flight: a prefix of completed batches, the rest pending (under load a
        # whole batch more may finish first)
        statuses = [b["status"] for b in paused["batches"]]
        done = statuses.index("pending")
        assert done >= 1 and statuses[:done] == ["completed"] * done and set(statuses[done:]) == {"pending"}, statuses

        d.ctl("resume", str(root))
        running = wait_until(lambda: (r := status(d, orch_id))["status"] == "running" and r["current_run_id"] and r,
                             timeout=30, what="a run after the resume")  # fmt: skip
        run_id = running["current_run_id"]
        wait_until(lambda: d.rpc("runs.get", {"run": run_id})["status"] == "running", timeout=30, what="its agent")
        d.ctl("pause", "--now", str(root))
        now = wait_until(lambda: (r := status(d, orch_id))["status"] == "paused" and r, timeout=30, what="paused now")
        assert d.rpc("runs.get", {"run": run_id})["status"] == "cancelled"
        assert now["current_run_id"] is None and now["attention"] is None
        set_sim_pace(root, 0)  # no run from here on has to outlast a CLI start

        d.ctl("resume", str(root))
        wait_until(lambda: status(d, orch_id)["status"] in ("waiting_merge", "needs_attention"), timeout=60, what="merge")
        assert status(d, orch_id)["status"] == "waiting_merge"
        assert (root / "specs" / DEMO_FEATURE / "tasks.md").read_text().count("- [x] T") == 20

        def verify_runs() -> list[dict[str, Any]]:
            return [r for r in d.rpc("runs.list", {"project": str(root)})["runs"] if r["step"] == "verify"]

        assert len(verify_runs()) == 1
        d.ctl("go-back", "verify", str(root))
        wait_until(lambda: len(verify_runs()) == 2 and status(d, orch_id)["status"] == "waiting_merge", timeout=60,
                   what="verify again")  # fmt: skip
        d.ctl("merge", str(root))
        wait_until(lambda: status(d, orch_id)["status"] in ("completed", "needs_attention"), timeout=60, what="merged")
        assert status(d, orch_id)["status"] == "completed"
        actions = [e["action"] for e in decision_log(root, orch_id)]
        for label in ("paused", "resumed", "pause", "went_back", "merge_requested", "complete"):
            assert label in actions, label
        assert "needs_attention" not in actions
    finally:
        d.stop()
