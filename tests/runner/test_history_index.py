"""Lazy history (runner/known_runs.py + files/history_index.py): finished runs are known at start from the
project's runs.index.json without reading (or stat'ing) their files; a missing, corrupt or old index is rebuilt
from the run directories and loses nothing; a run leaves the index before it is continued; ids resolve over the
whole history; a run that finishes is indexed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from specflowd.errors import AmbiguousId, StorageError
from specflowd.files.history_index import HistoryIndex, index_path
from specflowd.runner import known_runs
from specflowd.runner.records import RunRecord
from specflowd.runner.rundir import RunDir, workflows_dir
from specflowd.vocabulary import RunStatus
from tests.runner.conftest import Harness, supervising, wait_for

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def finished_run(project: Path, run_id: str, n: int, status: RunStatus = RunStatus.COMPLETED) -> RunRecord:
    """A finished run's directory as an earlier daemon left it."""
    record = RunRecord(
        run_id=run_id,
        project_root=project.resolve(),
        orchestration_id="orch-1",
        step="implement",
        status=status,
        cost_usd=0.01 * n,
        created_at=T0 + timedelta(minutes=n),
        finished_at=T0 + timedelta(minutes=n, seconds=30),
    )
    RunDir(project.resolve(), run_id).create(record, "/flow.implement")
    return record


def history(project: Path, count: int) -> list[str]:
    ids = [f"{n:08x}-0000-4000-8000-{n:012x}" for n in range(1, count + 1)]
    for n, run_id in enumerate(ids, start=1):
        finished_run(project, run_id, n)
    return ids


class Reads:
    """Counts the run records read from disk."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = RunDir.load

        def load(rundir: RunDir) -> RunRecord:
            self.count += 1
            return original(rundir)

        monkeypatch.setattr(RunDir, "load", load)


def index_of(project: Path) -> dict[str, object]:
    document = json.loads(index_path(workflows_dir(project.resolve()), "runs").read_text())
    assert isinstance(document, dict)
    entries = document["entries"]
    assert isinstance(entries, dict)
    return entries


async def test_the_index_is_built_from_disk_then_a_restart_reads_no_finished_record(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = history(harness.project, 30)
    reads = Reads(monkeypatch)
    first = harness.manager()
    await first.reconcile([harness.project])
    assert reads.count == 30 and sorted(index_of(harness.project)) == ids  # no index yet: every record read
    reads.count = 0
    second = harness.manager()
    await second.reconcile([harness.project])
    assert reads.count == 0  # every finished run known from the index alone
    assert second.counts() == (0, 30) and second.total(harness.project) == 30
    assert second.live() == [] and reads.count == 0  # what the scheduler adopts at start: no history read
    old = second.get(ids[3])  # an old run is still there: read on demand
    assert reads.count == 1 and old.status == RunStatus.COMPLETED and old.cost_usd == pytest.approx(0.04)
    page = second.list(harness.project, offset=10, limit=5)
    assert [r.run_id for r in page] == ids[10:15]  # oldest first, one page read
    assert [r.run_id for r in second.list()] == ids
    assert second.log(ids[0]).status == RunStatus.COMPLETED


async def test_a_corrupt_index_is_rebuilt_and_loses_nothing(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = history(harness.project, 12)
    await harness.manager().reconcile([harness.project])
    path = index_path(workflows_dir(harness.project.resolve()), "runs")
    for broken in ('{"version": 1, "entries": ', "[1, 2]", '{"version": 99, "entries": {}}'):
        path.write_text(broken)
        reads = Reads(monkeypatch)
        manager = harness.manager()
        await manager.reconcile([harness.project])
        assert reads.count == 12 and [r.run_id for r in manager.list()] == ids
        assert sorted(index_of(harness.project)) == ids  # written afresh


async def test_the_index_keeps_each_runs_figures_and_an_entry_without_them_is_read_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """daemon.metrics sums every run's cost and duration from the summaries: they come from the index at start;
    an entry written before the index held them is not trusted: the record is read and indexed again."""
    ids = history(harness.project, 4)
    path = index_path(workflows_dir(harness.project.resolve()), "runs")
    entries = {i: {"summary": {"status": "completed", "created_at": T0.isoformat(), "orchestration_id": "orch-1"}}
               for i in ids}  # fmt: skip
    path.write_text(json.dumps({"version": 2, "entries": entries}))
    reads = Reads(monkeypatch)
    manager = harness.manager()
    await manager.reconcile([harness.project])
    assert reads.count == 4
    reads.count = 0
    again = harness.manager()
    await again.reconcile([harness.project])
    assert reads.count == 0
    figures = {s.run_id: (s.step, s.cost_usd, s.duration_s) for s in again.census()}
    expected: dict[str, tuple[str, object, None]] = {i: ("implement", pytest.approx(0.01 * n), None) for n, i in enumerate(ids, start=1)}
    assert figures == expected


async def test_runs_new_since_the_index_was_written_are_read_from_disk(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = history(harness.project, 5)
    await harness.manager().reconcile([harness.project])
    # after the index was written: a run an earlier daemon finished without indexing it (a SIGKILL)
    late = finished_run(harness.project, "ffffffff-0000-4000-8000-000000000099", 99, RunStatus.FAILED)
    reads = Reads(monkeypatch)
    manager = harness.manager()
    await manager.reconcile([harness.project])
    assert reads.count == 1  # the five indexed runs are neither read nor stat'ed
    assert manager.get(late.run_id).status == RunStatus.FAILED
    assert manager.get(ids[0]).status == RunStatus.COMPLETED
    assert manager.counts() == (0, 6)
    assert sorted(index_of(harness.project)) == sorted([*ids, late.run_id])


async def test_an_index_of_the_version_that_checked_fingerprints_is_rebuilt(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 1 kept a continued run's entry (its fingerprint then no longer matched): never trusted."""
    ids = history(harness.project, 3)
    path = index_path(workflows_dir(harness.project.resolve()), "runs")
    entry = {"key": [1, 2, 3], "summary": {"status": "rate_limited", "created_at": T0.isoformat()}}
    path.write_text(json.dumps({"version": 1, "entries": dict.fromkeys(ids, entry)}))
    reads = Reads(monkeypatch)
    manager = harness.manager()
    await manager.reconcile([harness.project])
    assert reads.count == 3 and {r.status for r in manager.list()} == {RunStatus.COMPLETED}
    assert json.loads(path.read_text())["version"] == 2


async def test_a_continued_run_leaves_the_index_before_its_record_is_written_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.script_steps({"action": "rate_limit", "reset_epoch": 1764000000}, {"action": "hang"})
    async with supervising(harness.manager()) as manager:
        await manager.reconcile([harness.project])  # the project is indexed from here on
        started = await manager.start(harness.spec())
        limited = await manager.wait_final(started.run_id)
        assert limited.status == RunStatus.RATE_LIMITED
        assert index_of(harness.project)[started.run_id] == {
            "summary": {
                "status": "rate_limited",
                "created_at": limited.created_at.isoformat(),
                "orchestration_id": limited.orchestration_id,
                "step": limited.step,
                "model": limited.model,
                "cost_usd": limited.cost_usd,
                "duration_s": known_runs.RunSummary.of(limited).duration_s,
            }
        }
        seen: list[bool] = []
        original = RunDir.save

        def save(rundir: RunDir, record: RunRecord) -> None:
            if record.run_id == started.run_id and record.status == RunStatus.STARTING:
                seen.append(started.run_id in index_of(harness.project))
            original(rundir, record)

        monkeypatch.setattr(RunDir, "save", save)
        await manager.resume(started.run_id, "The rate limit has reset. Continue.")
        assert seen == [False]  # out of the index, durably, before the continued record was written
        # what a daemon starting now (this one SIGKILLed) would find: no entry, so the record, which is live
        assert started.run_id not in index_of(harness.project)
        on_disk = RunDir(harness.project.resolve(), started.run_id).load()
        assert on_disk.status in (RunStatus.STARTING, RunStatus.RUNNING) and on_disk.continuations == 1
        await manager.cancel(started.run_id)
    final = RunDir(harness.project.resolve(), started.run_id).load()
    assert final.status == RunStatus.CANCELLED and index_of(harness.project)[started.run_id] is not None


async def test_a_run_whose_index_cannot_be_written_is_not_continued(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.script_steps({"action": "rate_limit", "reset_epoch": 1764000000})
    async with supervising(harness.manager()) as manager:
        await manager.reconcile([harness.project])
        started = await manager.start(harness.spec())
        await manager.wait_final(started.run_id)

        def full(index: HistoryIndex) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(HistoryIndex, "write", full)
        with pytest.raises(StorageError, match="No space left on device"):
            await manager.resume(started.run_id, "The rate limit has reset. Continue.")
        after = manager.get(started.run_id)
        assert after.status == RunStatus.RATE_LIMITED and after.continuations == 0
        assert RunDir(harness.project.resolve(), started.run_id).load().status == RunStatus.RATE_LIMITED
    assert len(harness.invocations()) == 1


async def test_a_run_directory_removed_since_is_forgotten(harness: Harness) -> None:
    ids = history(harness.project, 3)
    await harness.manager().reconcile([harness.project])
    gone = RunDir(harness.project.resolve(), ids[1])
    for child in gone.path.iterdir():
        child.unlink()
    gone.path.rmdir()
    manager = harness.manager()
    await manager.reconcile([harness.project])
    assert [r.run_id for r in manager.list()] == [ids[0], ids[2]]
    assert sorted(index_of(harness.project)) == [ids[0], ids[2]]


async def test_short_ids_resolve_over_the_whole_history(harness: Harness) -> None:
    history(harness.project, 3)
    a = finished_run(harness.project, "abcd1234-0000-4000-8000-000000000001", 10).run_id
    b = finished_run(harness.project, "abcd5678-0000-4000-8000-000000000002", 11).run_id
    await harness.manager().reconcile([harness.project])
    manager = harness.manager()
    await manager.reconcile([harness.project])  # every run now known from the index alone
    assert manager.resolve("abcd1") == a and manager.resolve("abcd5") == b
    with pytest.raises(AmbiguousId) as info:
        manager.resolve("abcd")
    assert info.value.data["candidates"] == [a, b]
    assert manager.get(manager.resolve("abcd56")).run_id == b


async def test_finished_records_read_on_demand_are_not_all_kept(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(known_runs, "CACHED_RECORDS", 4)
    ids = history(harness.project, 20)
    await harness.manager().reconcile([harness.project])
    manager = harness.manager()
    await manager.reconcile([harness.project])
    assert [r.run_id for r in manager.list()] == ids
    assert len(manager.known._cache) <= 4 and not manager.known._open


async def test_a_run_that_finishes_is_indexed(harness: Harness) -> None:
    history(harness.project, 2)
    harness.script_steps({"action": "complete", "tasks": ["T001"]})
    manager = harness.manager()
    await manager.reconcile([harness.project])
    async with supervising(manager):
        started = await manager.start(harness.spec())
        done = await manager.wait_final(started.run_id)
    assert done.status == RunStatus.COMPLETED
    await wait_for(lambda: started.run_id in index_of(harness.project), what="the finished run indexed")
    entry = index_of(harness.project)[started.run_id]
    assert isinstance(entry, dict) and entry["summary"]["status"] == "completed"
    again = harness.manager()
    await again.reconcile([harness.project])
    assert again.counts() == (0, 3) and again.get(started.run_id).status == RunStatus.COMPLETED
