"""The samples a finished orchestration gives the forecast (pure; docs/forecast.md#samples).

A batch gives one sample once it is completed or healed: its task ids, what its runs cost together (heals
included: the ledger's per-batch total) and its wall time from its first run's start to the last id checked
(rate-limit waits and heals included: that is what the user waits). A design, analyze, verify or merge step
gives one once it completed with a run of its own, from the step's first start to its finish. Failed,
skipped and unfinished units give none: they have no honest duration.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from specflowd.domain.config import Step
from specflowd.domain.forecast import Sample
from specflowd.domain.record import BatchStatus, OrchestrationRecord, StepStatus

__all__ = ["SampleCache", "samples_of"]

_FINISHED = (BatchStatus.COMPLETED, BatchStatus.HEALED)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def samples_of(record: OrchestrationRecord) -> list[Sample]:
    models = record.config.models
    out: list[Sample] = []
    for step in (Step.DESIGN, Step.ANALYZE, Step.VERIFY, Step.MERGE):
        rec = record.step_record(step)
        seconds = _seconds(rec.started_at, rec.finished_at)
        if rec.status is not StepStatus.COMPLETED or not rec.run_ids or seconds is None:
            continue
        cost = record.totals.per_step.get(step, 0.0)
        out.append(Sample(record.project_path, record.id, step, 0, cost, seconds, models.get(step)))
    for batch in record.batches:
        seconds = _seconds(batch.started_at, batch.finished_at)
        if batch.status not in _FINISHED or not batch.run_ids or seconds is None:
            continue
        model = models.get(Step.IMPLEMENT)
        out.append(
            Sample(record.project_path, record.id, Step.IMPLEMENT, len(batch.task_ids), batch.cost_usd, seconds, model)
        )
    return out


class SampleCache:
    """Samples of finished orchestrations by id, each record read once (a finished record no longer changes)."""

    def __init__(self) -> None:
        self._by_id: dict[str, list[Sample]] = {}

    def missing(self, ids: Iterable[str]) -> list[str]:
        return [i for i in ids if i not in self._by_id]

    def add(self, orch_id: str, record: OrchestrationRecord | None) -> None:
        """Keep a finished record's samples; None: it cannot be read, and gives none (not read again)."""
        self._by_id[orch_id] = samples_of(record) if record is not None else []

    def samples(self, ids: Iterable[str]) -> list[Sample]:
        return [s for i in ids for s in self._by_id.get(i, ())]
