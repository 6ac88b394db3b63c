"""The ``RecordJournal`` contract (engine/ports.py) on ``ProjectJournals`` (engine/adapters.py), the journal the
daemon and the in-process engine tests (tests/engine/fakes.py) both use: there is no fake of it, so these hold
what the orchestrator relies on, and a fake journal joins the ``journal`` fixture's params the day there is one.

``commit`` then ``load`` round-trips the record and logs its entry numbered; ``note`` logs an unnumbered entry
and ``save`` none; ``ids``, ``location`` and ``peek`` find a record without loading it; ``finished`` names the
finished orchestrations (after a restart too) and not the active ones; ``load`` appends a decision a crash kept
from the log, and raises OSError or ValueError for a record that is missing or not valid.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from specflowd.domain import transitions
from specflowd.domain.config import OrchestrationConfig
from specflowd.domain.record import OrchestrationRecord, OrchestrationStatus, new_record
from specflowd.engine.adapters import ProjectJournals
from specflowd.engine.ports import RecordJournal

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NewJournal = Callable[[], RecordJournal]  # a fresh one is the daemon after a restart


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Durability across a power loss is the crash tier's; here an fsync would only cost time."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture(params=["real"])
def journal(request: pytest.FixtureRequest) -> NewJournal:
    return ProjectJournals


def record(root: Path, orchestration: str = "orch-contract1") -> OrchestrationRecord:
    return new_record(id=orchestration, project_path=str(root), config=OrchestrationConfig(), now=NOW)


def entry(action: str) -> dict[str, Any]:
    return {"time": NOW.isoformat(), "action": action, "reason": f"{action} for the contract"}


async def test_a_commit_is_loaded_back_with_its_numbered_decisions(journal: NewJournal, tmp_path: Path) -> None:
    first, journals = record(tmp_path), journal()
    await journals.commit(first, entry("started"), held=False)
    paused = transitions.pause(first, NOW)
    await journals.commit(paused, entry("paused"), held=True)
    loaded = journal().load(tmp_path, first.id)
    assert loaded == paused and loaded.status == OrchestrationStatus.PAUSED
    decisions = journals.decisions(loaded, 10)
    assert [(d["seq"], d["action"]) for d in decisions] == [(1, "started"), (2, "paused")]
    assert [d["action"] for d in journals.decisions(loaded, 1)] == ["paused"]  # the last ``limit``


async def test_a_note_is_logged_unnumbered_and_a_save_logs_nothing(journal: NewJournal, tmp_path: Path) -> None:
    first, journals = record(tmp_path), journal()
    await journals.commit(first, entry("started"), held=False)
    await journals.note(first, entry("warning"))
    costly = first.model_copy(update={"updated_at": NOW.replace(hour=13)})
    await journals.save(costly)
    assert journal().load(tmp_path, first.id) == costly
    decisions = journals.decisions(costly, 10)
    assert [d["action"] for d in decisions] == ["started", "warning"] and "seq" not in decisions[1]


async def test_a_record_is_found_without_loading_it(journal: NewJournal, tmp_path: Path) -> None:
    first, journals = record(tmp_path), journal()
    assert journals.ids(tmp_path) == []
    await journals.commit(first, entry("started"), held=False)
    other = journal()
    assert other.ids(tmp_path) == [first.id]
    assert other.peek(tmp_path, first.id) == first
    assert first.id in other.location(tmp_path, first.id) and str(tmp_path) in other.location(tmp_path, first.id)


async def test_finished_names_the_finished_orchestrations_after_a_restart(journal: NewJournal, tmp_path: Path) -> None:
    active, done, journals = record(tmp_path, "orch-active"), record(tmp_path, "orch-done"), journal()
    await journals.commit(active, entry("started"), held=False)
    await journals.commit(done, entry("started"), held=False)
    await journals.commit(transitions.cancel(done, NOW), entry("cancelled"), held=False)
    restarted = journal()
    ids = restarted.ids(tmp_path)
    finished = restarted.finished(tmp_path, ids)
    assert sorted(ids) == ["orch-active", "orch-done"] and list(finished) == ["orch-done"]
    summary = finished["orch-done"]
    assert (summary.id, summary.project_path, summary.status, summary.created_at) == (
        "orch-done", str(tmp_path), OrchestrationStatus.CANCELLED, NOW
    )  # fmt: skip


async def test_a_decision_a_crash_kept_from_the_log_is_appended_at_load(journal: NewJournal, tmp_path: Path) -> None:
    first, journals = record(tmp_path), journal()
    await journals.commit(first, entry("started"), held=False)
    paused = transitions.pause(first, NOW)
    await journals.commit(paused, entry("paused"), held=False)
    log = next(tmp_path.rglob("*.events.jsonl"))
    log.write_text(log.read_text().splitlines(keepends=True)[0])  # killed between the record and its log line
    restarted = journal()
    loaded = restarted.load(tmp_path, first.id)
    assert loaded == paused
    assert [(d["seq"], d["action"]) for d in restarted.decisions(loaded, 10)] == [(1, "started"), (2, "paused")]


async def test_a_missing_or_broken_record_raises_os_or_value_error(journal: NewJournal, tmp_path: Path) -> None:
    journals = journal()
    with pytest.raises((OSError, ValueError)):
        journals.load(tmp_path, "orch-missing")
    await journals.commit(record(tmp_path), entry("started"), held=False)
    Path(journals.location(tmp_path, "orch-contract1")).write_text("{ not json")
    with pytest.raises(ValueError):
        journal().load(tmp_path, "orch-contract1")
    with pytest.raises(ValueError):
        journal().peek(tmp_path, "orch-contract1")
