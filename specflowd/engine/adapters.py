"""The real adapters behind the engine's ports (engine/ports.py): today's runner, project reader, journal,
skills' state file writer and clock, each wrapped without policy.

``engine_ports(launcher, events, project_id)`` builds the set the daemon gives the orchestrator.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from specflowd.domain.config import Step
from specflowd.domain.evidence import RunEvidence
from specflowd.domain.merge_ready import GateCheck
from specflowd.domain.record import (
    TERMINAL_STATUSES,
    OrchestrationRecord,
    OrchestrationStatus,
    dump_record,
    load_record,
)
from specflowd.engine.bookkeeping import running_step_values
from specflowd.engine.consult import HelperAdviser
from specflowd.engine.evidence_adapters import missing_run_evidence, project_evidence, run_evidence
from specflowd.engine.ports import (
    Admission,
    Admitted,
    EnginePorts,
    EventSink,
    FinishedSummary,
    ProjectView,
    Queued,
    RunRequest,
    StateWrite,
)
from specflowd.engine.telemetry import resource_attributes, telemetry_env
from specflowd.errors import NotFound
from specflowd.files.history_index import FileKey, HistoryIndex, file_key, index_path
from specflowd.files.skill_state import check_gate, find_specflow_cli, set_state_values
from specflowd.files.workflows import LOG_KEY, Journal, WorkflowDir
from specflowd.paths import user_config_path
from specflowd.project.snapshot import STATE_FILE, read_project_snapshot
from specflowd.run_spec import RunTicket
from specflowd.services.launcher import RunLauncher
from specflowd.settings import load_settings
from specflowd.watch import Fingerprint, Poller, fingerprint

__all__ = [
    "ProjectFiles",
    "ProjectFingerprint",
    "ProjectJournals",
    "RunnerPort",
    "SkillStateFile",
    "SystemClock",
    "engine_ports",
]

ProjectId = Callable[[Path], str]  # a project's registry id (its path when it is not registered)

FILE_POLL_S = 1.0  # how often tasks.md and the state file are looked at after a change
QUIET_FILE_POLL_S = 2.0  # ... backing off to this while they do not change
DEBOUNCE_S = 0.2  # a change is reported this long after it is seen: let the writer finish
TRUSTED_AGE_S = 2.0  # a project read is reused only when every file it covers is older than this
# tasks.md is rewritten in place (truncate, then write) by agents, editors and `specflow mark`: a read of a file
# written just now is used once its files are still the same this long after it (a writer between its truncate
# and its write takes microseconds, one writing in chunks milliseconds)
RECHECK_S = 0.02
MAX_READS = 4  # reads of one view while the files keep changing; then the last is used (observe holds losses)


class RunnerPort:
    """Runs through the daemon's ``RunLauncher`` (services/launcher.py): each admitted first by the run scheduler;
    a start or continuation that fails gives its slot back at once."""

    def __init__(self, launcher: RunLauncher, project_id: ProjectId = str) -> None:
        self.launcher = launcher
        self.runs = launcher.runs
        self.project_id = project_id

    async def _telemetry(self, request: RunRequest) -> dict[str, str]:
        """Claude Code's OpenTelemetry variables for this run (``[telemetry]``, read now: an edit applies to the
        next run)."""
        settings = await anyio.to_thread.run_sync(load_settings, user_config_path())
        attributes = resource_attributes(
            project=self.project_id(request.project_root),
            project_path=str(request.project_root),
            orchestration=request.orchestration_id,
            step=request.step,
            batch=request.batch_index,
        )
        return telemetry_env(settings.telemetry, attributes, os.environ)

    async def admit(
        self,
        run_id: str,
        project_root: Path,
        orchestration: str,
        *,
        group: str | None = None,
        priority: int = 0,
        kind: str = "run",
    ) -> Admission:
        run = RunTicket(
            run_id=run_id,
            project_root=project_root,
            orchestration_id=orchestration,
            group=group,
            priority=priority,
            kind=kind,
        )
        position = self.launcher.admit(run)
        if position is None:
            return Admitted()
        return Queued(position=position.position, group=position.group, reason=position.reason.value)

    def withdraw(self, run_id: str) -> None:
        self.launcher.withdraw(run_id)

    async def start(self, request: RunRequest) -> None:
        await self.launcher.start(request.model_copy(update={"extra_env": await self._telemetry(request)}))

    async def resume(self, run_id: str, prompt: str, budget_usd: float) -> None:
        await self.launcher.resume(run_id, prompt, budget_usd=budget_usd)

    async def answer(self, run_id: str, answers: dict[str, str]) -> None:
        await self.runs.answer(run_id, answers)

    async def cancel(self, run_id: str) -> None:
        await self.runs.cancel(run_id)

    def evidence(self, run_id: str) -> RunEvidence:
        try:
            return run_evidence(self.runs.get(run_id))
        except NotFound:
            return missing_run_evidence(run_id)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, moment: datetime) -> None:
        await anyio.sleep(max(0.0, (moment - self.now()).total_seconds()))


class ProjectFingerprint:
    """What changes when a file the project reader reads changes, looked at without a glob each time: the
    skills' state file, ROADMAP.md, ``specs/`` and each feature directory (whose own entry changes when spec.md,
    plan.md or tasks.md is created, replaced or removed) and each tasks.md are stat'ed; the feature directories
    are listed again only when one of those directories changed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dirs: tuple[Fingerprint, ...] | None = None
        self._feature_dirs: list[Path] = []
        self._tasks: list[Path] = []

    def __call__(self) -> tuple[Fingerprint, ...]:
        specs = self.root / "specs"
        dirs = (fingerprint(specs), *(fingerprint(d) for d in self._feature_dirs))
        if dirs != self._dirs:
            self._feature_dirs = sorted(p for p in _subdirs(specs))
            self._tasks = [d / "tasks.md" for d in self._feature_dirs]
            dirs = (fingerprint(specs), *(fingerprint(d) for d in self._feature_dirs))
            self._dirs = dirs
        files = (self.root / STATE_FILE, self.root / "ROADMAP.md", *self._tasks)
        return (*dirs, *(fingerprint(f) for f in files))


def _newest_mtime_ns(fingerprints: tuple[Fingerprint, ...]) -> int:
    return max((f[1] for f in fingerprints if f is not None), default=0)


def _subdirs(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as entries:
            return [Path(e.path) for e in entries if e.is_dir()]
    except OSError:
        return []


class ProjectFiles:
    """The project read from disk (off the event loop); changes of its files found by the daemon's shared
    ``Poller`` (one task for every project, backing off while nothing changes).

    A read is reused while the project's fingerprint is unchanged (a status call, a decision that nothing
    changed for: no parse, no thread), but only once every file it covers is older than ``TRUSTED_AGE_S``: a
    file's mtime has a coarse granularity (a few ms), so a file written just now could be written again with the
    same size and mtime, and only an older one is known not to have changed unseen (git's "racy" rule).

    A read is of files that stood still: one whose files changed while they were read is read again, and so is
    one of files written just now that change within ``RECHECK_S`` after it (a half-written tasks.md), at most
    ``MAX_READS`` times; then the last read is used, and the engine's observer does not take a reading that
    loses done tasks as the truth until the next confirms it (domain/observe.py)."""

    def __init__(self, poller: Poller, *, fast: float = FILE_POLL_S, slow: float = QUIET_FILE_POLL_S) -> None:
        self.poller = poller
        self.fast, self.slow = fast, slow
        self._probes: dict[Path, ProjectFingerprint] = {}
        self._reads: dict[Path, tuple[tuple[Fingerprint, ...], ProjectView]] = {}

    async def read(self, root: Path) -> ProjectView:
        probe = self._probes.get(root)
        if probe is None:
            probe = self._probes[root] = ProjectFingerprint(root)
        before = probe()
        cached = self._reads.get(root)
        if cached is not None and cached[0] == before:
            return cached[1]
        self._reads.pop(root, None)
        for _ in range(MAX_READS):
            snapshot = await anyio.to_thread.run_sync(read_project_snapshot, root)
            feature = snapshot.feature_dir.name if snapshot.feature_dir else None
            view = ProjectView(evidence=project_evidence(snapshot), feature=feature)
            after = probe()
            if after != before:  # written while it was read
                before = after
                continue
            if _newest_mtime_ns(after) < time.time_ns() - int(TRUSTED_AGE_S * 1e9):
                self._reads[root] = (after, view)
                return view
            await self.pause()
            before = probe()
            if before == after:  # fresh, but it stood still: not caught between a truncate and its write
                return view
        return view

    async def pause(self) -> None:
        """How long a fresh read waits to see whether its files stand still."""
        await anyio.sleep(RECHECK_S)

    async def changed(self, root: Path) -> None:
        seen = anyio.Event()
        watch = self.poller.watch(ProjectFingerprint(root), seen.set, fast=self.fast, slow=self.slow)
        try:
            await seen.wait()
        finally:
            watch.close()  # also when the orchestration ends (its watcher is cancelled)
        await anyio.sleep(DEBOUNCE_S)


class ProjectJournals:
    """Records and decision logs in ``{project}/.specflow/workflows/`` through one ``Journal`` per
    orchestration (files/workflows.py: record first, then its log line; the log repaired at load). Finished
    orchestrations are noted in the project's ``orchestrations.index.json`` (files/history_index.py), so a
    restart knows them without reading them."""

    def __init__(self) -> None:
        self._journals: dict[str, Journal] = {}
        self._indexes: dict[Path, HistoryIndex] = {}
        self._write_locks: dict[str, anyio.Lock] = {}

    def _index(self, root: Path) -> HistoryIndex:
        index = self._indexes.get(root)
        if index is None:
            index = self._indexes[root] = HistoryIndex.open(index_path(WorkflowDir(root).root, "orchestrations"))
        return index

    @staticmethod
    def _key(root: Path, orchestration: str) -> FileKey | None:
        files = WorkflowDir(root)
        return file_key(files.record_path(orchestration), files.events_path(orchestration))

    def _note_finished(self, record: OrchestrationRecord) -> None:
        """A finished record as it is on disk now goes into the index (written at once: it is small)."""
        if record.status not in TERMINAL_STATUSES:
            return
        root = Path(record.project_path)
        summary = {"status": record.status.value, "created_at": record.created_at.isoformat()}
        index = self._index(root)
        index.put(record.id, self._key(root, record.id), summary)
        index.flush()

    def finished(self, root: Path, ids: list[str]) -> dict[str, FinishedSummary]:
        index = self._index(root)
        index.retain(set(ids))
        found: dict[str, FinishedSummary] = {}
        workflows = str(WorkflowDir(root).root)
        for orchestration in ids:
            if orchestration not in index.entries:
                continue
            stem = f"{workflows}/orchestration-{orchestration}"  # as WorkflowDir names them, without a Path each
            summary = index.fresh(orchestration, file_key(f"{stem}.json", f"{stem}.events.jsonl"))
            if summary is None:
                continue
            try:
                status = OrchestrationStatus(summary["status"])
                created = datetime.fromisoformat(summary["created_at"])
            except (KeyError, TypeError, ValueError):
                continue  # read the record instead
            if status in TERMINAL_STATUSES and created.tzinfo is not None:
                found[orchestration] = FinishedSummary(orchestration, str(root), status, created)
        return found

    def _journal(self, record: OrchestrationRecord) -> Journal:
        journal = self._journals.get(record.id)
        if journal is None:  # a new orchestration: its first commit creates both files
            journal = self._journals[record.id] = Journal(WorkflowDir(Path(record.project_path)), record.id)
        return journal

    def ids(self, root: Path) -> list[str]:
        return WorkflowDir(root).ids()

    def location(self, root: Path, orchestration: str) -> str:
        return str(WorkflowDir(root).record_path(orchestration))

    def load(self, root: Path, orchestration: str) -> OrchestrationRecord:
        document, journal = Journal.open(WorkflowDir(root), orchestration)  # appends what a crash kept from the log
        record = load_record(document)
        self._journals[orchestration] = journal
        self._note_finished(record)
        return record

    def peek(self, root: Path, orchestration: str) -> OrchestrationRecord:
        document = WorkflowDir(root).load(orchestration)
        document.pop(LOG_KEY, None)  # the journal's bookkeeping, not the record's
        return load_record(document)

    # The writes run in a worker thread (fsync off the event loop) and wait until they are durable. One lock per
    # orchestration keeps its journal's writes in call order (anyio locks are FIFO) and its bookkeeping (seq,
    # pending) touched by one thread at a time; the document is dumped before waiting, as the record is now.

    def _writing(self, orchestration: str) -> anyio.Lock:
        return self._write_locks.setdefault(orchestration, anyio.Lock())

    async def commit(self, record: OrchestrationRecord, entry: dict[str, Any], *, held: bool) -> None:
        journal, document = self._journal(record), dump_record(record)
        async with self._writing(record.id):
            await anyio.to_thread.run_sync(lambda: journal.commit(document, entry, held=held))
        self._note_finished(record)

    async def save(self, record: OrchestrationRecord) -> None:
        journal, document = self._journal(record), dump_record(record)
        async with self._writing(record.id):
            await anyio.to_thread.run_sync(journal.save, document)
        self._note_finished(record)

    async def note(self, record: OrchestrationRecord, entry: dict[str, Any]) -> None:
        workflow = WorkflowDir(Path(record.project_path))
        async with self._writing(record.id):
            await anyio.to_thread.run_sync(workflow.append_event, record.id, entry)

    def decisions(self, record: OrchestrationRecord, limit: int) -> list[dict[str, Any]]:
        return WorkflowDir(Path(record.project_path)).read_events(record.id, limit=limit)


class SkillStateFile:
    """The running step through the SpecFlow CLI (``[specflow] cli`` in the settings file, else ``specflow`` on
    PATH), else by an atomic edit of the state file (files/skill_state.py)."""

    async def mark_running(self, root: Path, step: Step) -> StateWrite:
        result = await set_state_values(root, running_step_values(step), await _specflow_cli())
        return StateWrite(ok=result.ok, via=result.via, output=result.output)

    async def implement_gate(self, root: Path) -> GateCheck | None:
        cli = await _specflow_cli()
        if cli is None:
            return None
        result = await check_gate(root, cli, "implement")
        return GateCheck(passed=result.ok, via=result.via, output=result.output)


async def _specflow_cli() -> str | None:
    """The SpecFlow CLI the settings file names (read at each use, so a change applies without a restart)."""
    settings = await anyio.to_thread.run_sync(load_settings, user_config_path())
    return await anyio.to_thread.run_sync(find_specflow_cli, settings.specflow.cli)


def engine_ports(launcher: RunLauncher, events: EventSink, project_id: ProjectId = str) -> EnginePorts:
    return EnginePorts(
        runs=RunnerPort(launcher, project_id),
        clock=SystemClock(),
        project=ProjectFiles(launcher.runs.poller),  # the runner's poller: one for every file the daemon watches
        journal=ProjectJournals(),
        skill_state=SkillStateFile(),
        adviser=HelperAdviser(),
        events=events,
    )
