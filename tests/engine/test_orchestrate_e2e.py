"""Whole orchestrations through the real daemon, with the shipped simulated agent as `claude`."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from tests.engine.common import SIM, status
from tests.event_schemas import check_event
from tests.support import Daemon, RawClient, sandbox_env, wait_until


def test_full_phase_with_auto_merge(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root = create_demo_project(d.root / "demo")
    d.rpc("projects.register", {"path": str(root)})
    with RawClient(d.socket) as sub:
        sub.request("events.subscribe")
        started = d.rpc("orchestrate.start", {"project": str(root), "config": {"auto_merge": True}})
        orch_id = started["record"]["id"]
        received: list[dict[str, Any]] = []
        while not any(e["type"] in ("orchestration.complete", "orchestration.needs_attention", "orchestration.fail") for e in received):
            received.append(sub.read()["params"])
    seen = [e["type"] for e in received]
    # every event the daemon sent is valid by the schema rpc.discover publishes for its type
    document = d.rpc("rpc.discover")
    for params in received:
        check_event(document, params)
    assert {"run.started", "run.progress", "run.finished", "orchestration.spawn_batch", "batch.finish_batch"} <= set(seen)
    run_events = [e["data"] for e in received if e["type"].startswith("run.")]
    assert {e["orchestration"] for e in run_events} == {orch_id}  # one key for the orchestration id
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
        """Its agent runs: the orchestration shows the batch running once the decision is written, its run
        directory follows a moment later (written off the event loop)."""
        record = status(d, orch_id)
        batches = record["batches"]
        if not (len(batches) > 1 and batches[0]["status"] == "completed" and batches[1]["status"] == "running"):
            return False
        runs = d.rpc("runs.list", {"project": str(root)})["runs"]
        return any(r["run_id"] == record["current_run_id"] and r["status"] == "running" for r in runs)

    wait_until(second_batch_running, timeout=60, what="batch 2 running")
    d.stop(signal.SIGKILL)
    d.env["SPECFLOW_SIM_DELAY"] = "0"  # later runs are quick; the adopted batch 2 keeps its own environment
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


def test_starts_arriving_together_take_turns_and_cheap_calls_do_not_wait(sim_daemon: Daemon) -> None:
    """orchestrate.start reads the project and checks the agent: a few at a time (Services.project_calls), so
    200 starts at once cannot hold the event loop; a ping answers while they wait."""
    from specflowd.services.context import PROJECT_CALLS_AT_ONCE

    d = sim_daemon
    marks = d.root / "marks"
    marks.mkdir()
    agent = d.root / "slow-version-agent"
    agent.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then\n'
        f'  touch "{marks}/version.$$"\n'
        f'  while [ ! -e "{marks}/release" ]; do sleep 0.01; done\n'  # the agent check waits for the test
        '  echo "2.1.197 (Claude Code)"; exit 0\n'
        "fi\n"
        f'exec "{SIM}" "$@"\n'
    )
    agent.chmod(0o755)
    count = 3 * PROJECT_CALLS_AT_ONCE
    roots = [create_demo_project(d.root / f"p{n}") for n in range(count)]
    for root in roots:
        d.rpc("projects.register", {"path": str(root)})
    with contextlib.ExitStack() as stack:
        stack.callback((marks / "release").touch)  # whatever happens, no agent check waits after the test
        clients = [stack.enter_context(RawClient(d.socket, timeout=60)) for _ in roots]
        for n, (client, root) in enumerate(zip(clients, roots, strict=True)):
            client.send({"jsonrpc": "2.0", "id": n, "method": "orchestrate.start",
                         "params": {"project": str(root), "config": {"agent": str(agent)}}})  # fmt: skip

        def checking() -> int:
            return len(list(marks.glob("version.*")))

        wait_until(lambda: checking() >= PROJECT_CALLS_AT_ONCE, timeout=30, what="the first agent checks")
        assert d.rpc("daemon.ping") is not None  # answered while the starts hold every turn
        assert checking() == PROJECT_CALLS_AT_ONCE  # the other starts wait for a turn: no agent check of theirs
        (marks / "release").touch(exist_ok=True)
        replies = [client.read() for client in clients]
    assert all("result" in r for r in replies), [r.get("error") for r in replies]
    assert len({r["result"]["record"]["id"] for r in replies}) == count
