"""daemon.* : versions, health and counters, liveness, stopping."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import anyio
from pydantic import ConfigDict, Field

from specflowd.admission.units import GroupView
from specflowd.errors import InvalidState
from specflowd.event_catalogue import DaemonStopping
from specflowd.handlers.scheduler import RateLimitGate
from specflowd.paths import user_config_path
from specflowd.protocol.rpc import EmptyParams, Message, Router
from specflowd.runner.sandboxcheck import sandbox_problem, systemd_run_path
from specflowd.services.context import Call, Services
from specflowd.services.metrics import CONTENT_TYPE
from specflowd.settings import load_settings, merge_config
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
    sandbox: SandboxSummary


class SandboxSummary(Message):
    """Whether agent runs are sandboxed by default here, and whether this machine can (docs/sandbox.md)."""

    enabled: bool = Field(description="runs are sandboxed unless told otherwise ([orchestrate] sandbox)")
    available: bool = Field(description="this machine can sandbox a run (bubblewrap, socat, user namespaces)")
    problem: str | None = Field(None, description="why it cannot, with what to install")
    allowed_domains: list[str] = Field(description="the default network allow-list ([sandbox] allowed_domains)")
    limits: list[str] = Field(description="systemd scope properties of each run ([sandbox])")
    limits_enforced: bool = Field(description="a systemd user manager answers, so each run gets its own scope")


_SANDBOX_TTL_S = 10.0
_sandbox_cache: list[tuple[float, SandboxSummary]] = []


def _sandbox_summary() -> SandboxSummary:
    """Asked at most every few seconds: daemon.status is answered where it is read, and a statusline polls it."""
    now = time.monotonic()
    if _sandbox_cache and now - _sandbox_cache[0][0] < _SANDBOX_TTL_S:
        return _sandbox_cache[0][1]
    settings = load_settings(user_config_path())
    problem = sandbox_problem(os.environ)
    limits = settings.sandbox.for_project(Path("/"), {}).limits.properties()
    summary = SandboxSummary(
        enabled=merge_config(settings.orchestrate, {}).sandbox if not settings.problem else True,
        available=problem is None,
        problem=problem,
        allowed_domains=list(settings.sandbox.allowed_domains),
        limits=limits,
        limits_enforced=systemd_run_path(os.environ) is not None and bool(limits),
    )
    _sandbox_cache[:] = [(now, summary)]
    return summary


class PingParams(Message):
    model_config = ConfigDict(extra="forbid")
    delay_ms: int = Field(0, ge=0, le=10_000, description="Answer after this long (latency/concurrency checks)")


class Pong(Message):
    pong: bool = True
    time: datetime


class ShutdownResult(Message):
    stopping: bool


class MetricsText(Message):
    content_type: str = Field(description="the exposition format's media type (OpenMetrics 1.0.0)")
    text: str = Field(description="every metric now, as a Prometheus scrape of /metrics would read it")


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
    if s.metrics is not None and s.metrics.problem:
        problems.append(s.metrics.problem)
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
        sandbox=_sandbox_summary(),
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


@router.method(
    "daemon.metrics", params=EmptyParams, result=MetricsText, summary="Prometheus metrics (OpenMetrics text)"
)
async def metrics(call: Call, _: EmptyParams) -> MetricsText:
    if call.services.metrics is None:
        raise InvalidState("the daemon's metrics are not set up yet")
    return MetricsText(content_type=CONTENT_TYPE, text=call.services.metrics.render().decode("utf-8"))
