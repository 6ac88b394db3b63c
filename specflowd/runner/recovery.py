"""Restart recovery: what a daemon finds of the runs an earlier daemon left, and what becomes of them.

``RunRecovery.reconcile`` loads every run of a project: a live one is re-adopted (its supervision continues
where the earlier daemon's stopped), a dead one is settled from its output, one that never started is
``not_started``, and an answered question whose continuation never started is asked again. It never spawns
anything; the run manager (runner/manager.py) supervises what is adopted and writes each outcome.

Crash windows of a start, and what recovery finds (docs/runs.md#restart): the run directory appears atomically
with its metadata (status starting); the lock file is taken before the fork and held by the child from the
fork on; process.pid is written after the exec. So a restart either has the pid file of the current invocation
(the agent started: adopt it or judge its output), or a lock held by the agent (find it, write its identity,
adopt it), or a lock that nothing holds / no lock at all (nothing is running: judge the output, or
``not_started`` when the invocation left no trace).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine, Set
from pathlib import Path
from typing import Any

import anyio

from specflowd.runner import process
from specflowd.runner.known_runs import KnownRuns
from specflowd.runner.outcome import Outcome, OutcomeInputs, decide_outcome
from specflowd.runner.outcome_writer import now
from specflowd.runner.records import ProcessIdentity, RunnerSettings, RunRecord, StopReason
from specflowd.runner.rundir import RunDir, WorkflowsListing, list_workflows, sweep_run_dirs
from specflowd.runner.stream import StreamState
from specflowd.runner.supervisor import absorb
from specflowd.runner.tail import OutputTail
from specflowd.vocabulary import LIVE_STATUSES, RunStatus

__all__ = ["Adopt", "ApplyOutcome", "RunRecovery"]

log = logging.getLogger(__name__)

# supervise a re-adopted run: (record, rundir, identity, its stream state so far, its tail, last activity monotonic)
Adopt = Callable[[RunRecord, RunDir, ProcessIdentity, StreamState, OutputTail, float], None]
ApplyOutcome = Callable[[RunRecord, Outcome, int | None], None]  # OutcomeWriter.apply
Task = Callable[[], Coroutine[Any, Any, None]]


class RunRecovery:
    """The runs an earlier daemon left, recovered for the run manager. ``identifying``: runs re-found live whose
    agent is not identified yet (a cancel of one is carried out by its watcher here)."""

    def __init__(
        self,
        *,
        known: KnownRuns,
        watched: Callable[[], Set[str]],
        stream_state: Callable[[], StreamState],
        supervise: Adopt,
        apply: ApplyOutcome,
        start_task: Callable[[Task], None],
        settings: RunnerSettings,
    ) -> None:
        """``watched``: the ids of the runs the manager supervises now (never loaded again)."""
        self.known = known
        self._watched = watched
        self._stream_state = stream_state
        self._supervise = supervise
        self._apply = apply
        self._start_task = start_task
        self._settings = settings
        self.identifying: set[str] = set()
        self.problems: list[str] = []  # what the sweep could not clean up (daemon.status)

    async def reconcile(self, project_roots: list[Path], *, resolved: bool = False) -> None:
        """Load every run of these projects: re-adopt the live ones, finalise the others from their output, mark
        the ones that never started; first remove leftovers of interrupted writes. Never spawns anything.
        Finished runs the project's run index names are known from the index alone: neither read nor swept
        (nothing is written in their directories). One listing of each workflows directory serves all three.
        ``resolved``: the roots are resolved already (the registry's index), so no realpath per project."""
        for root in project_roots:
            root = root if resolved else root.resolve()
            listing = list_workflows(root)
            indexed = self.known.scan(root, listing)
            watched = self._watched() | self.identifying
            others = [name for name in listing.directories if name not in indexed and name not in watched]
            self._sweep(root, listing, others)
            for record, rundir in self.known.load(root, others):
                live = record.status in LIVE_STATUSES
                self.known.add(record, rundir, settled=not live)
                if live:
                    self._recover(record, rundir)
            self.known.flush_index(root)
            await anyio.lowlevel.checkpoint()

    def _sweep(self, root: Path, listing: WorkflowsListing, names: list[str]) -> None:
        swept = sweep_run_dirs(root, listing, names)
        for path in swept.removed:
            log.info("removed %s, left by a write a crash interrupted", path)
        for problem in swept.problems:
            if problem not in self.problems:
                log.warning("%s", problem)
                self.problems.append(problem)

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
                self.identifying.add(record.run_id)
                self._start_task(lambda: self._identify(record, rundir))
                return
            rundir.save_identity(agent)
            self._adopt(record, rundir, agent)
            return
        # No process of this invocation is alive. No lock: never forked; a free lock and no output of this
        # invocation: the child died before its first line (or the daemon before forking) — nothing ran.
        never = state is process.LockState.MISSING or rundir.output_size() <= record.segment_offset
        if never and record.continuations and record.questions:
            self._ask_again(record)
            return
        self._finalise_dead(record, rundir, never_started=never)

    def _ask_again(self, record: RunRecord) -> None:
        """The continuation that answered the run's questions never started (the daemon died between writing
        it and the exec). The session is intact and nothing ran since the questions: the run waits for its
        answers again, as before they were given (the client that gave them got no reply), instead of ending
        ``not_started`` and losing the session's work."""
        record.continuations -= 1
        if record.answers:
            record.answers.pop()
        detail = "asking again: the daemon stopped before the answers' continuation started"
        self._apply(record, Outcome(RunStatus.WAITING_INPUT, detail, questions=list(record.questions)), None)

    async def _identify(self, record: RunRecord, rundir: RunDir) -> None:
        """The lock is held but no holder is the agent yet (between fork and setsid, or only descendants of a
        dead agent still hold it): the run is live, so nothing else may start; look again every poll until the
        agent shows or the lock is free. A stop (cancel, or the stale limit passing) kills the holders."""
        lock = rundir.lock_path(record.continuations)
        since = time.monotonic()
        while True:
            if process.lock_state(lock) is not process.LockState.HELD:
                self.identifying.discard(record.run_id)
                self._finalise_dead(record, rundir)  # something ran: its output decides
                return
            agent = process.find_agent(lock, rundir.output, record.continuations)
            if agent is not None and record.stop_reason is None:
                rundir.save_identity(agent)
                self.identifying.discard(record.run_id)
                self._adopt(record, rundir, agent)
                return
            if record.stop_reason is None and time.monotonic() - since > record.stale_after_s:
                record.stop_reason = StopReason.STALE
                rundir.save(record)
            if record.stop_reason is not None:
                for pid in process.lock_holders(lock):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            await anyio.sleep(self._settings.poll_interval_s)

    def _adopt(self, record: RunRecord, rundir: RunDir, identity: ProcessIdentity) -> None:
        # Rebuild the invocation's stream state from its first byte (cheap), then keep tailing from there.
        state = self._stream_state()
        tail = OutputTail(rundir.output, record.segment_offset)
        for line in tail.read_new():
            state.feed(line)
        try:
            idle = max(0.0, time.time() - rundir.output.stat().st_mtime)
        except OSError:
            idle = 0.0
        if record.status == RunStatus.STARTING:  # the crash came before the daemon noted the start
            record.status = RunStatus.RUNNING
            record.started_at = record.started_at or now()
            rundir.save(record)
        log.info("re-adopted run %s (pid %s)", record.run_id, identity.pid)
        self._supervise(record, rundir, identity, state, tail, time.monotonic() - idle)

    def _finalise_dead(self, record: RunRecord, rundir: RunDir, *, never_started: bool = False) -> None:
        state = self._stream_state()
        tail = OutputTail(rundir.output, record.segment_offset)
        for line in tail.read_new(final=True):
            state.feed(line)
        absorb(record, state, tail)
        outcome = decide_outcome(
            OutcomeInputs(
                result=state.result,
                found_dead_after_restart=True,
                never_started=never_started,
                stop_reason=record.stop_reason,
                rate_limit_seen=state.rate_limit_seen,
                last_retry_error=state.last_retry_error,
                loop=record.loop,
            )
        )
        self._apply(record, outcome, None)
