"""How far an orchestration is and how long it may still take (pure; ``now`` and the done ids are given).

The estimate is deliberately plain: the mean duration of the batches that finished, times the batches still
to run (the running one counts only its expected rest), plus verify and merge at the mean duration of the
step runs that finished (or of a batch when none has). Before any batch has finished there is no basis and
the estimate is ``None`` — the client says "estimating…" rather than invent a number.

Given the forecast's ``history`` (the daemon always gives it), the estimate is the forecast's instead
(domain/forecast.py, the estimator the preview uses): the units still to run, forecast from the finished
orchestrations and from this one's own finished units (as this project's), the running unit counting only
what its median has left. It then always has a basis (at worst the stated prior) and a p90.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from pydantic import BaseModel, Field

from specflowd.domain.config import STEP_ORDER, Step
from specflowd.domain.forecast import Sample, Unit, forecast_phase
from specflowd.domain.forecast_history import samples_of
from specflowd.domain.record import (
    SETTLED_BATCH_STATUSES,
    TERMINAL_STATUSES,
    BatchStatus,
    OrchestrationRecord,
    StepStatus,
)

__all__ = ["Progress", "progress"]

_FINISHED_BATCH = (BatchStatus.COMPLETED, BatchStatus.HEALED)


class Progress(BaseModel):
    elapsed_s: float = Field(ge=0)
    remaining_s: float | None = Field(description="estimated seconds left; None = no basis yet")
    remaining_p90_s: float | None = Field(None, description="the forecast's p90 of the seconds left")
    basis: str = Field(description="what the estimate rests on, for the user")
    batches_done: int
    batches_total: int
    tasks_done: int = Field(description="scheduled task ids checked in tasks.md")
    tasks_total: int = Field(description="task ids in the orchestration's batches")


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def progress(
    record: OrchestrationRecord,
    now: datetime,
    done_ids: Collection[str],
    history: list[Sample] | None = None,
    open_tasks: int = 0,
) -> Progress:
    """``open_tasks``: the open task ids in tasks.md, which implement will run once it plans its batches (the
    forecast counts them as one unit of that many tasks until then)."""
    final = record.status in TERMINAL_STATUSES
    elapsed = _seconds(record.created_at, record.updated_at if final else now) or 0.0
    batches = record.batches
    scheduled = [t for b in batches for t in b.task_ids]
    done = set(done_ids)
    base = {
        "elapsed_s": round(elapsed, 1),
        "batches_done": sum(1 for b in batches if b.status in SETTLED_BATCH_STATUSES),
        "batches_total": len(batches),
        "tasks_done": sum(1 for t in scheduled if t in done),
        "tasks_total": len(scheduled),
    }
    if final:
        return Progress(remaining_s=0.0, basis=f"orchestration {record.status.value}", **base)
    if history is not None:
        return _forecast_progress(record, now, history, base, open_tasks)

    batch_times = [d for b in batches if b.status in _FINISHED_BATCH if (d := _seconds(b.started_at, b.finished_at))]
    per_batch = _mean(batch_times)
    step_times = [
        d
        for s in (Step.DESIGN, Step.ANALYZE, Step.VERIFY, Step.MERGE)
        if (rec := record.step_record(s)).status == StepStatus.COMPLETED and rec.run_ids
        if (d := _seconds(rec.started_at, rec.finished_at))
    ]
    per_step = _mean(step_times) or per_batch
    if per_batch is None and record.step in (Step.DESIGN, Step.ANALYZE, Step.IMPLEMENT):
        return Progress(remaining_s=None, basis="no batch has finished yet", **base)
    if per_step is None:
        return Progress(remaining_s=None, basis="no run has finished yet", **base)

    remaining = 0.0
    for b in batches:
        if b.status in SETTLED_BATCH_STATUSES or per_batch is None:
            continue
        spent = _seconds(b.started_at, now) if b.status == BatchStatus.RUNNING else 0.0
        remaining += max(0.0, per_batch - (spent or 0.0))
    first_later = max(STEP_ORDER.index(Step.VERIFY), STEP_ORDER.index(record.step))
    for s in STEP_ORDER[first_later:]:
        rec = record.step_record(s)
        if rec.status in (StepStatus.COMPLETED, StepStatus.SKIPPED):
            continue
        spent = _seconds(rec.started_at, now) if rec.status == StepStatus.RUNNING else 0.0
        remaining += max(0.0, per_step - (spent or 0.0))
    parts = []
    if batch_times:
        parts.append(f"{len(batch_times)} batch(es) took ~{per_batch:.0f}s each")
    if step_times:
        parts.append(f"steps ~{_mean(step_times):.0f}s")
    return Progress(remaining_s=round(remaining, 1), basis="; ".join(parts), **base)


def _remaining_units(record: OrchestrationRecord, now: datetime, open_tasks: int) -> tuple[list[Unit], float]:
    """The units still to run, in order, and the seconds the running one has already spent."""
    units: list[Unit] = []
    spent = 0.0
    current = STEP_ORDER.index(record.step)
    for s in STEP_ORDER[current:]:
        if s is Step.IMPLEMENT and not record.batches_planned:
            if open_tasks:  # per-task scaling makes one unit of N tasks what N tasks in batches are expected to take
                units.append(Unit(Step.IMPLEMENT, open_tasks, None, "implement"))
            continue
        if s is Step.IMPLEMENT:
            for b in record.batches:
                if b.status in SETTLED_BATCH_STATUSES:
                    continue
                if b.status == BatchStatus.RUNNING:
                    spent = _seconds(b.started_at, now) or 0.0
                units.append(Unit(Step.IMPLEMENT, len(b.task_ids), b.index, f"batch {b.index + 1}"))
            continue
        rec = record.step_record(s)
        if rec.status in (StepStatus.COMPLETED, StepStatus.SKIPPED):
            continue
        if rec.status == StepStatus.RUNNING:
            spent = _seconds(rec.started_at, now) or 0.0
        units.append(Unit(s, 0, None, s.value))
    return units, spent


def _forecast_progress(
    record: OrchestrationRecord, now: datetime, history: list[Sample], base: dict[str, int | float], open_tasks: int
) -> Progress:
    own = samples_of(record)
    pool = [s for s in history if s.orchestration != record.id] + own
    units, spent = _remaining_units(record, now, open_tasks)
    models = dict(record.config.models)
    phase = forecast_phase(units, pool, record.config.budget, project=record.project_path, models=models, draws=400)
    remaining = max(0.0, phase.duration_s.median - spent)
    p90 = max(0.0, phase.duration_s.p90 - spent)
    basis = f"forecast from {phase.basis}" + (f"; {len(own)} unit(s) of this run done" if own else "")
    return Progress(remaining_s=round(remaining, 1), remaining_p90_s=round(p90, 1), basis=basis, **base)
