"""KnownRuns: every run this daemon knows — its record (``metadata.json``, of which the daemon is the only
writer) and its run directory — loaded from disk, listed, its transcript read, its questions listed.

No processes here: a live run is watched by its ``RunSupervisor`` (supervisor.py); starting, continuing,
stopping and re-adopting runs is the ``RunManager``'s (manager.py). The store also keeps, per run, an event
set whenever the run has no live process (a final status or waiting_input), which ``wait_final`` waits on.

History is lazy. Every known run has a small ``RunSummary`` (id, project, status, creation time, orchestration):
ids resolve, runs count and list from those. Full records are held for the runs that are not finished (live,
waiting for answers: the manager changes them in place) and for the last ``CACHED_RECORDS`` finished ones read;
any other finished record is read from its ``metadata.json`` when asked for. A finished run is known at start
from the project's ``runs.index.json`` (files/history_index.py) without reading or even stat'ing its files: the
store indexes a run once its final record is durable and takes it out of the index, durably, before the run is
continued (``unindex``), so an entry always names a finished run whose files have not changed since.
"""

from __future__ import annotations

import builtins
import logging
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

from specflowd.errors import NotFound, StorageError
from specflowd.files.history_index import HistoryIndex, index_path
from specflowd.ids import resolve_prefix
from specflowd.runner.records import LogChunk, LogItem, PendingQuestion, RunRecord
from specflowd.runner.rundir import RunDir, WorkflowsListing, list_workflows, run_dirs, workflows_dir
from specflowd.runner.stream import readable_items
from specflowd.runner.tail import read_lines
from specflowd.vocabulary import FINAL_STATUSES, LIVE_STATUSES, RunStatus

__all__ = ["CACHED_RECORDS", "KnownRuns", "RunSummary"]

log = logging.getLogger(__name__)

CACHED_RECORDS = 256  # finished records read from disk kept in memory, the most recently used


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What the store keeps of every run it knows, whether or not its record is in memory: enough to list and
    count runs and to give their figures (step, model, cost, duration: daemon.metrics) without reading them."""

    run_id: str
    project_root: Path
    status: RunStatus
    created_at: datetime
    orchestration_id: str | None
    step: str = ""
    model: str | None = None
    cost_usd: float = 0.0
    duration_s: float | None = None  # started to finished; None while not finished or never started

    @classmethod
    def of(cls, record: RunRecord) -> RunSummary:
        duration = None
        if record.final and record.started_at is not None and record.finished_at is not None:
            duration = max(0.0, (record.finished_at - record.started_at).total_seconds())
        return cls(
            record.run_id,
            record.project_root,
            record.status,
            record.created_at,
            record.orchestration_id,
            record.step,
            record.model,
            record.cost_usd,
            duration,
        )

    def indexed(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "orchestration_id": self.orchestration_id,
            "step": self.step,
            "model": self.model,
            "cost_usd": self.cost_usd,
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_index(cls, run_id: str, project_root: Path, summary: dict[str, Any]) -> RunSummary | None:
        """None when the entry does not read as a finished run's (the record is then loaded instead, and indexed
        again: so does an entry written before the figures were indexed)."""
        try:
            status = RunStatus(summary["status"])
            created = datetime.fromisoformat(summary["created_at"])
            orchestration = summary.get("orchestration_id")
            step, model, cost, duration = summary["step"], summary["model"], summary["cost_usd"], summary["duration_s"]
        except (KeyError, TypeError, ValueError):
            return None
        if status not in FINAL_STATUSES or created.tzinfo is None:
            return None
        if orchestration is not None and not isinstance(orchestration, str):
            return None
        if not isinstance(step, str) or (model is not None and not isinstance(model, str)):
            return None
        if not _number(cost) or (duration is not None and not _number(duration)):
            return None
        seconds = None if duration is None else float(duration)
        return cls(run_id, project_root, status, created, orchestration, step, model, float(cost), seconds)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


class KnownRuns:
    def __init__(self) -> None:
        self._known: dict[str, RunSummary] = {}
        self._open: dict[str, RunRecord] = {}  # records of runs not finished: changed in place, always held
        self._cache: OrderedDict[str, RunRecord] = OrderedDict()  # finished records read, least recent first
        self._settled: dict[str, anyio.Event] = {}
        self._indexing: dict[Path, HistoryIndex] = {}  # a project's index while it is scanned and loaded
        self._indexed: set[Path] = set()  # projects scanned: their index is updated as runs finish
        self._creating: set[str] = set()  # run directories being written (off the loop): not loaded from disk

    # ------------------------------------------------------------------ records

    def __contains__(self, run_id: str) -> bool:
        return run_id in self._known

    def record(self, run_id: str) -> RunRecord:
        """The run's own record (not a copy: the manager and the run's supervisor change it in place). A
        finished run's record is read from disk when it is not in memory."""
        record = self._open.get(run_id)
        if record is not None:
            return record
        record = self._cache.get(run_id)
        if record is not None:
            self._cache.move_to_end(run_id)
            return record
        summary = self._known.get(run_id)
        if summary is None:
            raise NotFound(f"unknown run {run_id}", run_id=run_id) from None
        rundir = RunDir(summary.project_root, run_id)
        try:
            record = rundir.load()
        except (OSError, ValueError) as exc:
            message = f"cannot read the record of run {run_id} ({rundir.metadata}): {exc}"
            raise StorageError(message, run_id=run_id) from None
        self._file(record)
        return record

    def rundir(self, run_id: str) -> RunDir:
        summary = self._known.get(run_id)
        if summary is None:
            raise NotFound(f"unknown run {run_id}", run_id=run_id)
        return RunDir(summary.project_root, run_id)

    def get(self, run_id: str) -> RunRecord:
        return self.record(run_id).model_copy(deep=True)

    def resolve(self, ref: str) -> str:
        """The full id of the run ``ref`` names: its id or a unique prefix of it, over every run known, loaded
        or not (NotFound / AmbiguousId)."""
        return resolve_prefix(ref, self._known, "run")

    def add(self, record: RunRecord, rundir: RunDir | None = None, *, settled: bool = False) -> None:
        """Know ``record`` (new, continued or loaded from disk); ``settled``: it has no live process."""
        self._file(record)
        event = anyio.Event()
        if settled:
            event.set()
        self._settled[record.run_id] = event

    def _file(self, record: RunRecord) -> None:
        """Keep ``record`` where its status says: held while not finished, cached (and indexed) once finished."""
        run_id = record.run_id
        self._known[run_id] = RunSummary.of(record)
        if record.final:
            self._open.pop(run_id, None)
            self._cache[run_id] = record
            self._cache.move_to_end(run_id)
            while len(self._cache) > CACHED_RECORDS:
                self._cache.popitem(last=False)
            self._index(record)
        else:
            self._cache.pop(run_id, None)
            self._open[run_id] = record

    def _index(self, record: RunRecord) -> None:
        """Note a finished record, durable on disk, in its project's index (not kept in memory between scans:
        read, changed and written again; it is small)."""
        root = record.project_root
        index = self._indexing.get(root)
        if index is None and root not in self._indexed:
            return  # a project never scanned: its next scan indexes the run
        if index is None:
            index = HistoryIndex.open(index_path(workflows_dir(root), "runs"))
        index.put_trusted(record.run_id, self._known[record.run_id].indexed())
        if root not in self._indexing:
            index.flush()

    def unindex(self, record: RunRecord) -> None:
        """Take a finished run out of its project's index, durably, before its record is written again (it is
        being continued): a restart must never take a live run for the finished one the index names. Raises
        OSError; the run must then not be continued."""
        root = record.project_root
        index = self._indexing.get(root) or HistoryIndex.open(index_path(workflows_dir(root), "runs"))
        index.drop(record.run_id)
        index.write()

    def creating(self, run_id: str, busy: bool) -> None:
        """The run's directory is being created (``busy``) or the run was added or abandoned (not ``busy``):
        meanwhile a listing does not load the half-known run from disk as a separate record."""
        if busy:
            self._creating.add(run_id)
        else:
            self._creating.discard(run_id)

    def save(self, record: RunRecord) -> None:
        """Write the record's metadata.json (atomically)."""
        self.rundir(record.run_id).save(record)

    def settle(self, run_id: str) -> None:
        """The run has no live process any more (its final record is written): wake ``wait_final``, and note a
        finished run in its project's index."""
        self._settled.setdefault(run_id, anyio.Event()).set()
        record = self._open.get(run_id)
        if record is not None:
            self._file(record)

    async def wait_final(self, run_id: str) -> RunRecord:
        """Wait until the run has no live process: a final status or waiting_input."""
        self.record(run_id)
        event = self._settled.get(run_id)
        if event is not None:  # else a finished run known from disk
            await event.wait()
        return self.get(run_id)

    def counts(self) -> tuple[int, int]:
        """(runs not finished — live or waiting for answers —, runs known); no record is read or copied."""
        return len(self._open), len(self._known)

    def census(self) -> builtins.list[RunSummary]:
        """Every known run's summary, from memory (nothing read from disk); a run not finished is summarised from
        its record now, so its cost is the current one."""
        return [
            RunSummary.of(self._open[run_id]) if run_id in self._open else summary
            for run_id, summary in self._known.items()
        ]

    # ------------------------------------------------------------------ disk

    def scan(self, project_root: Path, listing: WorkflowsListing) -> set[str]:
        """Open the project's run index and know every finished run it names among the ``listing``'s directories,
        without reading its record; returns their ids (the caller loads the others with ``load``)."""
        index = self._indexing[project_root] = HistoryIndex.open(index_path(workflows_dir(project_root), "runs"))
        self._indexed.add(project_root)
        fresh: set[str] = set()
        for name in listing.directories:
            if name in self._open:
                continue
            indexed = index.trusted(name)
            summary = RunSummary.from_index(name, project_root, indexed) if indexed is not None else None
            if summary is None:
                continue
            self._known[name] = summary
            fresh.add(name)
        index.retain(set(listing.directories))
        return fresh

    def flush_index(self, project_root: Path) -> None:
        """The project's scan and load are over: write its index (if it changed) and let it go."""
        index = self._indexing.pop(project_root, None)
        if index is not None:
            index.flush()

    def load(self, project_root: Path, names: Iterable[str]) -> Iterator[tuple[RunRecord, RunDir]]:
        """The runs among ``names`` (directories of the project's workflows directory), loaded from disk (an
        unreadable one is logged and skipped). The caller decides whether a run is live and ``add``s it."""
        for rundir in run_dirs(project_root, names):
            try:
                record = rundir.load()
            except (OSError, ValueError) as exc:
                log.warning("unreadable run metadata %s: %s", rundir.metadata, exc)
                continue
            yield record, rundir

    def _ensure_project(self, project_root: Path) -> None:
        """Know the runs of a project this daemon has not reconciled (e.g. listed by path before registering)."""
        if project_root in self._indexed:
            return
        listing = list_workflows(project_root)
        fresh = self.scan(project_root, listing)
        skip = fresh | self._known.keys() | self._creating
        for record, rundir in self.load(project_root, (n for n in listing.directories if n not in skip)):
            self.add(record, rundir, settled=record.status not in LIVE_STATUSES)
        self.flush_index(project_root)

    # ------------------------------------------------------------------ queries

    def summaries(self, project_root: Path | None = None) -> builtins.list[RunSummary]:
        """Every known run (of one project), oldest first."""
        root = project_root.resolve() if project_root is not None else None
        if root is not None:
            self._ensure_project(root)
        found = [s for s in self._known.values() if root is None or s.project_root == root]
        return sorted(found, key=lambda s: s.created_at)

    def list(
        self, project_root: Path | None = None, *, offset: int = 0, limit: int | None = None
    ) -> builtins.list[RunRecord]:
        """Records of the known runs (of one project), oldest first; ``offset``/``limit`` take one page, and only
        that page's finished records are read from disk."""
        page = self.summaries(project_root)[offset : None if limit is None else offset + limit]
        return [self.record(s.run_id).model_copy(deep=True) for s in page]

    def log(self, run_id: str, since: int = 0) -> LogChunk:
        record = self.record(run_id)
        output = self.rundir(run_id).output
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

    def live(self) -> builtins.list[RunSummary]:
        """The runs with a live process: from memory, nothing read from disk, no record copied (the scheduler's
        slots after a restart; listing every run would load the whole history)."""
        return [RunSummary.of(r) for r in self._open.values() if r.status in LIVE_STATUSES]

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
            for r in self._open.values()
            if r.status == RunStatus.WAITING_INPUT and (root is None or r.project_root == root)
        ]
