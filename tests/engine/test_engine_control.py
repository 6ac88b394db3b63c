"""Stops and waits through the real engine in-process, on a fake clock: budgets, pause and resume (after the run,
``--now``, between batches), rate-limit waits until the reset, a session that cannot be continued, questions and
answers, a run's warning, a queued start (a scheduler in front of the runner)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from specflowd.domain.record import RecoveryOption
from specflowd.event_catalogue import Decision, RunWarning, StatusChanged
from specflowd.vocabulary import Question, QuestionOption, RunStatus
from tests.engine.fakes import (
    AgentCall,
    FakeRuns,
    Ran,
    Script,
    ask,
    complete,
    ends,
    engine,
    hang,
    play_skill,
)

pytestmark = pytest.mark.anyio

FIRST_SECTION = ["T001", "T002", "T003", "T004"]


def demo(tmp_path: Path) -> Path:
    return create_demo_project(tmp_path / "demo")


def done_count(root: Path) -> int:
    return (root / "specs" / DEMO_FEATURE / "tasks.md").read_text().count("- [x] T")


# -- budgets ------------------------------------------------------------------------------------------------------


async def test_a_spent_total_stops_and_resume_with_a_raised_budget_goes_on(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root, runs=FakeRuns(Script(complete(FIRST_SECTION, cost_usd=0.012)))) as h:
        await h.start(skip_analyze=True, auto_merge=True, budget={"total": 0.01})
        stopped = await h.status("needs_attention")
        assert stopped.attention is not None and stopped.attention.kind.value == "budget"
        assert set(stopped.attention.options) == {RecoveryOption.RETRY, RecoveryOption.ABORT}
        assert stopped.totals.spent_usd < 0.02  # the cap plus at most the run that crossed it
        assert len(h.runs.started()) == 1  # no run is started past the total
        await h.orch.resume(h.orch_id, budget_total=20)
        final = await h.status()
    assert final.status.value == "completed", final.attention
    assert final.config.budget.total == 20
    assert done_count(root) == 20


async def test_a_run_over_its_cap_stops_and_retry_grants_another_attempt(tmp_path: Path) -> None:
    root = demo(tmp_path)
    over = ends(RunStatus.BUDGET_EXCEEDED, cost_usd=5.2, error="Reached maximum budget ($5)")
    async with engine(root, runs=FakeRuns(Script(over))) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        stopped = await h.status("needs_attention")
        assert stopped.attention is not None and stopped.attention.kind.value == "budget"
        assert stopped.batches[0].attempts == 1 and stopped.totals.spent_usd == pytest.approx(5.2)
        await h.orch.recover(h.orch_id, RecoveryOption.RETRY)
        final = await h.status()
    assert final.status.value == "completed", final.attention
    assert final.batches[0].attempts == 2 and final.batches[0].status.value == "completed"
    assert h.runs.requests[1].budget_usd == pytest.approx(5.0)  # a batch's cap, within what the total has left


# -- pause and resume -------------------------------------------------------------------------------------------------


async def test_pause_lands_after_the_run_in_flight_and_resume_goes_on(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root, runs=FakeRuns(Script(hang))) as h:  # batch 1 runs until the test ends it
        await h.start(skip_analyze=True, auto_merge=True)
        await h.until(lambda: h.runs.started(), "batch 1 running")
        await h.orch.pause(h.orch_id)
        assert h.record().status.value == "running" and h.record().pause_requested  # the run goes on
        first = h.runs.started()[0]
        h.runs.finish(first.run_id, complete(FIRST_SECTION)(_call(first)))
        paused = await h.status("paused")
        assert [b.status.value for b in paused.batches] == ["completed", "pending", "pending", "pending"]
        assert h.runs.cancels == [] and len(h.runs.started()) == 1
        await h.orch.resume(h.orch_id)
        final = await h.status()
    assert final.status.value == "completed", final.attention
    assert [e["action"] for e in h.log()].count("paused") == 1


def _call(run: object) -> AgentCall:
    from tests.engine.fakes import FakeRun

    assert isinstance(run, FakeRun)
    return AgentCall(run.run_id, run.root, run.step, run.prompts[-1], first_prompt=run.prompts[0])


async def test_pause_now_stops_the_run_and_resume_reruns_only_what_is_open(tmp_path: Path) -> None:
    def two_then_hang(call: AgentCall) -> None:
        from tests.engine.fakes import tick

        tick(call.root, FIRST_SECTION[:2])  # stopped mid-way: two of four ticked

    root = demo(tmp_path)
    runs = FakeRuns(Script(two_then_hang))
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        await h.until(lambda: h.runs.started() and done_count(root) == 2, "batch 1 running")
        first_run = h.runs.started()[0].run_id
        await h.orch.pause(h.orch_id, now=True)
        paused = await h.status("paused")
        assert h.runs.cancels == [first_run] and h.runs.runs[first_run].status == RunStatus.CANCELLED
        assert paused.current_run_id is None and paused.batches[0].status.value == "pending"
        assert paused.attention is None
        orch_id, clock = h.orch_id, h.clock
    assert done_count(root) < 4  # stopped before the batch finished

    async with engine(root, runs=runs, clock=clock) as h:  # a restart: the paused record is reloaded as it was
        h.orch_id = orch_id
        assert h.record().status.value == "paused"
        await h.orch.resume(orch_id)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    batch0 = record.batches[0]
    assert batch0.status.value == "completed" and len(batch0.run_ids) == 2 and batch0.run_ids[0] == first_run
    assert batch0.attempts - batch0.extra_attempts == 1  # the stopped run used no attempt
    actions = h.actions()
    assert "pause" in actions and "needs_attention" not in actions
    assert done_count(root) == 20
    # the second run of batch 1 was asked only for what was still open
    second = h.runs.runs[batch0.run_ids[1]]
    assert "T003, T004." in second.prompts[0] and "T001" not in second.prompts[0].splitlines()[0]


async def test_pause_between_batches_survives_a_restart_and_resumes_each_time(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns()
    async with engine(root, runs=runs) as h:
        await h.start(pause_between_batches=True, skip_analyze=True, auto_merge=True)
        before = await h.status("paused")
        assert before.current_run_id is None and before.batches[0].status.value == "completed"
        assert before.batches[1].status.value == "pending"
        assert [r.step for r in runs.started()] == ["implement"]  # batch 2's run was never started
        orch_id, clock, log_at_stop = h.orch_id, h.clock, h.log()

    async with engine(root, runs=runs, clock=clock) as h:
        h.orch_id = orch_id
        after = h.record()
        assert after == before  # the very same record: still paused between batches, nothing re-decided
        resumes = 0
        while (record := await h.status("paused", "completed", "needs_attention")).status.value == "paused":
            resumes += 1
            await h.orch.resume(orch_id)
            await h.until(lambda: h.record().status.value != "paused", "resumed")
    assert record.status.value == "completed", record.attention
    assert resumes == 3  # the pause carried over the restart, then one after each of batches 2 and 3
    assert [b.status.value for b in record.batches] == ["completed"] * 4
    log = h.log()
    assert log[: len(log_at_stop)] == log_at_stop  # the log is only appended to
    assert [e["detail"]["batch_index"] for e in log if e["action"] == "spawn_batch"] == [0, 1, 2, 3]


# -- rate limits ----------------------------------------------------------------------------------------------------


async def test_a_rate_limit_waits_for_the_reset_then_the_same_session_continues(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns()
    async with engine(root, runs=runs) as h:
        reset = h.clock.now() + timedelta(seconds=300)
        runs.agent = Script(ends(RunStatus.RATE_LIMITED, rate_limit_reset=reset, error="usage limit"), complete(FIRST_SECTION))
        await h.start(skip_analyze=True)
        waiting = await h.status("waiting_rate_limit")
        session = h.runs.started()[0].run_id
        assert waiting.resumable_run_id == session and waiting.rate_limit_until == reset
        (entry,) = [e for e in h.log() if e["action"] == "wait_rate_limit"]
        assert entry["status_after"] == "waiting_rate_limit" and entry["run_id"] == session
        assert datetime.fromisoformat(entry["detail"]["until"]) == reset
        # no periodic re-decision: the one deadline is the reset
        await h.until(lambda: h.clock.sleepers == [reset], "asleep until exactly the reset")
        h.project.touch()  # woken before the reset (a file changed): still waiting, not logged again
        h.clock.advance(299)
        await h.until(lambda: h.clock.sleepers == [reset], "asleep until exactly the reset")
        assert h.record().status.value == "waiting_rate_limit" and runs.resumes == []
        h.clock.advance(1)  # the reset
        record = await h.until(lambda: (r := h.record()).batches[0].status.value == "completed" and r, "batch 1 done")
    expected: list[tuple[str, object]] = [(session, pytest.approx(50 - 0.01))]
    assert [(run_id, budget) for run_id, _, budget in runs.resumes] == expected
    assert "rate limit" in runs.resumes[0][1]  # continue_prompt("rate_limit")
    assert record.batches[0].attempts == 1 and record.batches[0].run_ids == [session]
    actions = h.actions()
    assert actions.count("wait_rate_limit") == 1 and actions.count("resume_run") == 1
    assert actions.index("wait_rate_limit") < actions.index("resume_run") < actions.index("finish_batch")
    assert runs.runs[session].status == RunStatus.COMPLETED and runs.runs[session].continuations == 1


async def test_resume_ends_a_rate_limit_wait_early(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns()
    async with engine(root, runs=runs) as h:
        runs.agent = Script(ends(RunStatus.RATE_LIMITED, rate_limit_reset=h.clock.now() + timedelta(hours=5)))
        await h.start(skip_analyze=True)
        await h.status("waiting_rate_limit")
        await h.orch.resume(h.orch_id)
        await h.until(lambda: h.record().batches[0].status.value == "completed", "batch 1 done")
    assert len(runs.resumes) == 1 and h.clock.now().hour == 12  # no time passed


async def test_a_rate_limit_without_a_reset_waits_five_minutes(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns(Script(ends(RunStatus.RATE_LIMITED)))
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True)
        waiting = await h.status("waiting_rate_limit")
        assert waiting.rate_limit_until == h.clock.now() + timedelta(minutes=5)
        h.clock.advance(300)
        await h.until(lambda: runs.resumes, "resumed after five minutes")


async def test_a_rate_limit_stops_for_the_user_when_waiting_is_off(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root, runs=FakeRuns(Script(ends(RunStatus.RATE_LIMITED)))) as h:
        await h.start(skip_analyze=True, resume_after_rate_limit=False)
        stopped = await h.status("needs_attention")
    assert stopped.attention is not None and stopped.attention.kind.value == "rate_limit"


async def test_a_session_that_cannot_be_continued_is_logged_and_not_retried_in_a_loop(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns()
    async with engine(root, runs=runs) as h:
        runs.agent = Script(ends(RunStatus.RATE_LIMITED, rate_limit_reset=h.clock.now() + timedelta(minutes=10)))
        await h.start(skip_analyze=True)
        await h.status("waiting_rate_limit")
        runs.unavailable = "/gone/claude"  # the agent binary disappears while the orchestration waits
        await h.orch.resume(h.orch_id)  # end the wait early: continue the session now
        stopped = await h.status("needs_attention")
    actions = h.actions()
    assert actions.count("resume_run") == 1 and actions.count("resume_failed") == 1
    assert actions.index("resume_failed") < actions.index("needs_attention")
    assert stopped.attention is not None and "cannot start the implement run" in stopped.attention.reason
    assert stopped.attention.kind.value == "agent_unavailable"
    assert stopped.attention.options == [RecoveryOption.RETRY, RecoveryOption.ABORT]
    assert stopped.resumable_run_id is None and stopped.current_run_id is None
    batch = stopped.batches[0]
    # neither the rate limit nor the spawn the missing binary refused used an attempt up
    assert batch.attempts == 2 and batch.extra_attempts == 2


# -- questions -------------------------------------------------------------------------------------------------------

STORAGE = Question(question="Which storage?", header="storage", options=[QuestionOption(label="json"), QuestionOption(label="sqlite")])


async def test_questions_wait_for_answers_and_the_same_run_continues(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns(Script(ask(STORAGE), complete(FIRST_SECTION)))
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True)
        waiting = await h.status("waiting_input")
        session = runs.started()[0].run_id
        assert waiting.pending_questions == [STORAGE] and waiting.questions_run_id == session
        assert [e.type for e in h.events if e.type == "question.asked"] == ["question.asked"]
        await h.orch.answer(h.orch_id, {"storage": "sqlite"})
        record = await h.until(lambda: (r := h.record()).batches[0].status.value == "completed" and r, "batch 1 done")
    assert runs.runs[session].answers == [{"storage": "sqlite"}] and runs.runs[session].continuations == 1
    assert "sqlite" in runs.runs[session].prompts[1]
    assert record.batches[0].run_ids == [session] and record.pending_questions == []
    actions = h.actions()
    assert actions.index("wait_for_answers") < actions.index("answered") < actions.index("finish_batch")


async def test_an_answer_to_a_run_that_is_not_waiting_changes_nothing(tmp_path: Path) -> None:
    from specflowd.errors import InvalidState

    root = demo(tmp_path)
    async with engine(root, runs=FakeRuns(Script(hang))) as h:
        await h.start(skip_analyze=True)
        await h.until(lambda: h.record().current_run_id, "batch 1 running")
        before = h.record()
        with pytest.raises(InvalidState):
            await h.orch.answer(h.orch_id, {"x": "y"})
        assert h.record() == before and "answered" not in h.actions()


# -- warnings, cancel ---------------------------------------------------------------------------------------------------


async def test_a_runs_warning_is_logged_and_published_and_the_phase_goes_on(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns()

    def warns_then_plays(call: AgentCall) -> Ran:
        run = runs.runs[call.run_id]
        message = "the skill /flow.implement is not installed for the agent"
        assert runs.bus is not None
        runs.bus.emit(str(call.root), RunWarning(run_id=call.run_id, orchestration=run.orchestration, message=message))
        return play_skill(call)

    runs.agent = Script(warns_then_plays)
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True)
        await h.until(lambda: h.record().batches and h.record().batches[0].status.value == "completed", "batch 1")
        await h.orch.cancel(h.orch_id)
    (warning,) = [e for e in h.log() if e["action"] == "warning"]
    assert "/flow.implement is not installed" in warning["reason"] and warning["run_id"] == runs.started()[0].run_id
    assert "seq" not in warning  # a warning changes nothing in the record
    published = [e.payload for e in h.events if e.type == "orchestration.warning"]
    assert len(published) == 1 and isinstance(published[0], Decision) and published[0].run_id == warning["run_id"]


async def test_cancel_stops_the_running_run_and_is_final(tmp_path: Path) -> None:
    root = demo(tmp_path)
    async with engine(root, runs=FakeRuns(Script(hang))) as h:
        await h.start(skip_analyze=True)
        await h.until(lambda: h.runs.started(), "batch 1 running")
        cancelled = await h.orch.cancel(h.orch_id)
        assert cancelled.status.value == "cancelled" and cancelled.current_run_id is None
        assert h.runs.cancels == [h.runs.started()[0].run_id]
    statuses = [e.payload for e in h.events if isinstance(e.payload, StatusChanged)]
    assert [(s.before, s.status) for s in statuses] == [("running", "cancelled")]


# -- admission: a scheduler in front of the runner -----------------------------------------------------------------------


async def test_a_queued_start_records_nothing_until_admitted_then_starts_the_same_run(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns()
    runs.queueing = True
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True, auto_merge=True)
        await h.until(lambda: runs.queued, "the first batch queued")
        ((queued_id, _),) = runs.queued
        record = h.record()
        assert record.current_run_id is None and record.spawn_seq == 0 and runs.started() == []  # nothing applied
        assert "spawn_batch" not in h.actions() and h.skill_state.writes == []
        h.project.touch()  # woken while queued: the same decision asks for the same run again
        await h.settled()
        assert [r for r, _ in runs.queued] == [queued_id]
        runs.admit_all()
        await h.until(lambda: runs.started(), "admitted and started")
        assert runs.started()[0].run_id == queued_id
        runs.queueing = False
        final = await h.status()
    assert final.status.value == "completed", final.attention


async def test_pausing_a_queued_orchestration_withdraws_its_run(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns()
    runs.queueing = True
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True)
        await h.until(lambda: runs.queued, "queued")
        ((queued_id, _),) = runs.queued
        await h.orch.pause(h.orch_id)
        await h.status("paused")
    assert runs.withdrawn == [queued_id] and runs.queued == [] and runs.started() == []


async def test_cancelling_a_queued_orchestration_withdraws_its_run_and_starts_nothing(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns()
    runs.queueing = True
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True)
        await h.until(lambda: runs.queued, "queued")
        ((queued_id, _),) = runs.queued
        await h.orch.cancel(h.orch_id)
        await h.status("cancelled")
        runs.admit_all()  # nothing is left to admit: the withdrawn run never starts
        await h.settled()
    assert runs.withdrawn == [queued_id] and runs.started() == []


async def test_the_orchestrations_group_priority_and_run_kind_reach_the_run_port(tmp_path: Path) -> None:
    root = demo(tmp_path)
    runs = FakeRuns()
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True, auto_merge=True, group="gpu", priority=7)
        final = await h.status()
    assert final.status.value == "completed", final.attention
    kinds = [kind for _, _, _, kind in runs.asked]
    assert {(group, priority) for _, group, priority, _ in runs.asked} == {("gpu", 7)}
    assert kinds[0] == "batch" and "step" in kinds  # the batches, then verify and merge
