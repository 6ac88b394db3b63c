"""A daemon killed (SIGKILL) at the awkward moments of an orchestration, then started again; and a batch run
that succeeds with tasks still open. Real daemon, real agent processes (the shipped simulated agent or the
scriptable fake claude); every wait is on an event or a polled condition with a deadline."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from tests.engine.common import SIM, decision_log, status
from tests.support import Daemon, sandbox_env, wait_until

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
