"""Daemon restarts: a new RunManager re-adopts live runs (pid + start time) or finalises them from output."""

from __future__ import annotations

import contextlib
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from specflowd.runner.process import is_same_process
from specflowd.runner.records import ProcessIdentity, RunRecord
from specflowd.runner.rundir import RunDir
from specflowd.vocabulary import Question, RunStatus
from tests.runner.conftest import Harness, abandoned_hanging_run, supervising, wait_for

pytestmark = pytest.mark.anyio

REFERENCE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "claude-cli"
)  # real CLI output (tests/fixtures/README.md)


async def test_readopts_a_live_run_after_a_daemon_kill_without_spawning_again(harness: Harness) -> None:
    harness.script_steps({"action": "complete", "delay": 1.5})
    first = harness.manager()
    async with supervising(first):
        started = await first.start(harness.spec())
        await wait_for(lambda: RunDir(harness.project, started.run_id).output.stat().st_size > 0, what="init line")
    # supervision is gone (like kill -9 of the daemon); the child lives on in its own session
    rundir = RunDir(harness.project, started.run_id)
    assert rundir.load().status == RunStatus.RUNNING
    identity = rundir.load_identity()
    assert identity is not None and is_same_process(identity)

    second = harness.manager()
    async with supervising(second):
        await second.reconcile([harness.project])
        assert second.get(started.run_id).status == RunStatus.RUNNING  # adopted, not finalised
        assert [r.run_id for r in second.live()] == [started.run_id]  # it holds a scheduler slot
        await second.reconcile([harness.project])  # idempotent: nothing spawned or adopted twice
        record = await second.wait_final(started.run_id)
    assert record.status == RunStatus.COMPLETED, record
    assert record.cost_usd == pytest.approx(0.024) and not record.cost_is_estimate
    assert len(harness.invocations()) == 1
    assert "- [x] T001" in harness.project.joinpath("tasks.md").read_text()
    assert rundir.load().output_offset == rundir.output.stat().st_size


async def test_run_that_died_while_the_daemon_was_down_is_interrupted(harness: Harness) -> None:
    started = await abandoned_hanging_run(harness)
    identity = RunDir(harness.project, started.run_id).load_identity()
    assert identity is not None
    os.killpg(identity.pgid, signal.SIGKILL)
    await wait_for(lambda: not is_same_process(identity), what="child death")

    second = harness.manager()
    async with supervising(second):
        await second.reconcile([harness.project])
        record = second.get(started.run_id)
    assert record.status == RunStatus.INTERRUPTED and record.turns == 1 and record.finished_at is not None
    assert [e[2]["status"] for e in harness.events if e[0] == "run.finished"] == ["interrupted"]
    assert len(harness.invocations()) == 1
    # reap the zombie our test process owns, unless the event loop's child watcher thread (still waiting on
    # the first supervisor's child) got there first
    with contextlib.suppress(ChildProcessError):
        os.waitpid(identity.pid, 0)


def _fake_run(project: Path, *, status: RunStatus, output: bytes, pid: int, create_time: float) -> RunRecord:
    run_id = "21111111-2222-4333-8444-555555555555"
    rundir = RunDir(project, run_id)
    rundir.path.mkdir(parents=True)
    record = RunRecord(
        run_id=run_id, project_root=project, step="implement", status=status, created_at=datetime.now(UTC)
    )
    rundir.save(record)
    rundir.output.write_bytes(output)
    rundir.save_identity(
        ProcessIdentity(pid=pid, create_time=create_time, boot_time=psutil.boot_time(), pgid=os.getpgid(pid))
    )
    return record


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference samples not present")
@pytest.mark.parametrize(
    ("sample", "expected"),
    [("structured-output-run.stream.jsonl", RunStatus.COMPLETED), (None, RunStatus.INTERRUPTED)],
    ids=["result-line-decides", "no-result"],
)
async def test_reused_pid_is_not_adopted(harness: Harness, sample: str | None, expected: RunStatus) -> None:
    # The recorded pid is alive (it is this test process) but started at another time: a different process.
    me = psutil.Process()
    output = (REFERENCE / sample).read_bytes() if sample else b'{"type":"system","subtype":"init","session_id":"x"}\n'
    record = _fake_run(
        harness.project, status=RunStatus.RUNNING, output=output, pid=me.pid, create_time=me.create_time() - 1000
    )
    manager = harness.manager()
    async with supervising(manager):
        await manager.reconcile([harness.project])
        final = manager.get(record.run_id)
    assert final.status == expected
    if expected == RunStatus.COMPLETED:
        assert final.cost_usd == pytest.approx(0.008)
    assert RunDir(harness.project, record.run_id).load().status == expected
    assert psutil.pid_exists(me.pid)  # nothing was signalled


async def test_waiting_run_survives_a_restart_and_can_be_answered(harness: Harness) -> None:
    harness.script_steps({"action": "ask"}, {"action": "complete"})
    first = harness.manager()
    async with supervising(first):
        started = await first.start(harness.spec())
        assert (await first.wait_final(started.run_id)).status == RunStatus.WAITING_INPUT

    second = harness.manager()
    async with supervising(second):
        await second.reconcile([harness.project])
        (pending,) = second.pending_questions()
        assert isinstance(pending.questions[0], Question)
        await second.answer(started.run_id, {"Which database should we use?": "PostgreSQL"})
        record = await second.wait_final(started.run_id)
    assert record.status == RunStatus.COMPLETED and record.continuations == 1
    assert len(harness.invocations()) == 2


async def test_list_reads_runs_of_a_project_from_disk(harness: Harness) -> None:
    me = psutil.Process()
    record = _fake_run(harness.project, status=RunStatus.COMPLETED, output=b"", pid=me.pid, create_time=0.0)
    manager = harness.manager()
    assert manager.list() == []
    assert [r.run_id for r in manager.list(harness.project)] == [record.run_id]
    assert manager.get(record.run_id).status == RunStatus.COMPLETED


class _DaemonKilled(BaseException):
    """Stands for a SIGKILL of the daemon: nothing after it runs."""


async def test_answers_whose_continuation_never_started_are_asked_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon dies after writing the answered run's continued record, before the agent's exec: the run
    waits for its answers again, in the same session (not ``not_started``: that would drop the session)."""
    harness.script_steps({"action": "ask"}, {"action": "complete", "message": "used SQLite"})
    first = harness.manager()
    async with supervising(first):
        started = await first.start(harness.spec())
        waiting = await first.wait_final(started.run_id)
        assert waiting.status == RunStatus.WAITING_INPUT

        async def killed(*args: object) -> None:
            raise _DaemonKilled

        monkeypatch.setattr(type(first), "_launch", killed)
        with pytest.raises(_DaemonKilled):
            await first.answer(started.run_id, {"Which database should we use?": "SQLite"})
        monkeypatch.undo()
    on_disk = RunDir(harness.project, started.run_id).load()
    assert on_disk.status == RunStatus.STARTING and on_disk.continuations == 1 and on_disk.answers

    second = harness.manager()
    async with supervising(second):
        await second.reconcile([harness.project])
        again = second.get(started.run_id)
        assert again.status == RunStatus.WAITING_INPUT and again.continuations == 0 and again.answers == []
        assert [q.question for q in again.questions] == ["Which database should we use?"]
        assert "asking again" in (again.outcome_detail or "")
        (pending,) = second.pending_questions(harness.project)
        assert pending.run_id == started.run_id
        asked = [e[2] for e in harness.events if e[0] == "question.asked"]
        assert len(asked) == 2 and "asking again" in asked[-1]["message"]  # clients are told again
        await second.answer(started.run_id, {"Which database should we use?": "SQLite"})
        final = await second.wait_final(started.run_id)
    assert final.status == RunStatus.COMPLETED and final.continuations == 1 and final.questions == []
    _, second_call = harness.invocations()  # the killed continuation never ran an agent
    assert second_call["argv"][second_call["argv"].index("--resume") + 1] == started.run_id
    assert "SQLite" in second_call["prompt"]


async def test_a_resume_that_never_started_still_ends_not_started(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only answered questions are asked again; a resume's continuation that never started is ``not_started``
    (the engine then gives the attempt back)."""
    harness.script_steps({"action": "rate_limit", "reset_epoch": 1764000000})
    first = harness.manager()
    async with supervising(first):
        started = await first.start(harness.spec())
        await first.wait_final(started.run_id)

        async def killed(*args: object) -> None:
            raise _DaemonKilled

        monkeypatch.setattr(type(first), "_launch", killed)
        with pytest.raises(_DaemonKilled):
            await first.resume(started.run_id, "The rate limit has reset. Continue.")
        monkeypatch.undo()
    second = harness.manager()
    async with supervising(second):
        await second.reconcile([harness.project])
        assert second.get(started.run_id).status == RunStatus.NOT_STARTED
