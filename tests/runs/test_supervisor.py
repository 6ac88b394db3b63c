"""RunManager with real child processes running the fake claude."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest

from specflowd.errors import AgentUnavailable, InvalidState, NotFound
from specflowd.runner.records import ProcessIdentity, RunDir, RunRecord
from specflowd.runner.supervisor import RunManager, RunnerSettings
from specflowd.runner.verdict import RunStatus
from tests.runs.conftest import FAKE_CLAUDE, spec

pytestmark = pytest.mark.anyio
Mgr = tuple[RunManager, list[tuple[str, dict[str, Any]]]]
Script = Callable[[list[dict[str, Any]]], Path]


def tasks_text(root: Path) -> str:
    return (root / "specs" / "0001-x" / "tasks.md").read_text()


async def test_completed_run_checks_tasks_and_records_everything(project: Path, manager: Mgr, script: Script) -> None:
    mgr, events = manager
    argv_log = script([{"do": "complete", "check": "auto", "cost": 0.02}])
    record = await mgr.start(spec(project))
    done = await mgr.wait_final(record.run_id)
    assert done.status is RunStatus.COMPLETED and done.exit_code == 0
    assert "[x] T001" in tasks_text(project) and "[x] T002" in tasks_text(project) and "[ ] T003" in tasks_text(project)
    run_dir = RunDir(project, record.run_id)
    on_disk = RunRecord.model_validate_json(run_dir.metadata.read_bytes())
    assert on_disk.status is RunStatus.COMPLETED and on_disk.cost_usd == done.cost_usd > 0
    assert on_disk.offset == run_dir.output.stat().st_size
    assert run_dir.prompt_file(0).read_text().startswith("/flow.implement")
    identity = json.loads(run_dir.pidfile.read_text())
    assert identity["pgid"] == identity["pid"] and identity["create_time"] > 0
    invocation = json.loads(argv_log.read_text().splitlines()[0])
    assert invocation["argv"][invocation["argv"].index("--session-id") + 1] == record.run_id
    assert next(t for t, _ in events if t.startswith("run.")) == "run.started"
    assert events[-1][0] == "run.finished"


@pytest.mark.parametrize(
    ("behaviour", "status", "error_part"),
    [
        ({"do": "fail", "error": "tests failed"}, RunStatus.FAILED, "tests failed"),
        ({"do": "die"}, RunStatus.FAILED, "exited with code 3"),
        ({"do": "budget"}, RunStatus.BUDGET_EXCEEDED, "Reached maximum budget"),
        ({"do": "rate_limit"}, RunStatus.RATE_LIMITED, "429"),
    ],
    ids=["fail", "die-mid-stream", "cli-budget", "rate-limit"],
)
async def test_failure_outcomes(
    project: Path, manager: Mgr, script: Script, behaviour: dict[str, Any], status: RunStatus, error_part: str
) -> None:
    mgr, _ = manager
    script([behaviour])
    done = await mgr.wait_final((await mgr.start(spec(project))).run_id)
    assert done.status is status
    assert error_part in (done.error or "")
    if behaviour["do"] == "die":
        assert "simulated crash" in done.stderr_tail
    if status is RunStatus.RATE_LIMITED:
        assert done.rate_limit_reset == "2026-11-24T12:00:00Z"


async def test_malformed_lines_are_counted_not_fatal(project: Path, manager: Mgr, script: Script) -> None:
    mgr, _ = manager
    script([{"do": "malformed", "check": ["T001"]}])
    done = await mgr.wait_final((await mgr.start(spec(project))).run_id)
    assert done.status is RunStatus.COMPLETED and done.bad_lines == 2


async def test_cancel_stops_the_process_group(project: Path, manager: Mgr, script: Script) -> None:
    mgr, _ = manager
    script([{"do": "hang"}])
    record = await mgr.start(spec(project))
    identity = RunDir(project, record.run_id).load_identity()
    assert identity is not None and psutil.pid_exists(identity.pid)
    done = await mgr.cancel(record.run_id)
    assert done.status is RunStatus.CANCELLED
    assert not psutil.pid_exists(identity.pid) or psutil.Process(identity.pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(InvalidState):
        await mgr.cancel(record.run_id)


async def test_stale_run_is_stopped(project: Path, manager: Mgr, script: Script) -> None:
    mgr, _ = manager
    script([{"do": "hang"}])
    done = await mgr.wait_final((await mgr.start(spec(project, stale_after_s=1.0))).run_id)
    assert done.status is RunStatus.STALE


async def test_live_cost_over_the_cap_is_stopped_by_the_daemon(project: Path, manager: Mgr, script: Script) -> None:
    mgr, _ = manager
    script([{"do": "expensive", "delay": 0.1}])
    done = await mgr.wait_final((await mgr.start(spec(project, budget_usd=10.0))).run_id)
    assert done.status is RunStatus.BUDGET_EXCEEDED and done.cost_usd > 10.0
    assert "crossed the cap" in (done.error or "")


async def test_question_answer_resumes_same_session(project: Path, manager: Mgr, script: Script) -> None:
    mgr, events = manager
    questions = [{"question": "Which database?", "header": "db", "options": [{"label": "pg"}, {"label": "sqlite"}]}]
    argv_log = script([{"do": "ask", "questions": questions}, {"do": "complete", "check": ["T001"]}])
    record = await mgr.start(spec(project))
    waiting = await mgr.wait_settled(record.run_id)
    assert waiting.status is RunStatus.WAITING_INPUT and waiting.questions == questions
    assert [r.run_id for r in mgr.pending_questions(project)] == [record.run_id]
    assert any(t == "question.asked" for t, _ in events)
    await mgr.answer(record.run_id, {"db": "pg"})
    with pytest.raises(InvalidState):
        await mgr.answer(record.run_id, {"db": "pg"})  # not waiting any more
    done = await mgr.wait_final(record.run_id)
    assert done.status is RunStatus.COMPLETED and done.continuations == 1
    second = json.loads(argv_log.read_text().splitlines()[1])
    assert second["argv"][second["argv"].index("--resume") + 1] == record.run_id
    assert "Which database? -> pg" in second["prompt"]
    assert "[x] T001" in tasks_text(project)
    with pytest.raises(NotFound):
        await mgr.answer("nope", {"a": "b"})


async def test_missing_binary_fails_at_start(project: Path) -> None:
    mgr = RunManager(publish=lambda *_: None, settings=RunnerSettings(binary="/no/such/claude"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(mgr.run)
        with pytest.raises(AgentUnavailable):
            await mgr.start(spec(project))
        tg.cancel_scope.cancel()
    assert not (project / ".specflow" / "workflows").exists()


async def _orphan_run(project: Path, steps_script: Script, behaviour: dict[str, Any]) -> RunRecord:
    """Start a run with a manager that then dies (its task group cancelled), leaving the child running."""
    steps_script([behaviour])
    mgr = RunManager(publish=lambda *_: None, settings=RunnerSettings(binary=FAKE_CLAUDE, tick_s=0.05))
    async with anyio.create_task_group() as tg:
        tg.start_soon(mgr.run)
        record = await mgr.start(spec(project))
        tg.cancel_scope.cancel()
    return record


async def test_restart_readopts_a_live_run_without_spawning_twice(project: Path, script: Script) -> None:
    record = await _orphan_run(project, script, {"do": "complete", "check": "auto", "delay": 0.5})
    argv_log = Path(os.environ["FAKE_CLAUDE_ARGV_LOG"])
    events: list[str] = []
    mgr = RunManager(
        publish=lambda t, _p, _d: events.append(t), settings=RunnerSettings(binary=FAKE_CLAUDE, tick_s=0.05)
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(mgr.run)
        await mgr.reconcile([project])
        assert "run.adopted" in events
        done = await mgr.wait_final(record.run_id)
        tg.cancel_scope.cancel()
    assert done.status is RunStatus.COMPLETED
    assert len(argv_log.read_text().splitlines()) == 1  # never run twice
    assert "[x] T002" in tasks_text(project)


async def test_restart_finalises_dead_runs_from_output(project: Path, script: Script) -> None:
    record = await _orphan_run(project, script, {"do": "hang"})
    identity = RunDir(project, record.run_id).load_identity()
    assert identity is not None
    os.killpg(identity.pgid, signal.SIGKILL)
    psutil.Process(identity.pid).wait(5) if psutil.pid_exists(identity.pid) else None
    mgr = RunManager(publish=lambda *_: None, settings=RunnerSettings(binary=FAKE_CLAUDE))
    async with anyio.create_task_group() as tg:
        tg.start_soon(mgr.run)
        await mgr.reconcile([project])
        tg.cancel_scope.cancel()
    assert mgr.get(record.run_id).status is RunStatus.INTERRUPTED


async def test_reused_pid_is_not_adopted(project: Path, script: Script) -> None:
    """process.pid names a live pid (ours) with another start time: that process is not the run."""
    record = await _orphan_run(project, script, {"do": "complete", "check": ["T001"]})
    run_dir = RunDir(project, record.run_id)
    real = run_dir.load_identity()
    assert real is not None
    while psutil.pid_exists(real.pid) and psutil.Process(real.pid).status() != psutil.STATUS_ZOMBIE:
        await anyio.sleep(0.05)
    me = psutil.Process()
    run_dir.save_identity(
        ProcessIdentity(pid=me.pid, create_time=me.create_time() - 100, boot_time=psutil.boot_time(), pgid=me.pid)
    )
    mgr = RunManager(publish=lambda *_: None, settings=RunnerSettings(binary=FAKE_CLAUDE))
    async with anyio.create_task_group() as tg:
        tg.start_soon(mgr.run)
        await mgr.reconcile([project])
        tg.cancel_scope.cancel()
    finished = mgr.get(record.run_id)
    assert finished.status is RunStatus.COMPLETED  # decided by the result line in output.jsonl
    assert os.getpid() == me.pid  # and nobody signalled us


async def test_log_is_readable(project: Path, manager: Mgr, script: Script) -> None:
    mgr, _ = manager
    script([{"do": "complete", "check": ["T001"]}])
    record = await mgr.start(spec(project))
    await mgr.wait_final(record.run_id)
    chunk = mgr.log(record.run_id)
    kinds = [e["kind"] for e in chunk["entries"]]
    assert kinds[0] == "init" and "tool" in kinds and kinds[-1] == "result"
    assert mgr.log(record.run_id, since=chunk["next"])["entries"] == []
