"""The Neovim plugin (client/nvim) headless against the real daemon and the simulated agent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.editors.nvim_support import run_script, skip_reason
from tests.editors.scenarios import SIM_AGENT, asking_agent, assert_resumed_with_answers, demo_daemon
from tests.editors.socket_cases import write_cases
from tests.support import SPECFLOWD, can_connect, sandbox_env

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


def test_a_phase_from_orchestrate_to_merge(tmp_path: Path) -> None:
    with demo_daemon(tmp_path, SIM_AGENT) as (d, root):
        seen = run_script("orchestrate", d.env, root, tmp_path)
        record = d.rpc("orchestrate.status", {"project": str(root)})["record"]
    assert record["status"] == "completed"
    assert record["config"]["skip_analyze"] is True and record["config"]["budget"]["total"] == 5
    assert seen["initial_statusline"] == ""  # no orchestration yet: nothing to show
    assert seen["prompts"][0]["kind"] == "select" and "Start this orchestration?" in seen["prompts"][0]["prompt"]
    assert "4 batches from tasks.md sections (20 tasks)" in seen["prompts"][0]["prompt"]
    # no finished phase yet: the forecast rests on the prior, whose p90 is over the $5 total given
    assert "\nforecast (median · p90) from the stated prior:\n" in seen["prompts"][0]["prompt"]
    assert "\n  batch 1 Phase 1: Setup (4 tasks)" in seen["prompts"][0]["prompt"]
    assert "\n  ! p90 is over a cap: the phase would likely stop at batch " in seen["prompts"][0]["prompt"]
    assert re.search(r"\n    total: p90 \$[\d.]+ over the \$5\.00 cap; budget\.total=\d+ carries", seen["prompts"][0]["prompt"])
    lines = seen["statuslines"]
    # batch 1 shown while it runs: its 4 tasks may already be ticked when the statusline is redrawn
    assert any(re.match(r"specflow implement · batch 1/4 · tasks [0-4]/20 · \$", line) for line in lines), lines
    assert any(" · batch 4/4 · " in line for line in lines), lines
    assert seen["waiting_statusline"].startswith("specflow merge (merge ready) · batch 4/4 · tasks 20/20 · $"), seen
    assert seen["final_statusline"].startswith("specflow merge (completed) · batch 4/4 · tasks 20/20 · $")
    merge_notice = next(n for n in seen["notifications"] if "ready to merge" in n["message"])
    assert merge_notice["message"].startswith("specflow demo: ") and merge_notice["level"] == 3  # WARN
    assert seen["log_buffer"] == "specflow://decisions"
    assert seen["log_lines_before"][0] == f"orchestration {record['id'][:8]} · {root}"  # the one short id length
    assert "wait_for_merge" in seen["log_lines_before"][-1]
    followed = seen["log_lines"][len(seen["log_lines_before"]):]  # appended from events after it was opened
    assert [line.split()[1] for line in followed] == ["merge_requested", "spawn_step", "complete"], followed
    assert seen["run_buffer"] == f"specflow://run/{seen['merge_run']}"
    assert any("specflow phase close" in line for line in seen["run_lines"]), seen["run_lines"]


def test_questions_are_notified_and_answered_through_vim_ui(tmp_path: Path) -> None:
    with demo_daemon(tmp_path, asking_agent(tmp_path)) as (d, root):
        seen = run_script("answer", d.env, root, tmp_path)
    notice = next(n for n in seen["notifications"] if "asks" in n["message"])
    assert notice["message"] == "specflow demo: the implement run asks: Which storage? (+1 more)  →  :Specflow answer"
    assert seen["waiting_statusline"].startswith("specflow implement (answer needed) · batch 1/4 · ")
    assert seen["pausing"] == ["specflow implement (pausing) · $0.0042", "orchestration 01234567: pausing, step implement"]
    assert seen["choices"] == ["json", "sqlite"]  # no "Other…": the question takes only its options
    assert seen["problems"] == {
        "postgres": "'postgres' is not an option: answer one of 'json', 'sqlite'",
        "SQLite": None,
        "other": None,
        "multi": "'redis' is not an option: answer one or more of 'json', 'sqlite'",
    }
    assert [p["kind"] for p in seen["prompts"]] == ["select", "input"]
    assert seen["prompts"][1]["prompt"].startswith("Which table?")
    assert_resumed_with_answers(tmp_path)


def test_reconnects_and_resubscribes_after_a_daemon_restart(tmp_path: Path) -> None:
    with demo_daemon(tmp_path, SIM_AGENT) as (d, root):
        seen = run_script("reconnect", {**d.env, "SPECFLOWD_BIN": SPECFLOWD}, root, tmp_path)
        assert d.proc is not None and d.proc.wait(20) == 0  # the first daemon left through daemon.shutdown
    assert not can_connect(d.socket), "the daemon the test started from nvim is still running"
    assert seen["offline_statusline"] == "specflow offline"
    messages = [n["message"] for n in seen["notifications"]]
    assert any(m.startswith(f"specflow: lost specflowd on {d.socket}: ") and m.endswith("; reconnecting") for m in messages), messages
    assert "specflow: reconnected to specflowd" in messages
    attention = next(m for m in messages if "needs attention" in m)
    assert re.fullmatch(r"specflow demo: needs attention \(budget\): .+  →  :Specflow recover retry(\|\w+)+", attention), attention
    assert seen["attention_statusline"].startswith("specflow implement (needs attention) · batch 1/4 · "), seen["attention_statusline"]
    assert seen["generation"] == 2
    assert seen["final_statusline"].startswith("specflow merge (completed) · batch 4/4 · tasks 20/20 · $")
    assert seen["job_exit"] == 0


def test_no_daemon_and_the_pure_parts(tmp_path: Path) -> None:
    cases = write_cases(tmp_path / "cases.json")
    missing = tmp_path / "nothing-here.sock"
    env = {**sandbox_env(tmp_path), "SPECFLOWD_SOCKET": str(missing), "SPECFLOW_CASES": str(tmp_path / "cases.json")}
    seen = run_script("offline", env, tmp_path, tmp_path)
    assert seen["paths"] == [case["expected"] for case in cases]  # found exactly as specflowctl finds it
    [message] = [n["message"] for n in seen["notifications"]]
    assert message.startswith(f"specflow: no specflowd is answering on {missing}. Start one with `specflowctl daemon start` (or `specflowctl daemon install-unit` once, so systemd starts it on use).")
    assert "\n" not in message
    assert seen["sandbox_lines"] == [
        "sandbox: writes /p/demo, /t/claude-0 · network: pypi.org",
        "sandbox: writes /p/demo · network: none · Write/Edit NOT confined (bypassPermissions)",
        "sandbox: OFF (sandbox = false): shell commands can write anywhere you can",
    ]
    assert seen["statusline"] == ""  # never connected: the statusline stays quiet
    assert seen["frames"] == ['{"jsonrpc":"2.0","id":1,"result":{"ok":"é"}}', "{}"]
    assert "exceeds the 4194304-byte limit" in seen["framing_errors"][0]
    assert seen["framing_errors"][1] == "missing Content-Length header"
    assert seen["config"] == {"auto_merge": True, "auto_heal": False, "budget": {"total": 2.5}, "additional_context": "be brief", "batch_size_fallback": 3}
    assert seen["bad_config"] == "expected KEY or KEY=VALUE, got --auto-merge"
    assert seen["completions"] == {"subcommands": ["orchestrate"], "recover": ["abort", "retry", "skip"], "budget": ["budget.heal=", "budget.per_batch=", "budget.total="]}
