"""The ``Adviser`` contract (engine/ports.py) on ``HelperAdviser`` (engine/consult.py) without a key, the adviser
the in-process engine tests use (tests/engine/fakes.py): there is no fake of it (a test that needs another
answer passes its own), so these hold what the orchestrator relies on from the deterministic fallback, and a
fake adviser joins the ``adviser`` fixture's params the day there is one.

Each advice carries an action to carry out and its decision-log label: a heal is carried out as a heal of the
same run and tasks (``heal_diagnosis``); the restart of a stale run is reviewed (``stale_review``, naming the
run; the fallback restarts it); the retry of a failed step stays a retry of that step (``step_review``); without a key the source is
``fallback`` and nothing is spent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from specflowd.domain.actions import Heal, HealContext, SpawnBatch, SpawnStep
from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.domain.evidence import RunEvidence
from specflowd.domain.record import OrchestrationRecord, new_record
from specflowd.engine.consult import HelperAdviser
from specflowd.engine.ports import Adviser
from specflowd.vocabulary import RunStatus

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
RUN = "5f1c0a52-6a1e-4b43-9a57-0c0e5b7f4d01"
NEXT = "5f1c0a52-6a1e-4b43-9a57-0c0e5b7f4d02"


@pytest.fixture(params=["real"])
def adviser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Adviser:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)  # no key: the deterministic fallback
    return HelperAdviser()


def record(tmp_path: Path) -> OrchestrationRecord:
    return new_record(id="orch-contract1", project_path=str(tmp_path), config=OrchestrationConfig(), now=NOW)


def ended(status: RunStatus, step: str = "implement") -> RunEvidence:
    return RunEvidence(run_id=RUN, step=step, status=status, final=True, error="it went wrong", cost_usd=0.2)


async def test_a_heal_is_carried_out_as_a_heal_of_the_same_tasks(adviser: Adviser, tmp_path: Path) -> None:
    heal = Heal(run_id=NEXT, batch_index=0, name="Setup", remaining_ids=["T002"], done_ids=["T001"], attempt=1,
                budget_usd=1.0, context=HealContext(error="tests failed"), reason="heal the batch")  # fmt: skip
    advice = await adviser.advise(record(tmp_path), heal, ended(RunStatus.FAILED))
    assert isinstance(advice.action, Heal)
    assert (advice.action.run_id, advice.action.remaining_ids, advice.action.attempt) == (NEXT, ["T002"], 1)
    assert (advice.label, advice.source, advice.cost_usd) == ("heal_diagnosis", "fallback", 0.0)
    assert advice.reason


async def test_the_restart_of_a_stale_run_is_reviewed(adviser: Adviser, tmp_path: Path) -> None:
    again = SpawnBatch(run_id=NEXT, batch_index=0, name="Setup", task_ids=["T001"], attempt=2, budget_usd=1.0)
    advice = await adviser.advise(record(tmp_path), again, ended(RunStatus.STALE))
    assert (advice.label, advice.source, advice.cost_usd) == ("stale_review", "fallback", 0.0)
    assert advice.extra == {"verdict": "restart", "run_id": RUN}  # without a key: restart, as decide() said
    assert advice.action == again


async def test_the_retry_of_a_failed_step_stays_a_retry_of_that_step(adviser: Adviser, tmp_path: Path) -> None:
    retry = SpawnStep(run_id=NEXT, step=Step.ANALYZE, attempt=2, budget_usd=1.0, last_error="analyze crashed")
    advice = await adviser.advise(record(tmp_path), retry, ended(RunStatus.FAILED, "analyze"))
    assert (advice.label, advice.source, advice.cost_usd) == ("step_review", "fallback", 0.0)
    assert advice.extra == {"verdict": advice.extra["verdict"], "step": "analyze"}
    assert isinstance(advice.action, SpawnStep) and (advice.action.step, advice.action.run_id) == (Step.ANALYZE, NEXT)
