"""progress(): elapsed time and the estimate of what is left, from the record's own timestamps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from specflowd.domain.config import Step
from specflowd.domain.progress import progress
from specflowd.domain.record import BatchRecord, BatchStatus, Completed, StepStatus
from tests.domain.builders import NOW, record

MIN = timedelta(minutes=1)


def _batches(*statuses: BatchStatus) -> list[BatchRecord]:
    out = []
    for i, status in enumerate(statuses):
        b = BatchRecord(index=i, name=f"S{i}", task_ids=[f"T{i}01", f"T{i}02"], status=status)
        if status in (BatchStatus.COMPLETED, BatchStatus.HEALED):
            b.started_at, b.finished_at = NOW + i * 4 * MIN, NOW + (i * 4 + 4) * MIN  # four minutes each
        elif status == BatchStatus.RUNNING:
            b.started_at = NOW + i * 4 * MIN
        out.append(b)
    return out


def test_no_estimate_before_any_batch_finished() -> None:
    r = record(Step.IMPLEMENT)
    r.batches = _batches(BatchStatus.RUNNING, BatchStatus.PENDING)
    p = progress(r, NOW + 2 * MIN, done_ids=["T001"])
    assert p.remaining_s is None and "no batch has finished" in p.basis
    assert p.elapsed_s == 120 and (p.tasks_done, p.tasks_total) == (1, 4) and (p.batches_done, p.batches_total) == (0, 2)


def test_estimate_from_finished_batches_counts_the_running_one_partly_and_the_steps_after() -> None:
    r = record(Step.IMPLEMENT)
    r.batches = _batches(BatchStatus.COMPLETED, BatchStatus.HEALED, BatchStatus.RUNNING, BatchStatus.PENDING)
    now = NOW + 9 * MIN  # the running batch (index 2) started at minute 8
    p = progress(r, now, done_ids=["T001", "T002", "T101", "T102"])
    # batch 2: 4 - 1 = 3 min, batch 3: 4 min, verify + merge: 4 min each (a batch's mean, no step history)
    assert p.remaining_s == pytest.approx((3 + 4 + 4 + 4) * 60)
    assert "2 batch(es) took ~240s each" in p.basis
    assert (p.batches_done, p.tasks_done, p.tasks_total) == (2, 4, 8)


def test_step_history_prices_verify_and_merge() -> None:
    r = record(Step.VERIFY)
    r.batches = _batches(BatchStatus.COMPLETED)
    analyze = r.step_record(Step.ANALYZE).model_copy(
        update={"status": StepStatus.COMPLETED, "run_ids": ["a"], "started_at": NOW, "finished_at": NOW + MIN}
    )
    r.steps[Step.ANALYZE] = analyze
    p = progress(r, NOW + 10 * MIN, done_ids=["T001", "T002"])
    assert p.remaining_s == pytest.approx(2 * 60)  # verify and merge at one minute each
    assert "steps ~60s" in p.basis


def test_a_finished_orchestration_has_nothing_left_and_stops_the_clock() -> None:
    r = record(Step.MERGE)
    r.state = Completed()
    r.updated_at = NOW + 30 * MIN
    p = progress(r, NOW + 300 * MIN, done_ids=[])
    assert p.remaining_s == 0 and p.elapsed_s == 30 * 60 and "completed" in p.basis
