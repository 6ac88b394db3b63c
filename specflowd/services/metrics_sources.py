"""Where the metrics' figures come from: the daemon's services read into a ``Snapshot`` (services/metrics.py), and
the events that count rate-limit waits and budget stops. Called on the event loop only."""

from __future__ import annotations

from collections import Counter as Tally
from pathlib import Path

from specflowd.domain.record import AttentionKind
from specflowd.event_catalogue import RunFinished, StatusChanged
from specflowd.orchestration_vocabulary import OrchestrationStatus
from specflowd.services.context import Services
from specflowd.services.events import Event
from specflowd.services.metrics import UNREGISTERED, DaemonMetrics, GroupFigures, RunFigures, Snapshot
from specflowd.vocabulary import FINAL_STATUSES, RunStatus

__all__ = ["count_event", "project_ids", "snapshot"]


def project_ids(services: Services) -> dict[str, str]:
    """Project path (as records hold it) -> registry id."""
    return {p.path: p.id for p in services.registry.projects()}


def _project(ids: dict[str, str], path: str | Path | None) -> str:
    return ids.get(str(path), UNREGISTERED) if path is not None else UNREGISTERED


def snapshot(services: Services) -> Snapshot:
    """The figures of every metric read at scrape time, from memory (no record is read from disk)."""
    ids = project_ids(services)
    orchestrations: Tally[tuple[str, str]] = Tally(
        (_project(ids, path), status) for path, status in services.orchestrations.census()
    )
    runs = [
        RunFigures(
            project=_project(ids, s.project_root),
            step=s.step,
            model=s.model,
            status=s.status.value,
            final=s.status in FINAL_STATUSES,
            cost_usd=s.cost_usd,
            duration_s=s.duration_s,
        )
        for s in services.runs.census()
    ]
    groups = [GroupFigures(g.name, g.limit, g.running, g.queued) for g in services.scheduler.groups()]
    return Snapshot(
        projects=services.registry.count(),
        connections=services.connection_count(),
        events_dropped=services.bus.dropped,
        orchestrations=orchestrations,
        groups=groups,
        runs=runs,
    )


def count_event(services: Services, metrics: DaemonMetrics, event: Event) -> None:
    """Count what no record keeps: a run stopped at a rate limit (its session is continued, and its status
    changes again), a budget stop (a run at its cap, an orchestration stopped for its budget)."""
    payload = event.payload
    if isinstance(payload, RunFinished):
        if payload.status == RunStatus.RATE_LIMITED:
            metrics.rate_limit_waits.labels(_project(project_ids(services), event.project)).inc()
        elif payload.status == RunStatus.BUDGET_EXCEEDED:
            metrics.budget_stops.labels(_project(project_ids(services), event.project), "run").inc()
    elif isinstance(payload, StatusChanged) and payload.status == OrchestrationStatus.NEEDS_ATTENTION:
        attention = services.orchestrations.get(payload.orchestration).attention
        if attention is not None and attention.kind == AttentionKind.BUDGET:
            metrics.budget_stops.labels(_project(project_ids(services), event.project), "orchestration").inc()
