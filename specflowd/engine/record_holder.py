"""The one writer of orchestration records: every change is persisted, cached and announced here.

``RecordHolder.commit(before, after, why)`` saves the record and its decision-log line through the
``RecordJournal`` port, keeps the record in memory (what every query reads) and emits what followers see of
it (decisions, status changes, a start). ``why`` says what kind of change it is, and each kind is written one
way: a decide() action is *held* (kept in memory even when its write fails, logged with the next save that
succeeds; the loop then stops the orchestration visibly), a user verb or an engine change is not (a failed
write means it did not happen). Nothing else assigns a record or calls the journal's writes, so the order
"persist, then cache, then tell" holds for every change.

It also knows which orchestrations exist: those read (every active one) and the finished ones a project's
history index names (read only when a user asks for one, the last ``CACHED_RECORDS`` kept).
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, assert_never

from specflowd.domain import transitions
from specflowd.domain.actions import Action
from specflowd.domain.config import OrchestrationConfig
from specflowd.domain.observe import Observation
from specflowd.domain.record import TERMINAL_STATUSES, OrchestrationRecord
from specflowd.engine.ports import Advice, Clock, EventSink, FinishedSummary, RecordJournal
from specflowd.errors import NotFound, StorageError
from specflowd.event_catalogue import (
    BatchDecision,
    Decision,
    DecisionLabel,
    EventPayload,
    OrchestrationProblem,
    OrchestrationStarted,
    StatusChanged,
)

__all__ = [
    "CACHED_RECORDS",
    "Advised",
    "Changed",
    "Decided",
    "Kept",
    "Observed",
    "RecordHolder",
    "Saved",
    "Started",
    "Warned",
    "Why",
    "first_line",
]

log = logging.getLogger(__name__)

CACHED_RECORDS = 64  # finished orchestrations read on demand kept in memory, the most recently used


# -- why a record changes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """A new orchestration (``before`` is None), with what its first look at the project found."""

    config: OrchestrationConfig
    observation: Observation


@dataclass(frozen=True)
class Decided:
    """decide()'s action (or the engine's own stop), applied: held in memory even when the write fails."""

    action: Action


@dataclass(frozen=True)
class Changed:
    """A change outside decide(): a user's verb, a run that never started, a continuation that failed."""

    label: DecisionLabel
    reason: str


@dataclass(frozen=True)
class Observed:
    """What observing the project changed: a log line for each finding worth knowing, else only a save."""

    observation: Observation


@dataclass(frozen=True)
class Advised:
    """The Claude Helper's verdict and spend: held, like a decision."""

    advice: Advice


@dataclass(frozen=True)
class Saved:
    """A change worth no decision (a run's cost observed)."""


@dataclass(frozen=True)
class Warned:
    """A run's warning: logged (unnumbered) and shown; the record does not change."""

    run_id: str
    message: str


@dataclass(frozen=True)
class Kept:
    """Kept in memory only: the commit that follows writes it (with its own decision)."""


Why = Started | Decided | Changed | Observed | Advised | Saved | Warned | Kept


def first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class RecordHolder:
    def __init__(self, journal: RecordJournal, events: EventSink, clock: Clock) -> None:
        self.journal = journal
        self.events = events
        self.clock = clock
        self._records: dict[str, OrchestrationRecord] = {}  # every orchestration read (all the active ones)
        self._finished: dict[str, FinishedSummary] = {}  # finished ones known from the history index, not read
        self._cache: OrderedDict[str, OrchestrationRecord] = OrderedDict()  # of those, the last read
        self._problems: list[str] = []

    # -- what exists -------------------------------------------------------------------------------------------
    def load_project(self, root: Path) -> list[str]:
        """Read every non-final orchestration recorded in ``root`` not read yet; the finished ones its history
        index names are known without being read. Returns the ids read (to be driven)."""
        ids = self.journal.ids(root)
        finished = self.journal.finished(root, ids)
        loaded: list[str] = []
        for orch_id in ids:
            if orch_id in self._records:
                continue
            if orch_id in finished:
                self._finished[orch_id] = finished[orch_id]
                continue
            try:
                record = self.journal.load(root, orch_id)  # appends decisions a crash kept from the log
            except (OSError, ValueError) as exc:
                # left untouched for the user to inspect; reported in daemon.status and as an event
                where = self.journal.location(root, orch_id)
                problem = f"{where}: cannot load orchestration {orch_id}: {first_line(exc)}"
                if problem not in self._problems:
                    log.warning("%s", problem)
                    self._problems.append(problem)
                    self.events.emit(str(root), OrchestrationProblem(orchestration=orch_id, problem=problem))
                continue
            if record.status in TERMINAL_STATUSES:  # read once (its index was stale): known, not kept
                summary = FinishedSummary(orch_id, record.project_path, record.status, record.created_at)
                self._finished[orch_id] = summary
                continue
            self._records[orch_id] = record
            loaded.append(orch_id)
        return loaded

    def problems(self) -> list[str]:
        """Orchestration records that could not be loaded (corrupt, from a newer daemon)."""
        return list(self._problems)

    def read(self) -> Iterable[OrchestrationRecord]:
        """The records in memory: every active orchestration, and the finished ones read since."""
        return self._records.values()

    def finished(self) -> Iterable[FinishedSummary]:
        """The finished orchestrations known from history indexes (read or not)."""
        return self._finished.values()

    def ids(self) -> set[str]:
        """Every orchestration known, read or not."""
        return self._records.keys() | self._finished.keys()

    def loaded(self, orch_id: str) -> OrchestrationRecord | None:
        """The record when it was read (every active orchestration is), else None."""
        return self._records.get(orch_id)

    def in_memory(self, orch_id: str) -> OrchestrationRecord | None:
        """The record when it is in memory (never reads a file)."""
        return self._records.get(orch_id) or self._cache.get(orch_id)

    def summary(self, orch_id: str) -> FinishedSummary | None:
        """What the history index says of a finished orchestration (None when it names none)."""
        return self._finished.get(orch_id)

    def get(self, orch_id: str) -> OrchestrationRecord:
        record = self.in_memory(orch_id)
        if record is not None:
            return record
        summary = self._finished.get(orch_id)
        if summary is None:
            raise NotFound(f"no orchestration {orch_id!r}", orchestration=orch_id)
        try:
            record = self.journal.load(Path(summary.project_path), orch_id)
        except (OSError, ValueError) as exc:
            where = self.journal.location(Path(summary.project_path), orch_id)
            raise StorageError(f"{where}: cannot load orchestration {orch_id}: {first_line(exc)}") from None
        self._cache[orch_id] = record
        while len(self._cache) > CACHED_RECORDS:
            self._cache.popitem(last=False)
        return record

    def peek_all(self, wanted: list[tuple[str, Path]]) -> list[tuple[str, OrchestrationRecord | None]]:
        """Records as they are on disk, keeping nothing (safe in a worker thread); None for one unreadable."""
        out: list[tuple[str, OrchestrationRecord | None]] = []
        for orch_id, root in wanted:
            try:
                out.append((orch_id, self.journal.peek(root, orch_id)))
            except (OSError, ValueError):
                out.append((orch_id, None))  # get() reports it when a user asks for that orchestration
        return out

    def decisions(self, record: OrchestrationRecord, limit: int = 10) -> list[dict[str, Any]]:
        return self.journal.decisions(record, limit)

    # -- the one writer ------------------------------------------------------------------------------------------
    async def commit(
        self, before: OrchestrationRecord | None, after: OrchestrationRecord, why: Why
    ) -> OrchestrationRecord:
        """Persist ``after`` (with its decision-log line, when ``why`` has one), keep it in memory, and emit what
        followers see of the change. Raises StorageError when the write fails: a held change (``Decided``,
        ``Advised``) is kept in memory even then, any other did not happen."""
        match why:
            case Started(config=config, observation=observation):
                await self.journal.commit(after, self._entry(after, None, "start", "orchestration started"), held=False)
                if observation.worth_logging:
                    await self._log_observation(after, observation)
                self._records[after.id] = after
                self._emit(after, OrchestrationStarted(orchestration=after.id, config=config.model_dump(mode="json")))
            case Decided(action=action):
                assert before is not None
                logged = transitions.log_entry(before, action, after, self.clock.now())
                try:
                    await self.journal.commit(after, logged.model_dump(mode="json"), held=True)
                finally:  # held: kept in memory even when the write fails; shown only once it is written
                    self._records[after.id] = after
                batch_index: int | None = getattr(action, "batch_index", None)
                run_id: str | None = getattr(action, "run_id", None)
                decision = _decision(after, action.kind, action.reason, batch_index=batch_index, run_id=run_id)
                if batch_index is not None:
                    self._emit(after, BatchDecision(**{**decision.model_dump(), "batch_index": batch_index}))
                self._emit(after, decision)
                if after.status != before.status:
                    self._emit_status(after, before, action.reason)
            case Changed(label=label, reason=reason):
                assert before is not None
                await self.journal.commit(after, self._entry(after, before, label, reason), held=False)
                self._records[after.id] = after
                self._emit(after, _decision(after, label, reason))
                if after.status != before.status:
                    self._emit_status(after, before, reason)
            case Observed(observation=observation):
                if observation.worth_logging:
                    await self._log_observation(after, observation)
                else:
                    await self.journal.save(after)
                self._records[after.id] = after
            case Advised(advice=advice):
                line = self._entry(
                    after, after, advice.label, advice.reason, source=advice.source, cost_usd=advice.cost_usd,
                    **advice.extra,
                )  # fmt: skip
                try:
                    await self.journal.commit(after, line, held=True)
                finally:  # held, as a decision
                    self._records[after.id] = after
            case Saved():
                await self.journal.save(after)
                self._records[after.id] = after
            case Warned(run_id=run_id, message=message):
                line = self._entry(after, after, "warning", message, run_id=run_id)
                with contextlib.suppress(StorageError):  # the warning is also in the run record and the daemon log
                    await self.journal.note(after, line)
                self._emit(after, _decision(after, "warning", message, run_id=run_id))
            case Kept():
                self._records[after.id] = after
            case _:
                assert_never(why)
        return after

    def announce_unsaved(self, before: OrchestrationRecord, after: OrchestrationRecord, reason: str) -> None:
        """Tell followers of a stop held in memory whose write failed (the file keeps the last good record)."""
        self._emit(after, _decision(after, "needs_attention", reason))
        self._emit_status(after, before, reason)

    async def _log_observation(self, record: OrchestrationRecord, observation: Observation) -> None:
        """A decision-log line (through the journal) for each finding of ``observation`` worth knowing; the
        record is kept after each line written."""
        entries: list[tuple[str, str, dict[str, Any]]] = []  # (ignored_lines and user_gate are logged, not shown)
        if observation.new_ignored:
            lines = observation.new_ignored
            reason = "tasks.md lines the SpecFlow CLI does not read are never scheduled: " + "; ".join(lines)
            entries.append(("ignored_lines", reason, {"lines": lines}))
        if observation.unasked:
            ticks = [{"id": i, "run_id": t.run_id, "by": t.by} for i, t in observation.unasked]
            who = "; ".join(f"{i} by {t.by}" for i, t in observation.unasked)
            entries.append(("unasked_ticks", f"ticked by a run not asked for them: {who}", {"ticks": ticks}))
        if observation.gate_change is not None:
            was, now = observation.gate_change
            reason = f"userGateStatus changed from {was!r} to {now!r} during the orchestration"
            entries.append(("user_gate", reason, {"was": was, "now": now}))
        for label, reason, extra in entries:
            await self.journal.commit(record, self._entry(record, record, label, reason, **extra), held=False)
            self._records[record.id] = record
            if label == "unasked_ticks":
                self._emit(record, _decision(record, "unasked_ticks", reason))

    def _entry(
        self, record: OrchestrationRecord, before: OrchestrationRecord | None, action: str, reason: str, **extra: Any
    ) -> dict[str, Any]:
        """A decision-log line the engine writes itself (decide()'s actions use ``transitions.log_entry``)."""
        return {
            "time": self.clock.now().isoformat(),
            "action": action,
            "reason": reason,
            "status_before": before.status.value if before else None,
            "status_after": record.status.value,
            **extra,
        }

    def _emit_status(self, after: OrchestrationRecord, before: OrchestrationRecord, reason: str) -> None:
        """``orchestration.status`` for every status change, by a decision or a user verb: followers stop on it,
        notifications say why (``reason``)."""
        status = StatusChanged(
            orchestration=after.id,
            status=after.status.value,
            before=before.status.value,
            step=after.step.value,
            reason=reason,
        )
        self._emit(after, status)

    def _emit(self, record: OrchestrationRecord, payload: EventPayload) -> None:
        self.events.emit(record.project_path, payload)


def _decision(
    record: OrchestrationRecord,
    label: DecisionLabel,
    reason: str,
    *,
    batch_index: int | None = None,
    run_id: str | None = None,
) -> Decision:
    return Decision(
        orchestration=record.id,
        action=label,
        reason=reason,
        status=record.status.value,
        step=record.step.value,
        batch_index=batch_index,
        run_id=run_id,
    )
