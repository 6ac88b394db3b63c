"""What the engine's parts share while it runs: the ports, the record holder, and each orchestration's
wake-up, lock and queued run.

The loop (engine/loop.py), the carrying out of actions (engine/execute.py, engine/spawn.py) and the user's
commands (engine/commands.py) are functions of one ``EngineRuntime``; ``Orchestrator`` (engine/orchestrator.py)
builds it and is the engine's API. The few steps they all take live here: record an action, change a record
outside decide() and let its loop see it, wake an orchestration, give up its queued run.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.abc

from specflowd.domain import transitions
from specflowd.domain.actions import Action
from specflowd.domain.record import TERMINAL_STATUSES, OrchestrationRecord
from specflowd.engine.ports import Advice, EnginePorts
from specflowd.engine.record_holder import Changed, Decided, RecordHolder
from specflowd.event_catalogue import DecisionLabel

__all__ = ["DECIDING_AT_ONCE", "FOREVER", "EngineRuntime", "changed"]

DECIDING_AT_ONCE = 4
"""How many orchestrations take a decision step at the same moment. A step is a few ms of CPU on the event loop
(read the project, decide, write the record); when hundreds wake together (a burst of starts, a rate limit's
reset) all their steps would run in one loop iteration and every client would wait behind them (bench/ and
docs/scale.md have the figures). Taking turns keeps each iteration short. The user's control calls (pause,
cancel, answers) take no turn: they only wait for their own orchestration's lock."""
FOREVER = datetime.max.replace(tzinfo=UTC)  # sentinel: sleep until woken


def changed(before: OrchestrationRecord, after: OrchestrationRecord) -> bool:
    """Whether ``after`` differs from ``before`` in anything but its timestamp."""
    return before.model_dump(exclude={"updated_at"}) != after.model_dump(exclude={"updated_at"})


class EngineRuntime:
    def __init__(self, ports: EnginePorts) -> None:
        self.runs = ports.runs
        self.clock = ports.clock
        self.project = ports.project
        self.skill_state = ports.skill_state
        self.adviser = ports.adviser
        self.holder = RecordHolder(ports.journal, ports.events, ports.clock)
        self.wakes: dict[str, anyio.Event] = {}  # one per orchestration being driven
        self.locks: dict[str, anyio.Lock] = {}
        self.turns = anyio.Semaphore(DECIDING_AT_ONCE)
        self.advice: dict[str, tuple[str, Advice]] = {}  # orchestration -> (its decision's key, the advice)
        self.queued: dict[str, str] = {}  # orchestration -> the run id the run port queued for it
        self.ready = anyio.Event()  # set once the records of the projects known at start are loaded
        self._tg: anyio.abc.TaskGroup | None = None
        self._drive: Callable[[str], Coroutine[Any, Any, None]] | None = None

    def now(self) -> datetime:
        return self.clock.now()

    def attach(self, tg: anyio.abc.TaskGroup, drive: Callable[[str], Coroutine[Any, Any, None]]) -> None:
        """Where orchestrations are driven (``launch``) and how (the loop's ``drive``)."""
        self._tg, self._drive = tg, drive

    def start_soon(self, job: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Run ``job`` beside the loops; False before the engine runs."""
        if self._tg is None:
            return False
        self._tg.start_soon(job)
        return True

    def launch(self, orch_id: str) -> None:
        """Drive the orchestration: decide until it ends."""
        assert self._tg is not None and self._drive is not None
        self.wakes[orch_id] = anyio.Event()
        self._tg.start_soon(self._drive, orch_id)

    def wake(self, orch_id: str) -> None:
        """Something outside changed for this orchestration (its run, its files, its queued run was admitted):
        decide again."""
        wake = self.wakes.get(orch_id)
        if wake is not None:
            wake.set()

    def lock(self, orch_id: str) -> anyio.Lock:
        """Serialises the drive loop's steps with the user's control calls on one orchestration."""
        return self.locks.setdefault(orch_id, anyio.Lock())

    def withdraw(self, orch_id: str, keep: str | None = None) -> None:
        """Give up the run the run port queued for this orchestration (unless it is ``keep``)."""
        queued = self.queued.get(orch_id)
        if queued is not None and queued != keep:
            del self.queued[orch_id]
            self.runs.withdraw(queued)

    async def record(
        self, before: OrchestrationRecord, action: Action, after: OrchestrationRecord | None = None
    ) -> OrchestrationRecord:
        """Apply ``action`` (unless ``after`` is already its result) and commit it as a decision."""
        after = after or transitions.apply(before, action, self.now())
        return await self.holder.commit(before, after, Decided(action))

    async def change_locked(
        self,
        orch_id: str,
        change: Callable[[OrchestrationRecord], OrchestrationRecord],
        label: DecisionLabel,
        reason: str,
    ) -> OrchestrationRecord:
        """Commit ``change`` of the orchestration's record (the caller holds its lock), then let its loop see
        it: a finished one gives up its queued run, a stopped one that goes on again is driven again."""
        before = self.holder.get(orch_id)
        after = await self.holder.commit(before, change(before), Changed(label, reason))
        if after.status in TERMINAL_STATUSES:
            self.withdraw(orch_id)
        if after.status not in TERMINAL_STATUSES and orch_id not in self.wakes:
            self.launch(orch_id)
        self.wake(orch_id)
        return after
