"""The helper loop against the real anthropic SDK and a scripted Messages API on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, SecretStr

from specflowd.adviser.call import call
from specflowd.adviser.config import HelperConfig
from specflowd.adviser.ledger import HelperLedger
from specflowd.adviser.results import FailureKind, HelperFailure, HelperResult
from tests.adviser.fake_api import FakeMessagesApi, error, message, submit, text, tool_use

pytestmark = pytest.mark.anyio


class Verdict(BaseModel):
    answer: Literal["yes", "no"]
    confidence: float


def config(api: FakeMessagesApi, **overrides: Any) -> HelperConfig:
    values: dict[str, Any] = {
        "api_key": SecretStr("sk-test"),
        "base_url": api.base_url,
        "fallback_models": ("claude-sonnet-4-6",),
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.05,
        "timeout_s": 10.0,
    }
    values.update(overrides)
    return HelperConfig(**values)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def main():\n    return 42\n")
    (tmp_path / "secret.txt").write_text("TOP-SECRET\n")
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    return root


def ok(outcome: HelperResult[Verdict] | HelperFailure) -> HelperResult[Verdict]:
    assert isinstance(outcome, HelperResult), outcome
    return outcome


def failed(outcome: HelperResult[Verdict] | HelperFailure, kind: FailureKind) -> HelperFailure:
    assert isinstance(outcome, HelperFailure), outcome
    assert outcome.kind is kind, outcome
    return outcome


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in body["messages"][-1]["content"] if b["type"] == "tool_result"]


async def test_tool_loop_then_structured_answer(api: FakeMessagesApi, project: Path) -> None:
    api.script(
        message(tool_use("Glob", {"pattern": "**/*.py"}), tool_use("Grep", {"pattern": "return"})),
        message(tool_use("Read", {"path": "src/app.py", "offset": 2})),
        submit({"answer": "yes", "confidence": 0.9}, input_tokens=2_000, output_tokens=100),
    )
    result = ok(await call("Is 42 returned?", Verdict, project_root=project, config=config(api)))
    assert result.value == Verdict(answer="yes", confidence=0.9)
    assert result.turns == 3 and result.model_used == "claude-haiku-4-5"
    # 2 x (100 in, 20 out) + (2000 in, 100 out) on haiku ($1/$5 per MTok)
    assert result.cost_usd == pytest.approx((2 * 100 + 2000) / 1e6 + (2 * 20 + 100) * 5 / 1e6)
    first, second, third = (r.body for r in api.requests)
    assert [t["name"] for t in first["tools"]] == ["Glob", "Grep", "Read", "submit_result"]
    assert first["tools"][-1]["input_schema"] == Verdict.model_json_schema()
    assert first["tool_choice"] == {"type": "any"}
    assert api.requests[0].headers["authorization"] == "Bearer sk-test"  # this SDK sends keys as Bearer
    glob_out, grep_out = tool_results(second)
    assert glob_out["content"] == "src/app.py" and "is_error" not in glob_out
    assert grep_out["content"] == "src/app.py:2:    return 42"
    assert tool_results(third)[0]["content"] == "     2\t    return 42"


async def test_model_cannot_leave_the_root_or_use_unoffered_tools(api: FakeMessagesApi, project: Path) -> None:
    api.script(
        message(
            tool_use("Read", {"path": "../secret.txt"}),
            tool_use("Read", {"path": "escape"}),
            tool_use("Read", {"path": str(project.parent / "secret.txt")}),
            tool_use("Bash", {"command": "cat ../secret.txt"}),
            tool_use("Grep", {"pattern": "SECRET", "path": ".."}),
        ),
        submit({"answer": "no", "confidence": 1}),
    )
    ok(await call("q", Verdict, project_root=project, config=config(api), tools={"Read"}))
    assert [t["name"] for t in api.requests[0].body["tools"]] == ["Read", "submit_result"]
    results = tool_results(api.requests[1].body)
    assert len(results) == 5 and all(r["is_error"] for r in results)
    assert "TOP-SECRET" not in json.dumps([r.body for r in api.requests])
    with pytest.raises(ValueError, match="read-only"):
        await call("q", Verdict, project_root=project, config=config(api), tools={"Read", "Write"})


async def test_invalid_answer_gets_one_repair_turn(api: FakeMessagesApi, project: Path) -> None:
    api.script(submit({"answer": "maybe"}), submit({"answer": "no", "confidence": 0.5}))
    result = ok(await call("q", Verdict, project_root=project, config=config(api)))
    assert result.value.answer == "no" and result.turns == 2
    repair = api.requests[1].body
    assert repair["tool_choice"] == {"type": "tool", "name": "submit_result"}
    (feedback,) = tool_results(repair)
    assert feedback["is_error"] is True
    assert "confidence" in feedback["content"] and "answer" in feedback["content"]


async def test_second_invalid_answer_is_a_schema_failure(api: FakeMessagesApi, project: Path) -> None:
    api.script(submit({"answer": "maybe"}), submit({"confidence": 2}))
    failure = failed(await call("q", Verdict, project_root=project, config=config(api)), FailureKind.SCHEMA_VALIDATION_FAILED)
    assert failure.turns == 2 and failure.cost_usd == pytest.approx(2 * (100 + 20 * 5) / 1e6)
    assert len(api.requests) == 2


async def test_text_answer_is_pushed_to_the_submit_tool_and_last_turn_is_forced(
    api: FakeMessagesApi, project: Path
) -> None:
    api.script(message(text("I think yes.")), submit({"answer": "yes", "confidence": 0.7}))
    ok(await call("q", Verdict, project_root=project, config=config(api)))
    assert api.requests[1].body["tool_choice"] == {"type": "tool", "name": "submit_result"}
    assert api.requests[1].body["messages"][-1]["content"][0]["type"] == "text"

    api.script(message(tool_use("Glob", {"pattern": "*"})), message(tool_use("Glob", {"pattern": "*"})))
    failure = failed(
        await call("q", Verdict, project_root=project, config=config(api), max_turns=2),
        FailureKind.SCHEMA_VALIDATION_FAILED,
    )
    assert failure.turns == 2
    assert api.requests[2].body["tool_choice"] == {"type": "any"}
    assert api.requests[3].body["tool_choice"] == {"type": "tool", "name": "submit_result"}


async def test_overloaded_primary_falls_back(api: FakeMessagesApi, project: Path) -> None:
    api.script(error(529, "overloaded_error"), submit({"answer": "yes", "confidence": 1}, model="claude-sonnet-4-6"))
    result = ok(await call("q", Verdict, project_root=project, config=config(api)))
    assert result.model_used == "claude-sonnet-4-6"
    assert [r.body["model"] for r in api.requests] == ["claude-haiku-4-5", "claude-sonnet-4-6"]
    assert result.cost_usd == pytest.approx((100 * 3 + 20 * 15) / 1e6)  # priced as sonnet


async def test_not_found_and_forbidden_walk_the_chain_then_unavailable(api: FakeMessagesApi, project: Path) -> None:
    api.script(error(404, "not_found_error"), error(403, "permission_error"), error(529, "overloaded_error"))
    failure = failed(
        await call("q", Verdict, project_root=project, config=config(api), model="m1", fallback_models=["m2", "m3"]),
        FailureKind.UNAVAILABLE,
    )
    assert [r.body["model"] for r in api.requests] == ["m1", "m2", "m3"]
    assert failure.cost_usd == 0.0 and "529" in failure.message


async def test_rate_limit_honours_retry_after(api: FakeMessagesApi, project: Path) -> None:
    api.script(error(429, "rate_limit_error", headers={"retry-after": "0.3"}), submit({"answer": "yes", "confidence": 1}))
    cfg = config(api, backoff_base_s=5.0, backoff_cap_s=5.0)  # exponential backoff would wait 5 s
    started = time.monotonic()
    result = ok(await call("q", Verdict, project_root=project, config=cfg))
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 3.0
    assert result.model_used == "claude-haiku-4-5" and len(api.requests) == 2


async def test_retries_are_bounded_and_bad_requests_are_api_errors(api: FakeMessagesApi, project: Path) -> None:
    api.script(*[error(503, "api_error")] * 3)
    failure = failed(
        await call("q", Verdict, project_root=project, config=config(api, retry_attempts=2)), FailureKind.UNAVAILABLE
    )
    assert len(api.requests) == 3 and "3 attempts" in failure.message
    api.script(error(400, "invalid_request_error"))
    failure = failed(await call("q", Verdict, project_root=project, config=config(api)), FailureKind.API_ERROR)
    assert len(api.requests) == 4 and "400" in failure.message


async def test_connection_errors_retry_then_unavailable(project: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = HelperConfig(api_key=SecretStr("k"), base_url=f"http://127.0.0.1:{port}", retry_attempts=1, backoff_base_s=0)
    failure = failed(await call("q", Verdict, project_root=project, config=cfg), FailureKind.UNAVAILABLE)
    assert "connection" in failure.message.lower()


async def test_budget_stops_before_a_turn_that_cannot_fit(api: FakeMessagesApi, project: Path) -> None:
    api.script(message(tool_use("Glob", {"pattern": "*"}), input_tokens=100_000, output_tokens=100))
    failure = failed(
        await call("q", Verdict, project_root=project, config=config(api), budget_usd=0.15),
        FailureKind.BUDGET_EXCEEDED,
    )
    assert len(api.requests) == 1  # the second turn (>= 100k input tokens) was never sent
    assert failure.turns == 1 and failure.cost_usd == pytest.approx(0.1 + 100 * 5 / 1e6)

    failure = failed(
        await call("q", Verdict, project_root=project, config=config(api), budget_usd=0.001),
        FailureKind.BUDGET_EXCEEDED,
    )
    assert len(api.requests) == 1 and failure.cost_usd == 0.0  # max_tokens alone would not fit


async def test_ledger_total_caps_and_records_spend(api: FakeMessagesApi, project: Path) -> None:
    ledger = HelperLedger(0.05)
    api.script(submit({"answer": "yes", "confidence": 1}, input_tokens=20_000, output_tokens=1_000))
    ok(await call("q", Verdict, project_root=project, config=config(api), ledger=ledger))
    assert ledger.spent_usd == pytest.approx(0.02 + 0.005)
    api.script(submit({"answer": "yes", "confidence": 1}, input_tokens=20_000, output_tokens=1_000))
    ok(await call("q", Verdict, project_root=project, config=config(api), ledger=ledger))
    # 0.05 left? no: 0.0 remains after two calls, the third is refused without a request
    assert ledger.spent_usd == pytest.approx(0.05)
    failed(await call("q", Verdict, project_root=project, config=config(api), ledger=ledger), FailureKind.BUDGET_EXCEEDED)
    assert len(api.requests) == 2


async def test_timeout_is_a_failure_value(api: FakeMessagesApi, project: Path) -> None:
    slow = submit({"answer": "yes", "confidence": 1})
    slow.delay_s = 10.0
    api.script(message(tool_use("Glob", {"pattern": "*"})), slow)
    started = time.monotonic()
    failure = failed(await call("q", Verdict, project_root=project, config=config(api), timeout_s=0.5), FailureKind.TIMEOUT)
    assert time.monotonic() - started < 3.0
    assert failure.turns == 1 and failure.cost_usd > 0 and failure.session_id is not None


async def test_session_continuation(api: FakeMessagesApi, project: Path) -> None:
    api.script(submit({"answer": "yes", "confidence": 1}))
    first = ok(await call("first question", Verdict, project_root=project, config=config(api)))
    assert (project / ".specflow" / "helper" / f"{first.session_id}.json").is_file()
    api.script(submit({"answer": "no", "confidence": 1}))
    second = ok(await call("second question", Verdict, project_root=project, config=config(api), session=first.session_id))
    assert second.session_id == first.session_id
    sent = api.requests[1].body["messages"]
    assert sent[0]["content"] == [{"type": "text", "text": "first question"}]
    assert sent[1]["content"][0]["name"] == "submit_result"
    assert sent[2]["content"][0]["type"] == "tool_result"
    assert sent[2]["content"][-1] == {"type": "text", "text": "second question"}
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]


async def test_invalid_session_and_unavailable_make_no_request(api: FakeMessagesApi, project: Path) -> None:
    failed(await call("q", Verdict, project_root=project, config=config(api), session="nope"), FailureKind.INVALID_SESSION)
    failed(await call("q", Verdict, project_root=project, config=config(api), session="../x"), FailureKind.INVALID_SESSION)
    failure = failed(
        await call("q", Verdict, project_root=project, config=HelperConfig(base_url=api.base_url)),
        FailureKind.UNAVAILABLE,
    )
    assert "ANTHROPIC_API_KEY" in failure.message
    assert api.requests == []
