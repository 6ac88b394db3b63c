"""The orchestration engine's API: what the daemon and the RPC handlers call (``services.context.Orchestrations``).

``Orchestrator`` owns no logic of its own; each job lives in one module, all sharing one ``EngineRuntime``
(engine/runtime.py):

- engine/loop.py — one task per active orchestration: read the evidence, ``decide()``, act, sleep until woken;
- engine/execute.py — carrying out each action (one exhaustive ``match``); engine/spawn.py — admission, the
  run request, starting and continuing runs;
- engine/commands.py — the user's verbs (start, pause, resume, cancel, merge, go_back, recover, answer);
- engine/record_holder.py — the one writer of records (persist through the journal, cache, emit);
- engine/queries.py — reads: get, lists, counts, progress, the forecast's history.

Every side effect goes through a port (engine/ports.py): runs, the clock, the project's files, the record
journal (record and decision log written crash-consistently), the skills' state file, the Claude Helper and
the event sink. The engine's core imports only those ports, the domain and the event catalogue, so the whole
loop runs in-process with fakes and a fake clock (tests/engine/); the daemon gives it the real adapters
(engine/adapters.py). Run ids are deterministic per (orchestration, spawn sequence), and the runner refuses
to start an id twice, so a restart never duplicates a run.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import anyio

from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.domain.forecast import Sample
from specflowd.domain.progress import Progress
from specflowd.domain.record import OrchestrationRecord, RecoveryOption
from specflowd.engine import commands, loop
from specflowd.engine.ports import EnginePorts
from specflowd.engine.queries import Queries
from specflowd.engine.runtime import EngineRuntime
from specflowd.event_catalogue import EventPayload

__all__ = ["Orchestrator"]


class Orchestrator:
    def __init__(self, ports: EnginePorts) -> None:
        self._rt = EngineRuntime(ports)
        self._queries = Queries(self._rt.holder, ports.project, ports.clock)

    # -- lifecycle -------------------------------------------------------------------------------------
    async def run(self, project_roots: list[Path]) -> None:
        """Drive the orchestrations of ``project_roots`` (and of projects loaded later) until cancelled."""
        async with anyio.create_task_group() as tg:
            self._rt.attach(tg, partial(loop.drive, self._rt))
            for root in project_roots:
                self.load_project(root)
            self._rt.ready.set()
            await anyio.sleep_forever()

    async def ready(self) -> None:
        """Return once the projects given to ``run`` are loaded."""
        await self._rt.ready.wait()

    def load_project(self, root: Path) -> None:
        """Resume every non-final orchestration recorded in ``root`` (after a restart or a registration). The
        finished ones its history index names are known without being read."""
        for orch_id in self._rt.holder.load_project(root):
            self._rt.launch(orch_id)

    def notice(self, payload: EventPayload) -> None:
        """An event from elsewhere in the daemon: the runner's events wake the orchestration their run belongs
        to; a run's warning is also written to its decision log and shown to followers."""
        loop.notice(self._rt, payload)

    def wake(self, orch_id: str) -> None:
        """Something outside changed for this orchestration (its run, its files, its queued run was admitted):
        decide again."""
        self._rt.wake(orch_id)

    def problems(self) -> list[str]:
        """Orchestration records that could not be loaded (corrupt, from a newer daemon)."""
        return self._rt.holder.problems()

    # -- queries (engine/queries.py) -------------------------------------------------------------------
    def get(self, orch_id: str) -> OrchestrationRecord:
        return self._queries.get(orch_id)

    def resolve(self, ref: str) -> str:
        return self._queries.resolve(ref)

    def for_project(self, root: Path) -> OrchestrationRecord:
        return self._queries.for_project(root)

    def list_all(
        self, root: Path | None = None, include_finished: bool = False, *, offset: int = 0, limit: int | None = None
    ) -> list[OrchestrationRecord]:
        return self._queries.list_all(root, include_finished, offset=offset, limit=limit)

    def count(self, root: Path | None = None, include_finished: bool = False) -> int:
        return self._queries.count(root, include_finished)

    def active_count(self) -> int:
        return self._queries.active_count()

    def census(self) -> list[tuple[str, str]]:
        return self._queries.census()

    def decisions(self, record: OrchestrationRecord, limit: int = 10) -> list[dict[str, Any]]:
        return self._queries.decisions(record, limit)

    async def progress(self, record: OrchestrationRecord) -> Progress:
        return await self._queries.progress(record)

    async def forecast_history(self, root: Path | None = None) -> list[Sample]:
        return await self._queries.forecast_history(root)

    # -- the user's commands (engine/commands.py) ------------------------------------------------------
    async def start(self, root: Path, config: OrchestrationConfig) -> OrchestrationRecord:
        return await commands.start(self._rt, root, config)

    async def pause(self, orch_id: str, now: bool = False) -> OrchestrationRecord:
        return await commands.pause(self._rt, orch_id, now)

    async def resume(self, orch_id: str, budget_total: float | None = None) -> OrchestrationRecord:
        return await commands.resume(self._rt, orch_id, budget_total)

    async def cancel(self, orch_id: str) -> OrchestrationRecord:
        return await commands.cancel(self._rt, orch_id)

    async def merge(self, orch_id: str) -> OrchestrationRecord:
        return await commands.merge(self._rt, orch_id)

    async def go_back(self, orch_id: str, step: Step) -> OrchestrationRecord:
        return await commands.go_back(self._rt, orch_id, step)

    async def recover(
        self, orch_id: str, option: RecoveryOption, budget_total: float | None = None
    ) -> OrchestrationRecord:
        return await commands.recover(self._rt, orch_id, option, budget_total)

    async def answer(self, orch_id: str, answers: dict[str, str]) -> OrchestrationRecord:
        return await commands.answer(self._rt, orch_id, answers)
