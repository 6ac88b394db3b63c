"""A daemon killed (SIGKILL) at the awkward moments of an orchestration, then started again; and a batch run
that succeeds with tasks still open. Real daemon, real agent processes (the shipped simulated agent or the
scriptable fake claude); every wait is on an event or a polled condition with a deadline."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from tests.engine.common import FAKE, SIM, decision_log, status
from tests.support import Daemon, RawClient, sandbox_env, wait_until

SPAWN_ACTIONS = ("spawn_batch", "spawn_step", "heal")
STOPPED = ("completed", "needs_attention", "failed", "cancelled")


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    """Daemons a test starts; each is stopped at the end if still running."""
    started: list[Daemon] = []
    yield started
    for d in started:
        if d.proc and d.proc.poll() is None:
            d.stop()


def sim_daemon(tmp_path: Path, daemons: list[Daemon], **env: str) -> Daemon:
    environ = sandbox_env(tmp_path)
    environ.update({"SPECFLOW_CLAUDE": SIM, "SPECFLOW_SIM_DELAY": "0", **env})
    d = Daemon(tmp_path, environ).start()
    daemons.append(d)
    return d


def demo(d: Daemon) -> Path:
    root = create_demo_project(d.root / "demo")
    d.rpc("projects.register", {"path": str(root)})
    return root



def loaded(d: Daemon, orch_id: str) -> bool:
    """The restarted daemon has loaded the orchestration from disk (status would be NotFound before)."""
    listed = d.rpc("orchestrate.list", {"include_finished": True})["orchestrations"]
    return any(o["id"] == orch_id for o in listed)


def restart(d: Daemon, orch_id: str) -> None:
    d.start()
    wait_until(lambda: loaded(d, orch_id), timeout=15, what="orchestration loaded after restart")



def spawned_ids(log: list[dict[str, Any]]) -> list[str]:
    return [e["run_id"] for e in log if e["action"] in SPAWN_ACTIONS]


def batch_spawns(log: list[dict[str, Any]]) -> list[int]:
    return [e["detail"]["batch_index"] for e in log if e["action"] == "spawn_batch"]


def run_dirs(root: Path) -> set[str]:
    return {p.name for p in (root / ".specflow" / "workflows").iterdir() if p.is_dir()}


def runs(d: Daemon, root: Path) -> list[dict[str, Any]]:
    return d.rpc("runs.list", {"project": str(root)})["runs"]  # type: ignore[no-any-return]


def wait_stopped(d: Daemon, orch_id: str, timeout: float = 60) -> dict[str, Any]:
    return wait_until(  # type: ignore[no-any-return]
        lambda: (r := status(d, orch_id))["status"] in STOPPED and r, timeout=timeout, what="orchestration stopped"
    )


def assert_no_duplicate_runs(d: Daemon, root: Path, log: list[dict[str, Any]]) -> None:
    spawned = spawned_ids(log)
    assert len(spawned) == len(set(spawned)), f"a run id was spawned twice: {spawned}"
    assert run_dirs(root) == set(spawned), "run directories and spawn decisions differ"
    listed = [r["run_id"] for r in runs(d, root)]
    assert sorted(listed) == sorted(spawned)


def test_sigkill_between_batches(tmp_path: Path, daemons: list[Daemon]) -> None:
    d = sim_daemon(tmp_path, daemons)
    root = demo(d)
    config = {"pause_between_batches": True, "skip_analyze": True, "auto_merge": True}
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": config})["record"]["id"]

    def paused_after_first() -> bool:
        r = status(d, orch_id)
        return r["status"] == "paused" and r["batches"][0]["status"] == "completed"

    wait_until(paused_after_first, timeout=30, what="paused after batch 1")
    before = status(d, orch_id)
    assert before["current_run_id"] is None and before["batches"][1]["status"] == "pending"
    assert [r["step"] for r in runs(d, root)] == ["implement"]  # batch 2's run was never started
    d.stop(signal.SIGKILL)
    log_at_kill = decision_log(root, orch_id)

    restart(d, orch_id)
    after = status(d, orch_id)
    assert after == before  # the very same record: still paused between batches, nothing re-decided
    assert [r["step"] for r in runs(d, root)] == ["implement"]

    resumes = 0
    while (record := wait_until(
        lambda: (r := status(d, orch_id))["status"] in ("paused", *STOPPED) and r, timeout=30, what="pause or end"
    ))["status"] == "paused":  # fmt: skip
        resumes += 1
        if resumes == 1:
            d.ctl("resume", str(root))
        else:
            d.rpc("orchestrate.resume", {"id": orch_id})
    assert record["status"] == "completed", json.dumps(record["attention"])
    assert resumes == 3  # the pause carried over the restart, then one after each of batches 2 and 3
    assert [b["status"] for b in record["batches"]] == ["completed"] * 4
    assert (root / "specs" / DEMO_FEATURE / "tasks.md").read_text().count("- [x] T") == 20

    log = decision_log(root, orch_id)
    assert log[: len(log_at_kill)] == log_at_kill  # the log is only appended to
    assert batch_spawns(log).count(0) == 1  # batch 1 finished before the kill and was not run again
    assert batch_spawns(log) == [0, 1, 2, 3]
    assert_no_duplicate_runs(d, root, log)


def test_sigkill_on_finish_batch_event(tmp_path: Path, daemons: list[Daemon]) -> None:
    """Kill the instant batch 1's finish_batch event is seen: the engine may be anywhere between that decision
    and batch 2's run being exec'd. Whatever the moment, nothing runs twice and the phase completes."""
    d = sim_daemon(tmp_path, daemons, SPECFLOW_SIM_DELAY="0.05")
    root = demo(d)
    config = {"skip_analyze": True, "auto_merge": True}
    with RawClient(d.socket) as sub:
        sub.request("events.subscribe")
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": config})["record"]["id"]
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "no finish_batch event for batch 1"
            event = sub.read()
            assert event is not None, "the daemon closed the subscription"
            params = event.get("params", {})
            if params.get("type") == "batch.finish_batch" and params["data"].get("batch_index") == 0:
                break
        d.stop(signal.SIGKILL)
    log_at_kill = decision_log(root, orch_id)
    spawned_at_kill = spawned_ids(log_at_kill)

    restart(d, orch_id)
    record = wait_stopped(d, orch_id)
    assert record["status"] == "completed", json.dumps(record["attention"])
    # batch 2 completed, also when the kill fell between recording its spawn and exec'ing it: that run never
    # started, gives its attempt back, and the batch is spawned again (never healed for it)
    assert [b["status"] for b in record["batches"]] == ["completed"] * 4

    log = decision_log(root, orch_id)
    assert log[: len(log_at_kill)] == log_at_kill
    assert batch_spawns(log).count(0) == 1
    spawned = spawned_ids(log)
    assert len(spawned) == len(set(spawned)), f"a run id was spawned twice: {spawned}"
    dirs = run_dirs(root)
    assert dirs <= set(spawned)
    # only a spawn recorded right before the kill may lack its run directory (never exec'd, never retried)
    not_run = {r["run_id"] for r in runs(d, root) if r["status"] == "not_started"}
    never_started = (set(spawned) - dirs) | not_run
    assert never_started <= set(spawned_at_kill[-1:])
    assert {r for r, ref in record["runs"].items() if ref["never_started"]} == never_started
    assert record["batches"][1]["attempts"] - record["batches"][1]["extra_attempts"] == 1


def test_sigkill_during_healing(tmp_path: Path, daemons: list[Daemon]) -> None:
    # 0.5 s per task: the heal run (6 ids in its prompt) runs ~3 s, long enough to be killed under
    d = sim_daemon(tmp_path, daemons, SPECFLOW_SIM_DELAY="0.5", SPECFLOW_SIM_FAIL_ONCE="Core Components")
    root = demo(d)
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True, "auto_merge": True}})[
        "record"
    ]["id"]

    def heal_running() -> dict[str, Any] | None:
        heal = [r for r in runs(d, root) if r["step"] == "heal" and r["status"] == "running"]
        return heal[0] if heal and status(d, orch_id)["status"] == "healing" else None

    heal = wait_until(heal_running, timeout=30, what="heal run running")
    heal_id = heal["run_id"]
    d.stop(signal.SIGKILL)
    identity = json.loads((root / ".specflow" / "workflows" / heal_id / "process.pid").read_text())
    try:
        alive = psutil.Process(identity["pid"]).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        alive = False
    assert alive, "the heal run ended before the kill: nothing left to re-adopt"

    d.env["SPECFLOW_SIM_DELAY"] = "0"  # later runs are quick; the adopted heal keeps its own environment
    restart(d, orch_id)
    record = wait_stopped(d, orch_id)
    assert record["status"] == "completed", json.dumps(record["attention"]) + d.log()
    assert f"re-adopted run {heal_id}" in d.log()
    core = next(b for b in record["batches"] if b["name"] == "Phase 2: Core Components")
    assert core["status"] == "healed"
    assert [b["status"] for b in record["batches"]] == ["completed", "healed", "completed", "completed"]

    log = decision_log(root, orch_id)
    assert [e["run_id"] for e in log if e["action"] == "heal"] == [heal_id]  # healed once, not spawned again
    heal_runs = [r for r in runs(d, root) if r["step"] == "heal"]
    assert [(r["run_id"], r["status"]) for r in heal_runs] == [(heal_id, "completed")]
    assert batch_spawns(log) == [0, 1, 2, 3]
    assert_no_duplicate_runs(d, root, log)
    assert (root / "specs" / DEMO_FEATURE / "tasks.md").read_text().count("- [x] T") == 20


def _ids_after(label: str, prompt: str) -> list[str]:
    line = next(x for x in prompt.splitlines() if x.startswith(label))
    return re.findall(r"\bT\d{3}\b", line)


def test_partial_batch_goes_to_healing(tmp_path: Path, daemons: list[Daemon]) -> None:
    env = sandbox_env(tmp_path)
    script = tmp_path / "script.json"
    # the first batch run "succeeds" but checks off only two of its four ids; later runs check off their prompt's ids
    script.write_text(json.dumps([{"action": "complete", "tasks": ["T001", "T002"]}]))
    argv_log = tmp_path / "argv.jsonl"
    env.update(SPECFLOW_CLAUDE=FAKE, FAKE_CLAUDE_SCRIPT=str(script), FAKE_CLAUDE_ARGV_LOG=str(argv_log))
    d = Daemon(tmp_path, env).start()
    daemons.append(d)
    root = demo(d)
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True, "auto_merge": True}})[
        "record"
    ]["id"]

    # The fake claude does not write the skill's state file, so verify never confirms: implement is the end.
    def implement_over() -> dict[str, Any] | None:
        r = status(d, orch_id)
        return r if r["step"] in ("verify", "merge") or r["status"] in STOPPED else None

    record = wait_until(implement_over, timeout=30, what="implement finished")
    assert [b["status"] for b in record["batches"]] == ["healed", "completed", "completed", "completed"]
    first = record["batches"][0]
    assert first["name"] == "Phase 1: Setup" and first["task_ids"] == ["T001", "T002", "T003", "T004"]
    assert first["heal_attempts"] == 1

    log = decision_log(root, orch_id)
    heals = [e for e in log if e["action"] == "heal"]
    assert len(heals) == 1
    assert "still open" in heals[0]["reason"] and "2 of 4" in heals[0]["reason"], heals[0]["reason"]
    assert heals[0]["detail"]["remaining_ids"] == ["T003", "T004"]
    assert heals[0]["detail"]["done_ids"] == ["T001", "T002"]
    assert batch_spawns(log) == [0, 1, 2, 3]  # the partial batch was healed, not re-run as a batch

    heal_runs = [r for r in runs(d, root) if r["step"] == "heal"]
    assert [r["run_id"] for r in heal_runs] == [heals[0]["run_id"]]
    prompt = (root / ".specflow" / "workflows" / heal_runs[0]["run_id"] / "prompt.txt").read_text()
    assert "Phase 1: Setup" in prompt
    assert _ids_after("Still open:", prompt) == ["T003", "T004"]
    assert _ids_after("Already done", prompt) == ["T001", "T002"]
    invocations = [json.loads(x) for x in argv_log.read_text().splitlines()]
    healed_by = next(i for i in invocations if heal_runs[0]["run_id"] in i["argv"])
    assert healed_by["prompt"] == prompt  # the agent got exactly the recorded prompt
    assert (root / "specs" / DEMO_FEATURE / "tasks.md").read_text().count("- [x] T") == 20

    spawned = spawned_ids(decision_log(root, orch_id))
    assert len(spawned) == len(set(spawned))
    if status(d, orch_id)["status"] not in STOPPED:
        d.rpc("orchestrate.cancel", {"id": orch_id})
