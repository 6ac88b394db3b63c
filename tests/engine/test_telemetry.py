"""telemetry_env: the variables that turn on Claude Code's OpenTelemetry export for one run (pure)."""

from __future__ import annotations

from specflowd.engine.telemetry import resource_attributes, telemetry_env
from specflowd.settings import TelemetrySettings

ATTRS = resource_attributes(project="demo", project_path="/w/my app", orchestration="o1", step="implement", batch=2)


def test_off_adds_nothing() -> None:
    assert telemetry_env(TelemetrySettings(), ATTRS, {}) == {}


def test_on_names_the_exporters_and_every_session_s_phase() -> None:
    settings = TelemetrySettings(enabled=True, endpoint="http://collector:4317", protocol="grpc", headers="a=b")
    env = telemetry_env(settings, ATTRS, {})
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert env["OTEL_METRICS_EXPORTER"] == env["OTEL_LOGS_EXPORTER"] == "otlp"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4317" and env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == "a=b"
    assert "OTEL_TRACES_EXPORTER" not in env and "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA" not in env
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == (
        "specflowd.project=demo,specflowd.project_path=/w/my%20app,specflowd.orchestration=o1,"
        "specflowd.step=implement,specflowd.batch=3"
    )  # the batch as people number it; a space percent-encoded


def test_traces_switch_the_beta_on_and_the_user_s_attributes_come_first() -> None:
    settings = TelemetrySettings(enabled=True, traces_exporter="otlp", attributes={"team": "core"}, env={"X": "1"})
    step = resource_attributes(project="demo", project_path="/p", orchestration="o1", step="verify", batch=None)
    env = telemetry_env(settings, step, {"OTEL_RESOURCE_ATTRIBUTES": "service.namespace=dev,"})
    assert env["OTEL_TRACES_EXPORTER"] == "otlp" and env["CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"] == "1" and env["X"] == "1"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == (
        "service.namespace=dev,team=core,specflowd.project=demo,specflowd.project_path=/p,"
        "specflowd.orchestration=o1,specflowd.step=verify"
    )  # no specflowd.batch on a step run
