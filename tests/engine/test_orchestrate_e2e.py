"""Whole orchestrations through the real daemon, with the shipped simulated agent as `claude`."""

from __future__ import annotations

import json
from pathlib import Path

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from tests.engine.common import status
from tests.support import Daemon, RawClient, sandbox_env, wait_until


def test_full_phase_with_auto_merge(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root = create_demo_project(d.root / "demo")
    d.rpc("projects.register", {"path": str(root)})
    with RawClient(d.socket) as sub:
        sub.request("events.subscribe")
        started = d.rpc("orchestrate.start", {"project": str(root), "config": {"auto_merge": True}})
        orch_id = started["record"]["id"]
        seen: list[str] = []
        while not any(t in seen for t in ("orchestration.complete", "orchestration.needs_attention", "orchestration.fail")):
            seen.append(sub.read()["params"]["type"])
    record = status(d, orch_id)
    assert record["status"] == "completed", json.dumps(record["attention"])
    assert [b["status"] for b in record["batches"]] == ["completed"] * 4
    tasks = (root / "specs" / DEMO_FEATURE / "tasks.md").read_text()
    assert tasks.count("- [x] T") == 20
    assert "batch.spawn_batch" in seen and "batch.finish_batch" in seen
    log = (root / ".specflow" / "workflows" / f"orchestration-{orch_id}.events.jsonl").read_text().splitlines()
    actions = [json.loads(line)["action"] for line in log]
    assert actions[0] == "start" and actions[-1] == "complete"
    assert actions.count("spawn_batch") == 4
    runs = d.rpc("runs.list", {"project": str(root)})["runs"]
    assert len({r["run_id"] for r in runs}) == len(runs)
    assert record["totals"]["spent_usd"] > 0


def test_second_start_is_refused_with_the_existing_id(sim_daemon: Daemon) -> None:
    d = sim_daemon
    d.env["SPECFLOW_SIM_DELAY"] = "0.3"
    root = create_demo_project(d.root / "demo")
    d.rpc("projects.register", {"path": str(root)})
    first = d.rpc("orchestrate.start", {"project": str(root)})["record"]["id"]
    with RawClient(d.socket) as client:
        second = client.request("orchestrate.start", {"project": str(root)})
    assert second["error"]["code"] == -32003
    assert second["error"]["data"] == {"kind": "already_active", "orchestration": first}
    d.rpc("orchestrate.cancel", {"id": first})
    assert status(d, first)["status"] == "cancelled"


def test_without_auto_merge_waits_for_merge_then_merges(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root = create_demo_project(d.root / "demo")
    d.rpc("projects.register", {"path": str(root)})
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True}})["record"]["id"]
    wait_until(lambda: status(d, orch_id)["status"] in ("waiting_merge", "needs_attention"), timeout=60, what="waiting_merge")
    assert status(d, orch_id)["status"] == "waiting_merge"
    d.rpc("orchestrate.merge", {"id": orch_id})
    wait_until(lambda: status(d, orch_id)["status"] in ("completed", "needs_attention"), timeout=60, what="merged")
    assert status(d, orch_id)["status"] == "completed"


def test_failed_batch_heals(sim_daemon: Daemon) -> None:
    d = sim_daemon
    d.stop()
    d.env["SPECFLOW_SIM_FAIL_ONCE"] = "Core Components"
    d.start()
    root = create_demo_project(d.root / "demo")
    d.rpc("projects.register", {"path": str(root)})
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"auto_merge": True}})["record"]["id"]
    wait_until(lambda: status(d, orch_id)["status"] in ("completed", "needs_attention", "failed"), timeout=90, what="done")
    record = status(d, orch_id)
    assert record["status"] == "completed", json.dumps(record["attention"])
    core = next(b for b in record["batches"] if b["name"] == "Phase 2: Core Components")
    assert core["status"] == "healed"
    log = [json.loads(line) for line in (root / ".specflow" / "workflows" / f"orchestration-{orch_id}.events.jsonl").read_text().splitlines()]
    diagnosis = next(e for e in log if e["action"] == "heal_diagnosis")
    assert diagnosis["source"] == "fallback" and "raw failure context" in diagnosis["reason"]
    heal_run = next(r for r in d.rpc("runs.list", {"project": str(root)})["runs"] if r["step"] == "heal")
    prompt = (root / ".specflow" / "workflows" / heal_run["run_id"] / "prompt.txt").read_text()
    assert "Phase 2: Core Components" in prompt and "T008" in prompt


def test_cli_orchestrate_preview_confirm_and_follow(sim_daemon: Daemon) -> None:
    import subprocess

    from tests.support import SPECFLOWCTL

    d = sim_daemon
    root = create_demo_project(d.root / "demo")
    d.rpc("projects.register", {"path": str(root)})
    dry = d.ctl("orchestrate", str(root), "--dry-run")
    assert "Detected 4 batches from tasks.md sections (20 tasks)" in dry.stdout
    assert '--- prompt: implement batch 2 ---\n/flow.implement Execute only the "Phase 2: Core Components" section: T005, T006' in dry.stdout
    assert "--- prompt: analyze ---\n/flow.analyze " in dry.stdout and "--- prompt: merge ---\n/flow.merge " in dry.stdout
    assert "--- prompt: design" not in dry.stdout  # spec, plan and tasks exist: design does not run
    assert d.rpc("orchestrate.list", {"include_finished": True})["orchestrations"] == []  # nothing spawned
    declined = subprocess.run([SPECFLOWCTL, "orchestrate", str(root)], input="n\n", env=d.env, capture_output=True, text=True, timeout=60)
    assert declined.returncode == 1 and d.rpc("orchestrate.list", {})["orchestrations"] == []
    done = d.ctl("orchestrate", str(root), "--yes", "--auto-merge", "--budget-total", "20", timeout=120)
    assert "Design ● Analyze ● Implement ● Verify ● Merge ●" in done.stdout
    assert "finish_batch" in done.stdout
    assert "tasks 20/20 · elapsed " in done.stdout
    assert "about " in done.stdout and " left (" in done.stdout  # printed after each batch while following
    shown = d.ctl_json("status", str(root))
    assert shown["orchestration"]["record"]["status"] == "completed"
    assert shown["orchestration"]["progress"]["remaining_s"] == 0 and shown["orchestration"]["progress"]["tasks_done"] == 20
    assert "tasks 20/20 · elapsed" in d.ctl("status", str(root)).stdout
    assert shown["orchestration"]["record"]["config"]["budget"]["total"] == 20


def test_demo_verb_runs_a_whole_phase(tmp_path: Path) -> None:
    import subprocess

    from tests.support import SPECFLOWCTL

    env = sandbox_env(tmp_path)
    env["SPECFLOW_SIM_DELAY"] = "0"
    try:
        result = subprocess.run([SPECFLOWCTL, "demo", str(tmp_path / "demo")], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Completed" in result.stdout and "batches 4/4 done" in result.stdout
        assert (tmp_path / "demo" / "specs" / DEMO_FEATURE / "tasks.md").read_text().count("[x]") == 20
    finally:
        subprocess.run([SPECFLOWCTL, "daemon", "stop"], env=env, capture_output=True, timeout=30)


def test_sigkill_mid_batch_then_restart_finishes_without_rerunning(sim_daemon: Daemon) -> None:
    import signal

    d = sim_daemon
    d.stop()
    d.env["SPECFLOW_SIM_DELAY"] = "0.4"
    d.start()
    root = create_demo_project(d.root / "demo")
    d.rpc("projects.register", {"path": str(root)})
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"auto_merge": True, "skip_analyze": True}})["record"]["id"]

    def second_batch_running() -> bool:
        batches = status(d, orch_id)["batches"]
        return len(batches) > 1 and batches[0]["status"] == "completed" and batches[1]["status"] == "running"

    wait_until(second_batch_running, timeout=60, what="batch 2 running")
    d.stop(signal.SIGKILL)
    d.start()
    wait_until(lambda: status(d, orch_id)["status"] in ("completed", "needs_attention"), timeout=90, what="finished after restart")
    record = status(d, orch_id)
    assert record["status"] == "completed", json.dumps(record["attention"])
    log = [json.loads(line) for line in (root / ".specflow" / "workflows" / f"orchestration-{orch_id}.events.jsonl").read_text().splitlines()]
    spawned = [e["run_id"] for e in log if e["action"] in ("spawn_batch", "spawn_step", "heal")]
    assert len(spawned) == len(set(spawned))  # no run spawned twice
    batch_spawns = [e["detail"]["batch_index"] for e in log if e["action"] == "spawn_batch"]
    assert batch_spawns.count(0) == 1  # the batch finished before the kill was not run again
    run_dirs = [p for p in (root / ".specflow" / "workflows").iterdir() if p.is_dir()]
    assert len(run_dirs) == len(spawned)


def test_question_answer_resumes_the_same_batch(tmp_path: Path) -> None:
    fake = str(Path(__file__).resolve().parents[1] / "fake_claude" / "claude")
    env = sandbox_env(tmp_path)
    script = tmp_path / "script.json"
    questions = [{"question": "Which storage?", "header": "storage", "options": [{"label": "json"}, {"label": "sqlite"}]}]
    script.write_text(json.dumps([{"action": "ask", "questions": questions}, {"action": "complete", "tasks": ["T001", "T002", "T003", "T004"]}]))
    env.update(SPECFLOW_CLAUDE=fake, FAKE_CLAUDE_SCRIPT=str(script), FAKE_CLAUDE_ARGV_LOG=str(tmp_path / "argv.jsonl"))
    d = Daemon(tmp_path, env).start()
    try:
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True}})["record"]["id"]
        wait_until(lambda: status(d, orch_id)["status"] == "waiting_input", timeout=60, what="question asked")
        asked = d.rpc("questions.list", {})["questions"][0]
        assert asked["questions"][0]["header"] == "storage"
        d.rpc("questions.answer", {"orchestration": orch_id, "answers": {"storage": "sqlite"}})
        wait_until(lambda: status(d, orch_id)["batches"][0]["status"] == "completed", timeout=60, what="batch 1 done")
        invocations = [json.loads(x) for x in (tmp_path / "argv.jsonl").read_text().splitlines()]
        first_session = invocations[0]["argv"][invocations[0]["argv"].index("--session-id") + 1]
        assert invocations[1]["argv"][invocations[1]["argv"].index("--resume") + 1] == first_session
        assert "sqlite" in invocations[1]["prompt"]
    finally:
        d.stop()


def test_budget_stop_then_raise_and_go_on(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root = create_demo_project(d.root / "demo")
    d.rpc("projects.register", {"path": str(root)})
    config = {"skip_analyze": True, "auto_merge": True, "budget": {"total": 0.01}}
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": config})["record"]["id"]
    wait_until(lambda: status(d, orch_id)["status"] == "needs_attention", timeout=60, what="budget stop")
    record = status(d, orch_id)
    assert record["attention"]["kind"] == "budget"
    assert record["totals"]["spent_usd"] < 0.02  # the cap plus at most the turn that crossed it
    d.rpc("orchestrate.resume", {"id": orch_id, "budget": 20})
    wait_until(lambda: status(d, orch_id)["status"] in ("completed", "needs_attention"), timeout=90, what="finished")
    final = status(d, orch_id)
    assert final["status"] == "completed", json.dumps(final["attention"])
    assert final["config"]["budget"]["total"] == 20


def test_pause_then_resume(sim_daemon: Daemon) -> None:
    d = sim_daemon
    d.stop()
    d.env["SPECFLOW_SIM_DELAY"] = "0.2"
    d.start()
    root = create_demo_project(d.root / "demo")
    d.rpc("projects.register", {"path": str(root)})
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True, "auto_merge": True}})["record"]["id"]
    wait_until(lambda: status(d, orch_id)["batches"] and status(d, orch_id)["batches"][0]["status"] == "running", timeout=30, what="batch 1")
    d.ctl("pause", str(root))
    wait_until(lambda: status(d, orch_id)["status"] == "paused", timeout=30, what="paused after the run")
    # The pause lands after the run in flight ends: a prefix of completed batches, the rest pending. Which run
    # that is depends on how fast the pause call arrives (under load a whole batch may finish first).
    statuses = [b["status"] for b in status(d, orch_id)["batches"]]
    done = statuses.index("pending")
    assert done >= 1 and statuses[:done] == ["completed"] * done and set(statuses[done:]) == {"pending"}, statuses
    d.ctl("resume", str(root))
    wait_until(lambda: status(d, orch_id)["status"] in ("completed", "needs_attention"), timeout=90, what="finished")
    assert status(d, orch_id)["status"] == "completed"


def test_heal_exhausted_needs_attention_then_abort(tmp_path: Path) -> None:
    fake = str(Path(__file__).resolve().parents[1] / "fake_claude" / "claude")
    env = sandbox_env(tmp_path)
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"action": "fail", "message": "tests failed"}, {"action": "fail", "message": "still failing"}]))
    env.update(SPECFLOW_CLAUDE=fake, FAKE_CLAUDE_SCRIPT=str(script))
    d = Daemon(tmp_path, env).start()
    try:
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True}})["record"]["id"]
        wait_until(lambda: status(d, orch_id)["status"] == "needs_attention", timeout=60, what="needs attention")
        record = status(d, orch_id)
        assert record["attention"]["kind"] == "heal_exhausted"
        assert set(record["attention"]["options"]) == {"retry", "skip", "abort"}
        runs = d.rpc("runs.list", {"project": str(root)})["runs"]
        assert [r["step"] for r in runs] == ["implement", "heal"]  # one heal (max_heal_attempts 1), then stop
        d.ctl("recover", "abort", str(root))
        assert status(d, orch_id)["status"] in ("failed", "cancelled")
    finally:
        d.stop()


def test_go_back_reruns_a_step(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root = create_demo_project(d.root / "demo")
    d.rpc("projects.register", {"path": str(root)})
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True}})["record"]["id"]
    wait_until(lambda: status(d, orch_id)["status"] in ("waiting_merge", "needs_attention"), timeout=60, what="merge ready")
    verify_runs = lambda: [r for r in d.rpc("runs.list", {"project": str(root)})["runs"] if r["step"] == "verify"]  # noqa: E731
    assert len(verify_runs()) == 1
    d.ctl("go-back", "verify", str(root))
    wait_until(lambda: len(verify_runs()) == 2 and status(d, orch_id)["status"] == "waiting_merge", timeout=60, what="verify again")
    assert status(d, orch_id)["step"] in ("verify", "merge")
