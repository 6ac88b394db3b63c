"""The Claude Helper in the engine's loop (uses b and c) through the real daemon: with a scripted Messages API
for the helper's verdicts, and without a key (the deterministic fallback, logged as such)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from specflowctl.demo import create_demo_project
from tests.adviser.fake_api import FakeMessagesApi, submit
from tests.engine.common import FAKE, status
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
