"""Stops from outside the work: a rate limit (wait, then the same session continues) and `pause --now`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from tests.engine.common import FAKE, SIM, decision_log, status
from tests.support import Daemon, sandbox_env, wait_until


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


def test_pause_now_stops_the_run_and_resume_reruns_only_what_is_open(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    env.update(SPECFLOW_CLAUDE=SIM, SPECFLOW_SIM_DELAY="1.0")  # one second per task: the run is stopped mid-way
    d = Daemon(tmp_path, env).start()
    try:
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        config = {"skip_analyze": True, "auto_merge": True}
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": config})["record"]["id"]
        wait_until(lambda: (b := status(d, orch_id)["batches"]) and b[0]["status"] == "running", timeout=30, what="batch 1 running")
        first_run = status(d, orch_id)["current_run_id"]
        wait_until(lambda: d.rpc("runs.get", {"run": first_run})["status"] == "running", timeout=30, what="run started")
        d.ctl("pause", "--now", str(root))
        paused = wait_until(lambda: (r := status(d, orch_id))["status"] == "paused" and r, timeout=30, what="paused now")
        assert d.rpc("runs.get", {"run": first_run})["status"] == "cancelled"
        assert paused["current_run_id"] is None and paused["batches"][0]["status"] == "pending"
        assert paused["attention"] is None
        tasks = (root / "specs" / DEMO_FEATURE / "tasks.md").read_text()
        assert tasks.count("- [x] T") < 4  # stopped before the batch finished

        d.stop()  # restart with a fast agent (the paused record is reloaded as it was)
        d.env["SPECFLOW_SIM_DELAY"] = "0"
        d.start()
        wait_until(lambda: status(d, orch_id)["status"] == "paused", timeout=30, what="reloaded paused")
        d.ctl("resume", str(root))
        wait_until(lambda: status(d, orch_id)["status"] in ("completed", "needs_attention"), timeout=90, what="finished")
        record = status(d, orch_id)
        assert record["status"] == "completed", json.dumps(record["attention"])
        batch0 = record["batches"][0]
        assert batch0["status"] == "completed" and len(batch0["run_ids"]) == 2 and batch0["run_ids"][0] == first_run
        actions = [e["action"] for e in decision_log(root, orch_id)]
        assert "pause" in actions and "needs_attention" not in actions
        assert (root / "specs" / DEMO_FEATURE / "tasks.md").read_text().count("- [x] T") == 20
    finally:
        d.stop()


def test_a_missing_skill_is_reported_in_the_decision_log_and_the_phase_goes_on(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    env.update(SPECFLOW_CLAUDE=FAKE)
    d = Daemon(tmp_path, env).start()
    try:
        commands = d.home / ".claude" / "commands"
        commands.mkdir(parents=True)
        (commands / "flow.analyze.md").write_text("Analyze: $ARGUMENTS\n")  # only analyze is installed
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True}})["record"]["id"]
        wait_until(lambda: (b := status(d, orch_id)["batches"]) and b[0]["status"] == "completed", timeout=30, what="batch 1")
        warnings = [e for e in decision_log(root, orch_id) if e["action"] == "warning"]
        assert warnings and "/flow.implement is not installed" in warnings[0]["reason"]
        run = d.rpc("runs.get", {"run": warnings[0]["run_id"]})
        assert run["status"] == "completed" and run["warnings"] == [warnings[0]["reason"]]
        d.rpc("orchestrate.cancel", {"id": orch_id})
    finally:
        d.stop()


def test_a_session_that_cannot_be_continued_is_logged_and_not_retried_in_a_loop(tmp_path: Path) -> None:
    import shutil

    env = sandbox_env(tmp_path)
    agent = tmp_path / "bin" / "claude"
    agent.parent.mkdir()
    shutil.copy(FAKE, agent)
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"action": "rate_limit", "reset_epoch": int(time.time()) + 600}]))
    env.update(FAKE_CLAUDE_SCRIPT=str(script))
    d = Daemon(tmp_path, env).start()
    try:
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        config = {"skip_analyze": True, "agent": str(agent)}
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": config})["record"]["id"]
        wait_until(lambda: status(d, orch_id)["status"] == "waiting_rate_limit", timeout=30, what="rate-limit wait")
        agent.unlink()  # the agent binary disappears while the orchestration waits
        d.rpc("orchestrate.resume", {"id": orch_id})  # end the wait early: continue the session now
        stopped = wait_until(lambda: (r := status(d, orch_id))["status"] == "needs_attention" and r, timeout=30, what="stop")
        actions = [e["action"] for e in decision_log(root, orch_id)]
        assert actions.count("resume_run") == 1 and actions.count("resume_failed") == 1
        assert actions.index("resume_failed") < actions.index("needs_attention")
        assert "cannot start the implement run" in stopped["attention"]["reason"]
        assert stopped["attention"]["kind"] == "agent_unavailable" and stopped["attention"]["options"] == ["retry", "abort"]
        assert stopped["resumable_run_id"] is None and stopped["current_run_id"] is None
        batch = stopped["batches"][0]
        # neither the rate limit nor the spawn the missing binary refused used an attempt up
        assert batch["attempts"] == 2 and batch["extra_attempts"] == 2
    finally:
        d.stop()
