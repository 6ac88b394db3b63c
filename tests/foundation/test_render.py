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
    assert "spent $0.75 of $50.00 · this batch $0.25 (cap $5.00 per run)" in text
    assert "10:00:01 spawn_batch" in text


def test_healing_shows_the_heal_cap_and_helper_spend() -> None:
    record = _record(status="healing", totals={"spent_usd": 1.0, "helper_usd": 0.02})
    text = render.orchestration(record, [])
    assert "Healing" in text and "(cap $2.00 per run)" in text and "helper $0.02" in text


def test_progress_without_a_basis_says_so_and_finished_shows_no_estimate() -> None:
    early = {"tasks_done": 0, "tasks_total": 20, "elapsed_s": 4, "remaining_s": None, "basis": "no batch has finished yet"}
    assert render.progress_line(early) == "tasks 0/20 · elapsed 4s · remaining: estimating… (no batch has finished yet)"
    done = {"tasks_done": 20, "tasks_total": 20, "elapsed_s": 7300, "remaining_s": 0, "basis": "orchestration completed"}
    assert render.progress_line(done) == "tasks 20/20 · elapsed 2h 01m"


def test_estimates_are_hidden_while_paused_or_waiting_and_no_tasks_means_no_count() -> None:
    p = {"tasks_done": 4, "tasks_total": 20, "elapsed_s": 65, "remaining_s": 120, "basis": "1 batch(es)"}
    assert render.progress_line(p, "running") == "tasks 4/20 · elapsed 1m 05s · about 2m 00s left (1 batch(es))"
    for status in ("paused", "waiting_input", "waiting_merge", "needs_attention", "waiting_rate_limit"):
        assert render.progress_line(p, status) == "tasks 4/20 · elapsed 1m 05s"
    assert render.progress_line({**p, "tasks_total": 0, "tasks_done": 0}, "paused") == "elapsed 1m 05s"


def test_attention_options_only_while_they_are_on_offer() -> None:
    attention = {"kind": "budget", "reason": "cap", "options": ["retry", "abort"]}
    assert "options: retry, abort" in render.orchestration(_record(status="needs_attention", attention=attention), [])
    failed = render.orchestration(_record(status="failed", attention=attention, last_error="cap reached"), [])
    assert "options" not in failed and "failed: cap reached" in failed


def test_questions_show_options_and_the_exact_command() -> None:
    questions: list[dict[str, Any]] = [
        {"question": "Which storage?", "header": "storage", "options": [{"label": "json", "description": "a file"}]},
        {"question": "Name it how?", "header": "", "options": []},
    ]
    block = render.questions_block(questions, "3f2a9c1b-0000-5000-8000-000000000000")
    assert "waiting for your answers (run 3f2a9c1b):" in block
    assert "  [storage] Which storage?\n    1. json — a file\n  Name it how?" in block
    assert "answer: specflowctl answer 3f2a9c1b --answer storage=json --answer 'Name it how?=…'" in block
    shown = render.orchestration(_record(status="waiting_input", pending_questions=questions, questions_run_id="3f2a9c1b-0"), [])
    assert "[storage] Which storage?" in shown
    other = render.questions_block([{**questions[0], "allowOther": True}], "3f2a9c1b")
    assert "    1. json — a file\n    or your own words\n  answer:" in other  # only where the question takes them


def test_short_ids_grow_until_unique() -> None:
    ids = ["abcdef12", "abcdef34", "123456aa"]
    assert render.short_ids(ids, 6) == {"abcdef12": "abcdef1", "abcdef34": "abcdef3", "123456aa": "123456"}


def test_live_line_shows_elapsed_tools_and_spend_against_the_cap() -> None:
    run = {"step": "implement", "batch": "1", "tool_calls": 7, "last_tool": "Edit", "cost_usd": 0.0213, "budget_usd": 5.0}
    assert render.live_line(run, 75, 4) == "  ⋯ implement batch 2/4 · 1m 15s · 7 tool calls · last Edit · this batch $0.02 of $5.00 cap"
    step = {"step": "verify", "batch": None, "tool_calls": 0, "cost_usd": 0.0}
    assert render.live_line(step, 3) == "  ⋯ verify · 3s · 0 tool calls · this run $0.00"


def test_ls_puts_active_orchestrations_first() -> None:
    def rec(id_: str, status: str, created: str) -> dict[str, Any]:
        batches = [{"task_ids": ["T1", "T2"], "status": "completed"}, {"task_ids": ["T3"], "status": "pending"}]
        return {"id": id_, "status": status, "step": "implement", "project_path": f"/p/{id_}", "created_at": created,
                "batches": batches, "totals": {"spent_usd": 1.5}}  # fmt: skip

    rows = render.orchestration_table(
        [rec("aaaaaaaa1", "completed", "2026-11-27T10:00:00Z"), rec("bbbbbbbb1", "running", "2026-11-27T09:00:00Z")],
        now_epoch=1795777200.0,  # 2026-11-27T11:00:00Z
    ).splitlines()
    assert rows[1].split() == ["bbbbbbbb", "bbbbbbbb1", "Running", "implement", "2/3", "$1.50", "2h", "ago"]
    assert rows[2].split()[:3] == ["aaaaaaaa", "aaaaaaaa1", "Completed"] and rows[2].endswith("1h ago")


def test_one_money_rule_by_magnitude() -> None:
    assert [render.money(x) for x in (0, 0.008, 0.0099, 0.01, 0.13, 5, 123.456)] == [
        "$0.00", "$0.0080", "$0.0099", "$0.01", "$0.13", "$5.00", "$123.46",
    ]
