"""OutcomeWriter: what becomes of a run's outcome — written into its record and metadata.json, its waiters woken,
the others told — and the run events (run.started, run.progress, run.warning, run.finished, question.asked),
sent with the run's project as ``emit(project, payload)``. Used by the run manager, its supervisors and the
restart recovery alike, so an outcome is written one way whoever found it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from specflowd.event_catalogue import EventPayload, QuestionAsked, RunFinished, RunProgress, RunStarted, RunWarning
from specflowd.runner import process
from specflowd.runner.known_runs import KnownRuns
from specflowd.runner.outcome import Outcome
from specflowd.runner.records import RunnerSettings, RunRecord
from specflowd.runner.sandbox import run_temp_dir
from specflowd.vocabulary import RunStatus

__all__ = ["Emit", "OutcomeWriter", "now", "run_temp_path"]

log = logging.getLogger(__name__)

Emit = Callable[[str | None, EventPayload], object]  # EventBus.emit; the return value is ignored


def now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def run_temp_path(run_id: str) -> Path:
    """The run's private temp dir (its sandbox's ``TMPDIR``, docs/sandbox.md)."""
    return run_temp_dir(Path(tempfile.gettempdir()), os.geteuid(), run_id)


class OutcomeWriter:
    def __init__(self, known: KnownRuns, emit: Emit, settings: RunnerSettings) -> None:
        self.known = known
        self._emit = emit
        self.settings = settings

    def started(self, record: RunRecord, pid: int) -> None:
        """run.started: an invocation's agent is running (the first or a continuation)."""
        self.emit(
            record,
            RunStarted(
                run_id=record.run_id,
                orchestration=record.orchestration_id,
                step=record.step,
                batch=record.batch,
                attempt=record.attempt,
                continuation=record.continuations,
                pid=pid,
                started_at=_iso(record.started_at),
                budget_usd=record.budget_usd,
            ),
        )

    def progress(self, r: RunRecord) -> None:
        """run.progress: the live figures of a run."""
        self.emit(
            r,
            RunProgress(
                run_id=r.run_id,
                orchestration=r.orchestration_id,
                step=r.step,
                batch=r.batch,
                started_at=_iso(r.started_at),
                budget_usd=r.budget_usd,  # the run's cap: a live view shows spend against it
                cost_usd=r.cost_usd,
                cost_is_estimate=r.cost_is_estimate,
                turns=r.turns,
                tool_calls=r.tool_calls,
                last_tool=r.last_tool,
                last_text=r.last_text,
                model=r.model,
            ),
        )

    def warning(self, record: RunRecord, message: str) -> None:
        self.emit(record, RunWarning(run_id=record.run_id, orchestration=record.orchestration_id, message=message))

    def apply(self, record: RunRecord, outcome: Outcome, exit_code: int | None) -> None:
        """Write a run's outcome into its record (and metadata.json), wake its waiters, tell the others."""
        self._note(record, outcome, exit_code)
        self.known.rundir(record.run_id).save(record)
        self._settled(record, outcome)

    async def apply_async(self, record: RunRecord, outcome: Outcome, exit_code: int | None) -> None:
        """``apply`` with metadata.json written in a worker thread. The outcome is shown (the record changed,
        its waiters woken, its event sent) only once it is durable: nothing acts on an outcome a crash loses."""
        updated = record.model_copy(deep=True)
        self._note(updated, outcome, exit_code)
        await self.known.rundir(record.run_id).save_async(updated)
        for name in type(record).model_fields:  # no one else changes a run whose process has ended
            setattr(record, name, getattr(updated, name))
        self._settled(record, outcome)

    def _note(self, record: RunRecord, outcome: Outcome, exit_code: int | None) -> None:
        rundir = self.known.rundir(record.run_id)
        record.status = outcome.status
        record.outcome_detail = outcome.detail
        record.error = outcome.error
        record.questions = outcome.questions
        record.rate_limit_reset = outcome.rate_limit_reset
        record.exit_code = exit_code
        if outcome.status != RunStatus.COMPLETED:
            record.stderr_tail = process.read_tail(rundir.stderr, self.settings.stderr_tail_chars) or None
            if record.error:
                record.error = record.error[: self.settings.stderr_tail_chars]
        if record.final:
            record.finished_at = now()
            # the run's scratch space goes with it; a waiting run keeps it for its continuation
            shutil.rmtree(run_temp_path(record.run_id), ignore_errors=True)

    def _settled(self, record: RunRecord, outcome: Outcome) -> None:
        self.known.settle(record.run_id)
        if outcome.status == RunStatus.WAITING_INPUT:
            self.emit(
                record,
                QuestionAsked(
                    run_id=record.run_id,
                    orchestration=record.orchestration_id,
                    step=record.step,
                    message=outcome.detail,
                    questions=list(record.questions),
                ),
            )
        else:
            self.emit(
                record,
                RunFinished(
                    run_id=record.run_id,
                    orchestration=record.orchestration_id,
                    step=record.step,
                    batch=record.batch,
                    attempt=record.attempt,
                    status=record.status,
                    detail=record.outcome_detail,
                    error=record.error,
                    cost_usd=record.cost_usd,
                    rate_limit_reset=record.rate_limit_reset,
                    loop=record.loop,
                ),
            )

    def emit(self, record: RunRecord, payload: EventPayload) -> None:
        """Send an event of the run; a subscriber's failure never reaches the caller."""
        try:
            self._emit(str(record.project_root), payload)
        except Exception:  # a subscriber's failure must not break supervision
            log.exception("emitting %s failed", payload.event_type())
