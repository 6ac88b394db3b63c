"""RunManager: starts agent runs, supervises them (output, exit, budget, staleness), answers questions,
re-adopts runs after a daemon restart. The only writer of run metadata.

Concurrency model: everything runs on the daemon's event loop. ``run()`` owns a task group with one
supervisor task per live run; ``start``/``answer``/``reconcile`` hand new runs to it (queued until ``run()``
is started). Cancelling ``run()`` (daemon shutdown) stops the supervision only — children live on in their
own sessions and are re-adopted by the next daemon's ``reconcile``.

Crash windows of a start, and what ``reconcile`` finds (docs/runs.md#restart): the run directory appears
atomically with its metadata (status starting); the lock file is taken before the fork and held by the
child from the fork on; process.pid is written after the exec. So a restart either has the pid file of the
current invocation (the agent started: adopt it or judge its output), or a lock held by the agent (find it,
write its identity, adopt it), or a lock that nothing holds / no lock at all (nothing is running: judge the
output, or ``not_started`` when the invocation left no trace).
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from specflowd.errors import (
    AgentUnavailable,
    BudgetExhausted,
    InvalidConfig,
    InvalidState,
    NotFound,
    ProjectError,
    StorageError,
)
from specflowd.faults import fault
from specflowd.ids import resolve_prefix
from specflowd.runner import process
from specflowd.runner.argv import build_argv, child_env, continuation_prompt
from specflowd.runner.models import (
    LogChunk,
    LogItem,
    PendingQuestion,
    ProcessIdentity,
    RunnerSettings,
    RunRecord,
    RunSpec,
    StopReason,
)
from specflowd.runner.outcome import Outcome, OutcomeInputs, decide_outcome
from specflowd.runner.rundir import RunDir, iter_run_dirs, sweep_run_dirs
from specflowd.runner.stream import StreamState, missing_command, readable_items
from specflowd.runner.tail import OutputTail, read_lines
from specflowd.vocabulary import LIVE_STATUSES, RESUMABLE_STATUSES, RunStatus

__all__ = ["Publish", "RunManager"]

log = logging.getLogger(__name__)

Publish = Callable[[str, str | None, dict[str, Any]], object]  # return value ignored


def _now() -> datetime:
    return datetime.now(UTC)


def _argv_for(binary: str, spec: RunSpec, run_id: str, budget_usd: float, *, resume: bool) -> list[str]:
    """One command line for a first invocation and its continuations (same flags, ``--resume`` instead of
    ``--session-id``)."""
    return build_argv(
        binary,
        session_id=run_id,
        budget_usd=budget_usd,
        permission_mode=spec.permission_mode,
        model=spec.model,
        fallback_model=spec.fallback_model,
        json_schema=spec.json_schema,
        append_system_prompt=spec.append_system_prompt,
        resume=resume,
    )


@dataclass
class _Live:
    """A run with a process we watch."""

    record: RunRecord
    rundir: RunDir
    identity: ProcessIdentity
    popen: subprocess.Popen[bytes] | None
    state: StreamState
    tail: OutputTail
    last_activity: float
    exited: anyio.Event = field(default_factory=anyio.Event)
    exit_code: int | None = None
    stop_reason: StopReason | None = None
    kill_started: bool = False
    last_progress: float = 0.0
    last_persist: float = 0.0
    dirty: bool = False
    command_checked: bool = False


class RunManager:
    def __init__(self, *, publish: Publish, settings: RunnerSettings | None = None) -> None:
        self._publish_cb = publish
        self.settings = settings or RunnerSettings()
        self._records: dict[str, RunRecord] = {}
        self._dirs: dict[str, RunDir] = {}
        self._live: dict[str, _Live] = {}
        self._settled: dict[str, anyio.Event] = {}
        self._tg: TaskGroup | None = None
        self._queued: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._problems: list[str] = []
        self._identifying: set[str] = set()  # re-found live runs whose agent is not identified yet (_identify)

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """The supervisor loop. Returns (raises cancellation) when cancelled; children keep running."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            queued, self._queued = self._queued, []
            for task in queued:
                tg.start_soon(task)
            try:
                await anyio.sleep_forever()
            finally:
                self._tg = None

    def _start_task(self, task: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if self._tg is not None:
            self._tg.start_soon(task)
        else:
            self._queued.append(task)

    def _watch(self, live: _Live) -> None:
        self._live[live.record.run_id] = live
        self._start_task(lambda: self._supervise(live))

    def problems(self) -> builtins.list[str]:
        """What the start-up sweep could not clean up (reported in daemon.status)."""
        return builtins.list(self._problems)

    # ------------------------------------------------------------------ commands

    async def start(self, spec: RunSpec) -> RunRecord:
        binary = process.resolve_binary(spec.binary or self.settings.claude, os.environ)
        project_root = spec.project_root.resolve()
        if not project_root.is_dir():
            raise ProjectError(f"project directory {project_root} does not exist", project=str(project_root))
        run_id = spec.run_id or str(uuid.uuid4())
        rundir = RunDir(project_root, run_id)
        if run_id in self._records or rundir.path.exists():
            raise InvalidState(f"run {run_id} already exists: a run is never started twice", run=run_id)
        argv = _argv_for(binary, spec, run_id, spec.budget_usd, resume=False)
        record = RunRecord(
            run_id=run_id,
            project_root=project_root,
            orchestration_id=spec.orchestration_id,
            step=spec.step,
            batch=spec.batch,
            attempt=spec.attempt,
            argv=argv,
            status=RunStatus.STARTING,
            budget_usd=spec.budget_usd,
            stale_after_s=spec.stale_after_s,
            model=spec.model,
            created_at=_now(),
            spec=spec.model_copy(update={"project_root": project_root}),
        )
        try:
            rundir.create(record, spec.prompt)  # recorded before exec: a crash from here on leaves a findable run
        except FileExistsError:
            raise InvalidState(f"run {run_id} already exists: a run is never started twice", run=run_id) from None
        self._records[run_id] = record
        self._dirs[run_id] = rundir
        self._settled[run_id] = anyio.Event()
        self._launch(record, rundir, argv, rundir.prompt)
        return record.model_copy(deep=True)

    def _launch(self, record: RunRecord, rundir: RunDir, argv: list[str], prompt_path: Path) -> None:
        spec = record.spec
        assert spec is not None
        env = child_env(os.environ, spec.extra_env, permission_mode=spec.permission_mode, is_root=os.geteuid() == 0)
        try:
            lock_fd = process.take_lock(rundir.lock_path(record.continuations))
            try:
                fault("before_fork")
                popen = process.spawn(
                    argv,
                    cwd=record.project_root,
                    env=env,
                    stdin_path=prompt_path,
                    stdout_path=rundir.output,
                    stderr_path=rundir.stderr,
                    lock_fd=lock_fd,
                )
            finally:
                os.close(lock_fd)  # from here the lock is the child's alone
        except OSError as exc:
            self._apply(record, rundir, Outcome(RunStatus.FAILED, "could not start the agent", error=str(exc)), None)
            raise AgentUnavailable(f"could not start {argv[0]}: {exc}", binary=argv[0]) from exc
        fault("after_fork")
        identity = process.identify(popen.pid, record.continuations)
        fault("before_pid_write")
        rundir.save_identity(identity)
        fault("after_pid_write")
        record.status = RunStatus.RUNNING
        record.started_at = record.started_at or _now()
        record.last_activity_at = _now()
        rundir.save(record)
        live = _Live(
            record=record,
            rundir=rundir,
            identity=identity,
            popen=popen,
            state=StreamState(prices=self.settings.prices),
            tail=OutputTail(rundir.output, record.segment_offset),
            last_activity=time.monotonic(),
        )
        self._watch(live)
        self._emit(
            "run.started",
            record,
            {
                "run_id": record.run_id,
                "orchestration_id": record.orchestration_id,
                "step": record.step,
                "batch": record.batch,
                "attempt": record.attempt,
                "continuation": record.continuations,
                "pid": identity.pid,
                "started_at": record.started_at.isoformat() if record.started_at else None,
                "budget_usd": record.budget_usd,
            },
        )

    async def cancel(self, run_id: str) -> RunRecord:
        record = self._record(run_id)
        if record.final:
            raise InvalidState(f"run {run_id} already ended ({record.status})", run_id=run_id, status=record.status)
        live = self._live.get(run_id)
        if run_id in self._identifying:  # re-found after a restart, agent not identified yet
            record.stop_reason = record.stop_reason or StopReason.CANCELLED
            self._dirs[run_id].save(record)  # _identify stops its processes
            return await self.wait_final(run_id)
        if live is None:  # waiting_input: no process to stop
            self._apply(record, self._dirs[run_id], Outcome(RunStatus.CANCELLED, "cancelled by request"), None)
            return record.model_copy(deep=True)
        live.stop_reason = live.stop_reason or StopReason.CANCELLED
        return await self.wait_final(run_id)

    async def answer(self, run_id: str, answers: dict[str, str]) -> RunRecord:
        record = self._record(run_id)
        if record.status != RunStatus.WAITING_INPUT:
            raise InvalidState(f"run {run_id} is not waiting for input ({record.status})", run_id=run_id)
        if not answers:
            raise InvalidConfig("answers must not be empty", run_id=run_id)
        return self._continue(record, continuation_prompt(answers), answers=dict(answers))

    async def resume(self, run_id: str, prompt: str, budget_usd: float | None = None) -> RunRecord:
        """Continue the session of a run that stopped through no fault of its work (rate limit, stale) with
        ``prompt``; the run keeps its id, its budget and its cost so far. ``budget_usd`` caps the continuation
        further (the orchestration's remaining total)."""
        record = self._record(run_id)
        if record.status not in RESUMABLE_STATUSES:
            raise InvalidState(
                f"run {run_id} is {record.status}; only a rate-limited or stale run can be resumed", run_id=run_id
            )
        return self._continue(record, prompt, answers=None, cap=budget_usd)

    def _continue(
        self, record: RunRecord, prompt: str, answers: dict[str, str] | None, cap: float | None = None
    ) -> RunRecord:
        run_id = record.run_id
        remaining = record.budget_usd - record.cost_usd
        if cap is not None:
            remaining = min(remaining, cap)
        if remaining <= 0:
            raise BudgetExhausted(f"run {run_id} has spent its budget", run_id=run_id, cost_usd=record.cost_usd)
        spec = record.spec
        if spec is None:
            raise InvalidState(f"run {run_id} has no recorded spec to continue from", run_id=run_id)
        binary = process.resolve_binary(spec.binary or self.settings.claude, os.environ)
        rundir = self._dirs[run_id]
        # The continuation is built on a copy and becomes the run's record only once its files are written: a
        # write that fails (disk full, text that cannot be encoded) leaves the run exactly as it was, still
        # answerable, resumable and cancellable. No await in between: a second answer() cannot interleave.
        updated = record.model_copy(deep=True)
        updated.status = RunStatus.STARTING
        updated.continuations += 1
        if answers is not None:
            updated.answers.append(answers)
        updated.questions = []
        updated.cost_prior_usd = updated.cost_usd
        updated.segment_offset = updated.output_offset
        updated.outcome_detail = None
        updated.error = None
        updated.rate_limit_reset = None
        updated.stop_reason = None
        updated.finished_at = None
        updated.argv = _argv_for(binary, spec, run_id, remaining, resume=True)
        prompt_path = rundir.continuation_prompt(updated.continuations)
        try:
            rundir.write_text(prompt_path, prompt)
            rundir.save(updated)
        except (OSError, UnicodeError) as exc:
            raise StorageError(
                f"cannot continue run {run_id}: {exc}; the run is unchanged", run_id=run_id
            ) from None
        self._records[run_id] = updated
        self._settled[run_id] = anyio.Event()
        self._launch(updated, rundir, updated.argv, prompt_path)
        return updated.model_copy(deep=True)

    # ------------------------------------------------------------------ queries

    def _record(self, run_id: str) -> RunRecord:
        try:
            return self._records[run_id]
        except KeyError:
            raise NotFound(f"unknown run {run_id}", run_id=run_id) from None

    def get(self, run_id: str) -> RunRecord:
        return self._record(run_id).model_copy(deep=True)

    def resolve(self, ref: str) -> str:
        """The full id of the run ``ref`` names: its id or a unique prefix of it (NotFound / AmbiguousId)."""
        return resolve_prefix(ref, self._records, "run")

    def list(self, project_root: Path | None = None) -> list[RunRecord]:
        if project_root is not None:
            root = project_root.resolve()
            for rundir in iter_run_dirs(root):  # also runs this daemon has not loaded yet (read-only)
                if rundir.path.name not in self._records:
                    try:
                        self._records[rundir.path.name] = rundir.load()
                        self._dirs[rundir.path.name] = rundir
                    except (OSError, ValueError) as exc:
                        log.warning("unreadable run metadata %s: %s", rundir.metadata, exc)
        records = [r for r in self._records.values() if project_root is None or r.project_root == root]
        return [r.model_copy(deep=True) for r in sorted(records, key=lambda r: r.created_at)]

    def log(self, run_id: str, since: int = 0) -> LogChunk:
        record = self._record(run_id)
        output = self._dirs[run_id].output
        try:
            lines, next_offset = read_lines(output, max(0, since))
        except (OSError, OverflowError, ValueError) as exc:  # unreadable output, an offset the OS cannot seek to
            message = f"cannot read the output of run {run_id} at offset {since}: {exc}"
            raise StorageError(message, run_id=run_id) from None
        items = [
            LogItem(offset=offset, kind=kind, text=text)
            for offset, line in lines
            for kind, text in readable_items(line)
        ]
        return LogChunk(
            run_id=run_id, items=items, next_offset=next_offset, cost_usd=record.cost_usd, status=record.status
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

    async def wait_final(self, run_id: str) -> RunRecord:
        """Wait until the run has no live process: a final status or waiting_input."""
        self._record(run_id)
        await self._settled[run_id].wait()
        return self.get(run_id)

    # ------------------------------------------------------------------ restart

    async def reconcile(self, project_roots: builtins.list[Path]) -> None:
        """Load every run of these projects: re-adopt the live ones, finalise the others from their output, mark
        the ones that never started; first remove leftovers of interrupted writes. Never spawns anything."""
        for root in project_roots:
            self._sweep(root.resolve())
            for rundir in iter_run_dirs(root.resolve()):
                run_id = rundir.path.name
                if run_id in self._live or run_id in self._identifying:
                    continue  # already watched
                try:
                    record = rundir.load()
                except (OSError, ValueError) as exc:
                    log.warning("unreadable run metadata %s: %s", rundir.metadata, exc)
                    continue
                self._records[run_id] = record
                self._dirs[run_id] = rundir
                event = self._settled.setdefault(run_id, anyio.Event())
                if record.status not in LIVE_STATUSES:
                    event.set()
                    continue
                self._recover(record, rundir)
            await anyio.lowlevel.checkpoint()

    def _sweep(self, root: Path) -> None:
        swept = sweep_run_dirs(root)
        for path in swept.removed:
            log.info("removed %s, left by a write a crash interrupted", path)
        for problem in swept.problems:
            if problem not in self._problems:
                log.warning("%s", problem)
                self._problems.append(problem)

    def _recover(self, record: RunRecord, rundir: RunDir) -> None:
        """A run the previous daemon left starting or running: where did the crash fall?"""
        identity = rundir.load_identity()
        if identity is not None and identity.invocation in (None, record.continuations):
            # process.pid is written after the exec: this invocation's agent started; alive or over
            if process.is_same_process(identity):
                self._adopt(record, rundir, identity)
            else:
                self._finalise_dead(record, rundir)
            return
        lock = rundir.lock_path(record.continuations)
        state = process.lock_state(lock)
        if state is process.LockState.HELD:  # forked before the crash, pid not written: find the agent
            agent = process.find_agent(lock, rundir.output, record.continuations)
            if agent is None:
                self._identifying.add(record.run_id)
                self._start_task(lambda: self._identify(record, rundir))
                return
            rundir.save_identity(agent)
            self._adopt(record, rundir, agent)
            return
        # No process of this invocation is alive. No lock: never forked; a free lock and no output of this
        # invocation: the child died before its first line (or the daemon before forking) — nothing ran.
        never = state is process.LockState.MISSING or rundir.output_size() <= record.segment_offset
        self._finalise_dead(record, rundir, never_started=never)

    async def _identify(self, record: RunRecord, rundir: RunDir) -> None:
        """The lock is held but no holder is the agent yet (between fork and setsid, or only descendants of a
        dead agent still hold it): the run is live, so nothing else may start; look again every poll until the
        agent shows or the lock is free. A stop (cancel, or the stale limit passing) kills the holders."""
        lock = rundir.lock_path(record.continuations)
        since = time.monotonic()
        while True:
            if process.lock_state(lock) is not process.LockState.HELD:
                self._identifying.discard(record.run_id)
                self._finalise_dead(record, rundir)  # something ran: its output decides
                return
            agent = process.find_agent(lock, rundir.output, record.continuations)
            if agent is not None and record.stop_reason is None:
                rundir.save_identity(agent)
                self._identifying.discard(record.run_id)
                self._adopt(record, rundir, agent)
                return
            if record.stop_reason is None and time.monotonic() - since > record.stale_after_s:
                record.stop_reason = StopReason.STALE
                rundir.save(record)
            if record.stop_reason is not None:
                for pid in process.lock_holders(lock):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            await anyio.sleep(self.settings.poll_interval_s)

    def _adopt(self, record: RunRecord, rundir: RunDir, identity: ProcessIdentity) -> None:
        # Rebuild the invocation's stream state from its first byte (cheap), then keep tailing from there.
        state = StreamState(prices=self.settings.prices)
        tail = OutputTail(rundir.output, record.segment_offset)
        for line in tail.read_new():
            state.feed(line)
        try:
            idle = max(0.0, time.time() - rundir.output.stat().st_mtime)
        except OSError:
            idle = 0.0
        live = _Live(
            record=record,
            rundir=rundir,
            identity=identity,
            popen=None,
            state=state,
            tail=tail,
            last_activity=time.monotonic() - idle,
            stop_reason=record.stop_reason,  # a stop the previous daemon began is carried through
        )
        if record.status == RunStatus.STARTING:  # the crash came before the daemon noted the start
            record.status = RunStatus.RUNNING
            record.started_at = record.started_at or _now()
            rundir.save(record)
        log.info("re-adopted run %s (pid %s)", record.run_id, identity.pid)
        self._watch(live)

    def _finalise_dead(self, record: RunRecord, rundir: RunDir, *, never_started: bool = False) -> None:
        state = StreamState(prices=self.settings.prices)
        tail = OutputTail(rundir.output, record.segment_offset)
        for line in tail.read_new(final=True):
            state.feed(line)
        self._absorb(record, state, tail)
        outcome = decide_outcome(
            OutcomeInputs(
                result=state.result,
                found_dead_after_restart=True,
                never_started=never_started,
                stop_reason=record.stop_reason,
                rate_limit_seen=state.rate_limit_seen,
                last_retry_error=state.last_retry_error,
            )
        )
        self._apply(record, rundir, outcome, None)

    # ------------------------------------------------------------------ supervision

    async def _supervise(self, live: _Live) -> None:
        """One run's watcher. An unexpected error (e.g. the disk refusing a metadata write) ends only this
        run's supervision, never the daemon's task group."""
        try:
            await self._supervise_unguarded(live)
        except Exception as exc:
            log.exception("supervising run %s failed", live.record.run_id)
            self._live.pop(live.record.run_id, None)
            outcome = Outcome(RunStatus.FAILED, "supervision error", error=f"supervision error: {exc}")
            try:
                self._apply(live.record, live.rundir, outcome, live.exit_code)
            except Exception:
                log.exception("could not record the failure of run %s", live.record.run_id)
                self._settled.setdefault(live.record.run_id, anyio.Event()).set()

    async def _supervise_unguarded(self, live: _Live) -> None:
        record = live.record
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._await_exit, live)
                while True:
                    self._pump(live)
                    if live.exited.is_set():
                        break
                    if live.stop_reason is None:
                        live.stop_reason = self._should_stop(live)
                    if live.stop_reason is not None and not live.kill_started:
                        live.kill_started = True
                        # persisted first: a daemon restart mid-kill still knows why the run ended
                        record.stop_reason = live.stop_reason
                        live.rundir.save(record)
                        tg.start_soon(self._kill, live)
                    with anyio.move_on_after(self.settings.poll_interval_s):
                        await live.exited.wait()
                tg.cancel_scope.cancel()
            if live.kill_started and process.group_alive(live.identity.pgid):
                # the leader is gone but members that ignored SIGTERM remain: a stopped run leaves nothing
                process.signal_group(live.identity.pgid, signal.SIGKILL)
        finally:
            if not live.exited.is_set():  # supervision cancelled (daemon stopping): keep the offset
                live.rundir.save(record)
        self._finish(live)

    def _should_stop(self, live: _Live) -> StopReason | None:
        record = live.record
        if live.state.result is None and record.cost_usd > record.budget_usd:
            return StopReason.BUDGET
        if time.monotonic() - live.last_activity > record.stale_after_s:
            return StopReason.STALE
        return None

    async def _await_exit(self, live: _Live) -> None:
        await process.wait_exit(live.identity)
        if live.popen is not None:
            live.exit_code = await anyio.to_thread.run_sync(live.popen.wait)
        else:
            live.exit_code = process.reap_if_child(live.identity.pid)
        live.exited.set()

    async def _kill(self, live: _Live) -> None:
        pgid = live.identity.pgid
        process.signal_group(pgid, signal.SIGTERM)
        with anyio.move_on_after(self.settings.kill_grace_s):
            await live.exited.wait()
        if not live.exited.is_set():
            process.signal_group(pgid, signal.SIGKILL)

    def _pump(self, live: _Live) -> None:
        if not live.tail.changed():
            return
        lines = live.tail.read_new()
        if not lines:
            return
        for line in lines:
            live.state.feed(line)
        live.last_activity = time.monotonic()
        live.record.last_activity_at = _now()
        self._absorb(live.record, live.state, live.tail)
        self._check_command(live)
        now = time.monotonic()
        if now - live.last_persist >= self.settings.persist_interval_s:
            live.last_persist = now
            live.rundir.save(live.record)
        if now - live.last_progress >= self.settings.progress_interval_s:
            live.last_progress = now
            r = live.record
            self._emit(
                "run.progress",
                r,
                {
                    "run_id": r.run_id,
                    "orchestration_id": r.orchestration_id,
                    "step": r.step,
                    "batch": r.batch,
                    "started_at": r.started_at.isoformat() if r.started_at else None,
                    "budget_usd": r.budget_usd,  # the run's cap: a live view shows spend against it
                    "cost_usd": r.cost_usd,
                    "cost_is_estimate": r.cost_is_estimate,
                    "turns": r.turns,
                    "tool_calls": r.tool_calls,
                    "last_tool": r.last_tool,
                    "last_text": r.last_text,
                    "model": r.model,
                },
            )

    def _check_command(self, live: _Live) -> None:
        """Warn (once) when the skill the prompt invokes is not installed: the CLI does not fail then, it sends
        the text to the model as plain words, so the run would go on without the skill's instructions."""
        record, spec = live.record, live.record.spec
        if live.command_checked or spec is None or record.continuations or live.state.slash_commands is None:
            return
        live.command_checked = True
        name = missing_command(spec.prompt, live.state.slash_commands)
        if name is None or any(f"/{name} " in w for w in record.warnings):  # re-adopted: already said
            return
        message = (
            f"the skill /{name} is not installed for the agent (its init line does not list it): the prompt "
            f"reached the model as plain text; install the SpecFlow commands (e.g. ~/.claude/commands/{name}.md)"
        )
        record.warnings.append(message)
        live.rundir.save(record)
        log.warning("run %s: %s", record.run_id, message)
        self._emit(
            "run.warning",
            record,
            {"run_id": record.run_id, "orchestration_id": record.orchestration_id, "message": message},
        )

    @staticmethod
    def _absorb(record: RunRecord, state: StreamState, tail: OutputTail) -> None:
        record.output_offset = tail.offset
        record.cost_usd = round(record.cost_prior_usd + state.cost_usd, 6)
        record.cost_is_estimate = state.cost_is_estimate
        record.turns = state.turns
        record.model = state.model or record.model
        record.tool_calls = state.tool_calls
        record.last_tool = state.tool_names[-1] if state.tool_names else record.last_tool
        record.last_text = state.texts[-1][-500:] if state.texts else record.last_text
        record.malformed_lines = state.malformed
        record.api_retries = state.api_retries

    def _finish(self, live: _Live) -> None:
        for line in live.tail.read_new(final=True):
            live.state.feed(line)
        self._absorb(live.record, live.state, live.tail)
        self._check_command(live)
        outcome = decide_outcome(
            OutcomeInputs(
                result=live.state.result,
                exit_code=live.exit_code,
                stop_reason=live.stop_reason,
                rate_limit_seen=live.state.rate_limit_seen,
                last_retry_error=live.state.last_retry_error,
            )
        )
        live.record.stop_reason = live.stop_reason
        self._live.pop(live.record.run_id, None)
        self._apply(live.record, live.rundir, outcome, live.exit_code)

    def _apply(self, record: RunRecord, rundir: RunDir, outcome: Outcome, exit_code: int | None) -> None:
        record.status = outcome.status
        record.outcome_detail = outcome.detail
        record.error = outcome.error
        record.questions = outcome.questions
        record.rate_limit_reset = outcome.rate_limit_reset
        record.exit_code = exit_code
        if outcome.status != RunStatus.COMPLETED:
            record.stderr_tail = process.read_tail(rundir.stderr, self.settings.stderr_tail_chars) or None
            if record.error:
                record.error = record.error[: self.settings.stderr_tail_chars]
        if record.final:
            record.finished_at = _now()
        rundir.save(record)
        self._settled.setdefault(record.run_id, anyio.Event()).set()
        if outcome.status == RunStatus.WAITING_INPUT:
            self._emit(
                "question.asked",
                record,
                {
                    "run_id": record.run_id,
                    "orchestration_id": record.orchestration_id,
                    "step": record.step,
                    "message": outcome.detail,
                    "questions": [q.model_dump() for q in record.questions],
                },
            )
        else:
            self._emit(
                "run.finished",
                record,
                {
                    "run_id": record.run_id,
                    "orchestration_id": record.orchestration_id,
                    "step": record.step,
                    "batch": record.batch,
                    "attempt": record.attempt,
                    "status": str(record.status),
                    "detail": record.outcome_detail,
                    "error": record.error,
                    "cost_usd": record.cost_usd,
                    "rate_limit_reset": record.rate_limit_reset,
                },
            )

    def _emit(self, event_type: str, record: RunRecord, data: dict[str, Any]) -> None:
        try:
            self._publish_cb(event_type, str(record.project_root), data)
        except Exception:  # a subscriber's failure must not break supervision
            log.exception("publishing %s failed", event_type)
