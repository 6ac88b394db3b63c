"""The daemon's Prometheus metrics: one ``CollectorRegistry`` per daemon (never the process-global one).

Two kinds of series (docs/metrics.md):
- read from the daemon's records at scrape time (``StateCollector``): orchestrations by status, agent runs
  running/queued per group, finished runs, run duration and cost histograms by step and model, cost per
  project, heals, loop stops. They are totals over every record the daemon knows, so a restart neither resets
  nor double counts them;
- counted as things happen since the daemon started (prometheus_client's own ``Counter``/``Histogram``): RPC
  request latency, rate-limit waits, budget stops; events dropped is the event bus's own count.

The exposition is prometheus_client's (``generate_latest``); nothing here formats a metric. The figures are
taken on the event loop's thread (``snapshot``): a scrape from the HTTP listener's thread asks the loop for
them, so no record is read while the loop changes it.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

import anyio.from_thread
import anyio.lowlevel
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from specflowd.domain.record import RunKind
from specflowd.orchestration_vocabulary import STEPS

__all__ = [
    "CONTENT_TYPE",
    "COST_BUCKETS",
    "DURATION_BUCKETS",
    "KNOWN_STEPS",
    "MAX_MODELS",
    "DaemonMetrics",
    "GroupFigures",
    "RunFigures",
    "Snapshot",
    "families",
    "on_loop",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST

# A run is minutes long (the simulated agent's are under a second); its cost is cents to a few dollars.
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)
COST_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Label values must stay few. A run's step is one of these (a standalone run of another skill is "other"); a
# model is its name, for the first MAX_MODELS names in sorted order, then "other"; a project is its registry id
# ("unregistered" for runs of a project no longer registered); never a path or a run id.
KNOWN_STEPS = frozenset({*STEPS, RunKind.HEAL.value})
MAX_MODELS = 16
MAX_MODEL_CHARS = 64
OTHER = "other"
UNKNOWN_MODEL = "unknown"
UNREGISTERED = "unregistered"


@dataclass(frozen=True, slots=True)
class RunFigures:
    """One agent run, as the metrics see it (labels already bounded except the model)."""

    project: str
    step: str
    model: str | None
    status: str
    final: bool
    cost_usd: float
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class GroupFigures:
    group: str
    limit: int
    running: int
    queued: int


@dataclass
class Snapshot:
    """The daemon's state at one instant, in the terms of the metrics (pure data: ``families`` formats it)."""

    projects: int = 0
    connections: int = 0
    events_dropped: int = 0
    orchestrations: Tally[tuple[str, str]] = field(default_factory=Tally)  # (project, status) -> how many
    groups: list[GroupFigures] = field(default_factory=list)
    runs: list[RunFigures] = field(default_factory=list)


def _step(step: str) -> str:
    return step if step in KNOWN_STEPS else OTHER


def _models(runs: Iterable[RunFigures]) -> dict[str | None, str]:
    names = sorted({r.model for r in runs if r.model})
    labels: dict[str | None, str] = {None: UNKNOWN_MODEL, "": UNKNOWN_MODEL}
    labels.update({name: name[:MAX_MODEL_CHARS] if i < MAX_MODELS else OTHER for i, name in enumerate(names)})
    return labels


def _histogram(
    name: str, doc: str, observations: dict[tuple[str, str], list[float]], bounds: tuple[float, ...]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=["step", "model"])
    for labels, values in sorted(observations.items()):
        values.sort()
        cumulative = [(_le(bound), bisect.bisect_right(values, bound)) for bound in bounds]
        cumulative.append(("+Inf", len(values)))
        family.add_metric(list(labels), cumulative, sum_value=sum(values))
    return family


def _le(bound: float) -> str:
    return repr(float(bound))


def families(snap: Snapshot) -> list[Metric]:
    """Every state-derived metric family of ``snap`` (pure)."""
    projects = GaugeMetricFamily("specflowd_projects", "Projects in the registry")
    projects.add_metric([], snap.projects)
    connections = GaugeMetricFamily("specflowd_connections", "Open client connections to the socket")
    connections.add_metric([], snap.connections)
    dropped = CounterMetricFamily(
        "specflowd_events_dropped", "Events dropped for subscribers that fell behind, since the daemon started"
    )
    dropped.add_metric([], snap.events_dropped)

    orchestrations = GaugeMetricFamily(
        "specflowd_orchestrations", "Orchestrations the daemon knows, by project and status",
        labels=["project", "status"],
    )
    for (project, status), count in sorted(snap.orchestrations.items()):
        orchestrations.add_metric([project, status], count)

    agent_runs = GaugeMetricFamily(
        "specflowd_agent_runs", "Agent runs holding a slot (running) or waiting for one (queued), per group",
        labels=["group", "state"],
    )  # fmt: skip
    limits = GaugeMetricFamily("specflowd_group_limit", "Agent runs a group runs at once (0: paused)", labels=["group"])
    for g in sorted(snap.groups, key=lambda g: g.group):
        agent_runs.add_metric([g.group, "running"], g.running)
        agent_runs.add_metric([g.group, "queued"], g.queued)
        limits.add_metric([g.group], g.limit)

    models = _models(snap.runs)
    finished: Tally[tuple[str, str]] = Tally()
    cost: dict[str, float] = {}
    heals: Tally[str] = Tally()
    loops: Tally[str] = Tally()
    durations: dict[tuple[str, str], list[float]] = {}
    costs: dict[tuple[str, str], list[float]] = {}
    for run in snap.runs:
        cost[run.project] = cost.get(run.project, 0.0) + run.cost_usd
        if run.step == "heal":
            heals[run.project] += 1
        if not run.final:
            continue
        finished[(run.project, run.status)] += 1
        if run.status == "looping":
            loops[run.project] += 1
        key = (_step(run.step), models[run.model])
        costs.setdefault(key, []).append(run.cost_usd)
        if run.duration_s is not None:
            durations.setdefault(key, []).append(run.duration_s)

    runs_finished = CounterMetricFamily(
        "specflowd_agent_runs_finished", "Agent runs finished, by project and final status",
        labels=["project", "status"],
    )
    for (project, status), count in sorted(finished.items()):
        runs_finished.add_metric([project, status], count)
    spent = CounterMetricFamily(
        "specflowd_agent_cost_usd", "USD spent by agent runs (live ones included), per project", labels=["project"]
    )
    for project, usd in sorted(cost.items()):
        spent.add_metric([project], round(usd, 6))
    healed = CounterMetricFamily("specflowd_heals", "Heal runs started, per project", labels=["project"])
    for project, count in sorted(heals.items()):
        healed.add_metric([project], count)
    looped = CounterMetricFamily(
        "specflowd_loop_stops", "Agent runs stopped for repeating their tool calls, per project", labels=["project"]
    )
    for project, count in sorted(loops.items()):
        looped.add_metric([project], count)

    return [
        projects,
        connections,
        dropped,
        orchestrations,
        agent_runs,
        limits,
        runs_finished,
        spent,
        healed,
        looped,
        _histogram(
            "specflowd_run_duration_seconds",
            "Finished agent runs' duration, by step and model",
            durations,
            DURATION_BUCKETS,
        ),
        _histogram(
            "specflowd_run_cost_usd", "Finished agent runs' cost in USD, by step and model", costs, COST_BUCKETS
        ),
    ]


def on_loop(take: Callable[[], Snapshot]) -> Callable[[], Snapshot]:
    """``take`` called on the event loop's thread, whichever thread asks (call this on the loop)."""
    token = anyio.lowlevel.current_token()
    loop_thread = threading.get_ident()

    def taken() -> Snapshot:
        if threading.get_ident() == loop_thread:
            return take()
        return anyio.from_thread.run_sync(take, token=token)

    return taken


class StateCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from families(self._snapshot())


class DaemonMetrics:
    """The registry one daemon exposes (``daemon.metrics``, the optional HTTP listener) and the counters it keeps."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StateCollector(snapshot))
        self.rpc_latency = Histogram(
            "specflowd_rpc_request_duration_seconds",
            "Time to answer a JSON-RPC request, by method (since the daemon started)",
            ["method"],
            buckets=RPC_BUCKETS,
            registry=self.registry,
        )
        self.rate_limit_waits = Counter(
            "specflowd_rate_limit_waits",
            "Agent runs that stopped at a rate limit (then waited out), per project (since the daemon started)",
            ["project"],
            registry=self.registry,
        )
        self.budget_stops = Counter(
            "specflowd_budget_stops",
            "Budget stops: a run reached its cap (scope run), an orchestration stopped for its budget (scope "
            "orchestration), per project (since the daemon started)",
            ["project", "scope"],
            registry=self.registry,
        )
        self.problem: str | None = None  # why the HTTP listener is not serving (daemon.status)
        self.address: tuple[str, int] | None = None  # where the HTTP listener serves
        self._server: WSGIServer | None = None

    def observe_rpc(self, method: str, seconds: float) -> None:
        self.rpc_latency.labels(method).observe(seconds)

    def render(self) -> bytes:
        """The OpenMetrics text of every series now."""
        text: bytes = generate_latest(self.registry)  # type: ignore[no-untyped-call]
        return text

    def listen(self, host: str, port: int) -> None:
        """Serve ``/metrics`` over HTTP on (host, port): prometheus_client's server, in its own thread. A port that
        cannot be bound is a problem reported in daemon.status, never a reason not to serve the socket."""
        try:
            self._server, _ = start_http_server(port, host, registry=self.registry)
        except OSError as exc:
            self.problem = f"[metrics] listen {host}:{port}: {exc.strerror or exc}; /metrics is not served over HTTP"
            return
        self.address = (host, self._server.server_port)

    def close(self) -> None:
        """Stop the HTTP listener (blocks up to its poll interval, 0.5 s: call it off the loop)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
