"""RunManager: starts agent runs, continues their sessions (answers, resume) and stops them. What it knows of
each run lives in the ``KnownRuns`` (records, run directories, listing, logs); each live run is watched by its
own ``RunSupervisor`` (tail, budget, staleness, kill, exit); outcomes are written and the run events sent by the
``OutcomeWriter`` (runner/outcome_writer.py); the runs an earlier daemon left are recovered by ``RunRecovery``
(runner/recovery.py), which hands the live ones back to be watched.

Concurrency model: everything runs on the daemon's event loop. ``run()`` owns a task group with one
supervisor task per live run; ``start``/``answer``/``reconcile`` hand new runs to it (queued until ``run()``
is started). Cancelling ``run()`` (daemon shutdown) stops the supervision only — children live on in their
own sessions and are re-adopted by the next daemon's ``reconcile``.

Events go out through ``emit(project, payload)`` with payloads of the event catalogue (run.started,
run.progress, run.finished, run.warning, question.asked); the orchestration id is ``orchestration``.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from specflowd.errors import (
    AgentUnavailable,
    BudgetExhausted,
    InvalidConfig,
    InvalidState,
    ProjectError,
    StorageError,
)
from specflowd.faults import fault
from specflowd.runner import process
from specflowd.runner.agentcheck import sandbox_refusal
from specflowd.runner.argv import build_argv, child_env, continuation_prompt
from specflowd.runner.denials import SandboxDenials
from specflowd.runner.known_runs import KnownRuns, RunSummary
from specflowd.runner.loops import LoopDetector
from specflowd.runner.outcome import Outcome
from specflowd.runner.outcome_writer import Emit, OutcomeWriter, now, run_temp_path
from specflowd.runner.records import (
    LogChunk,
    PendingQuestion,
    ProcessIdentity,
    RunnerSettings,
    RunRecord,
    RunSpec,
    StopReason,
)
from specflowd.runner.recovery import RunRecovery
from specflowd.runner.rundir import RunDir
from specflowd.runner.sandbox import ProjectSandbox, RunSandbox, run_sandbox, scope_argv
from specflowd.runner.sandboxcheck import make_temp_dir, systemd_run_path
from specflowd.runner.stream import StreamState
from specflowd.runner.supervisor import RunSupervisor, SupervisorHooks
from specflowd.runner.tail import OutputTail
from specflowd.vocabulary import RESUMABLE_STATUSES, RunStatus
from specflowd.watch import Poller

__all__ = ["Emit", "RunManager"]

log = logging.getLogger(__name__)



def _argv_for(
    binary: str,
    spec: RunSpec,
    run_id: str,
    budget_usd: float,
    *,
    resume: bool,
    sandbox: RunSandbox,
    user_settings: dict[str, Any],
    prefix: list[str],
) -> list[str]:
    """One command line for a first invocation and its continuations (same flags, ``--resume`` instead of
    ``--session-id``; the sandbox as the settings say at each invocation's start)."""
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
        sandbox=sandbox,
        user_settings=user_settings,
        prefix=prefix,
    )


def _with_denials(record: RunRecord, outcome: Outcome, state: StreamState) -> Outcome:
    """What the sandbox refused goes into the record, and into the error of a run that did not complete: the
    heal prompt quotes that error, so the heal knows not to try it again."""
    denials = state.denials
    record.sandbox_denials = list(denials.items) if denials is not None else []
    said = denials.describe() if denials is not None else None
    if said is None or outcome.status in (RunStatus.COMPLETED, RunStatus.WAITING_INPUT, RunStatus.CANCELLED):
        return outcome
    return dataclasses.replace(outcome, error="; ".join(filter(None, [outcome.error, said])))


class RunManager:
    def __init__(
        self,
        *,
        emit: Emit,
        settings: RunnerSettings | None = None,
        poller: Poller | None = None,
        loop_limits: Callable[[], tuple[int, int]] | None = None,
        sandbox_settings: Callable[[Path], ProjectSandbox] | None = None,
        exit_grace: Callable[[], float] | None = None,
    ) -> None:
        """``poller``: the daemon's shared file poller, which its owner runs; without one the manager makes its
        own and runs it in ``run()``. ``loop_limits``: (repeats, window) of loop detection, asked at each
        invocation's start (the daemon reads the settings file then, so a change applies to the next run
        without a restart); ``exit_grace``: likewise, the seconds a process may live on after its result
        line; ``sandbox_settings``: the allowed domains, resource limits and the user's own Claude Code
        settings for a project's run, asked the same way; default: the settings' values."""
        self.settings = settings or RunnerSettings()
        self.poller = poller or Poller()
        self._owns_poller = poller is None
        self._loop_limits = loop_limits or (lambda: (self.settings.loop_repeats, self.settings.loop_window))
        self._sandbox_settings = sandbox_settings or (lambda _root: ProjectSandbox())
        self._exit_grace = exit_grace or (lambda: self.settings.exit_grace_s)
        self.known = KnownRuns()
        self._live: dict[str, RunSupervisor] = {}
        self._tg: TaskGroup | None = None
        self._queued: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.outcomes = OutcomeWriter(self.known, emit, self.settings)
        self._hooks = SupervisorHooks(progress=self.outcomes.progress, warning=self.outcomes.warning)
        self.recovery = RunRecovery(
            known=self.known,
            watched=self._live.keys,
            stream_state=self._stream_state,
            supervise=self._watch_adopted,
            apply=self.outcomes.apply,
            start_task=self._start_task,
            settings=self.settings,
        )

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """The supervisor loop. Returns (raises cancellation) when cancelled; children keep running."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            if self._owns_poller:
                tg.start_soon(self.poller.run)
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

    def _watch(self, supervisor: RunSupervisor) -> None:
        self._live[supervisor.record.run_id] = supervisor
        self._start_task(lambda: self._supervise(supervisor))

    def _watch_adopted(
        self,
        record: RunRecord,
        rundir: RunDir,
        identity: ProcessIdentity,
        state: StreamState,
        tail: OutputTail,
        last_activity: float,
    ) -> None:
        """Watch a live run an earlier daemon started (no child of ours: its exit is seen by its pid)."""
        self._watch(self._supervisor(record, rundir, identity, None, state, tail, last_activity))

    def problems(self) -> builtins.list[str]:
        """What the start-up sweep could not clean up (reported in daemon.status)."""
        return builtins.list(self.recovery.problems)

    def _stream_state(self) -> StreamState:
        """A fresh picture of one invocation's stream, with the configured loop detector."""
        loops = LoopDetector(*self._loop_limits())
        return StreamState(
            prices=self.settings.prices, loops=loops if loops.enabled else None, denials=SandboxDenials()
        )

    def _supervisor(
        self,
        record: RunRecord,
        rundir: RunDir,
        identity: ProcessIdentity,
        popen: subprocess.Popen[bytes] | None,
        state: StreamState,
        tail: OutputTail,
        last_activity: float,
    ) -> RunSupervisor:
        return RunSupervisor(
            record=record,
            rundir=rundir,
            identity=identity,
            popen=popen,
            state=state,
            tail=tail,
            last_activity=last_activity,
            settings=self.settings,
            hooks=self._hooks,
            poller=self.poller,
            stop_reason=record.stop_reason,
            exit_grace_s=self._exit_grace(),
        )

    # ------------------------------------------------------------------ commands

    async def start(self, spec: RunSpec) -> RunRecord:
        await self._require_sandbox(spec)
        binary = process.resolve_binary(spec.binary or self.settings.claude, os.environ)
        project_root = spec.project_root.resolve()
        if not project_root.is_dir():
            raise ProjectError(f"project directory {project_root} does not exist", project=str(project_root))
        run_id = spec.run_id or str(uuid.uuid4())
        rundir = RunDir(project_root, run_id)
        if run_id in self.known or rundir.path.exists():
            raise InvalidState(f"run {run_id} already exists: a run is never started twice", run=run_id)
        argv, sandbox = self._invocation(binary, spec, project_root, run_id, spec.budget_usd, resume=False)
        record = RunRecord(
            run_id=run_id,
            project_root=project_root,
            orchestration_id=spec.orchestration_id,
            step=spec.step,
            batch=spec.batch,
            attempt=spec.attempt,
            argv=argv,
            sandbox=sandbox,
            status=RunStatus.STARTING,
            budget_usd=spec.budget_usd,
            stale_after_s=spec.stale_after_s,
            model=spec.model,
            created_at=now(),
            spec=spec.model_copy(update={"project_root": project_root}),
        )
        self.known.creating(run_id, True)
        try:
            # recorded before exec: a crash from here on leaves a findable run
            await rundir.create_async(record, spec.prompt)
        except FileExistsError:
            raise InvalidState(f"run {run_id} already exists: a run is never started twice", run=run_id) from None
        else:
            self.known.add(record, rundir)
        finally:
            self.known.creating(run_id, False)
        await self._launch(record, rundir, argv, rundir.prompt)
        return record.model_copy(deep=True)

    async def _require_sandbox(self, spec: RunSpec | None) -> None:
        """A sandboxed invocation on a machine that cannot sandbox is refused before anything is written
        (AgentUnavailable, with what to install): an orchestration stops at once instead of failing run after
        run. Asked in a worker thread (a first ``--version`` of the binary); cheap once it has answered."""
        if spec is None or not spec.sandbox:
            return
        binary = process.resolve_binary(spec.binary or self.settings.claude, os.environ)
        refusal = await anyio.to_thread.run_sync(sandbox_refusal, binary, dict(os.environ))
        if refusal:
            raise AgentUnavailable(refusal, binary=binary, sandbox=False)

    def _invocation(
        self, binary: str, spec: RunSpec, project_root: Path, run_id: str, budget_usd: float, *, resume: bool
    ) -> tuple[list[str], RunSandbox]:
        """One invocation's command line and how it is confined, as the settings say now (docs/sandbox.md)."""
        settings = self._sandbox_settings(project_root)
        systemd_run = systemd_run_path(os.environ)
        sandbox = run_sandbox(
            enabled=spec.sandbox,
            project_root=project_root,
            temp_dir=run_temp_path(run_id) if spec.sandbox else None,
            uid=os.geteuid(),
            permission_mode=spec.permission_mode,
            settings=settings,
            limits_enforced=systemd_run is not None,
        )
        properties = settings.limits.properties()
        prefix = scope_argv(systemd_run, run_id, properties) if systemd_run and properties else []
        argv = _argv_for(
            binary,
            spec,
            run_id,
            budget_usd,
            resume=resume,
            sandbox=sandbox,
            user_settings=settings.claude_settings,
            prefix=prefix,
        )
        return argv, sandbox

    async def _launch(self, record: RunRecord, rundir: RunDir, argv: list[str], prompt_path: Path) -> None:
        spec = record.spec
        assert spec is not None
        temp_dir = run_temp_path(record.run_id) if spec.sandbox else None
        env = child_env(
            os.environ,
            spec.extra_env,
            permission_mode=spec.permission_mode,
            is_root=os.geteuid() == 0,
            sandboxed=spec.sandbox,
            temp_dir=temp_dir,
        )
        try:
            if temp_dir is not None:
                make_temp_dir(temp_dir)
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
            self.outcomes.apply(record, Outcome(RunStatus.FAILED, "could not start the agent", error=str(exc)), None)
            raise AgentUnavailable(f"could not start {argv[0]}: {exc}", binary=argv[0]) from exc
        fault("after_fork")
        identity = process.identify(popen.pid, record.continuations)
        state = self._stream_state()
        tail = OutputTail(rundir.output, record.segment_offset)
        supervisor = self._supervisor(record, rundir, identity, popen, state, tail, time.monotonic())
        # Known as live before the writes below are awaited (fsync in a worker thread, the loop serves clients
        # meanwhile): a cancel in between stops the process through its supervisor. The record shows running
        # only once that is on disk; its supervision starts after.
        self._live[record.run_id] = supervisor
        record.started_at = record.started_at or now()  # the process exists: a listing shows when it started
        try:
            fault("before_pid_write")
            await rundir.save_identity_async(identity)
            fault("after_pid_write")
            running = {"status": RunStatus.RUNNING, "last_activity_at": now()}
            await rundir.save_async(record.model_copy(update=running))
            for key, value in running.items():
                setattr(record, key, value)
        finally:  # the process runs whatever the disk said: it is watched (and stopped on a cancel) in any case
            self._watch(supervisor)
        self.outcomes.started(record, identity.pid)

    async def cancel(self, run_id: str) -> RunRecord:
        record = self.known.record(run_id)
        if record.final:
            raise InvalidState(f"run {run_id} already ended ({record.status})", run_id=run_id, status=record.status)
        supervisor = self._live.get(run_id)
        if run_id in self.recovery.identifying:  # re-found after a restart, agent not identified yet
            record.stop_reason = record.stop_reason or StopReason.CANCELLED
            self.known.save(record)  # the recovery's watcher stops its processes
            return await self.known.wait_final(run_id)
        if supervisor is None:  # waiting_input: no process to stop; written in one step, so no answer slips in
            self.outcomes.apply(record, Outcome(RunStatus.CANCELLED, "cancelled by request"), None)
            return record.model_copy(deep=True)
        supervisor.stop(StopReason.CANCELLED)
        return await self.known.wait_final(run_id)

    async def answer(self, run_id: str, answers: dict[str, str]) -> RunRecord:
        await self._require_sandbox(self.known.record(run_id).spec)  # before the checks: no await after them
        record = self.known.record(run_id)
        if record.status != RunStatus.WAITING_INPUT:
            raise InvalidState(f"run {run_id} is not waiting for input ({record.status})", run_id=run_id)
        if not answers:
            raise InvalidConfig("answers must not be empty", run_id=run_id)
        return await self._continue(record, continuation_prompt(answers), answers=dict(answers))

    async def resume(self, run_id: str, prompt: str, budget_usd: float | None = None) -> RunRecord:
        """Continue the session of a run that stopped through no fault of its work (rate limit, stale) with
        ``prompt``; the run keeps its id, its budget and its cost so far. ``budget_usd`` caps the continuation
        further (the orchestration's remaining total)."""
        await self._require_sandbox(self.known.record(run_id).spec)  # before the checks: no await after them
        record = self.known.record(run_id)
        if record.status not in RESUMABLE_STATUSES:
            raise InvalidState(
                f"run {run_id} is {record.status}; only a rate-limited or stale run can be resumed", run_id=run_id
            )
        return await self._continue(record, prompt, answers=None, cap=budget_usd)

    async def _continue(
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
        rundir = self.known.rundir(run_id)
        # The continuation is built on a copy and becomes the run's record only once its files are written: a
        # write that fails (disk full, text that cannot be encoded) leaves the run exactly as it was, still
        # answerable, resumable and cancellable. No await in between: a second answer() cannot interleave.
        updated = record.model_copy(deep=True)
        updated.status = RunStatus.STARTING
        updated.continuations += 1
        if answers is not None:
            updated.answers.append(answers)
        # the questions stay until the continuation's outcome replaces them: if the daemon dies before the
        # continuation's agent starts, the run goes back to waiting for these answers (runner/recovery.py)
        updated.cost_prior_usd = updated.cost_usd
        updated.segment_offset = updated.output_offset
        updated.outcome_detail = None
        updated.error = None
        updated.rate_limit_reset = None
        updated.stop_reason = None
        updated.loop = None
        updated.finished_at = None
        updated.argv, updated.sandbox = self._invocation(
            binary, spec, record.project_root, run_id, remaining, resume=True
        )
        prompt_path = rundir.continuation_prompt(updated.continuations)
        try:
            rundir.write_text(prompt_path, prompt)
            self.known.unindex(record)  # first: a crash from here on must find the run by its record, live
            rundir.save(updated)
        except (OSError, UnicodeError) as exc:
            raise StorageError(f"cannot continue run {run_id}: {exc}; the run is unchanged", run_id=run_id) from None
        self.known.add(updated, rundir)  # from here on a second answer() finds the run starting
        await self._launch(updated, rundir, updated.argv, prompt_path)
        return updated.model_copy(deep=True)

    # ------------------------------------------------------------------ queries (the store's)

    def get(self, run_id: str) -> RunRecord:
        return self.known.get(run_id)

    def resolve(self, ref: str) -> str:
        """The full id of the run ``ref`` names: its id or a unique prefix of it (NotFound / AmbiguousId)."""
        return self.known.resolve(ref)

    def list(
        self, project_root: Path | None = None, *, offset: int = 0, limit: int | None = None
    ) -> builtins.list[RunRecord]:
        return self.known.list(project_root, offset=offset, limit=limit)

    def log(self, run_id: str, since: int = 0) -> LogChunk:
        return self.known.log(run_id, since)

    def live(self) -> builtins.list[RunSummary]:
        """The runs with a live process, from memory (never the history on disk)."""
        return self.known.live()

    def pending_questions(self, project_root: Path | None = None) -> builtins.list[PendingQuestion]:
        return self.known.pending_questions(project_root)

    async def wait_final(self, run_id: str) -> RunRecord:
        """Wait until the run has no live process: a final status or waiting_input."""
        return await self.known.wait_final(run_id)

    # ------------------------------------------------------------------ restart

    async def reconcile(self, project_roots: builtins.list[Path], *, resolved: bool = False) -> None:
        """Recover the runs an earlier daemon left in these projects (``RunRecovery.reconcile``)."""
        await self.recovery.reconcile(project_roots, resolved=resolved)

    def counts(self) -> tuple[int, int]:
        """(runs not finished, runs known), without reading or copying a record (for daemon.status)."""
        return self.known.counts()

    def census(self) -> builtins.list[RunSummary]:
        """Every known run's figures, from memory (daemon.metrics)."""
        return self.known.census()

    def total(self, project_root: Path | None = None) -> int:
        """How many runs are known (of one project)."""
        return len(self.known.summaries(project_root))

    # ------------------------------------------------------------------ supervision

    async def _supervise(self, supervisor: RunSupervisor) -> None:
        """One run's watcher. An unexpected error (e.g. the disk refusing a metadata write) ends only this
        run's supervision, never the daemon's task group."""
        record = supervisor.record
        try:
            outcome = _with_denials(record, await supervisor.run(), supervisor.state)
        except Exception as exc:
            log.exception("supervising run %s failed", record.run_id)
            failure = Outcome(RunStatus.FAILED, "supervision error", error=f"supervision error: {exc}")
            try:
                await self.outcomes.apply_async(record, failure, supervisor.exit_code)
            except Exception:
                log.exception("could not record the failure of run %s", record.run_id)
                self.known.settle(record.run_id)
            finally:
                self._live.pop(record.run_id, None)
            return
        try:
            # still live while the outcome is written: a cancel meanwhile waits for it instead of racing it
            await self.outcomes.apply_async(record, outcome, supervisor.exit_code)
        finally:
            self._live.pop(record.run_id, None)
