"""A real Prometheus server (Debian's ``prometheus``, installed by .ci/run) scrapes the daemon's [metrics] listener
every second while a demo phase runs; its HTTP API on loopback then answers the phase's runs and cost."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from specflowctl.demo import create_demo_project
from tests.engine.common import SIM, status
from tests.metrics.common import free_port, write_settings
from tests.support import running_daemon, wait_until

PROMETHEUS = shutil.which("prometheus")


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read()) if "/api/" in url else response.status
    except (urllib.error.URLError, ConnectionError):
        return None


@contextmanager
def prometheus_scraping(tmp: Path, target: int) -> Iterator[str]:
    """Prometheus on a free loopback port scraping 127.0.0.1:``target`` four times a second (each wait on a
    scraped value is at most that long); yields its base URL."""
    assert PROMETHEUS is not None
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 250ms\n  scrape_timeout: 250ms\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: specflowd\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(
            lambda: proc.poll() is not None or _get(f"{base}/-/ready") == 200, timeout=60, what="prometheus ready"
        )
        assert proc.poll() is None, (tmp / "prometheus.log").read_text()
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def query(base: str, promql: str) -> list[dict[str, Any]]:
    answer = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    if not answer or answer.get("status") != "success":
        return []
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def scalar(base: str, promql: str) -> float | None:
    result = query(base, promql)
    return float(result[0]["value"][1]) if len(result) == 1 else None


@pytest.mark.skipif(PROMETHEUS is None, reason="no `prometheus` on PATH (Debian's package; .ci/run installs it)")
def test_prometheus_scrapes_a_demo_phase_and_its_api_shows_the_runs_and_cost(tmp_path: Path) -> None:
    port = free_port()
    write_settings(tmp_path / "home", f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    # 0.1 s per simulated task (2 s of implement at least), so that scrapes land while the phase runs (nothing waits on it)
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=SIM, SPECFLOW_SIM_DELAY="0.1") as d, prometheus_scraping(
        tmp_path / "prom", port
    ) as prom:
        wait_until(lambda: scalar(prom, 'up{job="specflowd"}') == 1, timeout=60, what="the daemon scraped")
        root = create_demo_project(d.root / "demo")
        project = d.rpc("projects.register", {"path": str(root)})["id"]
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"auto_merge": True}})["record"]["id"]
        wait_until(lambda: status(d, orch_id)["status"] == "completed", timeout=180, what="the demo phase completed")
        runs = d.rpc("runs.list", {"project": str(root)})["runs"]
        spent = round(sum(r["cost_usd"] for r in runs), 6)
        assert runs and spent > 0

        finished = f'sum(specflowd_agent_runs_finished_total{{project="{project}",status="completed"}})'
        wait_until(lambda: scalar(prom, finished) == len(runs), timeout=60, what=f"{finished} == {len(runs)}")
        cost = f'specflowd_agent_cost_usd_total{{project="{project}"}}'
        wait_until(lambda: scalar(prom, cost) == pytest.approx(spent), timeout=60, what=f"{cost} == {spent}")
        implement = scalar(prom, 'sum(specflowd_run_cost_usd_count{step="implement"})')
        assert implement == len([r for r in runs if r["step"] == "implement"]) == 4
        completed = f'specflowd_orchestrations{{project="{project}",status="completed"}}'
        # the last cost may be scraped before the record turns completed: wait for a later scrape
        wait_until(lambda: scalar(prom, completed) == 1, timeout=60, what=f"{completed} == 1")
        # the scrapes during the phase saw it running: an orchestration in a non-final status at some point
        running = scalar(prom, f'max_over_time(specflowd_orchestrations{{project="{project}",status="running"}}[10m])')
        assert running == 1
