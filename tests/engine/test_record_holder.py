"""The record holder, the engine's one writer of records: each kind of change is persisted, kept in memory and
announced its own way, and a failed write leaves memory as the kind promises (a decision is held, a user's
verb did not happen). A small in-memory journal stands in for the real one (its own tests: tests/files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from specflowd.domain import transitions
from specflowd.domain.actions import FinishBatch, NeedsAttention
from specflowd.domain.config import OrchestrationConfig
from specflowd.domain.observe import Observation
from specflowd.domain.record import AttentionKind, OrchestrationRecord, OrchestrationStatus, new_record
from specflowd.engine.ports import FinishedSummary
from specflowd.engine.record_holder import Changed, Decided, Kept, RecordHolder, Started, Warned
from specflowd.errors import StorageError
from specflowd.event_catalogue import BatchDecision, Decision, EventPayload, OrchestrationStarted, StatusChanged
from tests.engine.fakes import NOW, FakeClock

pytestmark = pytest.mark.anyio

ROOT = Path("/projects/p")


class MemoryJournal:
    """The ``RecordJournal`` port in memory; ``failing`` makes every write raise StorageError."""

    def __init__(self) -> None:
        self.saved: dict[str, OrchestrationRecord] = {}
        self.log: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.failing = False

    def _write(self) -> None:
        if self.failing:
            raise StorageError("disk full")

    def ids(self, root: Path) -> list[str]:
        return list(self.saved)

    def finished(self, root: Path, ids: list[str]) -> dict[str, FinishedSummary]:
        return {}

    def location(self, root: Path, orchestration: str) -> str:
        return f"{root}/{orchestration}"

    def load(self, root: Path, orchestration: str) -> OrchestrationRecord:
        return self.saved[orchestration]

    def peek(self, root: Path, orchestration: str) -> OrchestrationRecord:
        return self.saved[orchestration]

    async def commit(self, record: OrchestrationRecord, entry: dict[str, Any], *, held: bool) -> None:
        self._write()
        self.saved[record.id] = record
        self.log.append(entry)

    async def save(self, record: OrchestrationRecord) -> None:
        self._write()
        self.saved[record.id] = record

    async def note(self, record: OrchestrationRecord, entry: dict[str, Any]) -> None:
        self._write()
        self.notes.append(entry)

    def decisions(self, record: OrchestrationRecord, limit: int) -> list[dict[str, Any]]:
        return self.log[-limit:]


class Sink:
    def __init__(self) -> None:
        self.payloads: list[EventPayload] = []

    def emit(self, project: str | None, payload: EventPayload) -> None:
        self.payloads.append(payload)


async def _started() -> tuple[RecordHolder, MemoryJournal, Sink, OrchestrationRecord]:
    journal, sink = MemoryJournal(), Sink()
    holder = RecordHolder(journal, sink, FakeClock())
    config = OrchestrationConfig()
    record = new_record(id="o1", project_path=str(ROOT), config=config, now=NOW)
    await holder.commit(None, record, Started(config, Observation(record)))
    return holder, journal, sink, record


def _stop(record: OrchestrationRecord) -> tuple[NeedsAttention, OrchestrationRecord]:
    action = NeedsAttention(attention_kind=AttentionKind.STORAGE, reason="stop")
    return action, transitions.apply(record, action, NOW)


async def test_a_start_is_written_kept_and_announced() -> None:
    holder, journal, sink, record = await _started()
    assert journal.saved["o1"] is record and holder.get("o1") is record
    assert [e["action"] for e in journal.log] == ["start"] and journal.log[0]["status_before"] is None
    assert [type(p) for p in sink.payloads] == [OrchestrationStarted]


async def test_a_decision_is_written_then_announced_with_its_status_change() -> None:
    holder, journal, sink, record = await _started()
    action, after = _stop(record)
    await holder.commit(record, after, Decided(action))
    assert holder.get("o1").status is OrchestrationStatus.NEEDS_ATTENTION
    assert journal.log[-1]["action"] == "needs_attention"
    assert [type(p) for p in sink.payloads[1:]] == [Decision, StatusChanged]


async def test_a_decision_naming_a_batch_is_also_a_batch_event() -> None:
    holder, _, sink, record = await _started()
    action = FinishBatch(batch_index=0, reason="done")
    await holder.commit(record, record, Decided(action))
    assert [type(p).__name__ for p in sink.payloads[1:]] == [BatchDecision.__name__, Decision.__name__]


async def test_a_decision_whose_write_fails_is_held_in_memory_and_not_announced() -> None:
    holder, journal, sink, record = await _started()
    action, after = _stop(record)
    journal.failing = True
    with pytest.raises(StorageError):
        await holder.commit(record, after, Decided(action))
    assert holder.get("o1") is after  # held: the loop stops visibly on it
    assert journal.saved["o1"] is record and len(sink.payloads) == 1
    holder.announce_unsaved(record, after, "disk full")
    assert [type(p) for p in sink.payloads[1:]] == [Decision, StatusChanged]


async def test_a_verb_whose_write_fails_did_not_happen() -> None:
    holder, journal, sink, record = await _started()
    journal.failing = True
    with pytest.raises(StorageError):
        await holder.commit(record, transitions.pause(record, NOW), Changed("paused", "pause requested"))
    assert holder.get("o1") is record and len(sink.payloads) == 1


async def test_a_warning_is_shown_even_when_its_log_line_cannot_be_written() -> None:
    holder, journal, sink, record = await _started()
    journal.failing = True
    await holder.commit(record, record, Warned("r1", "slow"))
    assert journal.notes == [] and holder.get("o1") is record
    assert isinstance(warning := sink.payloads[-1], Decision) and warning.action == "warning"


async def test_kept_is_memory_only() -> None:
    holder, journal, sink, record = await _started()
    _, after = _stop(record)
    await holder.commit(record, after, Kept())
    assert holder.get("o1") is after and journal.saved["o1"] is record and len(sink.payloads) == 1


def test_no_engine_module_but_the_holder_writes_records() -> None:
    """The holder is the only writer: no other engine module assigns a record or calls the journal's writes
    (adapters.py is the journal's adapter: it implements those writes)."""
    engine = Path(__file__).parents[2] / "specflowd" / "engine"
    writers = {
        p.name
        for p in engine.glob("*.py")
        if p.name != "adapters.py"
        and any(w in p.read_text() for w in ("journal.commit(", "journal.save(", "journal.note(", "_records["))
    }
    assert writers == {"record_holder.py"}
