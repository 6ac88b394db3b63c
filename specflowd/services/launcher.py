"""RunLauncher: the one way an agent run is launched — admitted by the run scheduler (services/scheduling.py),
started by the run manager (runner/manager.py), and its slot given back when it does not start.

Both launchers of runs go through it: the engine's run port (engine/adapters.py), which admits a run before it
records the spawn and starts it after, and ``runs.start`` (handlers/runs.py), whose call waits for the slot.
The run travels as one description (run_spec.RunSpec) from the caller to the stored record; the launcher only
fills in where it was admitted (group, priority, kind).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from specflowd.admission.units import QueuePosition, Unit
from specflowd.run_spec import RunSpec, RunTicket
from specflowd.runner.manager import RunManager
from specflowd.runner.records import RunRecord
from specflowd.services.scheduling import RunScheduler

__all__ = ["ProjectGroup", "RunLauncher"]

ProjectGroup = Callable[[Path], str | None]  # the scheduler group a project's registry entry names, if any


class RunLauncher:
    def __init__(
        self, runs: RunManager, scheduler: RunScheduler, project_group: ProjectGroup = lambda _root: None
    ) -> None:
        self.runs = runs
        self.scheduler = scheduler
        self.project_group = project_group

    def _unit(self, run: RunTicket) -> Unit:
        """The run's queue unit; a run that names no group queues in its project's."""
        if run.group is None:
            run = run.model_copy(update={"group": self.project_group(run.project_root)})
        return self.scheduler.unit(run)

    def admit(self, run: RunTicket) -> QueuePosition | None:
        """Ask for the run's slot: None when it may start now (it holds the slot until its run ends or it is
        withdrawn), else where it waits (its orchestration is woken when it is admitted). Asking again keeps
        its place."""
        return self.scheduler.request(self._unit(run))

    def withdraw(self, run_id: str) -> None:
        """The run is no longer wanted: out of the queue, or its slot back when it was admitted and never started."""
        self.scheduler.withdraw(run_id)

    async def start(self, spec: RunSpec) -> RunRecord:
        """Start an admitted run, recorded as it was admitted; when it does not start, its slot goes back."""
        held = self.scheduler.held(spec.run_id) if spec.run_id else None
        if held is not None:
            spec = spec.model_copy(update={"group": held.group, "priority": held.priority, "kind": held.kind})
        try:
            return await self.runs.start(spec)
        except BaseException:
            if spec.run_id:
                self.withdraw(spec.run_id)  # nothing runs: the slot goes back
            raise

    async def launch(self, spec: RunSpec) -> RunRecord:
        """A standalone run: wait in the call for a slot (cancelled, the run leaves the queue), then start it."""
        if spec.run_id is None:
            spec = spec.model_copy(update={"run_id": str(uuid.uuid4())})
        await self.scheduler.wait(self._unit(spec))
        return await self.start(spec)

    async def resume(self, run_id: str, prompt: str, budget_usd: float | None = None) -> RunRecord:
        """Continue an admitted run's own session (runner/manager.py ``resume``); when it does not continue, its
        slot goes back."""
        try:
            return await self.runs.resume(run_id, prompt, budget_usd=budget_usd)
        except BaseException:
            self.withdraw(run_id)
            raise
