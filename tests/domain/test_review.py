"""The Claude adviser's verdicts mapped onto actions: never more persistent than decide() itself."""

from __future__ import annotations

import pytest

from specflowd.domain.actions import Advance, Heal, HealContext, NeedsAttention, ResumeRun, SpawnBatch, SpawnStep
from specflowd.domain.config import Step
from specflowd.domain.record import AttentionKind
from specflowd.domain.review import review_failed_step, review_stale_run

RETRY_ANALYZE = SpawnStep(run_id="r2", step=Step.ANALYZE, attempt=2, budget_usd=5, last_error="analyze: boom")
RETRY_VERIFY = SpawnStep(run_id="r2", step=Step.VERIFY, attempt=2, budget_usd=5, last_error="verify: boom")
NEW_BATCH = SpawnBatch(run_id="r2", batch_index=3, name="S", task_ids=["T1"], attempt=2, budget_usd=5)
HEAL = Heal(run_id="r2", batch_index=3, name="S", remaining_ids=["T1"], done_ids=[], attempt=1, budget_usd=2, context=HealContext())


def test_retry_keeps_decides_action() -> None:
    assert review_failed_step(RETRY_VERIFY, "retry", "flaky") is RETRY_VERIFY


def test_skip_is_taken_for_analyze_only() -> None:
    skipped = review_failed_step(RETRY_ANALYZE, "skip", "optional")
    assert isinstance(skipped, Advance) and skipped.skipped and skipped.to_step == Step.IMPLEMENT
    held = review_failed_step(RETRY_VERIFY, "skip", "not needed")
    assert isinstance(held, NeedsAttention) and held.attention_kind == AttentionKind.STEP_FAILED
    assert held.step == Step.VERIFY and "advised skip" in held.reason


@pytest.mark.parametrize("verdict", ["abort", "needs_attention"])
def test_abort_or_attention_stops_for_the_user_with_every_option(verdict: str) -> None:
    held = review_failed_step(RETRY_VERIFY, verdict, "broken build")
    assert isinstance(held, NeedsAttention) and {o.value for o in held.options} == {"retry", "skip", "abort"}
    assert held.context["helper_verdict"] == verdict and "broken build" in held.reason


def test_stale_continue_resumes_the_same_session_once() -> None:
    resumed = review_stale_run(HEAL, "r1", continuations=0, verdict="continue", reason="long build")
    assert isinstance(resumed, ResumeRun) and resumed.run_id == "r1" and resumed.cause == "stale"
    assert review_stale_run(HEAL, "r1", continuations=1, verdict="continue", reason="again") is HEAL


def test_stale_restart_keeps_the_action_and_abort_stops_on_the_batch() -> None:
    assert review_stale_run(NEW_BATCH, "r1", 0, "restart", "stuck") is NEW_BATCH
    held = review_stale_run(NEW_BATCH, "r1", 0, "abort", "hopeless")
    assert isinstance(held, NeedsAttention) and held.attention_kind == AttentionKind.STALE_RUN
    assert held.batch_index == 3 and held.step == Step.IMPLEMENT
