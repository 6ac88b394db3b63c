"""The state-derived metric families, from a Snapshot (pure): figures, bounded labels, valid exposition."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest

from specflowd.services.metrics import (
    MAX_MODELS,
    DaemonMetrics,
    GroupFigures,
    RunFigures,
    Snapshot,
    StateCollector,
    families,
)
from specflowd.settings import check_text, listen_address
from tests.metrics.common import samples, value


def run(step: str = "implement", model: str | None = "sonnet", status: str = "completed", cost: float = 0.5,
        duration: float | None = 42.0, project: str = "p1") -> RunFigures:  # fmt: skip
    final = status not in ("starting", "running", "waiting_input")
    return RunFigures(project, step, model, status, final, cost, duration if final else None)


def exposed(snap: Snapshot) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(lambda: snap))
    return generate_latest(registry).decode()  # type: ignore[no-untyped-call, no-any-return]


def test_runs_count_cost_and_histograms_by_step_and_model() -> None:
    snap = Snapshot(
        projects=2,
        runs=[
            run(cost=0.5, duration=42.0),
            run(cost=1.5, duration=400.0),
            run(step="heal", status="looping", cost=0.25, duration=3.0),
            run(status="running", cost=0.75),  # live: its cost counts, it is in no histogram yet
            run(project="p2", step="verify", model=None, cost=0.125),
        ],
        orchestrations=Counter({("p1", "running"): 1, ("p2", "completed"): 2}),
        groups=[GroupFigures("default", 2, 1, 3), GroupFigures("batch", 0, 0, 1)],
        events_dropped=7,
    )
    found = samples(exposed(snap))
    assert value(found, "specflowd_agent_cost_usd_total", project="p1") == 3.0
    assert value(found, "specflowd_agent_cost_usd_total", project="p2") == 0.125
    assert value(found, "specflowd_agent_runs_finished_total", project="p1", status="completed") == 2
    assert value(found, "specflowd_agent_runs_finished_total", project="p1", status="running") is None
    assert value(found, "specflowd_heals_total", project="p1") == 1
    assert value(found, "specflowd_loop_stops_total", project="p1") == 1
    assert value(found, "specflowd_run_cost_usd_count", step="implement", model="sonnet") == 2
    assert value(found, "specflowd_run_cost_usd_sum", step="implement", model="sonnet") == 2.0
    assert value(found, "specflowd_run_cost_usd_bucket", step="implement", model="sonnet", le="0.5") == 1
    assert value(found, "specflowd_run_cost_usd_bucket", step="implement", model="sonnet", le="1.0") == 1
    assert value(found, "specflowd_run_cost_usd_bucket", step="implement", model="sonnet", le="2.0") == 2
    assert value(found, "specflowd_run_duration_seconds_bucket", step="implement", model="sonnet", le="60.0") == 1
    assert value(found, "specflowd_run_duration_seconds_bucket", step="implement", model="sonnet", le="+Inf") == 2
    assert value(found, "specflowd_run_cost_usd_count", step="verify", model="unknown") == 1
    assert value(found, "specflowd_orchestrations", project="p2", status="completed") == 2
    assert value(found, "specflowd_agent_runs", group="default", state="queued") == 3
    assert value(found, "specflowd_agent_runs", group="default", state="running") == 1
    assert value(found, "specflowd_group_limit", group="batch") == 0
    assert value(found, "specflowd_events_dropped_total") == 7
    assert value(found, "specflowd_projects") == 2


def test_label_values_stay_few_whatever_the_runs_say() -> None:
    models = [f"model-{n:02d}" for n in range(MAX_MODELS + 5)]
    snap = Snapshot(runs=[run(model=m) for m in models] + [run(step="/flow.custom thing", model="x" * 500)])
    names = {f.name: f for f in families(snap)}
    model_labels = {s.labels["model"] for s in names["specflowd_run_cost_usd"].samples}
    assert len(model_labels) == MAX_MODELS + 1 and "other" in model_labels
    assert max(len(m) for m in model_labels) <= 64
    steps = {s.labels["step"] for s in names["specflowd_run_cost_usd"].samples}
    assert steps == {"implement", "other"}


def test_an_empty_daemon_exposes_valid_openmetrics() -> None:
    text = exposed(Snapshot())
    assert text.endswith("# EOF\n")
    assert value(samples(text), "specflowd_projects") == 0


def test_the_daemon_registry_holds_its_counters_and_never_the_global_one() -> None:
    metrics = DaemonMetrics(lambda: Snapshot(projects=1))
    metrics.observe_rpc("daemon.status", 0.002)
    metrics.budget_stops.labels("p1", "run").inc()
    found = samples(metrics.render().decode())
    assert value(found, "specflowd_rpc_request_duration_seconds_count", method="daemon.status") == 1
    assert value(found, "specflowd_rpc_request_duration_seconds_bucket", method="daemon.status", le="0.0025") == 1
    assert value(found, "specflowd_budget_stops_total", project="p1", scope="run") == 1
    other = DaemonMetrics(lambda: Snapshot())  # a second daemon's registry: no clash, nothing shared
    assert value(samples(other.render().decode()), "specflowd_budget_stops_total", project="p1", scope="run") is None


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("9464", ("127.0.0.1", 9464)),
        (":9464", ("127.0.0.1", 9464)),
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:9000", ("0.0.0.0", 9000)),
        ("[::1]:9464", ("::1", 9464)),
        ("localhost:1", ("localhost", 1)),
    ],
)
def test_listen_address_is_loopback_unless_a_host_is_written(text: str, address: tuple[str, int]) -> None:
    assert listen_address(text) == address


@pytest.mark.parametrize("text", ["", "host", "host:", "host:0", "host:65536", "host:port", "1.2.3.4:-1"])
def test_a_bad_listen_address_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        listen_address(text)
    problem = check_text(f'[metrics]\nlisten = "{text}"\n')
    assert problem is not None and "metrics.listen" in problem


def test_the_metrics_section_is_checked_like_the_others() -> None:
    assert check_text('[metrics]\nlisten = "127.0.0.1:9464"\n') is None
    assert check_text("[metrics]\n") is None
    assert check_text("[metrics]\nlisten = 9464\n") is None  # what `config set metrics.listen 9464` writes
    assert check_text("[metrics]\nlisten = true\n") is not None
    problem = check_text('[metrics]\nport = 9464\n')
    assert problem is not None and "metrics.port" in problem
