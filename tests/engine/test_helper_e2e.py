"""The Claude Helper in the engine's loop (uses b and c) through the real daemon: with a scripted Messages API
for the helper's verdicts, and without a key (the deterministic fallback, logged as such)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from specflowctl.demo import create_demo_project
from tests.engine.common import FAKE, status
from tests.helper.fake_api import FakeMessagesApi, submit
from tests.support import Daemon, sandbox_env, wait_until

FIRST_SECTION = ["T001", "T002", "T003", "T004"]


@pytest.fixture
def api() -> Iterator[FakeMessagesApi]:
    with FakeMessagesApi() as server:
        yield server


def start_daemon(tmp_path: Path, script: list[dict[str, Any]], api: FakeMessagesApi | None) -> Daemon:
    env = sandbox_env(tmp_path)
    (tmp_path / "script.json").write_text(json.dumps(script))
    env.update(
        SPECFLOW_CLAUDE=FAKE,
        FAKE_CLAUDE_SCRIPT=str(tmp_path / "script.json"),
        FAKE_CLAUDE_ARGV_LOG=str(tmp_path / "argv.jsonl"),
    )
    if api is not None:
        env.update(ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=api.base_url)
    return Daemon(tmp_path, env).start()



def entries(root: Path, orch_id: str, action: str) -> list[dict[str, Any]]:
    path = root / ".specflow" / "workflows" / f"orchestration-{orch_id}.events.jsonl"
    return [e for line in path.read_text().splitlines() if (e := json.loads(line))["action"] == action]


def test_helper_advises_skipping_a_failed_analyze(tmp_path: Path, api: FakeMessagesApi) -> None:
    api.script(submit({"action": "skip", "reason": "the analysis only reports; implementation does not need it"}))
    d = start_daemon(tmp_path, [{"action": "fail", "message": "analyze crashed"}], api)
    try:
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        orch_id = d.rpc("orchestrate.start", {"project": str(root)})["record"]["id"]
        wait_until(lambda: status(d, orch_id)["step"] == "implement", timeout=30, what="implement after the skip")
        record = status(d, orch_id)
        assert record["steps"]["analyze"]["status"] == "skipped" and record["steps"]["analyze"]["attempts"] == 1
        (review,) = entries(root, orch_id, "step_review")
        assert (review["source"], review["verdict"], review["step"]) == ("helper", "skip", "analyze")
        assert review["cost_usd"] > 0 and record["totals"]["helper_usd"] == pytest.approx(review["cost_usd"])
        asked = api.requests[0].body["messages"][0]["content"][0]["text"]
        assert "'analyze'" in asked and "analyze crashed" in asked
        d.rpc("orchestrate.cancel", {"id": orch_id})
    finally:
        d.stop()


def test_without_a_key_a_failed_step_is_retried_and_the_log_says_fallback(tmp_path: Path) -> None:
    d = start_daemon(tmp_path, [{"action": "fail", "message": "first"}, {"action": "fail", "message": "second"}], None)
    try:
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        orch_id = d.rpc("orchestrate.start", {"project": str(root)})["record"]["id"]
        wait_until(lambda: status(d, orch_id)["status"] == "needs_attention", timeout=30, what="attempts used")
        record = status(d, orch_id)
        assert record["attention"]["kind"] == "step_attempts" and record["steps"]["analyze"]["attempts"] == 2
        (review,) = entries(root, orch_id, "step_review")  # before attempt 2; none once attempts are used up
        assert (review["source"], review["verdict"]) == ("fallback", "retry")
        assert "no helper configured" in review["reason"] and review["cost_usd"] == 0
    finally:
        d.stop()


def test_stale_batch_continues_its_session_when_the_helper_says_so(tmp_path: Path, api: FakeMessagesApi) -> None:
    api.script(submit({"action": "continue", "reason": "it was compiling; give it more time"}))
    script = [{"action": "hang"}, {"action": "complete", "tasks": FIRST_SECTION}]
    d = start_daemon(tmp_path, script, api)
    try:
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        config = {"skip_analyze": True, "stale_after_s": 5}
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": config})["record"]["id"]
        wait_until(lambda: (b := status(d, orch_id)["batches"]) and b[0]["status"] == "completed", timeout=40, what="batch 1 done")
        batch = status(d, orch_id)["batches"][0]
        assert len(batch["run_ids"]) == 1 and batch["heal_attempts"] == 0  # continued, not healed or restarted
        (review,) = entries(root, orch_id, "stale_review")
        assert (review["source"], review["verdict"]) == ("helper", "continue")
        (resumed,) = entries(root, orch_id, "resume_run")
        assert resumed["run_id"] == batch["run_ids"][0] and resumed["detail"]["cause"] == "stale"
        first, second = [json.loads(x) for x in (tmp_path / "argv.jsonl").read_text().splitlines()][:2]
        session = first["argv"][first["argv"].index("--session-id") + 1]
        assert second["argv"][second["argv"].index("--resume") + 1] == session == batch["run_ids"][0]
        assert "without output" in second["prompt"]
        d.rpc("orchestrate.cancel", {"id": orch_id})
    finally:
        d.stop()


def test_cancel_answers_while_the_helper_is_still_thinking(tmp_path: Path, api: FakeMessagesApi) -> None:
    from dataclasses import replace

    diagnosis = {"cause": "test_failure", "summary": "s", "suggested_fix": "f", "files": []}
    api.script(replace(submit(diagnosis), delay_s=60))  # the helper "thinks" far longer than any RPC timeout
    d = start_daemon(tmp_path, [{"action": "fail", "message": "tests failed"}], api)
    try:
        root = create_demo_project(d.root / "demo")
        d.rpc("projects.register", {"path": str(root)})
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True}})["record"]["id"]
        wait_until(lambda: len(api.requests) == 1, timeout=30, what="the diagnosis request")
        # answered now (the client's 10 s timeout would fail it if the helper call held the lock)
        assert d.rpc("orchestrate.cancel", {"id": orch_id})["record"]["status"] == "cancelled"
        assert d.rpc("orchestrate.status", {"id": orch_id})["record"]["status"] == "cancelled"
        assert [r["step"] for r in d.rpc("runs.list", {"project": str(root)})["runs"]] == ["implement"]  # no heal
    finally:
        d.stop()
