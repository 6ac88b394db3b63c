"""The preview of a project with recorded history shows the forecast (real daemon, real specflowctl, golden
output): finished orchestrations written where the daemon keeps them, read by its own store."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from specflowctl.demo import create_demo_project
from specflowd.domain.config import OrchestrationConfig, Step
from specflowd.domain.record import (
    BatchRecord,
    BatchStatus,
    Completed,
    StepStatus,
    dump_record,
    new_record,
)
from specflowd.files.workflows import workflows_dir
from tests.engine.common import FAKE
from tests.support import running_daemon

GOLDEN = Path(__file__).parent / "golden" / "preview_forecast.txt"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def write_history(root: Path, orchestrations: int = 4) -> None:
    """Finished orchestrations of ``root``: analyze, three batches of 3-6 tasks, verify and merge each, their
    costs and times spread a little from one orchestration to the next."""
    where = workflows_dir(root)
    where.mkdir(parents=True, exist_ok=True)
    for n in range(orchestrations):
        t0 = START + n * timedelta(days=1)
        r = new_record(id=f"hist{n}", project_path=str(root), config=OrchestrationConfig(), now=t0)
        r.state, r.step, r.updated_at = Completed(), Step.MERGE, t0 + 90 * MIN
        per_step: dict[Step, float] = {}
        for step, cost, minutes in ((Step.ANALYZE, 0.30, 2), (Step.VERIFY, 0.50, 4), (Step.MERGE, 0.20, 1)):
            per_step[step] = round(cost * (1 + 0.1 * n), 2)
            r.steps[step] = r.step_record(step).model_copy(
                update={"status": StepStatus.COMPLETED, "run_ids": [f"{step.value}{n}"], "started_at": t0,
                        "finished_at": t0 + (minutes + n) * MIN}
            )  # fmt: skip
        for i, tasks in enumerate((3, 4, 6)):
            cost = round(0.25 * tasks * (1 + 0.15 * ((n + i) % 4)), 2)
            r.batches.append(
                BatchRecord(index=i, name=f"Part {i}", task_ids=[f"T{i}{k}" for k in range(tasks)],
                            status=BatchStatus.COMPLETED, run_ids=[f"b{n}{i}"], cost_usd=cost, started_at=t0,
                            finished_at=t0 + (2 * tasks + n + i) * MIN)
            )  # fmt: skip
        r.totals.per_step = per_step
        (where / f"orchestration-{r.id}.json").write_text(json.dumps(dump_record(r)))


def forecast_block(text: str) -> str:
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("forecast"))
    last = next(i for i, line in enumerate(lines) if line.startswith("agent:"))
    return "\n".join(lines[first:last]) + "\n"


def test_the_preview_of_a_project_with_history_shows_its_forecast(tmp_path: Path) -> None:
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=FAKE) as d:
        root = create_demo_project(d.root / "demo")
        write_history(root)
        d.rpc("projects.register", {"path": str(root)})
        shown = d.ctl("orchestrate", str(root), "--budget-total", "7.5", input="n\n", check=False)
        assert shown.returncode == 1  # declined at the confirmation, after the preview
        block = forecast_block(shown.stdout)
        if os.environ.get("SPECFLOW_UPDATE_GOLDEN"):
            GOLDEN.write_text(block)
        assert block == GOLDEN.read_text()
        preview = d.rpc("orchestrate.preview", {"project": str(root), "check_agent": False})
        forecast = preview["forecast"]
        labels = [u["label"] for u in forecast["units"]]
        assert labels[0] == "analyze" and labels[1].startswith("batch 1 ") and labels[-2:] == ["verify", "merge"]
        assert forecast["total_needed"] is None  # the default $50 total carries it
        assert {u["source"] for u in forecast["units"]} == {"project"} and forecast["units"][0]["runs"] == 4
