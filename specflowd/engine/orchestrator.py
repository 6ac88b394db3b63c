"""The orchestration engine: one task per active orchestration, deciding with the pure domain layer.

Loop: read the evidence (project, current run) → ``decide()`` → ``apply()`` → persist the record and append
the decision log *before* acting → act (spawn a run, or wait). It wakes on the runner's events for its runs,
on changes of tasks.md / the state file, and at the one deadline a decision names (a rate limit's reset);
otherwise it sleeps: an idle orchestration costs no wake-ups. Run ids are deterministic per
(orchestration, spawn sequence), and the runner refuses to start an id twice, so a restart never duplicates
a run; a recorded run whose agent never started gives its attempt back (``transitions.run_not_started``).

Every side effect goes through a port (engine/ports.py): runs, the clock, the project's files, the record
store (record and decision log written crash-consistently), the skills' state file, the Claude Helper and the
event sink. This module imports only those ports, the domain and the event catalogue, so the whole loop runs
in-process with fakes and a fake clock (tests/engine/); the daemon gives it the real adapters
(engine/adapters.py).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from specflowd.domain import transitions
from specflowd.domain.actions import (
    Action,
    Heal,
    NeedsAttention,
    ResumeRun,
    SpawnBatch,
    SpawnStep,
    WaitRateLimit,
    is_wait,
)
from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.domain.decide import decide
from specflowd.domain.evidence import ProjectEvidence, RunEvidence, TaskState
from specflowd.domain.forecast import Sample
from specflowd.domain.forecast_history import SampleCache
from specflowd.domain.merge_ready import gate_stop
from specflowd.domain.observe import Observation, done_ids, observe_project
from specflowd.domain.progress import Progress, progress
from specflowd.domain.prompts import continue_prompt, prompt_for, system_prompt
from specflowd.domain.record import (
    TERMINAL_STATUSES,
    AttentionKind,
    OrchestrationRecord,
    OrchestrationStatus,
    RecoveryOption,
    new_record,
)
from specflowd.engine.bookkeeping import running_step, state_write_stop, writes_running_step
from specflowd.engine.ports import Advice, EnginePorts, FinishedSummary, Queued, RunRequest
from specflowd.errors import AgentUnavailable, AlreadyActive, NotFound, SpecflowError, StorageError
from specflowd.event_catalogue import (
    BatchDecision,
    Decision,
    DecisionLabel,
    EventPayload,
    OrchestrationProblem,
    OrchestrationStarted,
    QuestionAsked,
    RunFinished,
    RunProgress,
    RunStarted,
    RunWarning,
    StatusChanged,
)
from specflowd.faults import fault
from specflowd.ids import resolve_prefix
from specflowd.vocabulary import RunStatus

__all__ = ["Orchestrator", "needs_advice"]

log = logging.getLogger(__name__)

DECIDING_AT_ONCE = 4
"""How many orchestrations take a decision step at the same moment. A step is a few ms of CPU on the event loop
(read the project, decide, write the record); when hundreds wake together (a burst of starts, a rate limit's
reset) all their steps ran in one loop iteration and every client waited behind them (0.4 s measured for 200
starts). Taking turns keeps each iteration short. The user's control calls (pause, cancel, answers) take no
turn: they only wait for their own orchestration's lock."""
FORECAST_RECORDS = 300  # latest finished orchestrations (all projects', and a project's own) the forecast reads
CACHED_RECORDS = 64  # finished orchestrations read on demand kept in memory, the most recently used
_FOREVER = datetime.max.replace(tzinfo=UTC)  # sentinel: sleep until woken


@dataclass(frozen=True)
class _Consult:
    """A decision to ask the Claude Helper about before carrying it out (see engine.consult)."""

    record: OrchestrationRecord
    action: Action
    run: RunEvidence | None
    project: ProjectEvidence
    key: str  # identifies the decision, so a repeated one reuses the advice already paid for


def needs_advice(action: Action, run: RunEvidence | None) -> bool:
    """Is ``action`` one the Claude Helper may improve: a heal (diagnosis), the restart of a stale run, the retry
    of a failed step?"""
    if isinstance(action, Heal):
        return True
    if run is None or not run.final or not isinstance(action, SpawnStep | SpawnBatch):
        return False  # (a heal is always advised: diagnosis, or the stale review)
    return run.status == RunStatus.STALE or (isinstance(action, SpawnStep) and action.last_error is not None)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _changed(before: OrchestrationRecord, after: OrchestrationRecord) -> bool:
    return before.model_dump(exclude={"updated_at"}) != after.model_dump(exclude={"updated_at"})


def _is_spawn(action: Action) -> bool:
    return isinstance(action, SpawnStep | SpawnBatch | Heal | ResumeRun)


def _run_kind(action: SpawnStep | SpawnBatch | Heal | ResumeRun) -> str:
    """What a run is, for the scheduler's views: step, batch, heal or resume."""
    match action:
        case SpawnStep():
            return "step"
        case SpawnBatch():
            return "batch"
        case Heal():
            return "heal"
        case _:
            return "resume"


class Orchestrator:
    def __init__(self, ports: EnginePorts) -> None:
        self.runs = ports.runs
        self.clock = ports.clock
        self.project = ports.project
        self.journal = ports.journal
        self.skill_state = ports.skill_state
        self.adviser = ports.adviser
        self.events = ports.events
        self._records: dict[str, OrchestrationRecord] = {}  # every orchestration read (all the active ones)
        self._finished: dict[str, FinishedSummary] = {}  # finished ones known from the history index, not read
        self._cache: OrderedDict[str, OrchestrationRecord] = OrderedDict()  # of those, the last read
        self._wake: dict[str, anyio.Event] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._turns = anyio.Semaphore(DECIDING_AT_ONCE)
        self._advice: dict[str, tuple[str, Advice]] = {}
        self._queued: dict[str, str] = {}  # orchestration -> the run id the run port queued for it
        self._problems: list[str] = []
        self._samples = SampleCache()
        self._tg: anyio.abc.TaskGroup | None = None
        self._ready = anyio.Event()

    def _now(self) -> datetime:
        return self.clock.now()

    # -- lifecycle -------------------------------------------------------------------------------------
    async def run(self, project_roots: list[Path]) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            for root in project_roots:
                self.load_project(root)
            self._ready.set()
            await anyio.sleep_forever()

    def load_project(self, root: Path) -> None:
        """Resume every non-final orchestration recorded in ``root`` (after a restart or a registration). The
        finished ones its history index names are known without being read."""
        ids = self.journal.ids(root)
        finished = self.journal.finished(root, ids)
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
                problem = f"{where}: cannot load orchestration {orch_id}: {_first_line(exc)}"
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
            self._launch(orch_id)

    def _launch(self, orch_id: str) -> None:
        assert self._tg is not None
        self._wake[orch_id] = anyio.Event()
        self._tg.start_soon(self._drive, orch_id)

    def problems(self) -> list[str]:
        """Orchestration records that could not be loaded (corrupt, from a newer daemon)."""
        return list(self._problems)

    def active_count(self) -> int:
        return sum(1 for r in self._records.values() if r.status not in TERMINAL_STATUSES)

    def census(self) -> list[tuple[str, str]]:
        """(project path, status) of every orchestration known, read or not, from memory (daemon.metrics)."""
        seen = [(r.project_path, r.status.value) for r in self._records.values()]
        seen += [(s.project_path, s.status.value) for i, s in self._finished.items() if i not in self._records]
        return seen

    # -- queries ---------------------------------------------------------------------------------------
    def get(self, orch_id: str) -> OrchestrationRecord:
        record = self._records.get(orch_id) or self._cache.get(orch_id)
        if record is not None:
            return record
        summary = self._finished.get(orch_id)
        if summary is None:
            raise NotFound(f"no orchestration {orch_id!r}", orchestration=orch_id)
        try:
            record = self.journal.load(Path(summary.project_path), orch_id)
        except (OSError, ValueError) as exc:
            where = self.journal.location(Path(summary.project_path), orch_id)
            raise StorageError(f"{where}: cannot load orchestration {orch_id}: {_first_line(exc)}") from None
        self._cache[orch_id] = record
        while len(self._cache) > CACHED_RECORDS:
            self._cache.popitem(last=False)
        return record

    def resolve(self, ref: str) -> str:
        """The full id of the orchestration ``ref`` names: its id or a unique prefix of it."""
        return resolve_prefix(ref, self._records.keys() | self._finished.keys(), "orchestration")

    def _known(self, root: Path | None, include_finished: bool) -> list[tuple[datetime, str]]:
        """(created_at, id) of the orchestrations (of ``root``), read or not, oldest first."""
        where = None if root is None else str(root)  # records hold str(root): compared as strings, no Path each
        known = {
            r.id: r.created_at
            for r in self._records.values()
            if (where is None or r.project_path == where) and (include_finished or r.status not in TERMINAL_STATUSES)
        }
        if include_finished:
            for s in self._finished.values():
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

    async def progress(self, record: OrchestrationRecord) -> Progress:
        """Elapsed time, an estimate of what is left, and batches/tasks done. A finished orchestration's tasks
        come from its record (``phase close`` archives tasks.md: reading it then would say 0/N)."""
        known = done_ids(record)
        if record.status in TERMINAL_STATUSES and known is not None:
            return progress(record, self._now(), known)
        evidence = (await self.project.read(Path(record.project_path))).evidence
        done = evidence.ids_in(TaskState.DONE)
        history = await self.forecast_history(Path(record.project_path))
        open_tasks = len(evidence.ids_in(TaskState.OPEN))
        result = progress(record, self._now(), done, history=history, open_tasks=open_tasks)
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
            record = self._records.get(orch_id) or self._cache.get(orch_id)
            if record is not None:
                if record.status in TERMINAL_STATUSES:
                    self._samples.add(orch_id, record)
            elif (summary := self._finished.get(orch_id)) is not None:
                unread.append((orch_id, Path(summary.project_path)))
        if unread:
            for orch_id, read in await anyio.to_thread.run_sync(self._peek_all, unread):
                self._samples.add(orch_id, read)
        return self._samples.samples(ids)

    def _peek_all(self, wanted: list[tuple[str, Path]]) -> list[tuple[str, OrchestrationRecord | None]]:
        out: list[tuple[str, OrchestrationRecord | None]] = []
        for orch_id, root in wanted:
            try:
                out.append((orch_id, self.journal.peek(root, orch_id)))
            except (OSError, ValueError):
                out.append((orch_id, None))  # get() reports it when a user asks for that orchestration
        return out

    def decisions(self, record: OrchestrationRecord, limit: int = 10) -> list[dict[str, Any]]:
        return self.journal.decisions(record, limit)

    # -- control ---------------------------------------------------------------------------------------
    async def start(self, root: Path, config: OrchestrationConfig) -> OrchestrationRecord:
        await self._ready.wait()
        for existing in self._records.values():
            if Path(existing.project_path) == root and existing.status not in TERMINAL_STATUSES:
                raise AlreadyActive(
                    f"orchestration {existing.id} is already active in {root}", orchestration=existing.id
                )
        view = await self.project.read(root)
        evidence = view.evidence
        record = new_record(
            id=uuid.uuid4().hex[:12],
            project_path=str(root),
            config=config,
            now=self._now(),
            phase_number=evidence.phase_number,
            phase_branch=evidence.phase_branch or view.feature,
        )
        # the baselines: tasks already done and the USER GATE's value belong to no run of this orchestration
        observation = observe_project(record, evidence, self._now())
        record = observation.record
        await self._persist(record, None, "start", "orchestration started")
        if observation.worth_logging:
            await self._keep_observation(observation)
        self._records[record.id] = record
        self._emit(record, OrchestrationStarted(orchestration=record.id, config=config.model_dump(mode="json")))
        self._launch(record.id)
        return record

    def wake(self, orch_id: str) -> None:
        """Something outside changed for this orchestration (its run, its files, its queued run was admitted):
        decide again."""
        wake = self._wake.get(orch_id)
        if wake is not None:
            wake.set()

    def _lock(self, orch_id: str) -> anyio.Lock:
        """Serialises the drive loop's steps with the user's control calls on one orchestration."""
        return self._locks.setdefault(orch_id, anyio.Lock())

    async def _change(
        self,
        orch_id: str,
        change: Callable[[OrchestrationRecord], OrchestrationRecord],
        label: DecisionLabel,
        reason: str,
    ) -> OrchestrationRecord:
        async with self._lock(orch_id):
            return await self._change_locked(orch_id, change, label, reason)

    async def _change_locked(
        self,
        orch_id: str,
        change: Callable[[OrchestrationRecord], OrchestrationRecord],
        label: DecisionLabel,
        reason: str,
    ) -> OrchestrationRecord:
        before = self.get(orch_id)
        after = change(before)
        await self._persist(after, before, label, reason)
        self._records[orch_id] = after
        self._emit(after, self._decision(after, label, reason))
        if after.status != before.status:
            self._emit_status(after, before, reason)
        if after.status in TERMINAL_STATUSES:
            self._withdraw(orch_id)
        if after.status not in TERMINAL_STATUSES and orch_id not in self._wake:
            self._launch(orch_id)
        self.wake(orch_id)
        return after

    async def pause(self, orch_id: str, now: bool = False) -> OrchestrationRecord:
        record = await self._change(
            orch_id, lambda r: transitions.pause(r, self._now()), "paused", "pause requested by the user"
        )
        self._withdraw(orch_id)  # a run still queued does not start
        if now and record.current_run_id:
            with contextlib.suppress(SpecflowError):  # already ended
                await self.runs.cancel(record.current_run_id)
        return self.get(orch_id)

    async def resume(self, orch_id: str, budget_total: float | None = None) -> OrchestrationRecord:
        return await self._change(
            orch_id, lambda r: transitions.resume(r, self._now(), budget_total), "resumed", "resumed by the user"
        )

    async def cancel(self, orch_id: str) -> OrchestrationRecord:
        record = self.get(orch_id)
        run_id = record.current_run_id
        after = await self._change(
            orch_id, lambda r: transitions.cancel(r, self._now()), "cancelled", "cancelled by the user"
        )
        if run_id:
            with contextlib.suppress(SpecflowError):  # already ended
                await self.runs.cancel(run_id)
        return after

    async def merge(self, orch_id: str) -> OrchestrationRecord:
        return await self._change(
            orch_id,
            lambda r: transitions.request_merge(r, self._now()),
            "merge_requested",
            "merge requested by the user",
        )

    async def go_back(self, orch_id: str, step: Step) -> OrchestrationRecord:
        return await self._change(
            orch_id, lambda r: transitions.go_back(r, step, self._now()), "went_back", f"go back to {step.value}"
        )

    async def recover(
        self, orch_id: str, option: RecoveryOption, budget_total: float | None = None
    ) -> OrchestrationRecord:
        return await self._change(
            orch_id,
            lambda r: transitions.recover(r, option, self._now(), budget_total),
            "recovered",
            f"recover: {option.value}",
        )

    async def answer(self, orch_id: str, answers: dict[str, str]) -> OrchestrationRecord:
        record = self.get(orch_id)
        run_id = record.questions_run_id or record.current_run_id
        if run_id is None:
            raise NotFound(f"orchestration {orch_id} has no run waiting for answers", orchestration=orch_id)
        await self.runs.answer(run_id, answers)  # raises when the run is not waiting: nothing changed then
        if self.get(orch_id).status is not OrchestrationStatus.WAITING_INPUT:
            self.wake(orch_id)  # the engine had not noticed the question yet; it sees the resumed run now
            return self.get(orch_id)
        return await self._change(
            orch_id,
            lambda r: transitions.answers_submitted(r, self._now(), run_id),
            "answered",
            "answers submitted",
        )

    # -- the loop --------------------------------------------------------------------------------------
    def notice(self, payload: EventPayload) -> None:
        """An event from elsewhere in the daemon: the runner's events wake the orchestration their run belongs
        to; a run's warning is also written to its decision log and shown to followers."""
        match payload:
            case RunWarning(orchestration=str(orch_id), run_id=run_id, message=message):
                record = self._records.get(orch_id)
                if record is not None and self._tg is not None:
                    self._tg.start_soon(self._warn, record, run_id, message)  # its log line is written off the loop
                self.wake(orch_id)
            case RunStarted(orchestration=str(orch_id)) | RunProgress(orchestration=str(orch_id)):
                self.wake(orch_id)
            case RunFinished(orchestration=str(orch_id)) | QuestionAsked(orchestration=str(orch_id)):
                self.wake(orch_id)
            case _:
                pass

    async def _warn(self, record: OrchestrationRecord, run_id: str, message: str) -> None:
        """Not a failure: the user should know (decision log, status, followers); the run goes on."""
        entry = self._entry(record, record, "warning", message, run_id=run_id)
        with contextlib.suppress(StorageError):  # the warning is also in the run record and the daemon log
            await self.journal.note(record, entry)  # the record did not change
        self._emit(record, self._decision(record, "warning", message, run_id=run_id))

    async def _sleep(self, orch_id: str, until: datetime | None = None) -> None:
        """Until woken (the runner's events, the project's files, a user's verb, an admission) or ``until``
        (a rate limit's reset), whichever comes first. Nothing else can change a decision: decide() reads no
        clock but for the rate limit's reset."""
        wake = self._wake[orch_id]
        if until is None:
            await wake.wait()
            self._wake[orch_id] = anyio.Event()
            return
        deadline = until
        async with anyio.create_task_group() as tg:

            async def timer() -> None:
                await self.clock.sleep_until(deadline)
                tg.cancel_scope.cancel()

            tg.start_soon(timer)
            await wake.wait()
            tg.cancel_scope.cancel()
        self._wake[orch_id] = anyio.Event()

    async def _watch_files(self, orch_id: str) -> None:
        """Wake the orchestration when tasks.md or the skills' state file changes."""
        root = Path(self.get(orch_id).project_path)
        while self.get(orch_id).status not in TERMINAL_STATUSES:
            await self.project.changed(root)
            self.wake(orch_id)

    async def _drive(self, orch_id: str) -> None:
        """Decide until the orchestration ends, with its file watcher beside it (stopped with it)."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._watch_files, orch_id)
            await self._decide_until_done(orch_id)
            tg.cancel_scope.cancel()

    async def _decide_until_done(self, orch_id: str) -> None:
        try:
            while self.get(orch_id).status not in TERMINAL_STATUSES:
                await self._step(orch_id)
        except StorageError as exc:  # disk full, file too large: stop this one, keep the last good record
            log.error("orchestration %s stopped: %s", orch_id, exc.message)
            await self._stop_visibly(orch_id, AttentionKind.STORAGE, f"{exc.message}; free space, then recover retry")
        except Exception:  # a bug must stop this orchestration visibly, not the daemon
            log.exception("orchestration %s crashed", orch_id)
            await self._stop_visibly(
                orch_id, AttentionKind.UNKNOWN_STATE, "internal error in the engine (see the daemon log)"
            )
        finally:
            self._wake.pop(orch_id, None)

    async def _stop_visibly(self, orch_id: str, kind: AttentionKind, reason: str) -> None:
        """needs_attention on disk when it can be written, else in memory only (the file keeps the last good
        record, which a restart resumes from); either way status and events show it."""
        before = self.get(orch_id)
        action = NeedsAttention(
            attention_kind=kind, reason=reason, options=[RecoveryOption.RETRY, RecoveryOption.ABORT]
        )
        try:
            await self._record_action(before, action)
        except StorageError:  # _record_action holds the new state in memory before it writes; tell followers
            after = self.get(orch_id)
            self._emit(after, self._decision(after, "needs_attention", reason))
            self._emit_status(after, before, reason)

    async def _step(self, orch_id: str) -> None:
        async with self._turns, self._lock(orch_id):  # the turn first: a waiting step never holds the lock
            outcome = await self._decide_and_act(orch_id)
        if isinstance(outcome, _Consult):
            # the helper may think for a while: without the lock, so pause/cancel/answers stay responsive
            advice = self._advice.get(orch_id)
            if advice is None or advice[0] != outcome.key:
                advice = (outcome.key, await self.adviser.advise(outcome.record, outcome.action, outcome.run))
                self._advice[orch_id] = advice
            async with self._turns, self._lock(orch_id):
                outcome = await self._act_on_advice(orch_id, outcome, advice[1])
        if outcome is not None:
            await self._sleep(orch_id, until=None if outcome is _FOREVER else outcome)

    async def _decide_and_act(self, orch_id: str) -> datetime | _Consult | None:
        """One decision under the lock; returns when to sleep until (``_FOREVER`` = until woken), None to
        decide again at once, or the decision to ask the Claude Helper about first."""
        record = self.get(orch_id)
        if record.status in TERMINAL_STATUSES:
            return None
        project = (await self.project.read(Path(record.project_path))).evidence
        run = None
        if record.current_run_id:
            run = self.runs.evidence(record.current_run_id)
            if run.final and run.status == RunStatus.NOT_STARTED:
                await self._not_started(record, run)
                return None  # decide again on the record that gave the attempt back
            observed = transitions.observe_run(record, run, self._now())
            if observed is not record:
                await self._save(observed)
                record = observed
        observation = observe_project(record, project, self._now())
        if observation.record is not record:
            record = observation.record
            await self._keep_observation(observation)
        action = decide(record, project, run, self._now())
        if needs_advice(action, run):
            key = f"{run.run_id if run else '-'}>{getattr(action, 'run_id', '-')}"
            return _Consult(record=record, action=action, run=run, project=project, key=key)
        return await self._carry_out(record, action, project)

    async def _not_started(self, record: OrchestrationRecord, run: RunEvidence) -> None:
        """The current run's agent never started (the daemon stopped before the exec): nothing ran, nothing
        is judged. A first invocation gives its attempt back; a continuation (answers, rate limit) starts its
        unit of work afresh like any session that could not be continued."""
        run_id = run.run_id
        if run.continuations:
            await self._change_locked(
                record.id,
                lambda r: transitions.resume_failed(r, run_id, self._now()),
                "resume_failed",
                f"the continuation of run {run_id} never started; starting its work afresh",
            )
            return
        await self._change_locked(
            record.id,
            lambda r: transitions.run_not_started(r, run_id, self._now()),
            "not_started",
            f"run {run_id} never started (specflowd stopped before its agent was started); its attempt is given back",
        )

    async def _act_on_advice(self, orch_id: str, asked: _Consult, advice: Advice) -> datetime | None:
        """Back under the lock: note the helper's spend and verdict, then act on it unless the record moved
        on meanwhile (a pause, a cancel): then decide again (the advice is kept for the same decision)."""
        record = self.get(orch_id)
        if _changed(record, asked.record):
            return None
        self._advice.pop(orch_id, None)
        record = await self._log_helper(record, advice)
        return await self._carry_out(record, advice.action, asked.project)

    def _withdraw(self, orch_id: str, keep: str | None = None) -> None:
        """Give up the run the run port queued for this orchestration (unless it is ``keep``)."""
        queued = self._queued.get(orch_id)
        if queued is not None and queued != keep:
            del self._queued[orch_id]
            self.runs.withdraw(queued)

    async def _carry_out(
        self, record: OrchestrationRecord, action: Action, project: ProjectEvidence
    ) -> datetime | None:
        spawns = isinstance(action, SpawnStep | SpawnBatch | Heal)
        self._withdraw(record.id, keep=getattr(action, "run_id", None) if _is_spawn(action) else None)
        if is_wait(action) and not _is_spawn(action):
            after = transitions.apply(record, action, self._now())
            if _changed(record, after):  # a wait already in force is not logged again on every wake
                await self._record_action(record, action, after)
            return action.until if isinstance(action, WaitRateLimit) else _FOREVER
        if isinstance(action, SpawnStep) and action.step == Step.MERGE:
            # /flow.merge refuses without a passed implement gate: where the SpecFlow CLI is installed its
            # verdict is asked (decide() judged by the task states) before a slot is taken
            stop = gate_stop(await self.skill_state.implement_gate(Path(record.project_path)))
            if stop is not None:
                await self._record_action(record, stop)
                return _FOREVER
        if isinstance(action, SpawnStep | SpawnBatch | Heal | ResumeRun):
            # a run starts only once the run port admits it; nothing is recorded before (the same decision
            # names the same run id, so deciding again after a wake-up or a restart asks for the same run)
            admission = await self.runs.admit(
                action.run_id,
                Path(record.project_path),
                record.id,
                group=record.config.group,
                priority=record.config.priority,
                kind=_run_kind(action),
            )
            if isinstance(admission, Queued):
                self._queued[record.id] = action.run_id
                return _FOREVER
            self._queued.pop(record.id, None)
        if isinstance(action, SpawnStep | SpawnBatch | Heal) and writes_running_step(
            step := running_step(action), project.skill_step
        ):
            # the state file shows the step before its run starts; a failed write stops before the spawn
            written = await self.skill_state.mark_running(Path(record.project_path), step)
            stop = state_write_stop(step, action, written)
            if stop is not None:
                self.runs.withdraw(action.run_id)  # its slot goes back: nothing starts
                await self._record_action(record, stop)
                return _FOREVER
        after = await self._record_action(record, action)
        if spawns:
            assert isinstance(action, SpawnStep | SpawnBatch | Heal)
            fault("after_spawn_decision")
            await self._spawn(after, action)
            return _FOREVER
        if isinstance(action, ResumeRun):
            await self._resume_run(after, action)
            return _FOREVER
        return None

    async def _record_action(
        self, before: OrchestrationRecord, action: Action, after: OrchestrationRecord | None = None
    ) -> OrchestrationRecord:
        after = after or transitions.apply(before, action, self._now())
        entry = transitions.log_entry(before, action, after, self._now())
        try:
            await self._persist(after, before, action.kind, action.reason, entry.model_dump(mode="json"), held=True)
        finally:  # held: kept in memory even when the write fails; shown only once it is written (or failed)
            self._records[after.id] = after
        batch_index: int | None = getattr(action, "batch_index", None)
        run_id: str | None = getattr(action, "run_id", None)
        decision = self._decision(after, action.kind, action.reason, batch_index=batch_index, run_id=run_id)
        if batch_index is not None:
            self._emit(after, BatchDecision(**{**decision.model_dump(), "batch_index": batch_index}))
        self._emit(after, decision)
        if after.status != before.status:
            self._emit_status(after, before, action.reason)
        return after

    async def _keep_observation(self, observation: Observation) -> None:
        """Save what an observation changed in the record, with a decision-log line (through the journal)
        for each finding worth knowing; a record change alone is only saved."""
        record = observation.record
        entries: list[tuple[str, str, dict[str, Any]]] = []
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
        if not entries:
            await self._save(record)
        for action, reason, extra in entries:
            await self._persist(record, record, action, reason, **extra)
            self._records[record.id] = record
            if action == "unasked_ticks":
                self._emit(record, self._decision(record, "unasked_ticks", reason))

    async def _log_helper(self, record: OrchestrationRecord, advice: Advice) -> OrchestrationRecord:
        """Note the helper's spend and append its decision (helper or fallback, and why) to the log."""
        if advice.cost_usd:
            record = transitions.note_helper_cost(record, advice.cost_usd, self._now())
        try:
            await self._persist(
                record,
                record,
                advice.label,
                advice.reason,
                held=True,
                source=advice.source,
                cost_usd=advice.cost_usd,
                **advice.extra,
            )
        finally:  # held, as in _record_action
            self._records[record.id] = record
        return record

    async def _spawn(self, record: OrchestrationRecord, action: SpawnStep | SpawnBatch | Heal) -> None:
        config = record.config
        if isinstance(action, SpawnStep):
            step, batch = action.step.value, None
        else:
            step, batch = ("heal" if isinstance(action, Heal) else "implement"), action.batch_index
        request = RunRequest(
            orchestration=record.id,
            project_root=Path(record.project_path),
            run_id=action.run_id,
            step=step,
            batch_index=batch,
            attempt=action.attempt,
            prompt=prompt_for(record, action),
            system_prompt=system_prompt(config.additional_context),
            budget_usd=action.budget_usd,
            model=action.model,
            fallback_model=config.fallback_model,
            permission_mode=config.permission_mode,
            stale_after_s=config.stale_after_s,
            agent=config.agent,
            sandbox=config.sandbox,
        )
        try:
            await self.runs.start(request)
        except AgentUnavailable as exc:
            # The binary went away (uninstalled, PATH or config changed): say so now. The run never started,
            # so its unit of work is pending again without using an attempt; retry once the agent is back.
            log.warning("orchestration %s: cannot start %s: %s", record.id, step, exc.message)
            unstarted = transitions.resume_failed(self.get(record.id), action.run_id, self._now())
            self._records[record.id] = unstarted
            missing = NeedsAttention(
                attention_kind=AttentionKind.AGENT_UNAVAILABLE,
                reason=f"cannot start the {step} run: {exc.message}; then `specflowctl recover retry`",
                options=[RecoveryOption.RETRY, RecoveryOption.ABORT],
                step=action.step if isinstance(action, SpawnStep) else Step.IMPLEMENT,
                batch_index=None if isinstance(action, SpawnStep) else action.batch_index,
                context=dict(exc.data),
            )
            await self._record_action(unstarted, missing)
        except SpecflowError as exc:
            log.warning("orchestration %s: cannot start %s: %s", record.id, step, exc.message)
            failure = NeedsAttention(
                attention_kind=AttentionKind.UNKNOWN_STATE,
                reason=f"cannot start the {step} run: {exc.message}",
                context={"kind": exc.kind},
            )
            await self._record_action(self.get(record.id), failure)

    async def _resume_run(self, record: OrchestrationRecord, action: ResumeRun) -> None:
        try:
            prompt = continue_prompt(action.cause)
            left = record.config.budget.total - record.totals.spent_usd  # the run's own cap, and never past the total
            await self.runs.resume(action.run_id, prompt, budget_usd=left)
        except SpecflowError as exc:
            # e.g. its budget is spent or its record is gone: the unit of work starts afresh instead
            log.warning("orchestration %s: cannot continue run %s: %s", record.id, action.run_id, exc.message)
            await self._change_locked(
                record.id,
                lambda r: transitions.resume_failed(r, action.run_id, self._now()),
                "resume_failed",
                f"cannot continue run {action.run_id}: {exc.message}; starting its work afresh",
            )

    # -- persistence and events ------------------------------------------------------------------------
    def _entry(
        self, record: OrchestrationRecord, before: OrchestrationRecord | None, action: str, reason: str, **extra: Any
    ) -> dict[str, Any]:
        """A decision-log line the engine writes itself (decide()'s actions use ``transitions.log_entry``)."""
        return {
            "time": self._now().isoformat(),
            "action": action,
            "reason": reason,
            "status_before": before.status.value if before else None,
            "status_after": record.status.value,
            **extra,
        }

    async def _save(self, record: OrchestrationRecord) -> None:
        await self.journal.save(record)
        self._records[record.id] = record

    async def _persist(
        self,
        record: OrchestrationRecord,
        before: OrchestrationRecord | None,
        action: str,
        reason: str,
        entry: dict[str, Any] | None = None,
        *,
        held: bool = False,
        **extra: Any,
    ) -> None:
        """Save the record and log its decision. ``held``: the caller already holds ``record`` in memory and
        keeps it if the save fails (the decision is then logged with the next save that succeeds); otherwise
        a failed save means the change did not happen."""
        line = entry or self._entry(record, before, action, reason, **extra)
        await self.journal.commit(record, line, held=held)

    @staticmethod
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
