"""A process that prints its result line and does not exit (a known Claude Code fault) is ended after
``exit_grace_s``; its result decides the outcome and the forced end is a warning, not a failure."""

from __future__ import annotations

import anyio
import pytest

from specflowd.runner.rundir import RunDir
from specflowd.vocabulary import RunStatus
from tests.runner.conftest import Harness, supervising, wait_for
from tests.runner.test_runs import group_gone

pytestmark = pytest.mark.anyio

# far past every deadline below: a run still alive when the test gives up was not ended by the grace
LINGER_S = 600


async def finished(harness: Harness, exit_grace_s: float, timeout: float = 30.0) -> tuple[str, RunDir]:
    async with supervising(harness.manager(exit_grace_s=exit_grace_s)) as manager:
        started = await manager.start(harness.spec("Execute T001 only.", stale_after_s=600))
        with anyio.fail_after(timeout):
            await manager.wait_final(started.run_id)
    return started.run_id, RunDir(harness.project, started.run_id)


async def test_a_completed_run_that_lingers_is_ended_and_counts_as_completed(harness: Harness) -> None:
    harness.script_steps({"action": "complete", "linger": LINGER_S})
    run_id, rundir = await finished(harness, exit_grace_s=0.5)
    record = rundir.load()
    assert record.status == RunStatus.COMPLETED and record.error is None
    assert record.stop_reason is None and record.ended_after_result
    assert record.exit_code == -15  # ended by the daemon's SIGTERM, not an exit of its own
    assert "lingering" in rundir.stderr.read_text()
    identity = rundir.load_identity()
    assert identity is not None and group_gone(identity.pgid)
    assert "- [x] T001" in (harness.project / "tasks.md").read_text()  # the work it did stands
    warnings = [e[2]["message"] for e in harness.events if e[0] == "run.warning"]
    assert len(warnings) == 1 and "had not exited 0.5 s later" in warnings[0]
    assert record.warnings == warnings
    finished_events = [e[2] for e in harness.events if e[0] == "run.finished"]
    assert [(e["run_id"], e["status"]) for e in finished_events] == [(run_id, "completed")]


async def test_a_lingering_error_result_is_a_failure_by_its_result_not_a_stop(harness: Harness) -> None:
    harness.script_steps({"action": "fail", "message": "tests do not pass", "linger": LINGER_S})
    _, rundir = await finished(harness, exit_grace_s=0.3)
    record = rundir.load()
    assert record.status == RunStatus.FAILED and record.error == "tests do not pass"
    assert record.outcome_detail == "error result (error_during_execution)"
    assert record.stop_reason is None and record.ended_after_result


async def test_a_lingering_question_waits_for_its_answer(harness: Harness) -> None:
    harness.script_steps({"action": "ask", "linger": LINGER_S})
    _, rundir = await finished(harness, exit_grace_s=0.3)
    record = rundir.load()
    assert record.status == RunStatus.WAITING_INPUT and record.ended_after_result
    assert [q.header for q in record.questions] == ["Database"]


async def test_a_process_that_exits_within_the_grace_is_left_alone(harness: Harness) -> None:
    harness.script_steps({"action": "complete", "linger": 0.2})
    _, rundir = await finished(harness, exit_grace_s=30.0)
    record = rundir.load()
    assert record.status == RunStatus.COMPLETED and record.exit_code == 0
    assert not record.ended_after_result and record.warnings == []
    assert "lingering" in rundir.stderr.read_text()  # it did linger, briefly


async def test_grace_zero_never_ends_a_lingering_process(harness: Harness) -> None:
    harness.script_steps({"action": "complete", "linger": 1.0})
    _, rundir = await finished(harness, exit_grace_s=0.0)
    record = rundir.load()
    assert record.status == RunStatus.COMPLETED and record.exit_code == 0 and not record.ended_after_result


async def test_one_that_ignores_sigterm_is_killed_and_a_cancel_meanwhile_changes_nothing(harness: Harness) -> None:
    harness.script_steps({"action": "complete", "linger": LINGER_S, "ignore_sigterm": True})
    async with supervising(harness.manager(exit_grace_s=0.3, kill_grace_s=1.0)) as manager:
        started = await manager.start(harness.spec("Execute T001 only.", stale_after_s=600))
        await wait_for(lambda: "run.warning" in harness.event_types(), timeout=30, what="the forced end to begin")
        with anyio.fail_after(30):
            record = await manager.cancel(started.run_id)  # the result is in: it stands
    assert record.status == RunStatus.COMPLETED and record.stop_reason is None and record.ended_after_result
    assert record.exit_code == -9  # SIGTERM was ignored: SIGKILL after kill_grace_s
    assert RunDir(harness.project, started.run_id).load().status == RunStatus.COMPLETED


async def test_a_run_found_lingering_after_a_restart_is_ended_by_the_next_daemon(harness: Harness) -> None:
    harness.script_steps({"action": "complete", "linger": LINGER_S})
    first = harness.manager(exit_grace_s=0.0)  # this daemon waits for the exit, then goes away
    async with supervising(first):
        started = await first.start(harness.spec("Execute T001 only.", stale_after_s=600))
        rundir = RunDir(harness.project, started.run_id)
        await wait_for(lambda: "lingering" in rundir.stderr.read_text(), timeout=30, what="the agent to linger")
    assert not first.get(started.run_id).final
    second = harness.manager(exit_grace_s=0.3)
    async with supervising(second):
        await second.reconcile([harness.project])
        with anyio.fail_after(30):
            record = await second.wait_final(started.run_id)
    assert record.status == RunStatus.COMPLETED and record.ended_after_result and record.stop_reason is None
    identity = rundir.load_identity()
    assert identity is not None and group_gone(identity.pgid)
