"""What the metrics count as it happens (services/metrics_sources.count_event): from the events alone, in-process."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from specflowd.domain.record import Attention, AttentionKind
from specflowd.event_catalogue import RunFinished, StatusChanged
from specflowd.project.registry import ProjectEntry
from specflowd.services.events import Event
from specflowd.services.metrics import DaemonMetrics, Snapshot
from specflowd.services.metrics_sources import count_event
from specflowd.vocabulary import RunStatus
from tests.metrics.common import samples, value

ROOT = "/home/u/proj"


def services(attention: Attention | None) -> Any:
    registry = SimpleNamespace(projects=lambda: [ProjectEntry(id="p1", path=ROOT, name="proj")])
    orchestrations = SimpleNamespace(get=lambda orch_id: SimpleNamespace(attention=attention))
    return SimpleNamespace(registry=registry, orchestrations=orchestrations)


def finished(status: RunStatus, project: str | None = ROOT) -> Event:
    payload = RunFinished(run_id="r1", orchestration=None, step="verify", batch=None, attempt=1, status=status,
                          detail=None, error=None, cost_usd=0.1, rate_limit_reset=None)  # fmt: skip
    return Event(payload.event_type(), project, payload, "2026-01-01T00:00:00Z")


def needs_attention() -> Event:
    payload = StatusChanged(orchestration="o1", status="needs_attention", before="running", step="implement",
                            reason="budget exhausted")  # fmt: skip
    return Event(payload.event_type(), ROOT, payload, "2026-01-01T00:00:00Z")


def test_rate_limits_and_budget_stops_are_counted_per_registered_project() -> None:
    metrics = DaemonMetrics(lambda: Snapshot())
    budget = services(Attention(kind=AttentionKind.BUDGET, reason="budget exhausted"))
    for event in (finished(RunStatus.RATE_LIMITED), finished(RunStatus.RATE_LIMITED, "/elsewhere"),
                  finished(RunStatus.BUDGET_EXCEEDED), finished(RunStatus.COMPLETED), needs_attention()):  # fmt: skip
        count_event(budget, metrics, event)
    found = samples(metrics.render().decode())
    assert value(found, "specflowd_rate_limit_waits_total", project="p1") == 1
    assert value(found, "specflowd_rate_limit_waits_total", project="unregistered") == 1
    assert value(found, "specflowd_budget_stops_total", project="p1", scope="run") == 1
    assert value(found, "specflowd_budget_stops_total", project="p1", scope="orchestration") == 1


def test_an_orchestration_stopped_for_another_reason_is_no_budget_stop() -> None:
    metrics = DaemonMetrics(lambda: Snapshot())
    count_event(services(Attention(kind=AttentionKind.HEAL_EXHAUSTED, reason="x")), metrics, needs_attention())
    count_event(services(None), metrics, needs_attention())
    found = samples(metrics.render().decode())
    assert value(found, "specflowd_budget_stops_total", project="p1", scope="orchestration") is None
