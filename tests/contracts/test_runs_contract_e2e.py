"""The ``RunPort`` contract (engine/ports.py): what the orchestrator relies on from agent runs, held on the fake
the in-process engine tests use (``FakeRuns``) and on the real port (``RunnerPort`` over the ``RunManager``, the
``RunScheduler`` and the fake ``claude`` as a child process: hence e2e). See runs_under_test.py.

The rules: admission (admitted at once when a slot is free; queued behind a held slot, keeping its place when
asked again; a freed slot admits it and wakes its orchestration; a withdrawn run is never admitted); a run id
is started once; a started run's evidence (running at once, then its outcome: completed with its cost, failed
with its error, waiting_input with its questions, rate_limited with its reset); answers only to a waiting run
and never empty; a continuation only of a rate-limited or stale run, within its budget; cancel stops a live
run once; verbs on an unknown run are NotFound, its evidence ``not_started``; a missing agent or project
directory refuses the start with nothing recorded; run.started / question.asked / run.finished on the event
sink.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from specflowd.engine.ports import Admitted, Queued
from specflowd.errors import AgentUnavailable, BudgetExhausted, InvalidConfig, InvalidState, NotFound, SpecflowError
from specflowd.event_catalogue import RunFinished
from specflowd.vocabulary import RunStatus
from tests.contracts.runs_under_test import FAILURE, QUESTION, RESET, Kind, RunsUnderTest, runs_under_test

pytestmark = pytest.mark.anyio

RUN = "5f1c0a52-6a1e-4b43-9a57-0c0e5b7f4d01"  # run ids are UUIDs: the agent's session id is the run's
OTHER = "5f1c0a52-6a1e-4b43-9a57-0c0e5b7f4d02"
UNKNOWN = "5f1c0a52-6a1e-4b43-9a57-0c0e5b7f4d03"
STALE_AFTER_S = 1.5

Open = Callable[[], AbstractAsyncContextManager[RunsUnderTest]]


@pytest.fixture(params=["fake", "real"])
def runs(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Open:
    kind: Kind = request.param
    return lambda: runs_under_test(kind, tmp_path, monkeypatch)


async def started(r: RunsUnderTest, run_id: str, *behaviours: str) -> None:
    r.script(*behaviours)
    await r.port.start(r.request(run_id))


# -- admission ----------------------------------------------------------------------------------------------------


async def test_a_run_is_admitted_at_once_while_a_slot_is_free(runs: Open) -> None:
    async with runs() as r:
        assert await r.port.admit(RUN, r.root, "orch-1", kind="batch") == Admitted()
        assert await r.port.admit(RUN, r.root, "orch-1", kind="batch") == Admitted()  # asked again: still so


async def test_a_queued_run_keeps_its_place_and_is_admitted_when_the_slot_frees(runs: Open) -> None:
    async with runs() as r:
        await r.hold_the_only_slot()
        queued = await r.port.admit(RUN, r.root, "orch-1")
        assert isinstance(queued, Queued) and (queued.position, queued.group, queued.reason) == (1, "default", "slot")
        assert await r.port.admit(RUN, r.root, "orch-1") == queued  # asking again keeps its place
        assert r.woken == []
        r.free_the_slot()
        assert r.woken == ["orch-1"]  # its orchestration is woken to decide again
        assert await r.port.admit(RUN, r.root, "orch-1") == Admitted()


async def test_a_withdrawn_run_is_not_admitted_when_the_slot_frees(runs: Open) -> None:
    async with runs() as r:
        await r.hold_the_only_slot()
        assert isinstance(await r.port.admit(RUN, r.root, "orch-1"), Queued)
        r.port.withdraw(RUN)
        r.port.withdraw(OTHER)  # withdrawing what is not queued is no error
        r.free_the_slot()
        assert r.woken == []


# -- starting -----------------------------------------------------------------------------------------------------


async def test_a_run_the_runner_never_heard_of_is_not_started(runs: Open) -> None:
    async with runs() as r:
        evidence = r.port.evidence(UNKNOWN)
        assert (evidence.run_id, evidence.status, evidence.final) == (UNKNOWN, RunStatus.NOT_STARTED, True)


async def test_a_started_run_is_running_then_completes_with_its_evidence_and_events(runs: Open) -> None:
    async with runs() as r:
        await started(r, RUN, "complete")
        running = r.port.evidence(RUN)
        assert running.status in (RunStatus.STARTING, RunStatus.RUNNING) and not running.final
        assert (running.step, running.batch_index, running.attempt, running.continuations) == ("implement", 1, 2, 0)
        assert await r.final(RUN) == RunStatus.COMPLETED
        done = r.port.evidence(RUN)
        assert done.error is None and done.cost_usd > 0 and done.questions == []
        await r.until(lambda: "run.finished" in r.event_types(RUN), "run.finished")
        assert r.event_types(RUN) == ["run.started", "run.finished"]
        finished = r.events[-1].payload
        assert isinstance(finished, RunFinished)
        assert (finished.orchestration, finished.status) == ("orch-contract", RunStatus.COMPLETED)


async def test_a_run_id_is_never_started_twice(runs: Open) -> None:
    async with runs() as r:
        await started(r, RUN, "hang")
        with pytest.raises(InvalidState):
            await r.port.start(r.request(RUN))  # while it runs
        await r.port.cancel(RUN)
        with pytest.raises(InvalidState):
            await r.port.start(r.request(RUN))  # after it ended
        assert r.event_types(RUN).count("run.started") == 1


async def test_a_start_without_its_agent_raises_agent_unavailable_and_records_nothing(runs: Open) -> None:
    async with runs() as r:
        r.remove_agent()
        with pytest.raises(AgentUnavailable):
            await r.port.start(r.request(RUN))
        assert r.port.evidence(RUN).status == RunStatus.NOT_STARTED
        assert r.event_types(RUN) == []


async def test_a_start_in_a_missing_project_directory_is_refused(runs: Open, tmp_path: Path) -> None:
    async with runs() as r:
        with pytest.raises(SpecflowError):
            await r.port.start(r.request(RUN, root=tmp_path / "gone"))
        assert r.port.evidence(RUN).status == RunStatus.NOT_STARTED


async def test_a_failed_run_is_final_with_its_error(runs: Open) -> None:
    async with runs() as r:
        await started(r, RUN, "fail")
        assert await r.final(RUN) == RunStatus.FAILED
        assert FAILURE in (r.port.evidence(RUN).error or "")


# -- questions ----------------------------------------------------------------------------------------------------


async def test_a_run_that_asks_waits_for_input_with_its_questions_and_an_answer_continues_it(runs: Open) -> None:
    async with runs() as r:
        await started(r, RUN, "ask", "complete")
        await r.settled(RUN, RunStatus.WAITING_INPUT)
        waiting = r.port.evidence(RUN)
        assert not waiting.final and [q.question for q in waiting.questions] == [QUESTION.question]
        assert [o.label for o in waiting.questions[0].options] == ["PostgreSQL", "SQLite"]
        assert r.event_types(RUN) == ["run.started", "question.asked"]
        await r.port.answer(RUN, {QUESTION.question: "SQLite"})
        continuing = r.port.evidence(RUN)
        assert continuing.status in (RunStatus.STARTING, RunStatus.RUNNING) and continuing.continuations == 1
        assert continuing.questions == waiting.questions  # kept until the continuation's outcome replaces them
        assert await r.final(RUN) == RunStatus.COMPLETED
        done = r.port.evidence(RUN)
        assert (done.continuations, done.questions) == (1, [])
        await r.until(lambda: "run.finished" in r.event_types(RUN), "run.finished")
        assert r.event_types(RUN) == ["run.started", "question.asked", "run.started", "run.finished"]


async def test_an_answer_without_its_agent_raises_agent_unavailable_and_the_run_still_waits(runs: Open) -> None:
    async with runs() as r:
        await started(r, RUN, "ask")
        await r.settled(RUN, RunStatus.WAITING_INPUT)
        r.remove_agent()
        with pytest.raises(AgentUnavailable):
            await r.port.answer(RUN, {QUESTION.question: "SQLite"})
        evidence = r.port.evidence(RUN)
        assert (evidence.status, evidence.continuations, len(evidence.questions)) == (RunStatus.WAITING_INPUT, 0, 1)


async def test_answers_are_refused_unless_the_run_waits_for_them(runs: Open) -> None:
    async with runs() as r:
        await started(r, RUN, "hang")
        with pytest.raises(InvalidState):
            await r.port.answer(RUN, {"q": "a"})  # running
        await r.port.cancel(RUN)
        with pytest.raises(InvalidState):
            await r.port.answer(RUN, {"q": "a"})  # ended
        assert r.port.evidence(RUN).continuations == 0


async def test_empty_answers_are_refused_and_the_run_still_waits(runs: Open) -> None:
    async with runs() as r:
        await started(r, RUN, "ask")
        await r.settled(RUN, RunStatus.WAITING_INPUT)
        with pytest.raises(InvalidConfig):
            await r.port.answer(RUN, {})
        evidence = r.port.evidence(RUN)
        assert (evidence.status, evidence.continuations) == (RunStatus.WAITING_INPUT, 0)


# -- continuing ---------------------------------------------------------------------------------------------------


async def test_a_rate_limited_run_is_final_with_its_reset_and_resumes_in_its_own_session(runs: Open) -> None:
    async with runs() as r:
        await started(r, RUN, "rate_limit", "complete")
        assert await r.final(RUN) == RunStatus.RATE_LIMITED
        assert r.port.evidence(RUN).rate_limit_reset == RESET
        await r.port.resume(RUN, "Continue where you stopped.", 1.0)
        assert not r.port.evidence(RUN).final  # its continuation runs
        assert await r.final(RUN, "the continuation to end") == RunStatus.COMPLETED
        evidence = r.port.evidence(RUN)
        assert (evidence.continuations, evidence.rate_limit_reset) == (1, None)


async def test_a_continuation_without_its_agent_raises_agent_unavailable_and_the_run_is_unchanged(
    runs: Open,
) -> None:
    async with runs() as r:
        await started(r, RUN, "rate_limit")
        assert await r.final(RUN) == RunStatus.RATE_LIMITED
        r.remove_agent()
        with pytest.raises(AgentUnavailable):
            await r.port.resume(RUN, "Continue.", 1.0)
        evidence = r.port.evidence(RUN)
        assert (evidence.status, evidence.continuations) == (RunStatus.RATE_LIMITED, 0)


async def test_a_stale_run_is_final_and_resumes_in_its_own_session(runs: Open) -> None:
    async with runs() as r:
        r.script("stale", "complete")
        # silent this long, a run is stale; its continuation (the agent started afresh) must be heard from
        # within it too, which a loaded machine's Python start-up can take a good part of a second
        await r.port.start(r.request(RUN, stale_after_s=STALE_AFTER_S))
        assert await r.final(RUN) == RunStatus.STALE
        await r.port.resume(RUN, "Continue where you stopped.", 1.0)
        assert await r.final(RUN, "the continuation to end") == RunStatus.COMPLETED
        assert r.port.evidence(RUN).continuations == 1


async def test_only_a_rate_limited_or_stale_run_is_resumed(runs: Open) -> None:
    async with runs() as r:
        await started(r, RUN, "complete")
        assert await r.final(RUN) == RunStatus.COMPLETED
        with pytest.raises(InvalidState):
            await r.port.resume(RUN, "Continue.", 1.0)
        assert r.port.evidence(RUN).continuations == 0


async def test_a_continuation_without_budget_left_is_refused(runs: Open) -> None:
    async with runs() as r:
        await started(r, RUN, "rate_limit")
        assert await r.final(RUN) == RunStatus.RATE_LIMITED
        with pytest.raises(BudgetExhausted):
            await r.port.resume(RUN, "Continue.", 0.0)  # the orchestration's total is spent
        evidence = r.port.evidence(RUN)
        assert (evidence.status, evidence.continuations) == (RunStatus.RATE_LIMITED, 0)


# -- cancelling ---------------------------------------------------------------------------------------------------


async def test_a_cancelled_run_ends_cancelled_and_cannot_be_cancelled_again(runs: Open) -> None:
    async with runs() as r:
        await started(r, RUN, "hang")
        await r.port.cancel(RUN)
        assert await r.final(RUN) == RunStatus.CANCELLED
        await r.until(lambda: "run.finished" in r.event_types(RUN), "run.finished")
        finished = r.events[-1].payload
        assert isinstance(finished, RunFinished) and finished.status == RunStatus.CANCELLED
        with pytest.raises(InvalidState):
            await r.port.cancel(RUN)


async def test_a_run_waiting_for_answers_can_be_cancelled(runs: Open) -> None:
    async with runs() as r:
        await started(r, RUN, "ask")
        await r.settled(RUN, RunStatus.WAITING_INPUT)
        await r.port.cancel(RUN)
        assert await r.final(RUN) == RunStatus.CANCELLED


async def test_verbs_on_a_run_the_runner_never_heard_of_are_not_found(runs: Open) -> None:
    async with runs() as r:
        with pytest.raises(NotFound):
            await r.port.answer(UNKNOWN, {"q": "a"})
        with pytest.raises(NotFound):
            await r.port.resume(UNKNOWN, "Continue.", 1.0)
        with pytest.raises(NotFound):
            await r.port.cancel(UNKNOWN)
