"""What RPC handlers see: the daemon's services, each a typed field, and the calling connection.

The engine sits above this layer and the runner below it (docs/architecture.md#layers). Handlers reach the
engine through ``Orchestrations``, a protocol naming exactly what the RPC methods use, so this module imports
nothing of the engine; the daemon wires the real ``Orchestrator`` in and mypy checks that it fits. The runner
is reached the same way (``Runs``, fitted by ``RunManager``), which keeps handlers off the runner's internals.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio

from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.domain.forecast import Sample
from specflowd.domain.progress import Progress
from specflowd.domain.record import OrchestrationRecord, RecoveryOption
from specflowd.project.registry import Registry
from specflowd.protocol.rpc import MethodSpec
from specflowd.runner.known_runs import RunSummary
from specflowd.runner.records import LogChunk, PendingQuestion, RunRecord
from specflowd.services.events import EventBus
from specflowd.services.launcher import RunLauncher
from specflowd.services.metrics import DaemonMetrics
from specflowd.services.scheduling import RunScheduler
from specflowd.transport.server import Connection

PROJECT_CALLS_AT_ONCE = 4  # see Services.project_calls

P = TypeVar("P")
R = TypeVar("R")

__all__ = ["Call", "Orchestrations", "Runs", "Services"]


class Orchestrations(Protocol):
    """The orchestration engine as the RPC handlers use it (``engine.orchestrator.Orchestrator``)."""

    def get(self, orch_id: str) -> OrchestrationRecord: ...
    def resolve(self, ref: str) -> str: ...
    def for_project(self, root: Path) -> OrchestrationRecord: ...
    def list_all(
        self, root: Path | None = None, include_finished: bool = False, *, offset: int = 0, limit: int | None = None
    ) -> list[OrchestrationRecord]: ...
    def count(self, root: Path | None = None, include_finished: bool = False) -> int: ...
    def decisions(self, record: OrchestrationRecord, limit: int = 10) -> list[dict[str, Any]]: ...
    async def progress(self, record: OrchestrationRecord) -> Progress: ...
    async def forecast_history(self, root: Path | None = None) -> list[Sample]: ...
    async def start(self, root: Path, config: OrchestrationConfig) -> OrchestrationRecord: ...
    async def pause(self, orch_id: str, now: bool = False) -> OrchestrationRecord: ...
    async def resume(self, orch_id: str, budget_total: float | None = None) -> OrchestrationRecord: ...
    async def cancel(self, orch_id: str) -> OrchestrationRecord: ...
    async def merge(self, orch_id: str) -> OrchestrationRecord: ...
    async def go_back(self, orch_id: str, step: Step) -> OrchestrationRecord: ...
    async def recover(
        self, orch_id: str, option: RecoveryOption, budget_total: float | None = None
    ) -> OrchestrationRecord: ...
    async def answer(self, orch_id: str, answers: dict[str, str]) -> OrchestrationRecord: ...
    def active_count(self) -> int: ...
    def census(self) -> list[tuple[str, str]]: ...
    def problems(self) -> list[str]: ...


class Runs(Protocol):
    """Agent runs as the RPC handlers use them (``runner.manager.RunManager``)."""

    def get(self, run_id: str) -> RunRecord: ...
    def resolve(self, ref: str) -> str: ...
    def list(
        self, project_root: Path | None = None, *, offset: int = 0, limit: int | None = None
    ) -> builtins.list[RunRecord]: ...
    def counts(self) -> tuple[int, int]: ...
    def census(self) -> builtins.list[RunSummary]: ...
    def total(self, project_root: Path | None = None) -> int: ...
    def log(self, run_id: str, since: int = 0) -> LogChunk: ...
    async def cancel(self, run_id: str) -> RunRecord: ...
    def pending_questions(self, project_root: Path | None = None) -> builtins.list[PendingQuestion]: ...
    async def answer(self, run_id: str, answers: dict[str, str]) -> RunRecord: ...
    def problems(self) -> builtins.list[str]: ...


@dataclass
class Services:
    socket_path: Path
    socket_activated: bool
    registry: Registry
    bus: EventBus
    stop: anyio.Event  # set: the daemon stops serving
    specs: dict[str, MethodSpec]  # the method table (rpc.discover describes it)
    orchestrations: Orchestrations
    runs: Runs
    scheduler: RunScheduler  # which agent run may start now: groups, limits, the queue, rate-limit gates
    launcher: RunLauncher  # the one way a run starts: admitted by the scheduler, started by the runner
    connection_count: Callable[[], int]  # open client connections (daemon.status)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    openrpc: dict[str, Any] | None = None  # rpc.discover's document, built on first use (~75 ms), then kept
    # Calls that read a whole project and check the agent (orchestrate.start/preview, runs.start) take a few ms of
    # CPU each on the event loop; many arriving at once would run in one loop iteration and stall every other
    # client. They take turns; cheap calls (ping, status, lists) never wait for them.
    project_calls: anyio.Semaphore = field(default_factory=lambda: anyio.Semaphore(PROJECT_CALLS_AT_ONCE))
    metrics: DaemonMetrics | None = None  # Prometheus metrics (daemon.metrics); set by the daemon once wired


@dataclass(frozen=True)
class Call:
    services: Services
    conn: Connection


def project_call(handler: Callable[[Call, P], Awaitable[R]]) -> Callable[[Call, P], Awaitable[R]]:
    """The handler reads a whole project and checks the agent: it runs in a turn of ``Services.project_calls``."""

    @functools.wraps(handler)
    async def in_turn(call: Call, params: P) -> R:
        async with call.services.project_calls:
            return await handler(call, params)

    return in_turn
