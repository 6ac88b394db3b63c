"""The three uses, through the real SDK and the scripted API, and their deterministic fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from specflowd.adviser.config import HelperConfig
from specflowd.adviser.ledger import HelperLedger
from specflowd.adviser.runtime import Helper
from specflowd.adviser.uses import (
    decide_failed_step,
    decide_stale_run,
    diagnose_failure,
    fallback_failed_step,
    fallback_stale,
)
from tests.adviser.fake_api import FakeMessagesApi, error, message, submit, tool_use

pytestmark = pytest.mark.anyio


def helper(api: FakeMessagesApi, root: Path, *, key: str | None = "sk-test", ledger: HelperLedger | None = None) -> Helper:
    cfg = HelperConfig(
        api_key=SecretStr(key) if key else None, base_url=api.base_url, retry_attempts=1, backoff_base_s=0.01,
        fallback_models=(),
    )
    return Helper(cfg, root, ledger=ledger)


async def test_diagnosis_by_the_helper(api: FakeMessagesApi, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def f(:\n")
    api.script(
        message(tool_use("Read", {"path": "app.py"})),
        submit({"cause": "syntax_error", "summary": "bad def", "suggested_fix": "close the paren", "files": ["app.py"]}),
    )
    decision = await diagnose_failure(helper(api, tmp_path), context="SyntaxError: invalid syntax (app.py, line 1)")
    assert decision.source == "helper" and decision.diagnosis is not None
    assert decision.diagnosis.cause == "syntax_error" and decision.diagnosis.files == ["app.py"]
    assert decision.cost_usd > 0
    assert "SyntaxError" in api.requests[0].body["messages"][0]["content"][0]["text"]


async def test_diagnosis_falls_back_without_key_or_on_bad_answers(api: FakeMessagesApi, tmp_path: Path) -> None:
    decision = await diagnose_failure(helper(api, tmp_path, key=None), context="boom")
    assert decision.source == "fallback" and decision.diagnosis is None
    assert "ANTHROPIC_API_KEY" in decision.reason and api.requests == []
    assert (await diagnose_failure(None, context="boom")).source == "fallback"

    api.script(submit({"cause": "cosmic_rays"}), submit({"cause": "cosmic_rays"}))
    decision = await diagnose_failure(helper(api, tmp_path), context="boom")
    assert decision.source == "fallback" and "schema_validation_failed" in decision.reason
    assert decision.cost_usd > 0  # the failed attempt still cost money and says so


async def test_long_context_is_cut_to_its_tail(api: FakeMessagesApi, tmp_path: Path) -> None:
    api.script(submit({"cause": "unknown", "summary": "s", "suggested_fix": "f"}))
    await diagnose_failure(helper(api, tmp_path), context="HEAD" + "x" * 50_000 + "THE-ERROR")
    sent = api.requests[0].body["messages"][0]["content"][0]["text"]
    assert "THE-ERROR" in sent and "HEAD" not in sent and len(sent) < 25_000


def test_fallback_rules() -> None:
    assert fallback_stale(0).action == "restart"
    assert fallback_stale(1).action == "needs_attention"
    assert fallback_stale(1, max_restarts=2).action == "restart"
    assert fallback_failed_step(1, 2).action == "retry"
    assert fallback_failed_step(2, 2).action == "needs_attention"
    assert fallback_failed_step(0, 2).source == "fallback"


async def test_stale_run_decisions(api: FakeMessagesApi, tmp_path: Path) -> None:
    h = helper(api, tmp_path)
    api.script(submit({"action": "continue", "reason": "a long test suite is running"}))
    decision = await decide_stale_run(h, context="running pytest…", restarts_done=0)
    assert (decision.source, decision.action) == ("helper", "continue")
    assert decision.reason == "a long test suite is running"

    api.script(submit({"action": "restart", "reason": "hung"}))
    decision = await decide_stale_run(h, context="…", restarts_done=1)
    assert (decision.source, decision.action) == ("helper", "needs_attention")  # the restart limit holds

    api.script(error(500, "api_error"), error(500, "api_error"))
    decision = await decide_stale_run(h, context="…", restarts_done=0)
    assert (decision.source, decision.action) == ("fallback", "restart")
    assert "unavailable" in decision.reason


async def test_failed_step_decisions(api: FakeMessagesApi, tmp_path: Path) -> None:
    h = helper(api, tmp_path)
    api.script(submit({"action": "skip", "reason": "analysis is optional"}))
    decision = await decide_failed_step(h, step="analyze", context="…", attempts=1, max_attempts=2)
    assert (decision.source, decision.action) == ("helper", "skip")
    assert "'analyze'" in api.requests[0].body["messages"][0]["content"][0]["text"]

    api.script(submit({"action": "retry", "reason": "flaky"}))
    decision = await decide_failed_step(h, step="verify", context="…", attempts=2, max_attempts=2)
    assert decision.action == "needs_attention" and "flaky" in decision.reason

    exhausted = Helper(h.config, tmp_path, ledger=HelperLedger(0.0001))
    decision = await decide_failed_step(exhausted, step="verify", context="…", attempts=1, max_attempts=2)
    assert (decision.source, decision.action) == ("fallback", "retry")
    assert "budget_exceeded" in decision.reason and len(api.requests) == 2
