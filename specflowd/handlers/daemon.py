"""daemon.* : versions, health and counters, liveness, stopping."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import anyio
from pydantic import ConfigDict, Field

from specflowd.event_catalogue import DaemonStopping
from specflowd.handlers.scheduler import RateLimitGate
from specflowd.protocol.rpc import EmptyParams, Message, Router
from specflowd.scheduler.units import GroupView
from specflowd.services.context import Call, Services
from specflowd.version import PROTOCOL_VERSION, __version__

router: Router[Call] = Router()

CAPABILITIES = ["framing.content-length", "framing.newline", "events", "registry.watch"]


class Hello(Message):
    name: str = "specflowd"
    version: str
    protocol_version: int
    capabilities: list[str]
    pid: int
    started_at: datetime


class RunCounts(Message):
    active: int = 0
    total: int = 0


class SchedulerSummary(Message):
    groups: list[GroupView] = Field(description="per group: limit, running, queued")
    queued: int = Field(description="agent runs waiting in the queue, all groups")
    gates: list[RateLimitGate] = Field(description="rate-limit waits in force")


class DaemonStatus(Message):
    version: str
    pid: int
    started_at: datetime
    uptime_s: float
    socket: str
    socket_activated: bool
    projects: int
    active_orchestrations: int
    runs: RunCounts
    subscribers: int
    connections: int
    problems: list[str]
    scheduler: SchedulerSummary


class PingParams(Message):
    model_config = ConfigDict(extra="forbid")
    delay_ms: int = Field(0, ge=0, le=10_000, description="Answer after this long (latency/concurrency checks)")


class Pong(Message):
    pong: bool = True
    time: datetime


class ShutdownResult(Message):
    stopping: bool


@router.method("daemon.hello", params=EmptyParams, result=Hello, summary="Versions and capabilities")
async def hello(call: Call, _: EmptyParams) -> Hello:
    s = call.services
    return Hello(
        version=__version__,
        protocol_version=PROTOCOL_VERSION,
        capabilities=CAPABILITIES,
        pid=os.getpid(),
        started_at=s.started_at,
    )


@router.method("daemon.status", params=EmptyParams, result=DaemonStatus, summary="Health and counters")
async def status(call: Call, _: EmptyParams) -> DaemonStatus:
    return _status(call.services)


@router.quick("daemon.status")
def status_now(call: Call, _: EmptyParams) -> DaemonStatus:
    return _status(call.services)


def _status(s: Services) -> DaemonStatus:
    """Counted from memory, nothing awaited: answered where the request was read (a statusline polls it)."""
    # the registry's, then records that could not be loaded, then leftovers that could not be cleaned up
    problems = [s.registry.problem] if s.registry.problem else []
    problems += s.orchestrations.problems() + s.runs.problems()
    if s.scheduler.problem:
        problems.append(s.scheduler.problem)
    active, total = s.runs.counts()  # counted, not copied: the history may hold thousands of runs
    runs = RunCounts(active=active, total=total)
    return DaemonStatus(
        version=__version__,
        pid=os.getpid(),
        started_at=s.started_at,
        uptime_s=round((datetime.now(UTC) - s.started_at).total_seconds(), 3),
        socket=str(s.socket_path),
        socket_activated=s.socket_activated,
        projects=s.registry.count(),
        active_orchestrations=s.orchestrations.active_count(),
        runs=runs,
        subscribers=s.bus.subscriber_count,
        connections=s.connection_count(),
        problems=problems,
        scheduler=SchedulerSummary(
            groups=(groups := s.scheduler.groups()),
            queued=sum(g.queued for g in groups),
            gates=[RateLimitGate(account=a, until=until) for a, until in sorted(s.scheduler.gates().items())],
        ),
    )


@router.method("daemon.ping", params=PingParams, result=Pong, summary="Liveness, optionally delayed")
async def ping(call: Call, params: PingParams) -> Pong:
    if params.delay_ms:
        await anyio.sleep(params.delay_ms / 1000)
    return Pong(time=datetime.now(UTC))


@router.quick("daemon.ping")
def ping_now(call: Call, params: PingParams) -> Pong | None:
    return None if params.delay_ms else Pong(time=datetime.now(UTC))


@router.method("daemon.shutdown", params=EmptyParams, result=ShutdownResult, summary="Stop the daemon")
async def shutdown(call: Call, _: EmptyParams) -> ShutdownResult:
    # the event is written to every subscriber (this connection too) before the reply: a client that reads
    # nothing after a synchronous reply until more bytes arrive (Emacs' jsonrpc.el) would otherwise never see it
    call.services.bus.emit(None, DaemonStopping(reason="daemon.shutdown"))
    await call.services.bus.flush()
    call.services.stop.set()
    return ShutdownResult(stopping=True)
