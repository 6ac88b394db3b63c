"""RunStore: every run this daemon knows — its record (``metadata.json``, of which the daemon is the only
writer) and its run directory — loaded from disk, listed, its transcript read, its questions listed.

No processes here: a live run is watched by its ``RunSupervisor`` (supervisor.py); starting, continuing,
stopping and re-adopting runs is the ``RunManager``'s (manager.py). The store also keeps, per run, an event
set whenever the run has no live process (a final status or waiting_input), which ``wait_final`` waits on.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Container, Iterator
from pathlib import Path

import anyio

from specflowd.errors import NotFound, StorageError
from specflowd.ids import resolve_prefix
from specflowd.runner.records import LogChunk, LogItem, PendingQuestion, RunRecord
from specflowd.runner.rundir import RunDir, iter_run_dirs
from specflowd.runner.stream import readable_items
from specflowd.runner.tail import read_lines
from specflowd.vocabulary import LIVE_STATUSES, RunStatus

__all__ = ["RunStore"]

log = logging.getLogger(__name__)


class RunStore:
    def __init__(self) -> None:
        self._records: dict[str, RunRecord] = {}
        self._dirs: dict[str, RunDir] = {}
        self._settled: dict[str, anyio.Event] = {}

    # ------------------------------------------------------------------ records

    def __contains__(self, run_id: str) -> bool:
        return run_id in self._records

    def record(self, run_id: str) -> RunRecord:
        """The run's own record (not a copy: the manager and the run's supervisor change it in place)."""
        try:
            return self._records[run_id]
        except KeyError:
            raise NotFound(f"unknown run {run_id}", run_id=run_id) from None

    def rundir(self, run_id: str) -> RunDir:
        self.record(run_id)
        return self._dirs[run_id]

    def get(self, run_id: str) -> RunRecord:
        return self.record(run_id).model_copy(deep=True)

    def resolve(self, ref: str) -> str:
        """The full id of the run ``ref`` names: its id or a unique prefix of it (NotFound / AmbiguousId)."""
        return resolve_prefix(ref, self._records, "run")

    def add(self, record: RunRecord, rundir: RunDir, *, settled: bool = False) -> None:
        """Know ``record`` (new, continued or loaded from disk); ``settled``: it has no live process."""
        self._records[record.run_id] = record
        self._dirs[record.run_id] = rundir
        event = anyio.Event()
        if settled:
            event.set()
        self._settled[record.run_id] = event

    def save(self, record: RunRecord) -> None:
        """Write the record's metadata.json (atomically)."""
        self._dirs[record.run_id].save(record)

    def settle(self, run_id: str) -> None:
        """The run has no live process any more: wake ``wait_final``."""
        self._settled.setdefault(run_id, anyio.Event()).set()

    async def wait_final(self, run_id: str) -> RunRecord:
        """Wait until the run has no live process: a final status or waiting_input."""
        self.record(run_id)
        await self._settled[run_id].wait()
        return self.get(run_id)

    # ------------------------------------------------------------------ disk

    def load(self, project_root: Path, skip: Container[str]) -> Iterator[tuple[RunRecord, RunDir]]:
        """Every run directory of ``project_root`` whose id is not in ``skip``, loaded from disk (an unreadable
        one is logged and skipped). The caller decides whether a run is live and ``add``s it."""
        for rundir in iter_run_dirs(project_root):
            if rundir.path.name in skip:
                continue
            try:
                record = rundir.load()
            except (OSError, ValueError) as exc:
                log.warning("unreadable run metadata %s: %s", rundir.metadata, exc)
                continue
            yield record, rundir

    # ------------------------------------------------------------------ queries

    def list(self, project_root: Path | None = None) -> builtins.list[RunRecord]:
        root = project_root.resolve() if project_root is not None else None
        if root is not None:
            for record, rundir in self.load(root, skip=self._records):  # also runs this daemon has not loaded yet
                self.add(record, rundir, settled=record.status not in LIVE_STATUSES)
        records = [r for r in self._records.values() if root is None or r.project_root == root]
        return [r.model_copy(deep=True) for r in sorted(records, key=lambda r: r.created_at)]

    def log(self, run_id: str, since: int = 0) -> LogChunk:
        record = self.record(run_id)
        output = self._dirs[run_id].output
        try:
            lines, next_offset, more = read_lines(output, max(0, since))
        except (OSError, OverflowError, ValueError) as exc:  # unreadable output, an offset the OS cannot seek to
            message = f"cannot read the output of run {run_id} at offset {since}: {exc}"
            raise StorageError(message, run_id=run_id) from None
        items = [
            LogItem(offset=offset, kind=kind, text=text)
            for offset, line in lines
            for kind, text in readable_items(line)
        ]
        return LogChunk(
            run_id=run_id,
            items=items,
            next_offset=next_offset,
            more=more,
            cost_usd=record.cost_usd,
            status=record.status,
        )

    def pending_questions(self, project_root: Path | None = None) -> builtins.list[PendingQuestion]:
        root = project_root.resolve() if project_root is not None else None
        return [
            PendingQuestion(
                run_id=r.run_id,
                project_root=r.project_root,
                orchestration_id=r.orchestration_id,
                step=r.step,
                questions=[q.model_copy() for q in r.questions],
            )
            for r in self._records.values()
            if r.status == RunStatus.WAITING_INPUT and (root is None or r.project_root == root)
        ]
