"""daemon.metrics and the [metrics] HTTP listener on the real daemon, after a demo phase run by the simulated
agent: the figures match the runs, the labels are bounded, a restart neither resets nor doubles them."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

from specflowctl.demo import create_demo_project
from tests.engine.common import FAKE, SIM, status
from tests.metrics.common import free_port, samples, value, write_settings
from tests.support import Daemon, running_daemon, sandbox_env, wait_until

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def _scrape(port: int) -> tuple[str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Accept": OPENMETRICS})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode("utf-8")


def _phase(d: Daemon) -> tuple[str, Path, list[dict[str, Any]]]:
    root = create_demo_project(d.root / "demo")
    project = d.rpc("projects.register", {"path": str(root)})["id"]
    orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"auto_merge": True}})["record"]["id"]
    wait_until(lambda: status(d, orch_id)["status"] == "completed", timeout=120, what="the demo phase completed")
    return project, root, d.rpc("runs.list", {"project": str(root)})["runs"]


def test_metrics_follow_a_demo_phase_over_rpc_and_http_and_survive_a_restart(tmp_path: Path) -> None:
    port = free_port()
    write_settings(tmp_path / "home", f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    env = {"SPECFLOW_CLAUDE": SIM, "SPECFLOW_SIM_DELAY": "0"}
    with running_daemon(tmp_path, **env) as d:
        project, root, runs = _phase(d)
        reply = d.rpc("daemon.metrics")
        assert reply["content_type"] == OPENMETRICS
        found = samples(reply["text"])

        completed = [r for r in runs if r["status"] == "completed"]
        assert completed and len(completed) == len(runs)
        assert value(found, "specflowd_agent_runs_finished_total", project=project, status="completed") == len(runs)
        spent = value(found, "specflowd_agent_cost_usd_total", project=project)
        assert spent is not None and spent > 0
        assert abs(spent - sum(r["cost_usd"] for r in runs)) < 1e-6
        assert value(found, "specflowd_orchestrations", project=project, status="completed") == 1
        assert value(found, "specflowd_projects") == 1
        # the histograms count every finished run, by step and model, and their sums are the runs' figures
        implement = [r for r in runs if r["step"] == "implement"]
        assert len(implement) == 4
        models = {r["model"] for r in implement}
        assert len(models) == 1
        model = models.pop() or "unknown"
        assert value(found, "specflowd_run_cost_usd_count", step="implement", model=model) == 4
        assert value(found, "specflowd_run_cost_usd_bucket", step="implement", model=model, le="+Inf") == 4
        cost_sum = value(found, "specflowd_run_cost_usd_sum", step="implement", model=model)
        assert cost_sum is not None and abs(cost_sum - sum(r["cost_usd"] for r in implement)) < 1e-6
        assert value(found, "specflowd_run_duration_seconds_count", step="implement", model=model) == 4
        assert value(found, "specflowd_agent_runs", group="default", state="running") == 0
        assert value(found, "specflowd_agent_runs", group="default", state="queued") == 0
        started = value(found, "specflowd_rpc_request_duration_seconds_count", method="orchestrate.start")
        assert started == 1
        # bounded label values: no path, no run id
        labels = {v for s in found for v in s.labels.values()}
        assert not any("/" in v for v in labels), sorted(labels)
        assert not {r["run_id"] for r in runs} & labels
        assert str(root) not in reply["text"]

        content_type, text = _scrape(port)  # the HTTP listener serves the same registry
        assert content_type.startswith("application/openmetrics-text")
        over_http = samples(text)
        assert value(over_http, "specflowd_agent_runs_finished_total", project=project, status="completed") == len(runs)
        assert value(over_http, "specflowd_agent_cost_usd_total", project=project) == spent

    # the same figures after a restart: read from the records (the history index), not counted since the start
    with running_daemon(tmp_path, **env) as d:
        again = samples(d.rpc("daemon.metrics")["text"])
        assert value(again, "specflowd_agent_runs_finished_total", project=project, status="completed") == len(runs)
        assert value(again, "specflowd_agent_cost_usd_total", project=project) == spent
        assert value(again, "specflowd_run_cost_usd_count", step="implement", model=model) == 4
        assert value(again, "specflowd_orchestrations", project=project, status="completed") == 1


def test_no_listener_by_default_and_a_port_in_use_is_a_problem_not_a_stop(tmp_path: Path) -> None:
    with running_daemon(tmp_path / "off") as d:
        assert "metrics" not in d.log()
        assert value(samples(d.rpc("daemon.metrics")["text"]), "specflowd_projects") == 0
        printed = d.ctl("daemon", "metrics").stdout  # the same text from specflowctl
        assert printed.endswith("# EOF\n") and value(samples(printed), "specflowd_projects") == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = sandbox_env(tmp_path / "busy")
        write_settings(Path(env["HOME"]), f'[metrics]\nlisten = "{port}"\n')  # a bare port: loopback
        d = Daemon(tmp_path / "busy", env).start()
        try:
            problems = d.rpc("daemon.status")["problems"]
            assert any(f"[metrics] listen 127.0.0.1:{port}" in p for p in problems), json.dumps(problems)
            assert d.rpc("daemon.ping")["pong"] is True
            assert d.rpc("settings.get")["effective"]["metrics"] == {"listen": str(port)}
        finally:
            d.stop()


def test_stops_and_heals_are_counted_by_project_and_kind(tmp_path: Path) -> None:
    """Standalone runs the fake CLI stops at a rate limit, at its budget cap, in a loop; then an orchestration
    whose batch fails twice (one heal). Each shows in its own series, under the project's registry id."""
    script = tmp_path / "script.json"
    loop = {"action": "loop", "tool": "Bash", "input": {"command": "npm test"}, "delay": 0.01}
    fail = {"action": "fail", "message": "tests failed"}
    behaviours = [{"action": "rate_limit", "retries": 0, "reset_epoch": 1764000000}, {"action": "over_budget"}, loop]
    script.write_text(json.dumps([*behaviours, fail, fail]))
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=FAKE, FAKE_CLAUDE_SCRIPT=str(script)) as d:
        root = create_demo_project(d.root / "demo")
        project = d.rpc("projects.register", {"path": str(root)})["id"]
        for expected in ("rate_limited", "budget_exceeded", "looping"):
            run_id = d.rpc("runs.start", {"project": str(root), "skill": "verify"})["run_id"]

            def reached(r: str = run_id, e: str = expected) -> bool:
                return bool(d.rpc("runs.get", {"run": r})["status"] == e)

            wait_until(reached, timeout=60, what=expected)
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True}})["record"]["id"]
        wait_until(lambda: status(d, orch_id)["status"] == "needs_attention", timeout=60, what="heal exhausted")
        found = samples(d.rpc("daemon.metrics")["text"])
        assert value(found, "specflowd_rate_limit_waits_total", project=project) == 1
        assert value(found, "specflowd_budget_stops_total", project=project, scope="run") == 1
        assert value(found, "specflowd_loop_stops_total", project=project) == 1
        assert value(found, "specflowd_heals_total", project=project) == 1
        for final in ("rate_limited", "budget_exceeded", "looping"):
            assert value(found, "specflowd_agent_runs_finished_total", project=project, status=final) == 1
        assert value(found, "specflowd_agent_runs_finished_total", project=project, status="failed") == 2
        assert value(found, "specflowd_orchestrations", project=project, status="needs_attention") == 1
        assert sum(s.value for s in found if s.name == "specflowd_run_cost_usd_count" and s.labels["step"] == "heal") == 1
