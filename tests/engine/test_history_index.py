"""Lazy orchestration history: a finished orchestration is noted in the project's orchestrations.index.json; a
restart knows it from the index without reading its record, reads it when asked (status, list, prefix), and
rebuilds a missing or corrupt index from the records, losing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from specflowctl.demo import create_demo_project
from specflowd.engine.adapters import ProjectJournals
from specflowd.files.history_index import index_path
from specflowd.files.workflows import WorkflowDir
from tests.engine.fakes import FakeClock, FakeRuns, Script, engine, hang

pytestmark = pytest.mark.anyio


class CountingLoads:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ids: list[str] = []
        original = ProjectJournals.load

        def load(store: ProjectJournals, root: Path, orchestration: str):  # type: ignore[no-untyped-def]
            self.ids.append(orchestration)
            return original(store, root, orchestration)

        monkeypatch.setattr(ProjectJournals, "load", load)


async def _finished_orchestrations(root: Path, count: int) -> list[str]:
    runs, clock = FakeRuns(Script(hang)), FakeClock()
    ids = []
    for _ in range(count):
        clock.advance(60)  # one after the other
        async with engine(root, runs=runs, clock=clock) as h:
            await h.start(skip_analyze=True)
            await h.until(lambda: h.runs.started(), "a run started")
            await h.orch.cancel(h.orch_id)
            ids.append(h.orch_id)
    return ids


async def test_a_restart_knows_finished_orchestrations_from_the_index_and_reads_one_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = create_demo_project(tmp_path / "demo")
    ids = await _finished_orchestrations(root, 3)
    index = index_path(WorkflowDir(root).root, "orchestrations")
    assert index.is_file()
    loads = CountingLoads(monkeypatch)
    async with engine(root, runs=FakeRuns(Script(hang))) as h:
        assert loads.ids == []  # nothing read at start
        assert h.orch.count(root, include_finished=True) == 3 and h.orch.count(root) == 0
        latest = h.orch.for_project(root)  # the latest one, read now
        assert latest.id == ids[-1] and latest.status.value == "cancelled" and loads.ids == [ids[-1]]
        assert h.orch.resolve(ids[0][:8]) == ids[0]  # a prefix resolves over the history
        assert h.orch.get(ids[0]).id == ids[0]
        page = h.orch.list_all(root, include_finished=True, offset=1, limit=1)
        assert [r.id for r in page] == [ids[1]]
        assert h.orch.active_count() == 0


async def test_a_corrupt_orchestration_index_is_rebuilt_from_the_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = create_demo_project(tmp_path / "demo")
    ids = await _finished_orchestrations(root, 2)
    index = index_path(WorkflowDir(root).root, "orchestrations")
    index.write_text("{ not json")
    loads = CountingLoads(monkeypatch)
    async with engine(root, runs=FakeRuns(Script(hang))) as h:
        assert sorted(loads.ids) == sorted(ids)  # read as without an index
        assert [r.id for r in h.orch.list_all(root, include_finished=True)] == ids
    assert "entries" in index.read_text()  # written afresh
    loads.ids.clear()
    async with engine(root, runs=FakeRuns(Script(hang))):
        assert loads.ids == []
