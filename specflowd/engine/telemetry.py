"""The environment that turns on Claude Code's own OpenTelemetry export for one run (pure; docs/telemetry.md).

Every session carries ``specflowd.project`` (the registry id, the ``project`` label of specflowd's own metrics),
``specflowd.project_path``, ``specflowd.orchestration``, ``specflowd.step`` and ``specflowd.batch`` (1-based,
as the CLI shows batches; absent for a step run) as OpenTelemetry resource attributes, after any the user's
environment or ``[telemetry] attributes`` already give: the collector can then group agent telemetry by phase
and join it to specflowd's metrics. Values are percent-encoded as ``OTEL_RESOURCE_ATTRIBUTES`` requires.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from specflowd.settings import TelemetrySettings

__all__ = ["resource_attributes", "telemetry_env"]


def _encode(value: str) -> str:
    return quote(value, safe="/:._-~@")  # what the W3C baggage format allows unencoded (no , = ; or spaces)


def resource_attributes(
    *, project: str, project_path: str, orchestration: str, step: str, batch: int | None
) -> dict[str, str]:
    attributes = {
        "specflowd.project": project,
        "specflowd.project_path": project_path,
        "specflowd.orchestration": orchestration,
        "specflowd.step": step,
    }
    if batch is not None:
        attributes["specflowd.batch"] = str(batch + 1)
    return attributes


def telemetry_env(
    settings: TelemetrySettings, attributes: Mapping[str, str], inherited: Mapping[str, str]
) -> dict[str, str]:
    """The variables to add to the run's environment (none while telemetry is off). ``inherited``: the daemon's
    own environment, whose OTEL_RESOURCE_ATTRIBUTES is kept in front of ours."""
    if not settings.enabled:
        return {}
    env = {"CLAUDE_CODE_ENABLE_TELEMETRY": "1"}
    wanted = {
        "OTEL_METRICS_EXPORTER": settings.metrics_exporter,
        "OTEL_LOGS_EXPORTER": settings.logs_exporter,
        "OTEL_TRACES_EXPORTER": settings.traces_exporter,
        "OTEL_EXPORTER_OTLP_ENDPOINT": settings.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": settings.protocol,
        "OTEL_EXPORTER_OTLP_HEADERS": settings.headers,
    }
    env.update({name: value for name, value in wanted.items() if value})
    if settings.traces_exporter:
        env["CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"] = "1"  # the CLI exports traces only with its beta switched on
    env.update(settings.env)
    theirs = env.get("OTEL_RESOURCE_ATTRIBUTES") or inherited.get("OTEL_RESOURCE_ATTRIBUTES", "")
    ours = {**settings.attributes, **attributes}
    pairs = [f"{_encode(k)}={_encode(v)}" for k, v in ours.items()]
    env["OTEL_RESOURCE_ATTRIBUTES"] = ",".join(p for p in [theirs.strip(" ,"), *pairs] if p)
    return env
