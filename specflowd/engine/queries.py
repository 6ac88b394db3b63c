"""What the engine answers about orchestrations, read through the record holder (which writes nothing here
but its cache of finished records a user asked for).

Lists and counts come from memory: the records read (every active orchestration) and the finished ones the
projects' history indexes name, so a page reads only its own finished records. The forecast's history reads
each finished record once, in a worker thread, and keeps only its samples.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

from specflowd.domain.evidence import TaskState
from specflowd.domain.forecast import Sample
from specflowd.domain.forecast_history import SampleCache
from specflowd.domain.observe import done_ids
from specflowd.domain.progress import Progress, progress
from specflowd.domain.record import TERMINAL_STATUSES, OrchestrationRecord
from specflowd.engine.ports import Clock, ProjectReader
from specflowd.engine.record_holder import RecordHolder
from specflowd.errors import NotFound
from specflowd.ids import resolve_prefix

__all__ = ["FORECAST_RECORDS", "Queries"]

FORECAST_RECORDS = 300  # latest finished orchestrations (all projects', and a project's own) the forecast reads


class Queries:
    def __init__(self, holder: RecordHolder, project: ProjectReader, clock: Clock) -> None:
        self.holder = holder
        self.project = project
        self.clock = clock
        self._samples = SampleCache()

    def get(self, orch_id: str) -> OrchestrationRecord:
        """The record (a finished one is read on first use). NotFound, or StorageError when it cannot be read."""
        return self.holder.get(orch_id)

    def resolve(self, ref: str) -> str:
        """The full id of the orchestration ``ref`` names: its id or a unique prefix of it."""
        return resolve_prefix(ref, self.holder.ids(), "orchestration")

    def _known(self, root: Path | None, include_finished: bool) -> list[tuple[datetime, str]]:
        """(created_at, id) of the orchestrations (of ``root``), read or not, oldest first."""
        where = None if root is None else str(root)  # records hold str(root): compared as strings, no Path each
        known = {
            r.id: r.created_at
            for r in self.holder.read()
            if (where is None or r.project_path == where) and (include_finished or r.status not in TERMINAL_STATUSES)
        }
        if include_finished:
            for s in self.holder.finished():
                if s.id not in known and (where is None or s.project_path == where):
                    known[s.id] = s.created_at
        return sorted((created, orch_id) for orch_id, created in known.items())

    def for_project(self, root: Path) -> OrchestrationRecord:
        """The project's active orchestration, else its latest."""
        active = self._known(root, include_finished=False)
        mine = active or self._known(root, include_finished=True)
        if not mine:
            raise NotFound(f"no orchestration in {root}", project=str(root))
        return self.get(mine[-1][1])

    def list_all(
        self, root: Path | None = None, include_finished: bool = False, *, offset: int = 0, limit: int | None = None
    ) -> list[OrchestrationRecord]:
        """Oldest first; ``offset``/``limit`` take one page (only that page's finished records are read)."""
        page = self._known(root, include_finished)[offset : None if limit is None else offset + limit]
        return [self.get(orch_id) for _, orch_id in page]

    def count(self, root: Path | None = None, include_finished: bool = False) -> int:
        return len(self._known(root, include_finished))

    def active_count(self) -> int:
        return sum(1 for r in self.holder.read() if r.status not in TERMINAL_STATUSES)

    def census(self) -> list[tuple[str, str]]:
        """(project path, status) of every orchestration known, read or not, from memory (daemon.metrics)."""
        read = list(self.holder.read())
        seen = [(r.project_path, r.status.value) for r in read]
        ids = {r.id for r in read}
        seen += [(s.project_path, s.status.value) for s in self.holder.finished() if s.id not in ids]
        return seen

    def decisions(self, record: OrchestrationRecord, limit: int = 10) -> list[dict[str, Any]]:
        return self.holder.decisions(record, limit)

    async def progress(self, record: OrchestrationRecord) -> Progress:
        """Elapsed time, an estimate of what is left, and batches/tasks done. A finished orchestration's tasks
        come from its record (``phase close`` archives tasks.md: reading it then would say 0/N)."""
        known = done_ids(record)
        if record.status in TERMINAL_STATUSES and known is not None:
            return progress(record, self.clock.now(), known)
        evidence = (await self.project.read(Path(record.project_path))).evidence
        done = evidence.ids_in(TaskState.DONE)
        history = await self.forecast_history(Path(record.project_path))
        open_tasks = len(evidence.ids_in(TaskState.OPEN))
        result = progress(record, self.clock.now(), done, history=history, open_tasks=open_tasks)
        if not record.batches and evidence.task_states:  # nothing planned (yet): tasks.md's count, never 0/0
            result = result.model_copy(update={"tasks_total": len(evidence.task_states), "tasks_done": len(done)})
        return result

    async def forecast_history(self, root: Path | None = None) -> list[Sample]:
        """The forecast's samples: of the latest finished orchestrations of every project and of ``root``'s own
        (``FORECAST_RECORDS`` of each). Each record is read once, in a worker thread, without taking a place in
        the cache of records users asked for."""
        ids = [i for _, i in self._known(None, True)[-FORECAST_RECORDS:]]
        if root is not None:
            ids += [i for _, i in self._known(root, True)[-FORECAST_RECORDS:]]
        ids = list(dict.fromkeys(ids))
        unread: list[tuple[str, Path]] = []
        for orch_id in self._samples.missing(ids):
            record = self.holder.in_memory(orch_id)
            if record is not None:
                if record.status in TERMINAL_STATUSES:
                    self._samples.add(orch_id, record)
            elif (summary := self.holder.summary(orch_id)) is not None:
                unread.append((orch_id, Path(summary.project_path)))
        if unread:
            for orch_id, read in await anyio.to_thread.run_sync(self.holder.peek_all, unread):
                self._samples.add(orch_id, read)
        return self._samples.samples(ids)
