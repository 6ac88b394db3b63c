"""Every named crash point (SPECFLOWD_FAULT, docs/faults.md): the real daemon orchestrates a two-section
project (the demo's first two sections) with real agent processes, SIGKILLs itself at the point, is started again, and must finish the phase with
the invariants intact:

- one agent at a time per project (the agents check it themselves with a shared flock, see ./agent);
- no run id started twice, and no task id handed to two batch agents;
- every decision the record reflects is in the decision log (sequence numbers 1..N, each once);
- attempts count only runs whose agent really started (`never_started` marks the others).

Waits are on files, processes and RPC state with deadlines; nothing sleeps to synchronise.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from tests.engine.common import SIM, decision_log, status
from tests.support import Daemon, RawClient, sandbox_env, wait_until

AGENT = str(Path(__file__).resolve().parent / "agent")
SPAWNS = ("spawn_step", "spawn_batch", "heal")
CONFIG = {"skip_analyze": True, "auto_merge": True}
TASK_ID = re.compile(r"\bT\d{3}\b")
SECTIONS = 2  # batches: "Phase 1: Setup" (T001-T004), "Phase 2: Core Components" (T005-T010)


@dataclass
class Scenario:
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    daemons: list[Daemon] = field(default_factory=list)
    root: Path = Path()

    @property
    def agent_log(self) -> Path:
        return self.tmp / "agents.jsonl"

    @property
    def hold(self) -> Path:
        return self.tmp / "hold"

    @property
    def workflows(self) -> Path:
        return self.root / ".specflow" / "workflows"

    def daemon(self, fault: str | None = None, *, wait: bool = True) -> Daemon:
        """``wait=False`` for a daemon that may reach its fault before a client could see it serving."""
        env = dict(self.env)
        if fault:
            env["SPECFLOWD_FAULT"] = fault
        d = Daemon(self.tmp, env).start(wait=wait)
        self.daemons.append(d)
        return d

    def killed(self, d: Daemon) -> None:
        """The daemon died by its own SIGKILL at the armed point."""
        assert d.proc is not None
        code = d.proc.wait(timeout=60)
        assert code == -signal.SIGKILL, f"exit {code}: {d.log()}"
        assert "SPECFLOWD_FAULT: killing the daemon at" in d.log()

    def start(self, d: Daemon) -> None:
        """orchestrate.start; the daemon may die before it answers, so the id is read from disk later."""
        with RawClient(d.socket, timeout=30) as client:
            client.request("orchestrate.start", {"project": str(self.root), "config": CONFIG})

    def orchestration_id(self) -> str:
        (path,) = self.workflows.glob("orchestration-*.json")
        return path.name.removeprefix("orchestration-").removesuffix(".json")

    def document(self, orch_id: str) -> dict[str, Any]:
        return json.loads((self.workflows / f"orchestration-{orch_id}.json").read_text())  # type: ignore[no-any-return]

    def log(self, orch_id: str) -> list[dict[str, Any]]:
        exists = (self.workflows / f"orchestration-{orch_id}.events.jsonl").exists()
        return decision_log(self.root, orch_id) if exists else []

    def agents(self) -> list[dict[str, Any]]:
        if not self.agent_log.exists():
            return []
        return [json.loads(line) for line in self.agent_log.read_text().splitlines()]

    def finish(self, d: Daemon, orch_id: str) -> dict[str, Any]:
        record = wait_until(
            lambda: (r := status(d, orch_id))["status"] in ("completed", "needs_attention", "failed") and r,
            timeout=90,
            what="the orchestration to end",
        )
        assert record["status"] == "completed", json.dumps(record["attention"]) + d.log()
        tasks = (self.root / "specs" / DEMO_FEATURE / "tasks.md").read_text()
        assert tasks.count("- [x] T") == 10 and "- [ ] T" not in tasks
        check_invariants(self, orch_id)
        return record  # type: ignore[no-any-return]


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    env = sandbox_env(tmp_path)
    s = Scenario(tmp_path)
    env.update(
        SPECFLOW_CLAUDE=AGENT,
        CRASH_AGENT_SIM=SIM,
        CRASH_AGENT_LOG=str(s.agent_log),
        CRASH_AGENT_EXCLUSIVE=str(tmp_path / "one-agent.lock"),
        CRASH_AGENT_HOLD=str(s.hold),
        SPECFLOW_SIM_DELAY="0",
    )
    s.env = env
    s.root = create_demo_project(tmp_path / "demo")
    tasks = s.root / "specs" / DEMO_FEATURE / "tasks.md"
    tasks.write_text(tasks.read_text().split("\n## Phase 3")[0])  # fewer runs per test: two batches
    yield s
    s.hold.unlink(missing_ok=True)  # never leave an agent waiting
    for d in s.daemons:
        if d.proc and d.proc.poll() is None:
            d.stop()


def register(s: Scenario, d: Daemon) -> None:
    d.rpc("projects.register", {"path": str(s.root)})


def session_of(argv: list[str]) -> str | None:
    return argv[argv.index("--session-id") + 1] if "--session-id" in argv else None


def check_invariants(s: Scenario, orch_id: str) -> None:
    agents = s.agents()
    assert not [a for a in agents if "overlap" in a], "two agents ran at once in the project"

    log = decision_log(s.root, orch_id)
    document = s.document(orch_id)
    spawned = [e["run_id"] for e in log if e["action"] in SPAWNS]
    assert len(spawned) == len(set(spawned)), f"a run id was decided twice: {spawned}"
    started = [session_of(a["argv"]) for a in agents]
    assert None not in started  # every invocation of this test is a first one (no answers, no rate limits)
    assert len(started) == len(set(started)), f"a run id was started twice: {started}"
    assert set(started) <= set(spawned)
    batch_runs = {e["run_id"] for e in log if e["action"] == "spawn_batch"}
    batch_ids = [TASK_ID.findall(a["prompt"].splitlines()[0]) for a in agents if session_of(a["argv"]) in batch_runs]
    flat = [t for ids in batch_ids for t in ids]
    assert len(flat) == len(set(flat)), f"a task id was handed to two batch agents: {batch_ids}"

    # every decision the record reflects is in the log, once, in order
    seqs = [e["seq"] for e in log if "seq" in e]
    assert seqs == list(range(1, document["decision_log"]["seq"] + 1)), seqs
    runs = document["runs"]
    assert set(runs) == set(spawned)
    for batch in document["batches"]:
        if batch["status"] in ("completed", "healed"):
            assert any(e["action"] == "finish_batch" and e["batch_index"] == batch["index"] for e in log), batch

    # attempts count only runs whose agent started; the others are marked never_started
    assert {r for r, ref in runs.items() if ref["never_started"]} == set(runs) - set(started)
    for batch in document["batches"]:
        kinds = [runs[r]["kind"] for r in batch["run_ids"] if r in started]
        assert batch["attempts"] - batch["extra_attempts"] == kinds.count("batch"), batch
        assert batch["heal_attempts"] - batch["extra_heal_attempts"] == kinds.count("heal"), batch
    for step, rec in document["steps"].items():
        ran = [r for r in rec["run_ids"] if r in started and runs[r]["kind"] == "step"]
        assert rec["attempts"] - rec["extra_attempts"] == len(ran), (step, rec)


def runs_of(d: Daemon, root: Path) -> dict[str, dict[str, Any]]:
    return {r["run_id"]: r for r in d.rpc("runs.list", {"project": str(root)})["runs"]}


# --------------------------------------------------------------------------- a live agent is recognised


@pytest.mark.parametrize("point", ["after_fork", "before_pid_write", "after_pid_write"])
def test_a_live_agent_is_adopted_whatever_the_moment_of_the_kill(scenario: Scenario, point: str) -> None:
    s = scenario
    s.hold.write_text("1")  # the first agent waits until the restarted daemon has it
    d = s.daemon(f"{point}@1")
    register(s, d)
    s.start(d)
    s.killed(d)
    orch_id = s.orchestration_id()
    (run_id,) = [e["run_id"] for e in decision_log(s.root, orch_id) if e["action"] == "spawn_batch"]
    rundir = s.workflows / run_id
    agent_pid = int(wait_until(lambda: s.hold.with_suffix(".held").exists() and s.hold.with_suffix(".held").read_text(), timeout=30, what="agent waiting"))
    assert json.loads((rundir / "metadata.json").read_text())["status"] == "starting"
    assert (rundir / "process.pid").exists() == (point == "after_pid_write")

    d = s.daemon()
    adopted = wait_until(lambda: (r := runs_of(d, s.root).get(run_id)) and r["status"] == "running" and r, timeout=30, what="run adopted")
    assert adopted["status"] == "running"
    identity = json.loads((rundir / "process.pid").read_text())
    assert identity["pid"] == agent_pid and identity["pgid"] == agent_pid and identity["invocation"] == 0
    assert identity["create_time"] == pytest.approx(psutil.Process(agent_pid).create_time(), abs=0.05)
    assert f"re-adopted run {run_id}" in d.log()
    s.hold.unlink()

    record = s.finish(d, orch_id)
    assert [b["status"] for b in record["batches"]] == ["completed"] * SECTIONS
    assert runs_of(d, s.root)[run_id]["status"] == "completed"


def test_a_caught_heal_run_finishes_its_heal(scenario: Scenario) -> None:
    """The issue's worst case: the run caught in the fork window is a heal. It is adopted and its work counts;
    the batch ends healed, not heal_exhausted."""
    s = scenario
    s.env["SPECFLOW_SIM_FAIL_ONCE"] = "Core Components"  # batch 2 fails half-way once: a heal follows
    s.hold.write_text("3")  # agents: batch 1, batch 2 (fails), the heal
    d = s.daemon("after_fork@3")
    register(s, d)
    s.start(d)
    s.killed(d)
    orch_id = s.orchestration_id()
    (heal_id,) = [e["run_id"] for e in decision_log(s.root, orch_id) if e["action"] == "heal"]
    wait_until(s.hold.with_suffix(".held").exists, timeout=30, what="heal agent waiting")

    d = s.daemon()
    wait_until(lambda: (r := runs_of(d, s.root).get(heal_id)) and r["status"] == "running", timeout=30, what="heal adopted")
    s.hold.unlink()
    record = s.finish(d, orch_id)
    assert [b["status"] for b in record["batches"]] == ["completed", "healed"]
    assert record["batches"][1]["heal_attempts"] == 1
    assert [e["run_id"] for e in decision_log(s.root, orch_id) if e["action"] == "heal"] == [heal_id]


# --------------------------------------------------------------------------- a run that never started


@pytest.mark.parametrize("point", ["after_spawn_decision", "before_run_dir", "before_fork"])
def test_a_run_that_never_started_gives_its_attempt_back(scenario: Scenario, point: str) -> None:
    s = scenario
    d = s.daemon(f"{point}@2")  # the second spawn: batch 2
    register(s, d)
    s.start(d)
    s.killed(d)
    orch_id = s.orchestration_id()
    lost = [e["run_id"] for e in decision_log(s.root, orch_id) if e["action"] == "spawn_batch"][-1]
    assert lost not in {session_of(a["argv"]) for a in s.agents()}  # its agent never ran
    leftovers = [p.name for p in s.workflows.iterdir() if p.name.startswith(f".{lost}.")]
    assert (s.workflows / lost).is_dir() == (point == "before_fork")
    assert bool(leftovers) == (point == "before_run_dir")

    d = s.daemon()
    record = s.finish(d, orch_id)
    assert [p.name for p in s.workflows.iterdir() if p.name.startswith(".")] == []  # the staging dir is gone
    batch = record["batches"][1]
    assert batch["status"] == "completed" and batch["attempts"] == 2 and batch["extra_attempts"] == 1
    assert record["runs"][lost]["never_started"] is True
    log = decision_log(s.root, orch_id)
    assert [e["action"] for e in log if e.get("reason", "").startswith(f"run {lost} never started")] == ["not_started"]
    if point == "before_fork":
        assert runs_of(d, s.root)[lost]["status"] == "not_started"


def test_two_kills_on_verify_never_use_its_attempts(scenario: Scenario) -> None:
    """The issue's case: killed twice after verify's spawn was recorded; no verify agent ever ran, so verify
    still has both of its attempts and the phase completes (before: step_attempts)."""
    s = scenario
    d = s.daemon("after_spawn_decision@3")  # 2 batches, then verify
    register(s, d)
    s.start(d)
    s.killed(d)
    orch_id = s.orchestration_id()
    d = s.daemon("after_spawn_decision@1", wait=False)  # the restarted daemon's first spawn: verify again
    s.killed(d)
    verify_spawns = [e["run_id"] for e in decision_log(s.root, orch_id) if e["action"] == "spawn_step"]
    assert len(verify_spawns) == 2 and not [a for a in s.agents() if "/flow.verify" in a["prompt"]]

    d = s.daemon()
    record = s.finish(d, orch_id)
    verify = record["steps"]["verify"]
    assert verify["status"] == "completed" and verify["attempts"] == 3 and verify["extra_attempts"] == 2
    assert len([a for a in s.agents() if "/flow.verify" in a["prompt"]]) == 1


def test_a_heal_that_never_started_is_decided_again(scenario: Scenario) -> None:
    s = scenario
    s.env["SPECFLOW_SIM_FAIL_ONCE"] = "Core Components"
    d = s.daemon("after_spawn_decision@3")  # batch 1, batch 2 (fails), the heal
    register(s, d)
    s.start(d)
    s.killed(d)
    orch_id = s.orchestration_id()
    (lost,) = [e["run_id"] for e in decision_log(s.root, orch_id) if e["action"] == "heal"]

    d = s.daemon()
    record = s.finish(d, orch_id)
    assert [b["status"] for b in record["batches"]] == ["completed", "healed"]
    heals = [e["run_id"] for e in decision_log(s.root, orch_id) if e["action"] == "heal"]
    assert heals[0] == lost and len(heals) == 2  # decided anew, with a new run id
    assert record["batches"][1]["heal_attempts"] == 2 and record["batches"][1]["extra_heal_attempts"] == 1


# --------------------------------------------------------------------------- the decision log


@pytest.mark.parametrize(("hit", "lost_action"), [(1, "start"), (5, "spawn_batch"), (6, "finish_batch")])
def test_a_decision_lost_between_record_and_log_is_appended_at_load(scenario: Scenario, hit: int, lost_action: str) -> None:
    s = scenario
    d = s.daemon(f"between_record_and_log@{hit}")
    register(s, d)
    s.start(d)
    s.killed(d)
    orch_id = s.orchestration_id()
    document = s.document(orch_id)
    (pending,) = document["decision_log"]["pending"]
    assert pending["action"] == lost_action and pending["seq"] == hit
    assert [e["seq"] for e in s.log(orch_id)] == list(range(1, hit))  # the log lacks it

    d = s.daemon()
    wait_until(lambda: len(s.log(orch_id)) >= hit, timeout=30, what="log repaired")
    assert s.log(orch_id)[hit - 1] == pending  # appended as the record holds it
    s.finish(d, orch_id)


# --------------------------------------------------------------------------- leftovers of atomic writes


def test_a_write_interrupted_mid_way_leaves_nothing_behind(scenario: Scenario) -> None:
    s = scenario
    d = s.daemon("mid_atomic_write@12")  # somewhere in batch 1 or 2: a record, metadata, prompt or pid file
    register(s, d)
    s.start(d)
    s.killed(d)
    orch_id = s.orchestration_id()
    temps = [*s.root.rglob(".*.tmp"), *(s.tmp / "home" / ".specflow").glob(".*.tmp")]
    assert temps, "the kill left no temporary file"

    d = s.daemon()
    s.finish(d, orch_id)
    assert [p for p in temps if p.exists()] == []
    assert list(s.root.rglob(".*.tmp")) == []
