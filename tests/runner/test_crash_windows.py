"""What a restarted daemon finds after a SIGKILL anywhere in a run's start, in-process: the lock the agent
holds from its fork decides whether anything is alive; process.pid (written after the exec) or the lock's
holders say which process it is; a start that left no trace is not_started."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from specflowd.runner.process import LockState, find_agent, is_same_process, lock_state, take_lock
from specflowd.runner.records import ProcessIdentity, RunRecord
from specflowd.runner.rundir import RunDir
from specflowd.vocabulary import RunStatus
from tests.runner.conftest import Harness, abandoned_hanging_run, supervising

pytestmark = pytest.mark.anyio

RUN_ID = "31111111-2222-4333-8444-555555555555"
REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "claude-cli"


def starting_run(project: Path, continuations: int = 0) -> RunDir:
    """A run directory exactly as ``RunManager.start`` leaves it before the fork."""
    rundir = RunDir(project, RUN_ID)
    record = RunRecord(
        run_id=RUN_ID,
        project_root=project,
        step="implement",
        status=RunStatus.STARTING,
        continuations=continuations,
        created_at=datetime.now(UTC),
    )
    rundir.create(record, "/flow.implement T001")
    return rundir


def holder(lock: Path) -> subprocess.Popen[bytes]:
    """A process holding the lock that is not an agent (not a session leader): like the forked child in
    the instant before setsid, or a tool process a dead agent left behind."""
    fd = take_lock(lock)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE, pass_fds=(fd,)
        )
    finally:
        os.close(fd)
    return proc


async def test_an_agent_forked_before_its_pid_was_written_is_found_and_adopted(harness: Harness) -> None:
    started = await abandoned_hanging_run(harness)
    rundir = RunDir(harness.project, started.run_id)
    written = rundir.load_identity()
    assert written is not None and lock_state(rundir.lock_path(0)) is LockState.HELD
    # the state a SIGKILL between the fork and the pid write leaves
    rundir.pid_file.unlink()
    rundir.save(rundir.load().model_copy(update={"status": RunStatus.STARTING}))

    second = harness.manager()
    async with supervising(second):
        await second.reconcile([harness.project])
        assert second.get(started.run_id).status == RunStatus.RUNNING
        found = rundir.load_identity()
        assert found == written  # same pid, start time, group and invocation
        record = await second.cancel(started.run_id)  # the found identity is good enough to stop it
    assert record.status == RunStatus.CANCELLED
    assert not is_same_process(written) and lock_state(rundir.lock_path(0)) is LockState.FREE
    assert len(harness.invocations()) == 1


async def test_a_lock_held_by_no_agent_keeps_the_run_live_until_it_is_free(harness: Harness) -> None:
    rundir = starting_run(harness.project)
    proc = holder(rundir.lock_path(0))
    assert find_agent(rundir.lock_path(0), rundir.output, 0) is None  # no session leader holds it
    manager = harness.manager(poll_interval_s=0.02)
    async with supervising(manager):
        await manager.reconcile([harness.project])
        await manager.reconcile([harness.project])  # idempotent
        assert manager.get(RUN_ID).status == RunStatus.STARTING  # neither finalised nor not_started
        assert [e for e in harness.events if e[0] == "run.finished"] == []
        assert proc.stdin is not None
        proc.stdin.close()  # the holder exits: the lock is free
        record = await manager.wait_final(RUN_ID)
    proc.wait()
    assert record.status == RunStatus.INTERRUPTED  # something ran; no result line


async def test_cancelling_a_run_whose_agent_is_not_identified_kills_the_holders(harness: Harness) -> None:
    rundir = starting_run(harness.project)
    proc = holder(rundir.lock_path(0))
    manager = harness.manager(poll_interval_s=0.02)
    async with supervising(manager):
        await manager.reconcile([harness.project])
        record = await manager.cancel(RUN_ID)
    assert record.status == RunStatus.CANCELLED
    assert proc.wait(timeout=10) == -signal.SIGKILL


@pytest.mark.parametrize("lock", ["missing", "free"])
async def test_a_start_that_left_no_trace_is_not_started(harness: Harness, lock: str) -> None:
    rundir = starting_run(harness.project)
    if lock == "free":  # the daemon died holding it, before the fork
        os.close(take_lock(rundir.lock_path(0)))
    manager = harness.manager()
    async with supervising(manager):
        await manager.reconcile([harness.project])
        record = manager.get(RUN_ID)
    assert record.status == RunStatus.NOT_STARTED and record.final and record.finished_at is not None
    assert RunDir(harness.project, RUN_ID).load().status == RunStatus.NOT_STARTED
    assert [e[2]["status"] for e in harness.events if e[0] == "run.finished"] == ["not_started"]


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference samples not present")
async def test_an_agent_that_ran_and_ended_before_its_pid_was_written_is_judged_by_its_output(
    harness: Harness,
) -> None:
    rundir = starting_run(harness.project)
    os.close(take_lock(rundir.lock_path(0)))
    rundir.output.write_bytes((REFERENCE / "structured-output-run.stream.jsonl").read_bytes())
    manager = harness.manager()
    async with supervising(manager):
        await manager.reconcile([harness.project])
        record = manager.get(RUN_ID)
    assert record.status == RunStatus.COMPLETED and record.cost_usd == pytest.approx(0.008)


async def test_a_continuation_ignores_the_pid_file_of_an_earlier_invocation(harness: Harness) -> None:
    rundir = starting_run(harness.project, continuations=1)
    me = psutil.Process()  # alive, and exactly matching: only the invocation number tells it is not this one
    rundir.save_identity(
        ProcessIdentity(
            pid=me.pid, create_time=me.create_time(), boot_time=psutil.boot_time(), pgid=os.getpgid(0), invocation=0
        )
    )
    os.close(take_lock(rundir.lock_path(0)))
    manager = harness.manager()
    async with supervising(manager):
        await manager.reconcile([harness.project])
        record = manager.get(RUN_ID)
    assert record.status == RunStatus.NOT_STARTED  # invocation 1 never forked: no process-1.lock


async def test_reconcile_sweeps_leftovers_and_reports_strangers(harness: Harness) -> None:
    rundir = starting_run(harness.project)
    workflows = rundir.path.parent
    staging = workflows / f".{RUN_ID[:-1]}0.a1b2c3d4.tmp"  # an interrupted RunDir.create
    staging.mkdir()
    (staging / "prompt.txt").write_text("p")
    torn = rundir.path / ".metadata.json.zz99yy88.tmp"  # an interrupted metadata write
    torn.write_text("{")
    stranger = workflows / "41111111-2222-4333-8444-555555555555"  # run-shaped, no metadata: not ours
    stranger.mkdir()
    (stranger / "notes").write_text("someone else's")
    manager = harness.manager()
    async with supervising(manager):
        await manager.reconcile([harness.project])
    assert not staging.exists() and not torn.exists()
    assert (stranger / "notes").read_text() == "someone else's"
    (problem,) = manager.problems()
    assert str(stranger) in problem and "metadata.json" in problem
    assert [r.run_id for r in manager.list(harness.project)] == [RUN_ID]


def test_the_lock_is_held_exactly_while_a_process_has_it_open(tmp_path: Path) -> None:
    lock = tmp_path / "process.lock"
    assert lock_state(lock) is LockState.MISSING
    fd = take_lock(lock)
    assert lock_state(lock) is LockState.HELD
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE, pass_fds=(fd,))
    os.close(fd)  # the daemon's copy is gone; the child's keeps the lock
    assert lock_state(lock) is LockState.HELD
    with open(lock, "rb") as probe, pytest.raises(BlockingIOError):
        fcntl.flock(probe.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    assert child.stdin is not None
    child.stdin.close()
    child.wait()
    assert lock_state(lock) is LockState.FREE
