"""The engine's side effects, as small ports: what the orchestrator asks of the world, and nothing more.

The engine's core (``Orchestrator``, engine/orchestrator.py, and the modules it delegates to) imports only
these ports, the domain and the event catalogue; the daemon gives it the real adapters (engine/adapters.py,
wrapping the runner, the project reader, the journal, the skills' state file and the Claude Helper), tests
give it fakes and a fake clock (tests/engine/fakes.py) and drive whole orchestrations in-process in
milliseconds. An import-linter contract keeps it that way.

- ``RunPort`` — agent runs: admission (a scheduler may queue a start), start, continue (resume, answer),
  cancel, and a run's evidence for decide();
- ``Clock`` — ``now`` and sleeping until a moment (rate-limit resets, the safety timer);
- ``ProjectReader`` — the project's files as evidence, and waiting for them to change;
- ``RecordJournal`` — orchestration records and their decision log, written crash-consistently;
- ``SkillStateWriter`` — the running step written into the skills' state file before a run starts;
- ``Adviser`` — the Claude Helper's view of a decision before it is carried out;
- ``EventSink`` — where events go (the event bus).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from specflowd.domain.actions import Action
from specflowd.domain.config import Step
from specflowd.domain.evidence import ProjectEvidence, RunEvidence
from specflowd.domain.merge_ready import GateCheck
from specflowd.domain.record import OrchestrationRecord, OrchestrationStatus
from specflowd.event_catalogue import EventPayload
from specflowd.run_spec import RunSpec

__all__ = [
    "Admission",
    "Admitted",
    "Advice",
    "Adviser",
    "Clock",
    "EnginePorts",
    "EventSink",
    "FinishedSummary",
    "ProjectReader",
    "ProjectView",
    "Queued",
    "RecordJournal",
    "RunPort",
    "RunRequest",
    "SkillStateWriter",
    "StateWrite",
]


# -- runs -----------------------------------------------------------------------------------------------------


class RunRequest(RunSpec):
    """One agent run the engine starts: everything decide() and the configuration settled. It *is* the run's
    description (run_spec.RunSpec): the runner stores it as it is, so nothing is copied field by field on the way;
    its scheduler group, priority and kind are those the run was admitted with (``admit``). The engine always
    names its runs (deterministic per spawn) and their orchestration."""

    run_id: str
    orchestration_id: str

    @property
    def batch_index(self) -> int | None:
        """The batch as the engine counts it (the description keeps it as text, as a standalone run names it)."""
        return None if self.batch is None else int(self.batch)


@dataclass(frozen=True)
class Admitted:
    """The run may start now."""


@dataclass(frozen=True)
class Queued:
    """The run must wait for a slot (or a rate-limit reset); the engine is woken (``Orchestrator.wake``) when it
    is admitted, and decides again: the same decision names the same run id, so the same unit is admitted."""

    position: int
    group: str
    reason: str


Admission = Admitted | Queued


class RunPort(Protocol):
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
        """May this run (a start or a continuation) begin now? Asked before anything is recorded for it.
        ``group``/``priority``: the orchestration's scheduler settings (None: the project's group);
        ``kind``: what the run is (step, batch, heal, resume), for the queue's views."""
        ...

    def withdraw(self, run_id: str) -> None:
        """The engine no longer wants the queued run (paused, cancelled, decided otherwise)."""
        ...

    async def start(self, request: RunRequest) -> None:
        """Start the run (after its spawn is recorded). SpecflowError when it cannot start."""
        ...

    async def resume(self, run_id: str, prompt: str, budget_usd: float) -> None:
        """Continue a rate-limited or stale run's own session. SpecflowError when it cannot."""
        ...

    async def answer(self, run_id: str, answers: dict[str, str]) -> None:
        """Continue a run waiting for answers. SpecflowError (nothing changed) when it is not waiting."""
        ...

    async def cancel(self, run_id: str) -> None:
        """Stop the run. SpecflowError when it already ended."""
        ...

    def evidence(self, run_id: str) -> RunEvidence:
        """What decide() sees of the run; a run the runner never heard of is ``not_started``."""
        ...


# -- time -------------------------------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC time."""
        ...

    async def sleep_until(self, moment: datetime) -> None:
        """Return once ``now() >= moment`` (at once when it already is)."""
        ...


# -- the project ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectView:
    """The project as the engine sees it: decide()'s evidence, and the feature directory's name (the phase's
    branch when the state file names none)."""

    evidence: ProjectEvidence
    feature: str | None = None


class ProjectReader(Protocol):
    async def read(self, root: Path) -> ProjectView:
        """Never raises for bad or missing files: they become problems in the evidence."""
        ...

    async def changed(self, root: Path) -> None:
        """Return once tasks.md or the skills' state file changed (debounced)."""
        ...


# -- records ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FinishedSummary:
    """A finished orchestration known from the project's history index, its record not read."""

    id: str
    project_path: str
    status: OrchestrationStatus
    created_at: datetime


class RecordJournal(Protocol):
    """Orchestration records and their decision logs: each change is one ``commit`` (the record saved carrying
    its entry, then the entry appended), so after any crash the log holds every decision the record reflects.
    Every write raises StorageError when it cannot be made, and returns once it is durable (the writes wait for
    fsync: they are async so that the event loop does not)."""

    def ids(self, root: Path) -> list[str]: ...

    def finished(self, root: Path, ids: list[str]) -> dict[str, FinishedSummary]:
        """Among ``ids`` (``ids(root)``, listed once by the caller), the finished orchestrations whose files are
        those the project's history index names: known without reading them (``load`` reads one when asked)."""
        ...

    def location(self, root: Path, orchestration: str) -> str:
        """Where the record lives, for messages."""
        ...

    def load(self, root: Path, orchestration: str) -> OrchestrationRecord:
        """Load a record (appending decisions a crash kept from its log). OSError or ValueError when it cannot."""
        ...

    def peek(self, root: Path, orchestration: str) -> OrchestrationRecord:
        """Read a record as it is on disk, keeping nothing (safe in a worker thread). OSError or ValueError."""
        ...

    async def commit(self, record: OrchestrationRecord, entry: dict[str, Any], *, held: bool) -> None:
        """Save ``record`` and log ``entry`` (numbered). ``held``: the caller keeps the change in memory even if
        the save fails; the entry then reaches the log with the next save that succeeds."""
        ...

    async def save(self, record: OrchestrationRecord) -> None:
        """Save without a new decision (a noted cost, an observation)."""
        ...

    async def note(self, record: OrchestrationRecord, entry: dict[str, Any]) -> None:
        """Log an entry that changes nothing in the record (unnumbered), e.g. a warning."""
        ...

    def decisions(self, record: OrchestrationRecord, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` entries of the decision log."""
        ...


# -- the skills' state file -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateWrite:
    ok: bool
    via: str  # the command line, or "file <path>" for the direct write
    output: str  # what the command printed, or the error


class SkillStateWriter(Protocol):
    async def mark_running(self, root: Path, step: Step) -> StateWrite:
        """Record ``step`` as the running step (current, index, status=in_progress) in one write."""
        ...

    async def implement_gate(self, root: Path) -> GateCheck | None:
        """The SpecFlow CLI's implement gate in ``root`` (what /flow.merge checks); None without a CLI."""
        ...


# -- the Claude Helper --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Advice:
    action: Action  # what to carry out
    label: str  # the decision-log entry: heal_diagnosis | stale_review | step_review
    source: str  # helper | fallback
    reason: str
    cost_usd: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Adviser(Protocol):
    async def advise(self, record: OrchestrationRecord, action: Action, run: RunEvidence | None) -> Advice:
        """The action to carry out instead of ``action`` (often the same), and what to log about it."""
        ...


# -- events -------------------------------------------------------------------------------------------------------


class EventSink(Protocol):
    def emit(self, project: str | None, payload: EventPayload) -> object: ...


@dataclass(frozen=True)
class EnginePorts:
    """Everything the orchestrator does to the world goes through one of these."""

    runs: RunPort
    clock: Clock
    project: ProjectReader
    journal: RecordJournal
    skill_state: SkillStateWriter
    adviser: Adviser
    events: EventSink
