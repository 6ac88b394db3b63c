"""The Claude Helper in the engine's loop (uses b and c), in-process: the real adviser talking to a scripted
Messages API on 127.0.0.1 (tests/adviser/fake_api.py), and without a key (the deterministic fallback, logged
as such). The real daemon's wiring of the same is tests/engine/test_helper_e2e.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from specflowctl.demo import create_demo_project
from specflowd.domain.actions import Action
from specflowd.domain.evidence import RunEvidence
from specflowd.domain.record import OrchestrationRecord
from specflowd.engine.ports import Advice
from specflowd.vocabulary import RunStatus
from tests.adviser.fake_api import FakeMessagesApi, submit
from tests.engine.fakes import FakeRuns, Script, complete, ends, engine, fail

pytestmark = pytest.mark.anyio

FIRST_SECTION = ["T001", "T002", "T003", "T004"]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMessagesApi]:
    with FakeMessagesApi() as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        yield server


def entries(log: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [e for e in log if e["action"] == action]


async def test_the_helper_advises_skipping_a_failed_analyze(tmp_path: Path, api: FakeMessagesApi) -> None:
    api.script(submit({"action": "skip", "reason": "the analysis only reports; implementation does not need it"}))
    root = create_demo_project(tmp_path / "demo")
    async with engine(root, runs=FakeRuns(Script(fail("analyze crashed")))) as h:
        await h.start()
        record = await h.until(lambda: (r := h.record()).step.value == "implement" and r, "implement after the skip")
        await h.orch.cancel(h.orch_id)
    assert record.steps[record.step.ANALYZE].status.value == "skipped" and record.steps[record.step.ANALYZE].attempts == 1
    (review,) = entries(h.log(), "step_review")
    assert (review["source"], review["verdict"], review["step"]) == ("helper", "skip", "analyze")
    assert isinstance(review["cost_usd"], float) and review["cost_usd"] > 0
    assert record.totals.helper_usd == pytest.approx(review["cost_usd"])
    asked = api.requests[0].body["messages"][0]["content"][0]["text"]
    assert "'analyze'" in asked and "analyze crashed" in asked


async def test_without_a_key_a_failed_step_is_retried_and_the_log_says_fallback(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    async with engine(root, runs=FakeRuns(Script(fail("first"), fail("second")))) as h:
        await h.start()
        record = await h.status("needs_attention")
    assert record.attention is not None and record.attention.kind.value == "step_attempts"
    assert record.steps[record.step.ANALYZE].attempts == 2
    (review,) = entries(h.log(), "step_review")  # before attempt 2; none once attempts are used up
    assert (review["source"], review["verdict"]) == ("fallback", "retry")
    assert "no helper configured" in str(review["reason"]) and review["cost_usd"] == 0


async def test_a_stale_batch_continues_its_session_when_the_helper_says_so(tmp_path: Path, api: FakeMessagesApi) -> None:
    api.script(submit({"action": "continue", "reason": "it was compiling; give it more time"}))
    root = create_demo_project(tmp_path / "demo")
    runs = FakeRuns(Script(ends(RunStatus.STALE, error="no output for 600s"), complete(FIRST_SECTION)))
    async with engine(root, runs=runs) as h:
        await h.start(skip_analyze=True)
        record = await h.until(lambda: (r := h.record()).batches and r.batches[0].status.value == "completed" and r,
                               "batch 1 done")  # fmt: skip
        await h.orch.cancel(h.orch_id)
    batch = record.batches[0]
    assert len(batch.run_ids) == 1 and batch.heal_attempts == 0  # continued, not healed or restarted
    (review,) = entries(h.log(), "stale_review")
    assert (review["source"], review["verdict"]) == ("helper", "continue")
    (resumed,) = entries(h.log(), "resume_run")
    assert resumed["run_id"] == batch.run_ids[0] and resumed["detail"]["cause"] == "stale"
    ((run_id, prompt, _),) = runs.resumes
    assert run_id == batch.run_ids[0] and "without output" in prompt


class ThinkingForever:
    """An adviser that never answers (the helper thinking far longer than any RPC timeout)."""

    def __init__(self) -> None:
        self.asked = anyio.Event()

    async def advise(self, record: OrchestrationRecord, action: Action, run: RunEvidence | None) -> Advice:
        self.asked.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def test_cancel_answers_while_the_helper_is_still_thinking(tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    adviser = ThinkingForever()
    async with engine(root, runs=FakeRuns(Script(fail("tests failed"))), adviser=adviser) as h:
        await h.start(skip_analyze=True)
        await adviser.asked.wait()  # the heal's diagnosis is being asked for
        with anyio.fail_after(5):  # answered at once: the helper's call does not hold the orchestration's lock
            cancelled = await h.orch.cancel(h.orch_id)
        assert cancelled.status.value == "cancelled" and h.record().status.value == "cancelled"
    assert [r.step for r in h.runs.started()] == ["implement"]  # no heal
