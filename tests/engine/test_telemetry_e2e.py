"""[telemetry] on: every agent session of a phase gets Claude Code's OpenTelemetry variables and specflowd's
resource attributes (the real daemon, the fake `claude` logging the environment it was given)."""

from __future__ import annotations

import json
from pathlib import Path

from specflowctl.demo import create_demo_project
from tests.engine.common import FAKE, status
from tests.support import running_daemon, wait_until


def test_every_session_of_a_phase_carries_its_project_orchestration_step_and_batch(tmp_path: Path) -> None:
    argv_log = tmp_path / "argv.jsonl"
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=FAKE, FAKE_CLAUDE_ARGV_LOG=str(argv_log)) as d:
        config = Path(d.env["XDG_CONFIG_HOME"]) / "specflow" / "specflowd.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text('[telemetry]\nenabled = true\nendpoint = "http://127.0.0.1:4317"\n')
        root = create_demo_project(d.root / "demo")
        project = d.rpc("projects.register", {"path": str(root)})["id"]
        # the fake agent completes batches but plays no skill: verify, unreported, stops the phase after its attempts
        started = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True}})
        orch = started["record"]["id"]
        done = wait_until(lambda: (r := status(d, orch))["status"] not in ("running", "healing") and r, timeout=60)
        assert done["attention"]["step"] == "verify", done["attention"]
    runs = [json.loads(line)["telemetry"] for line in argv_log.read_text().splitlines()]
    for env in runs:
        assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4317"
    attributes = [dict(pair.split("=", 1) for pair in env["OTEL_RESOURCE_ATTRIBUTES"].split(",")) for env in runs]
    assert {a["specflowd.project"] for a in attributes} == {project}
    assert {a["specflowd.orchestration"] for a in attributes} == {orch}
    assert [(a["specflowd.step"], a.get("specflowd.batch")) for a in attributes] == [
        ("implement", "1"), ("implement", "2"), ("implement", "3"), ("implement", "4"), ("verify", None), ("verify", None),
    ]  # fmt: skip
