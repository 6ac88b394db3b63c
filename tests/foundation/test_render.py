"""The status text the CLI prints (pure formatting of the daemon's views)."""

from __future__ import annotations

from typing import Any

from specflowctl import render


def _record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "abc", "status": "running", "step": "implement", "attention": None,
        "batches": [
            {"index": 0, "name": "Setup", "status": "completed", "cost_usd": 0.5},
            {"index": 1, "name": "Core Components", "status": "running", "cost_usd": 0.25},
            {"index": 2, "name": "Polish", "status": "pending", "cost_usd": 0.0},
        ],
        "totals": {"spent_usd": 0.75, "helper_usd": 0.0},
        "config": {"budget": {"total": 50.0, "per_batch": 5.0, "heal": 2.0}},
    }  # fmt: skip
    record.update(overrides)
    return record


def test_status_shows_the_batch_the_tasks_the_time_and_the_spend_against_its_caps() -> None:
    progress = {"tasks_done": 12, "tasks_total": 35, "elapsed_s": 185, "remaining_s": 250, "basis": "2 batch(es)"}
    text = render.orchestration(_record(), [{"time": "2026-11-25T10:00:01", "action": "spawn_batch", "reason": "go"}], progress)
    assert "orchestration abc: Running, step implement" in text
    assert "Design ● Analyze ● Implement ◐ Verify ○ Merge ○" in text
    assert "Implementing batch 2 of 3: Core Components" in text and "batches 1/3 done" in text
    assert "tasks 12/35 · elapsed 3m 05s · about 4m 10s left (2 batch(es))" in text
    assert "spent $0.7500 of $50.00 · this batch $0.2500 (cap $5.00 per run)" in text
    assert "10:00:01 spawn_batch" in text


def test_healing_shows_the_heal_cap_and_helper_spend() -> None:
    record = _record(status="healing", totals={"spent_usd": 1.0, "helper_usd": 0.02})
    text = render.orchestration(record, [])
    assert "Healing" in text and "(cap $2.00 per run)" in text and "helper $0.0200" in text


def test_progress_without_a_basis_says_so_and_finished_shows_no_estimate() -> None:
    early = {"tasks_done": 0, "tasks_total": 20, "elapsed_s": 4, "remaining_s": None, "basis": "no batch has finished yet"}
    assert render.progress_line(early) == "tasks 0/20 · elapsed 4s · remaining: estimating… (no batch has finished yet)"
    done = {"tasks_done": 20, "tasks_total": 20, "elapsed_s": 7300, "remaining_s": 0, "basis": "orchestration completed"}
    assert render.progress_line(done) == "tasks 20/20 · elapsed 2h 01m"
