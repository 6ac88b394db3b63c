"""Integration: real child processes running tests/fake_claude/claude under a real RunManager."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil
import pytest

from specflowd.errors import AgentUnavailable, InvalidState, NotFound
from specflowd.runner.records import StopReason
from specflowd.runner.rundir import RunDir
from specflowd.vocabulary import RunStatus
from tests.runner.conftest import Harness, supervising, wait_for

pytestmark = pytest.mark.anyio


def group_members(pgid: int) -> list[int]:
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
    return members


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_completed_run_checks_off_exactly_its_task(harness: Harness) -> None:
    async with supervising(harness.manager()) as manager:
        started = await manager.start(harness.spec())
        assert started.status == RunStatus.RUNNING
        record = await manager.wait_final(started.run_id)
    assert record.status == RunStatus.COMPLETED, record
    tasks = harness.project.joinpath("tasks.md").read_text()
    assert "- [x] T001 Create" in tasks and "- [ ] T0011" in tasks and "- [ ] T002" in tasks
    assert record.cost_usd == pytest.approx(0.024) and not record.cost_is_estimate
    assert record.turns == 3 and record.tool_calls == 2 and record.last_tool == "StructuredOutput"
    assert record.model == "claude-opus-4-8[1m]" and record.exit_code == 0
    # files of the run directory
    rundir = RunDir(harness.project, record.run_id)
    on_disk = rundir.load()
    assert on_disk.status == RunStatus.COMPLETED and on_disk.output_offset == rundir.output.stat().st_size
    identity = rundir.load_identity()
    assert identity is not None and identity.pgid == identity.pid  # session leader
    assert rundir.prompt.read_text() == "/flow.implement Execute T001 only."
    # the command line the child saw
    (call,) = harness.invocations()
    assert call["argv"][call["argv"].index("--session-id") + 1] == record.run_id
    assert call["cwd"] == str(harness.project) and call["prompt"] == "/flow.implement Execute T001 only."
    assert call["is_sandbox"] is None  # acceptEdits, the default: no claim needed, none made
    argv = call["argv"]
    assert argv[argv.index("--permission-mode") + 1] == "acceptEdits" and "--settings" in argv
    assert record.sandbox is not None and record.sandbox.enabled
    assert record.sandbox.write_paths[0] == str(harness.project)
    temp_dir = Path(record.sandbox.write_paths[1]).parent  # the run's own TMPDIR: gone with the finished run
    assert temp_dir.name == record.run_id.replace("-", "")[:16] and not temp_dir.exists()
    assert harness.event_types()[0] == "run.started" and harness.event_types()[-1] == "run.finished"
    assert harness.events[-1][2]["status"] == "completed" and harness.events[-1][1] == str(harness.project)
    # readable log, incremental
    chunk = manager.log(record.run_id)
    kinds = [item.kind for item in chunk.items]
    assert kinds[0] == "system" and "tool" in kinds and kinds[-1] == "result"
    assert chunk.next_offset == rundir.output.stat().st_size
    assert manager.log(record.run_id, since=chunk.next_offset).items == []
    assert [r.run_id for r in manager.list(harness.project)] == [record.run_id]


@pytest.mark.parametrize(
    ("step", "status", "check"),
    [
        ({"action": "fail", "message": "tests crashed"}, RunStatus.FAILED,
         lambda r: r.error == "tests crashed" and "tests crashed" in (r.stderr_tail or "") and r.exit_code == 1),
        ({"action": "crash", "exit_code": 3, "stderr": "Segfault-ish"}, RunStatus.FAILED,
         lambda r: r.exit_code == 3 and "code 3" in (r.error or "") and "Segfault-ish" in (r.stderr_tail or "")),
        ({"action": "malformed"}, RunStatus.COMPLETED, lambda r: r.malformed_lines == 2),
        ({"action": "over_budget"}, RunStatus.BUDGET_EXCEEDED,
         lambda r: "Reached maximum budget" in (r.error or "") and r.stop_reason is None),
        ({"action": "rate_limit", "reset_epoch": 1764000000}, RunStatus.RATE_LIMITED,
         lambda r: r.rate_limit_reset == "2025-11-24T16:00:00+00:00" and "rate limit" in (r.error or "")),
    ],
    ids=["fail", "crash", "malformed", "cli-budget", "rate-limit"],
)
async def test_scripted_outcomes(harness: Harness, step: dict[str, object], status: RunStatus, check: object) -> None:
    harness.script_steps(step)
    async with supervising(harness.manager()) as manager:
        record = await manager.wait_final((await manager.start(harness.spec())).run_id)
    assert record.status == status, record
    assert callable(check) and check(record), record
    assert record.finished_at is not None


async def test_live_cost_over_cap_is_stopped_by_the_daemon(harness: Harness) -> None:
    # each turn ≈ $0.75 by the opus price table; the CLI never stops on its own (it hangs)
    harness.script_steps({"action": "hang", "turns": 3, "usage": {"input_tokens": 100_000, "output_tokens": 10_000}})
    async with supervising(harness.manager()) as manager:
        record = await manager.wait_final((await manager.start(harness.spec(budget_usd=1.0))).run_id)
    assert record.status == RunStatus.BUDGET_EXCEEDED
    assert record.cost_usd > 1.0 and record.cost_is_estimate and record.stop_reason == StopReason.BUDGET
    identity = RunDir(harness.project, record.run_id).load_identity()
    assert identity is not None and group_gone(identity.pgid)


async def test_silent_run_goes_stale(harness: Harness) -> None:
    harness.script_steps({"action": "hang"})
    async with supervising(harness.manager()) as manager:
        record = await manager.wait_final((await manager.start(harness.spec(stale_after_s=1.0))).run_id)
    assert record.status == RunStatus.STALE and record.stop_reason == StopReason.STALE
    identity = RunDir(harness.project, record.run_id).load_identity()
    assert identity is not None and group_gone(identity.pgid)


@pytest.mark.parametrize(
    ("ignore_sigterm", "grandchild"),
    [(False, False), (True, False), (False, True)],
    ids=["sigterm", "sigkill-after-grace", "term-ignoring-grandchild"],
)
async def test_cancel_kills_the_process_group(harness: Harness, ignore_sigterm: bool, grandchild: bool) -> None:
    harness.script_steps({"action": "hang", "ignore_sigterm": ignore_sigterm, "grandchild": grandchild})
    async with supervising(harness.manager(kill_grace_s=0.5)) as manager:
        started = await manager.start(harness.spec())
        rundir = RunDir(harness.project, started.run_id)
        # the fake says "hanging" on stderr once its signal handler and grandchild are in place
        await wait_for(lambda: "hanging" in rundir.stderr.read_text(), what="fake claude hanging")
        identity = rundir.load_identity()
        assert identity is not None
        assert len(group_members(identity.pgid)) == (2 if grandchild else 1)
        record = await manager.cancel(started.run_id)
        with pytest.raises(InvalidState):
            await manager.cancel(started.run_id)
    assert record.status == RunStatus.CANCELLED
    assert record.exit_code == (-9 if ignore_sigterm else -15)
    identity = RunDir(harness.project, record.run_id).load_identity()
    assert identity is not None
    # SIGKILL is asynchronous and the orphaned grandchild's zombie is reaped by init, not by us: wait for
    # no live member to remain
    await wait_for(lambda: group_members(identity.pgid) == [], timeout=5, what="process group emptied")
    assert grandchild or group_gone(identity.pgid)


async def test_question_answer_resume_completes(harness: Harness) -> None:
    harness.script_steps({"action": "ask"}, {"action": "complete", "message": "used SQLite"})
    async with supervising(harness.manager()) as manager:
        started = await manager.start(harness.spec())
        waiting = await manager.wait_final(started.run_id)
        assert waiting.status == RunStatus.WAITING_INPUT
        (pending,) = manager.pending_questions(harness.project)
        assert pending.run_id == started.run_id and pending.orchestration_id == "orch-1"
        assert pending.questions[0].question == "Which database should we use?"
        assert [o.label for o in pending.questions[0].options] == ["PostgreSQL", "SQLite"]
        asked = [e for e in harness.events if e[0] == "question.asked"]
        assert len(asked) == 1 and asked[0][2]["questions"][0]["header"] == "Database"
        first_size = RunDir(harness.project, started.run_id).output.stat().st_size
        assert waiting.output_offset == first_size

        resumed = await manager.answer(started.run_id, {"Which database should we use?": "SQLite"})
        assert resumed.continuations == 1
        with pytest.raises(InvalidState):
            await manager.answer(started.run_id, {"Which database should we use?": "SQLite"})
        final = await manager.wait_final(started.run_id)
        with pytest.raises(InvalidState):
            await manager.answer(started.run_id, {"x": "y"})
        with pytest.raises(NotFound):
            await manager.answer("no-such-run", {"x": "y"})
    assert final.status == RunStatus.COMPLETED and final.outcome_detail == "used SQLite"
    assert manager.pending_questions() == []
    first, second = harness.invocations()
    assert "--session-id" in first["argv"] and "--resume" not in first["argv"]
    assert second["argv"][second["argv"].index("--resume") + 1] == started.run_id
    assert "--session-id" not in second["argv"]
    assert "- Which database should we use?: SQLite" in second["prompt"]
    # one output file, offsets continue past the first invocation
    assert final.segment_offset == first_size and final.output_offset > first_size
    assert final.cost_usd == pytest.approx(waiting.cost_usd + 0.016)  # 0.008 asking + 2 turns after resuming
    assert len(manager.log(started.run_id).items) > len(manager.log(started.run_id, since=first_size).items) > 0


async def test_rate_limited_run_resumes_its_own_session(harness: Harness) -> None:
    harness.script_steps({"action": "rate_limit", "reset_epoch": 1764000000}, {"action": "complete", "tasks": ["T001"]})
    async with supervising(harness.manager()) as manager:
        started = await manager.start(harness.spec())
        limited = await manager.wait_final(started.run_id)
        assert limited.status == RunStatus.RATE_LIMITED and limited.finished_at is not None
        resumed = await manager.resume(started.run_id, "The rate limit has reset. Continue.")
        assert resumed.run_id == started.run_id and resumed.continuations == 1 and not resumed.final
        assert resumed.rate_limit_reset is None and resumed.error is None
        final = await manager.wait_final(started.run_id)
        with pytest.raises(InvalidState):  # only rate-limited or stale runs can be continued
            await manager.resume(started.run_id, "again")
    assert final.status == RunStatus.COMPLETED and final.finished_at is not None
    first, second = harness.invocations()
    assert "--session-id" in first["argv"] and "--resume" not in first["argv"]
    assert second["argv"][second["argv"].index("--resume") + 1] == started.run_id
    assert second["prompt"] == "The rate limit has reset. Continue."
    assert float(second["argv"][second["argv"].index("--max-budget-usd") + 1]) == pytest.approx(
        2.0 - limited.cost_usd
    )
    assert "[x] T001 Create" in (harness.project / "tasks.md").read_text()


async def test_a_skill_the_agent_does_not_list_is_warned_about_once(harness: Harness) -> None:
    home = harness.root / "home"
    (home / ".claude" / "commands").mkdir(parents=True)
    async with supervising(harness.manager()) as manager:
        missing = await manager.wait_final((await manager.start(harness.spec(extra_env={"HOME": str(home)}))).run_id)
        (home / ".claude" / "commands" / "flow.implement.md").write_text("Implement the tasks named: $ARGUMENTS\n")
        present = await manager.wait_final((await manager.start(harness.spec(extra_env={"HOME": str(home)}))).run_id)
    assert missing.status == RunStatus.COMPLETED  # a warning, not a failure
    (warning,) = missing.warnings
    assert "/flow.implement is not installed" in warning
    assert present.warnings == []
    warned = [e[2] for e in harness.events if e[0] == "run.warning"]
    assert [w["run_id"] for w in warned] == [missing.run_id] and warned[0]["orchestration"] == "orch-1"


async def test_missing_binary_is_agent_unavailable(harness: Harness) -> None:
    async with supervising(harness.manager(claude=str(harness.root / "no-such-claude"))) as manager:
        with pytest.raises(AgentUnavailable):
            await manager.start(harness.spec())
    assert not (harness.project / ".specflow" / "workflows").exists()
    assert harness.invocations() == []


async def test_unknown_run_is_not_found(harness: Harness) -> None:
    manager = harness.manager()
    with pytest.raises(NotFound):
        manager.get("nope")
    with pytest.raises(NotFound):
        await manager.cancel("nope")


async def test_progress_events_are_throttled(harness: Harness) -> None:
    harness.script_steps({"action": "complete", "turns": 30, "delay": 0.0})
    async with supervising(harness.manager(progress_interval_s=10.0)) as manager:
        await manager.wait_final((await manager.start(harness.spec())).run_id)
    assert harness.event_types().count("run.progress") == 1  # 30 turns, one event per 10 s
