"""Loop detection end to end in the runner: a real fake-claude child repeating one tool call until killed."""

from __future__ import annotations

import json

import pytest

from specflowd.runner.records import StopReason
from specflowd.runner.rundir import RunDir
from specflowd.vocabulary import RunStatus
from tests.runner.conftest import Harness, supervising, wait_for
from tests.runner.test_runs import group_gone

pytestmark = pytest.mark.anyio

NPM_TEST = {"command": "npm test", "description": "Run the tests"}


async def test_a_run_repeating_one_call_is_stopped_as_looping(harness: Harness) -> None:
    # the fake repeats its Bash call until it is killed: only the runner can end this run
    harness.script_steps({"action": "loop", "input": NPM_TEST, "delay": 0.05})
    async with supervising(harness.manager(loop_repeats=8)) as manager:
        started = await manager.start(harness.spec())
        record = await manager.wait_final(started.run_id)
    assert record.status == RunStatus.LOOPING and record.stop_reason == StopReason.LOOPING
    assert record.exit_code == -15  # SIGTERM from the daemon, not an exit of its own
    identity = RunDir(harness.project, record.run_id).load_identity()
    assert identity is not None and group_gone(identity.pgid)
    loop = record.loop
    assert loop is not None and loop.repeats == 8 and loop.calls == 8
    assert [(c.tool, json.loads(c.input)) for c in loop.cycle] == [("Bash", NPM_TEST)]
    assert 8 <= record.tool_calls < 40  # stopped mid-way, at the first poll after the 8th call
    assert record.error is not None and 'called Bash {"command":"npm test"' in record.error
    assert "8 times in a row" in record.error
    on_disk = RunDir(harness.project, record.run_id).load()  # metadata.json keeps what repeated
    assert on_disk.status == RunStatus.LOOPING and on_disk.loop == loop
    finished = [e for e in harness.events if e[0] == "run.finished"]
    assert len(finished) == 1 and finished[0][2]["status"] == "looping"
    assert finished[0][2]["loop"]["cycle"] == [{"tool": "Bash", "input": loop.cycle[0].input}]


async def test_a_repeated_cycle_of_two_calls_is_a_loop(harness: Harness) -> None:
    read = {"tool": "Read", "input": {"file_path": "src/app.py"}, "result": "…"}
    edit = {"tool": "Edit", "input": {"file_path": "src/app.py", "old_string": "a", "new_string": "b"},
            "result": "String to replace not found in file."}  # fmt: skip
    harness.script_steps({"action": "loop", "cycle": [read, edit], "delay": 0.02})
    async with supervising(harness.manager(loop_repeats=4, loop_window=16)) as manager:
        record = await manager.wait_final((await manager.start(harness.spec())).run_id)
    assert record.status == RunStatus.LOOPING
    assert record.loop is not None and [c.tool for c in record.loop.cycle] in (["Read", "Edit"], ["Edit", "Read"])
    assert record.loop.calls == 8 and "repeated the same 2 tool calls 4 times in a row" in (record.error or "")


async def test_detection_off_lets_a_repetitive_run_finish(harness: Harness) -> None:
    harness.script_steps({"action": "loop", "times": 12, "delay": 0.01})
    async with supervising(harness.manager(loop_repeats=0)) as manager:
        record = await manager.wait_final((await manager.start(harness.spec())).run_id)
    assert record.status == RunStatus.COMPLETED and record.loop is None and record.stop_reason is None
    assert record.tool_calls >= 12


async def test_repetitions_below_the_limit_are_not_a_loop(harness: Harness) -> None:
    harness.script_steps({"action": "loop", "times": 7, "delay": 0.01})
    async with supervising(harness.manager(loop_repeats=8)) as manager:
        record = await manager.wait_final((await manager.start(harness.spec())).run_id)
    assert record.status == RunStatus.COMPLETED and record.loop is None


async def test_a_readopted_run_that_loops_is_stopped_by_the_next_daemon(harness: Harness) -> None:
    # the first daemon does not look for loops and goes away mid-run (kill -9); the next one re-reads the
    # invocation's output on adoption, sees the loop and stops it
    harness.script_steps({"action": "loop", "delay": 0.05})
    first = harness.manager(loop_repeats=0)
    async with supervising(first):
        started = await first.start(harness.spec())
        await wait_for(lambda: first.get(started.run_id).tool_calls >= 10, what="ten calls")
    assert RunDir(harness.project, started.run_id).load().status == RunStatus.RUNNING
    second = harness.manager(loop_repeats=8)
    async with supervising(second):
        await second.reconcile([harness.project])
        record = await second.wait_final(started.run_id)
    assert record.status == RunStatus.LOOPING and record.loop is not None
    identity = RunDir(harness.project, record.run_id).load_identity()
    assert identity is not None
    await wait_for(lambda: group_gone(identity.pgid), timeout=10, what="the adopted group gone")
