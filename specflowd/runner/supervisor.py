"""RunSupervisor: one live run, from its start (or re-adoption) until its process exits.

It tails the run's ``output.jsonl`` (new complete lines, parsed into the run's stream state), keeps the
record's cost, turns and offsets current, stops the process group when the tool calls loop (the stream
state's loop detector reports), the cost crosses the run's cap or the output stays silent for
``stale_after_s`` (or when told to: ``stop``), waits for the exit through a pidfd, and
ends by judging the outcome from what the stream said and how the process ended.

A process that printed its ``result`` line and is still alive ``exit_grace_s`` later (a known Claude Code
fault: it hangs after its result) is ended the same way (TERM, then KILL), but it is not a stop: its result
decides the outcome, and the forced end is a warning of the run, not a failure.

Waiting is event-driven: the task sleeps until the process exits (pidfd), the output grows (the daemon's shared
``Poller`` looks at the file every ``poll_interval_s`` while it grows, backing off to ``quiet_poll_interval_s``
while it does not), a stop is asked for, or the staleness deadline passes; an idle run costs no wake-ups of
its own. It writes nothing but the
run's own metadata and reports through three callbacks (progress, a warning, the outcome); the RunManager
applies the outcome and emits the events.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio

from specflowd.runner import process
from specflowd.runner.outcome import Outcome, OutcomeInputs, decide_outcome
from specflowd.runner.records import ProcessIdentity, RunnerSettings, RunRecord, StopReason
from specflowd.runner.rundir import RunDir
from specflowd.runner.stream import StreamState, missing_command
from specflowd.runner.tail import OutputTail
from specflowd.watch import Poller, fingerprint

__all__ = ["RunSupervisor", "SupervisorHooks", "absorb"]

log = logging.getLogger(__name__)


def absorb(record: RunRecord, state: StreamState, tail: OutputTail) -> None:
    """Copy what the stream says so far (cost, turns, last tool/text, offsets) into the record."""
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


@dataclass(frozen=True)
class SupervisorHooks:
    """What a supervisor tells its owner: progress (throttled), a warning about the run (once)."""

    progress: Callable[[RunRecord], None]
    warning: Callable[[RunRecord, str], None]


@dataclass
class RunSupervisor:
    record: RunRecord
    rundir: RunDir
    identity: ProcessIdentity
    popen: subprocess.Popen[bytes] | None  # None for a re-adopted run (not our child)
    state: StreamState
    tail: OutputTail
    last_activity: float  # time.monotonic() of the last output
    settings: RunnerSettings
    hooks: SupervisorHooks
    poller: Poller
    stop_reason: StopReason | None = None  # a stop the previous daemon began is carried through
    exit_grace_s: float = 0.0  # after the result line, how long the process may take to exit; 0 = no limit
    exited: anyio.Event = field(default_factory=anyio.Event)
    nudged: anyio.Event = field(default_factory=anyio.Event)  # something to look at: output, exit, a stop
    exit_code: int | None = None
    kill_started: bool = False
    last_progress: float = 0.0
    last_persist: float = 0.0
    command_checked: bool = False
    result_seen_at: float | None = None  # time.monotonic() when this supervisor first saw the result line
    ending_after_result: bool = False  # the process outlived its result's grace and is being ended

    def stop(self, reason: StopReason) -> None:
        """Stop the run (its process group) at the next look; the first reason given wins. Once a lingering
        process is being ended after its result, that result stands: a stop then changes nothing."""
        if not self.ending_after_result:
            self.stop_reason = self.stop_reason or reason
        self.nudged.set()

    async def run(self) -> Outcome:
        """Watch until the process has exited; the outcome of the run. When cancelled (the daemon stopping) the
        record keeps its offset and the process lives on."""
        record = self.record
        output = self.rundir.output
        watch = self.poller.watch(
            lambda: fingerprint(output),
            lambda: self.nudged.set(),  # the current event (replaced after each wait), not the first one
            fast=self.settings.poll_interval_s,
            slow=self.settings.quiet_poll_interval_s,
        )
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._await_exit)
                while True:
                    if self._pump():  # a checkpoint is due: written in a worker thread (fsync off the loop)
                        await self.rundir.save_async(record)
                    if self.exited.is_set():
                        break
                    if self.stop_reason is None and not self.ending_after_result:
                        self.stop_reason = self._should_stop()
                    if self.stop_reason is not None and not self.kill_started:
                        self.kill_started = True
                        # persisted first: a daemon restart mid-kill still knows why the run ended
                        record.stop_reason = self.stop_reason
                        self._note_loop()
                        await self.rundir.save_async(record)
                        tg.start_soon(self._kill)
                    if self.stop_reason is None and not self.kill_started and self._lingering():
                        self.kill_started = self.ending_after_result = True
                        self._note_lingering()
                        await self.rundir.save_async(record)
                        tg.start_soon(self._kill)
                    with anyio.move_on_after(self._until_stale()):
                        await self.nudged.wait()
                    self.nudged = anyio.Event()
                tg.cancel_scope.cancel()
            if self.kill_started and process.group_alive(self.identity.pgid):
                # the leader is gone but members that ignored SIGTERM remain: a stopped run leaves nothing
                process.signal_group(self.identity.pgid, signal.SIGKILL)
        finally:
            watch.close()
            if not self.exited.is_set():  # supervision cancelled (daemon stopping): keep the offset
                self.rundir.save(record)
        return self._finish()

    def _until_stale(self) -> float:
        """Seconds until the run counts as stale if nothing comes, or its result's exit grace ends (a little
        past, so the check then fires)."""
        if self.kill_started:
            return self.settings.kill_grace_s + self.settings.quiet_poll_interval_s  # the kill task nudges first
        now = time.monotonic()
        wait = max(0.0, self.record.stale_after_s - (now - self.last_activity))
        if self.result_seen_at is not None and self.exit_grace_s > 0:
            wait = min(wait, max(0.0, self.result_seen_at + self.exit_grace_s - now))
        return wait + 0.01

    def _lingering(self) -> bool:
        """The result line is in and the process is still alive past ``exit_grace_s`` (0: never judged so)."""
        if self.state.result is None or self.exit_grace_s <= 0:
            return False
        now = time.monotonic()
        if self.result_seen_at is None:  # also a re-adopted run whose result was read before this supervisor
            self.result_seen_at = now
        return now - self.result_seen_at >= self.exit_grace_s

    def _note_lingering(self) -> None:
        """Not a failure (the result stands), but the user should know the daemon ended the agent."""
        record = self.record
        if record.ended_after_result:  # re-adopted while it was being ended: said already
            return
        record.ended_after_result = True
        message = (
            f"the agent printed its result but had not exited {self.exit_grace_s:g} s later (a known Claude Code "
            "fault): the daemon ended its process group; the result stands"
        )
        record.warnings.append(message)
        log.warning("run %s: %s", record.run_id, message)
        self.hooks.warning(record, message)

    def _should_stop(self) -> StopReason | None:
        record = self.record
        if self.state.result is None and self.state.loop is not None:  # the cause, even when it also cost the cap
            return StopReason.LOOPING
        if self.state.result is None and record.cost_usd > record.budget_usd:
            return StopReason.BUDGET
        if time.monotonic() - self.last_activity > record.stale_after_s:
            return StopReason.STALE
        return None

    def _note_loop(self) -> None:
        """A looping stop: what repeated goes into the record (persisted with the stop reason) and the log."""
        report = self.state.loop
        if self.stop_reason is not StopReason.LOOPING or report is None:
            return
        self.record.loop = report.as_loop()
        log.warning("run %s is looping, stopping it: it %s", self.record.run_id, self.record.loop.describe())

    async def _await_exit(self) -> None:
        await process.wait_exit(self.identity)
        if self.popen is not None:
            self.exit_code = await anyio.to_thread.run_sync(self.popen.wait)
        else:
            self.exit_code = process.reap_if_child(self.identity.pid)
        self.exited.set()
        self.nudged.set()

    async def _kill(self) -> None:
        pgid = self.identity.pgid
        process.signal_group(pgid, signal.SIGTERM)
        with anyio.move_on_after(self.settings.kill_grace_s):
            await self.exited.wait()
        if not self.exited.is_set():
            process.signal_group(pgid, signal.SIGKILL)

    def _pump(self) -> bool:
        """Read what the agent wrote; True when the record is due to be saved (a checkpoint of its progress and
        output offset, every ``persist_interval_s``)."""
        if not self.tail.changed():
            return False
        lines = self.tail.read_new()
        if not lines:
            return False
        for line in lines:
            self.state.feed(line)
        self.last_activity = time.monotonic()
        self.record.last_activity_at = datetime.now(UTC)
        absorb(self.record, self.state, self.tail)
        self._check_command()
        now = time.monotonic()
        if now - self.last_progress >= self.settings.progress_interval_s:
            self.last_progress = now
            self.hooks.progress(self.record)
        if now - self.last_persist >= self.settings.persist_interval_s:
            self.last_persist = now
            return True
        return False

    def _check_command(self) -> None:
        """Warn (once) when the skill the prompt invokes is not installed: the CLI does not fail then, it sends
        the text to the model as plain words, so the run would go on without the skill's instructions."""
        record, spec = self.record, self.record.spec
        if self.command_checked or spec is None or record.continuations or self.state.slash_commands is None:
            return
        self.command_checked = True
        name = missing_command(spec.prompt, self.state.slash_commands)
        if name is None or any(f"/{name} " in w for w in record.warnings):  # re-adopted: already said
            return
        message = (
            f"the skill /{name} is not installed for the agent (its init line does not list it): the prompt "
            f"reached the model as plain text; install the SpecFlow commands (e.g. ~/.claude/commands/{name}.md)"
        )
        record.warnings.append(message)
        self.rundir.save(record)
        log.warning("run %s: %s", record.run_id, message)
        self.hooks.warning(record, message)

    def _finish(self) -> Outcome:
        for line in self.tail.read_new(final=True):
            self.state.feed(line)
        absorb(self.record, self.state, self.tail)
        self._check_command()
        self.record.stop_reason = self.stop_reason
        return decide_outcome(
            OutcomeInputs(
                result=self.state.result,
                exit_code=self.exit_code,
                stop_reason=self.stop_reason,
                rate_limit_seen=self.state.rate_limit_seen,
                last_retry_error=self.state.last_retry_error,
                loop=self.record.loop,
            )
        )
