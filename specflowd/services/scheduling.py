"""The daemon's run scheduler: the pure queue (admission/queue.py) with its I/O — the clock, the file
``$SPECFLOW_HOME/scheduler.json``, events, and waking whoever waits for an admission.

Every agent run is admitted here before it starts (docs/scheduler.md): the engine asks through its run port
(engine/adapters.py), a standalone ``runs.start`` waits in its call. The runner's events keep the slots
right: ``run.started`` of a run the scheduler does not hold counts it (an answered question continues at
once), ``run.finished`` and ``question.asked`` free its slot, and a ``rate_limited`` finish gates the
account's admissions until the reset.

One task (``run``) does the waiting: it admits again when a rate-limit gate passes, releases a slot that was
admitted but never used, and writes the file — coalesced and off the event loop, so a burst of admissions
costs one write, not one fsync per unit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from specflowd.admission.queue import AdmissionQueue
from specflowd.admission.units import DEFAULT_ACCOUNT, DEFAULT_GROUP, GroupView, QueuePosition, Snapshot, Unit
from specflowd.errors import InvalidConfig, InvalidState
from specflowd.event_catalogue import (
    EventPayload,
    QuestionAsked,
    RunFinished,
    RunStarted,
    SchedulerAdmitted,
    SchedulerGroup,
    SchedulerQueued,
    SchedulerRateLimited,
)
from specflowd.files.atomic import atomic_write_bytes
from specflowd.run_spec import RunTicket
from specflowd.vocabulary import RunStatus

__all__ = [
    "ADMITTED_GRACE_S",
    "DEFAULT_RATE_LIMIT_WAIT",
    "RunScheduler",
    "SchedulerFile",
    "account_key",
]

log = logging.getLogger(__name__)

# A rate limit reported without a reset holds the account this long: the engine's own wait (domain/decide.py).
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=5)
# An admitted unit whose run has not started after this long gives its slot back (its orchestration decided
# otherwise, or no longer exists after a restart); generous, because an admitted orchestration first writes
# the skills' state file through the `specflow` CLI.
ADMITTED_GRACE_S = 120.0
FILE_VERSION = 1

Emit = Callable[[str | None, EventPayload], object]


def account_key(env: Mapping[str, str]) -> str:
    """The account whose rate limit a run shares, from the credentials the agent runs with: an API key or auth
    token (with its base URL) → ``key-`` + a digest of them; else a Claude config directory → ``config-`` + a
    digest of its path; else ``default`` (the user's own login in ~/.claude). Secrets never appear: a
    12-character SHA-256 prefix tells two accounts apart and nothing more."""
    secret = env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_AUTH_TOKEN")
    if secret:
        material = f"{secret}\n{env.get('ANTHROPIC_BASE_URL', '')}"
        return "key-" + hashlib.sha256(material.encode()).hexdigest()[:12]
    config_dir = env.get("CLAUDE_CONFIG_DIR")
    if config_dir:
        return "config-" + hashlib.sha256(str(Path(config_dir).expanduser()).encode()).hexdigest()[:12]
    return DEFAULT_ACCOUNT


class SchedulerFile(BaseModel):
    """``scheduler.json``: the queue's snapshot (groups, the queue in admission order, gates) and the units
    running when it was written, so a run re-adopted after a restart counts against its own group."""

    model_config = ConfigDict(extra="forbid")

    version: int = FILE_VERSION
    queue: Snapshot
    running: list[Unit] = Field(default_factory=list)


@dataclass
class _Held:
    """What the scheduler knows of one unit the queue holds (queued, or holding a slot) beyond the queue's own
    view. Times are monotonic."""

    unit: Unit
    queued_since: float | None = None  # when it joined the queue (its admission reports the wait); None: admitted
    admitted_at: float | None = None  # admitted and its run not started yet: since when it holds its slot
    started: bool = False  # its run started: it holds its slot until the run ends
    waiter: anyio.Event | None = None  # set when it is admitted or leaves the queue (a standalone run's call)


class RunScheduler:
    def __init__(
        self,
        path: Path,
        emit: Emit,
        *,
        account: str = DEFAULT_ACCOUNT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = path
        self.account = account
        self._emit = emit
        self._clock = clock
        self.problem: str | None = None
        self._queue, self._running_then = self._load()
        self._held: dict[str, _Held] = {}  # every unit queued or running, by id
        self._answering: dict[str, Unit] = {}  # runs waiting for answers: their unit, for when an answer continues
        self._wake_orchestration: Callable[[str], None] = lambda _: None
        self._kick = anyio.Event()
        self._dirty = False
        for unit in self._queue.queued():
            self._held[unit.id] = _Held(unit, queued_since=time.monotonic())

    # ------------------------------------------------------------------------------------------ wiring
    def on_admitted(self, wake: Callable[[str], None]) -> None:
        """``wake(orchestration)`` is called when a unit of that orchestration is admitted (the engine's wake)."""
        self._wake_orchestration = wake

    def _load(self) -> tuple[AdmissionQueue, dict[str, Unit]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return AdmissionQueue(), {}
        except OSError as exc:
            self.problem = f"cannot read {self.path}: {exc.strerror}; starting with an empty queue"
            log.warning("%s", self.problem)
            return AdmissionQueue(), {}
        try:
            document = SchedulerFile.model_validate_json(text)
            if document.version != FILE_VERSION:
                raise InvalidConfig(f"version {document.version} is not supported")
            # a standalone run waited in its caller's RPC, which the restart ended: nobody waits for it now
            kept = [e for e in document.queue.queued if e.unit.orchestration is not None]
            queue = AdmissionQueue.restore(document.queue.model_copy(update={"queued": kept}))
        except (ValidationError, ValueError, InvalidConfig) as exc:
            reason = exc.message if isinstance(exc, InvalidConfig) else str(exc).splitlines()[0]
            self.problem = f"{self.path} is not valid ({reason}); starting with an empty queue and default limits"
            log.warning("%s", self.problem)
            return AdmissionQueue(), {}
        return queue, {unit.id: unit for unit in document.running}

    def _dump(self) -> bytes:
        document = SchedulerFile(queue=self._queue.snapshot(), running=self._queue.running())
        return document.model_dump_json(indent=1).encode()

    def _changed(self) -> None:
        self._dirty = True
        self._kick.set()

    # ------------------------------------------------------------------------------------------ admission
    def unit(self, run: RunTicket) -> Unit:
        """The queue's unit of a run (the only place one is made from a run's description): a group that does
        not exist (removed since it was named, or none named) is ``default``."""
        if not run.run_id:
            raise InvalidState("a run is admitted by its id: it has none yet")
        group = run.group
        return Unit(
            id=run.run_id,
            project=str(run.project_root),
            group=group if group and self._queue.has_group(group) else DEFAULT_GROUP,
            priority=run.priority,
            account=self.account,
            orchestration=run.orchestration_id,
            kind=run.kind,
        )

    def held(self, unit_id: str) -> Unit | None:
        """The unit queued or holding a slot under this id, if any."""
        held = self._held.get(unit_id)
        return held.unit if held is not None else None

    def request(self, unit: Unit) -> QueuePosition | None:
        """Ask for a slot: None when the unit may start now (it holds a slot until its run ends or it is
        withdrawn), else where it waits. Asking again for a unit already queued keeps its place."""
        now = self._clock()
        if unit.id not in self._held:
            if not self._queue.enqueue(unit, now):
                return None  # running
            self._held[unit.id] = _Held(unit, queued_since=time.monotonic())
            self._changed()
            fresh = True
        else:
            fresh = False
        self._pump(asking=unit.id)
        if self._queue.is_running(unit.id):
            return None
        position = self._queue.position(unit.id, now)
        if position is None:  # cannot happen: queued or running
            return None
        if fresh:
            until = position.until.isoformat() if position.until else None
            self._emit(
                unit.project,
                SchedulerQueued(
                    run_id=unit.id,
                    orchestration=unit.orchestration,
                    group=position.group,
                    position=position.position,
                    reason=position.reason.value,
                    until=until,
                ),
            )
        return position

    async def wait(self, unit: Unit) -> None:
        """Request a slot and wait until it is given (a standalone run). Cancelled, the unit is withdrawn;
        withdrawn by someone else, ``InvalidState``."""
        if self.request(unit) is None:
            return
        held = self._held[unit.id]  # queued: request() keeps it
        event = held.waiter = held.waiter or anyio.Event()
        try:
            await event.wait()
        except BaseException:
            self.withdraw(unit.id)
            raise
        if not self._queue.is_running(unit.id):
            raise InvalidState(f"run {unit.id} left the queue before it was admitted", run_id=unit.id)

    @staticmethod
    def _notify_waiter(held: _Held) -> None:
        if held.waiter is not None:
            held.waiter.set()
            held.waiter = None

    def withdraw(self, unit_id: str) -> None:
        """The unit is no longer wanted: out of the queue, or its slot back when it was admitted and its run
        never started."""
        if self._queue.cancel(unit_id) is not None:
            self._forget(unit_id)
            self._changed()
        elif self._queue.is_running(unit_id) and not self._started(unit_id):
            self._finish(unit_id)

    def _started(self, unit_id: str) -> bool:
        held = self._held.get(unit_id)
        return held is not None and held.started

    def _forget(self, unit_id: str) -> None:
        held = self._held.pop(unit_id, None)
        if held is not None:
            self._notify_waiter(held)

    def _track(self, unit: Unit) -> _Held:
        """The unit's state, made when the scheduler did not know it; its unit as given."""
        held = self._held.get(unit.id)
        if held is None:
            held = self._held[unit.id] = _Held(unit)
        held.unit = unit
        return held

    def _mark_started(self, unit_id: str) -> None:
        """A unit the queue runs: its run started."""
        held = self._held.get(unit_id)
        if held is None:
            unit = self._queue_unit(unit_id)
            if unit is None:
                return
            held = self._track(unit)
        held.started = True
        held.admitted_at = None

    def _finish(self, unit_id: str) -> None:
        if self._queue.finish(unit_id) is not None:
            self._forget(unit_id)
            self._changed()
            self._pump()

    def adopt(self, unit: Unit) -> None:
        """A run found alive (a restart's re-adoption, an answered question): it holds a slot, even beyond the
        limit."""
        if self._queue.is_running(unit.id):
            self._mark_started(unit.id)
            return
        known = self._running_then.pop(unit.id, None)
        if known is not None:
            unit = known.model_copy(update={"account": self.account})
        self._queue.adopt(unit)
        held = self._track(self._queue_unit(unit.id) or unit)
        held.queued_since = None
        held.started = True
        self._changed()

    def _queue_unit(self, unit_id: str) -> Unit | None:
        return next((u for u in self._queue.running() if u.id == unit_id), None)

    def _pump(self, asking: str | None = None) -> None:
        """Admit what may start now and tell whoever waits for it (``asking``: the unit being requested, which
        is told by the answer itself: a run admitted at once has no ``scheduler.*`` event)."""
        now = self._clock()
        admitted = self._queue.admit(now)
        for unit in admitted:
            held = self._held.get(unit.id) or self._track(unit)
            since, held.queued_since = held.queued_since, None
            held.admitted_at = time.monotonic()
            if unit.id == asking:
                continue
            waited = 0.0 if since is None else round(time.monotonic() - since, 3)
            self._emit(
                unit.project,
                SchedulerAdmitted(run_id=unit.id, orchestration=unit.orchestration, group=unit.group, waited_s=waited),
            )
            self._notify_waiter(held)
            if unit.orchestration is not None:
                self._wake_orchestration(unit.orchestration)
        if admitted:
            self._changed()

    # ------------------------------------------------------------------------------------------ the runner
    def notice(self, project: str | None, payload: EventPayload) -> None:
        """The runner's events: a run started (holds its slot), ended or asked questions (frees it)."""
        match payload:
            case RunStarted(run_id=run_id, orchestration=orchestration):
                if self._queue.is_running(run_id):
                    self._mark_started(run_id)
                elif project is not None:
                    known = self._answering.pop(run_id, None)
                    run = RunTicket(run_id=run_id, project_root=Path(project), orchestration_id=orchestration)
                    self.adopt(known or self.unit(run))
            case RunFinished(run_id=run_id, status=status, rate_limit_reset=reset, orchestration=orchestration):
                if status == RunStatus.RATE_LIMITED:
                    self.gate(_reset_time(reset) or self._clock() + DEFAULT_RATE_LIMIT_WAIT, run_id, orchestration)
                self._finish(run_id)
            case QuestionAsked(run_id=run_id):
                unit = self.held(run_id)
                if unit is not None:
                    self._answering[run_id] = unit
                self._finish(run_id)  # no process while it waits for answers; an answer continues at once
            case _:
                pass

    def gate(self, until: datetime, run_id: str, orchestration: str | None, account: str | None = None) -> None:
        account = account or self.account
        if until <= self._clock():
            return  # a reset already past (a run found ended after a restart): nothing to wait for
        if self._queue.gate(account, until):
            log.info("rate limit for account %s: admissions wait until %s", account, until.isoformat())
            self._emit(
                None,
                SchedulerRateLimited(
                    account=account, until=until.isoformat(), run_id=run_id, orchestration=orchestration
                ),
            )
            self._changed()

    def clear_gate(self, account: str | None = None) -> bool:
        """The user ends a rate-limit wait early (``orchestrate.resume`` of a waiting orchestration)."""
        if not self._queue.clear_gate(account or self.account):
            return False
        self._changed()
        self._pump()
        return True

    def adopt_live(self, runs: Iterable[RunTicket]) -> None:
        """After a (re)load of runs: each live run holds a slot."""
        for run in runs:
            self.adopt(self.unit(run))

    # ------------------------------------------------------------------------------------------ groups
    def groups(self) -> list[GroupView]:
        return self._queue.groups()

    def has_group(self, name: str) -> bool:
        return self._queue.has_group(name)

    def add_group(self, name: str, limit: int) -> GroupView:
        view = self._queue.add_group(name, limit)
        self._emit(None, SchedulerGroup(group=name, limit=limit))
        self._changed()
        return view

    def set_limit(self, name: str, limit: int) -> GroupView:
        """Applies at once: a higher limit admits now; a lower one stops nothing that runs."""
        self._queue.set_limit(name, limit)
        self._emit(None, SchedulerGroup(group=name, limit=limit))
        self._changed()
        self._pump()
        return self._queue.group(name)

    def remove_group(self, name: str) -> list[str]:
        """Queued units move to ``default`` in their order; running ones count against ``default``."""
        moved = self._queue.remove_group(name)
        for unit in [*moved, *self._queue.running()]:
            self._track(unit)
        ids = [u.id for u in moved]
        self._emit(None, SchedulerGroup(group=name, limit=None, moved=ids))
        self._changed()
        self._pump()
        return ids

    # ------------------------------------------------------------------------------------------ views
    def position(self, unit_id: str) -> QueuePosition | None:
        return self._queue.position(unit_id, self._clock())

    def queued_for(self, orchestration: str) -> QueuePosition | None:
        """Where the orchestration's queued run stands, if it has one."""
        for unit_id, held in self._held.items():
            if held.unit.orchestration == orchestration and not self._queue.is_running(unit_id):
                return self.position(unit_id)
        return None

    def queued_in(self, project: str) -> QueuePosition | None:
        for unit_id, held in self._held.items():
            if held.unit.project == project and not self._queue.is_running(unit_id):
                return self.position(unit_id)
        return None

    def queue(self) -> list[tuple[Unit, QueuePosition]]:
        now = self._clock()
        entries = []
        for unit in self._queue.queued():
            position = self._queue.position(unit.id, now)
            if position is not None:
                entries.append((unit, position))
        return entries

    def running(self) -> list[tuple[Unit, bool]]:
        """Units holding a slot, and whether their run has started (False: admitted, starting)."""
        return [(u, self._started(u.id)) for u in self._queue.running()]

    def gates(self) -> dict[str, datetime]:
        return self._queue.gates(self._clock())

    # ------------------------------------------------------------------------------------------ the task
    async def run(self) -> None:
        """Admit when a gate passes, give back slots admitted and never used, write the file when it changed."""
        self._pump()
        while True:
            if self._dirty:
                self._dirty = False
                data = self._dump()
                try:
                    await anyio.to_thread.run_sync(atomic_write_bytes, self.path, data)
                except OSError as exc:
                    self.problem = f"cannot write {self.path}: {exc.strerror or exc}; the queue lives in memory"
                    log.warning("%s", self.problem)
                else:
                    self.problem = None
                continue  # whatever changed during the write is written next
            timeout = self._next_deadline()
            with anyio.move_on_after(timeout):
                await self._kick.wait()
            self._kick = anyio.Event()
            self._release_unused()
            self._pump()

    def _next_deadline(self) -> float:
        now_s = time.monotonic()
        waits = [ADMITTED_GRACE_S - (now_s - h.admitted_at) for h in self._held.values() if h.admitted_at is not None]
        now = self._clock()
        reset = self._queue.next_wake(now)
        if reset is not None:
            waits.append((reset - now).total_seconds() + 0.01)
        return max(0.0, min(waits, default=3600.0))

    def _release_unused(self) -> None:
        now = time.monotonic()
        unused = [
            unit_id
            for unit_id, held in self._held.items()
            if held.admitted_at is not None and not held.started and now - held.admitted_at >= ADMITTED_GRACE_S
        ]
        for unit_id in unused:
            log.warning("run %s was admitted %.0f s ago and never started; its slot is free", unit_id, ADMITTED_GRACE_S)
            self._finish(unit_id)

    def state(self) -> dict[str, Any]:
        """For tests and logs: the file's content as it would be written now."""
        loaded: dict[str, Any] = json.loads(self._dump())
        return loaded


def _reset_time(value: str | None) -> datetime | None:
    """A run's ``rate_limit_reset`` (ISO time or epoch seconds, as the runner records it)."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
