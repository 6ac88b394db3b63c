from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from specflowd.runner.records import RunnerSettings
from specflowd.runner.stream import (
    StreamState,
    estimate_cost,
    find_rate_limit_reset,
    missing_command,
    readable_items,
    split_complete,
)

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "claude-cli"  # real CLI output (tests/fixtures/README.md)
PRICES = RunnerSettings().prices


def _feed_file(name: str) -> StreamState:
    state = StreamState(prices=PRICES)
    lines, used = split_complete((REFERENCE / name).read_bytes())
    assert used > 0
    for line in lines:
        state.feed(line)
    return state


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference samples not present")
def test_structured_output_reference_run() -> None:
    state = _feed_file("structured-output-run.stream.jsonl")
    assert state.session_id == "21111111-2222-4333-8444-555555555555"
    assert state.model == "claude-opus-4-8[1m]"
    assert state.tool_names == ["StructuredOutput"]
    assert state.result is not None and state.result.subtype == "success"
    assert state.result.structured_output == {"status": "completed", "message": "done"}
    assert state.cost_usd == pytest.approx(0.008) and not state.cost_is_estimate
    assert state.turns == 2 and state.malformed == 0


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference samples not present")
def test_budget_reference_run() -> None:
    state = _feed_file("budget-exceeded-run.stream.jsonl")
    assert state.result is not None
    assert state.result.subtype == "error_max_budget_usd" and state.result.is_error
    assert state.result.errors == ("Reached maximum budget ($0.001)",)
    assert state.texts == ["Hello from the scripted model."]


def test_split_complete_keeps_the_partial_tail() -> None:
    assert split_complete(b'{"a":1}\n{"b"') == ([b'{"a":1}'], 8)
    assert split_complete(b"no newline yet") == ([], 0)
    assert split_complete(b"a\nb\n") == ([b"a", b"b"], 4)


def test_bad_lines_are_counted_not_fatal() -> None:
    state = StreamState(prices=PRICES)
    for line in (b"not json", b"[1,2]", b"", b'{"type":"system","subtype":"init","session_id":"s","model":"m"}'):
        state.feed(line)
    assert state.malformed == 2 and state.session_id == "s"


def test_live_cost_estimate_dedupes_repeated_message_ids_then_result_wins() -> None:
    state = StreamState(prices=PRICES)
    msg: dict[str, Any] = {
        "type": "assistant",
        "message": {
            "id": "m1",
            "model": "claude-opus-4-8",
            "content": [],
            "usage": {"input_tokens": 1200, "output_tokens": 1},
        },
    }
    state.feed(json.dumps(msg).encode())
    msg["message"]["usage"] = {"input_tokens": 1200, "output_tokens": 80}  # same message, final usage
    state.feed(json.dumps(msg).encode())
    assert state.turns == 1
    assert state.cost_usd == pytest.approx(0.008) and state.cost_is_estimate
    state.feed(b'{"type":"result","subtype":"success","is_error":false,"total_cost_usd":0.5,"num_turns":3}')
    assert state.cost_usd == 0.5 and not state.cost_is_estimate and state.turns == 3


def test_estimate_cost_uses_the_price_table() -> None:
    usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000, "cache_read_input_tokens": 1_000_000}
    assert estimate_cost(usage, "claude-sonnet-4-5", PRICES) == pytest.approx(3 + 15 + 0.3)
    assert estimate_cost(usage, "claude-haiku-4-5", PRICES) == pytest.approx(1 + 5 + 0.1)
    assert estimate_cost({"input_tokens": "x"}, None, PRICES) == 0


def test_api_retry_lines_mark_rate_limits() -> None:
    state = StreamState(prices=PRICES)
    state.feed(
        b'{"type":"system","subtype":"api_retry","attempt":1,"max_retries":3,"error_status":529,"error":"overloaded"}'
    )
    assert state.api_retries == 1 and state.rate_limit_seen
    state.feed(b'{"type":"system","subtype":"api_retry","attempt":2,"max_retries":3,"error_status":500,"error":"boom"}')
    assert not state.rate_limit_seen


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Claude AI usage limit reached|1764000000", "2025-11-24T16:00:00+00:00"),
        ("rate limited until 2026-11-24T15:00:00Z", "2026-11-24T15:00:00Z"),
        ("5-hour limit reached ∙ resets 3pm (Europe/Berlin)", "3pm (Europe/Berlin)"),
        ("429 Too Many Requests", None),
    ],
)
def test_rate_limit_reset_extraction(text: str, expected: str | None) -> None:
    assert find_rate_limit_reset(text) == expected


def test_readable_items() -> None:
    tool = b'{"type":"assistant","message":{"content":[{"type":"text","text":"hi"},{"type":"tool_use","name":"Edit","input":{"f":1}}]}}'
    assert readable_items(tool) == [("text", "hi"), ("tool", 'Edit {"f":1}')]
    assert readable_items(b"garbage")[0][0] == "malformed"
    result = readable_items(
        b'{"type":"result","subtype":"error_max_budget_usd","total_cost_usd":1,"errors":["Reached"]}'
    )
    assert result == [("result", "error_max_budget_usd ($1) Reached")]


@pytest.mark.parametrize(
    ("prompt", "commands", "missing"),
    [
        ("/flow.implement Execute only T001", ["clear", "flow.implement"], None),
        ("/flow.implement Execute only T001", ["clear", "review"], "flow.implement"),
        ("/specflow:flow.verify check", ["flow.verify"], None),  # a plugin's namespaced name
        ("/flow.verify", ["clear"], "flow.verify"),
        ("Plain prompt, no command", ["clear"], None),
        ("/flow.merge now", None, None),  # the agent did not list its commands: nothing to say
    ],
)
def test_missing_command(prompt: str, commands: list[str] | None, missing: str | None) -> None:
    assert missing_command(prompt, commands) == missing


def test_init_line_records_the_slash_commands() -> None:
    state = StreamState()
    state.feed(json.dumps({"type": "system", "subtype": "init", "session_id": "s", "slash_commands": ["a", "b"]}).encode())
    assert state.slash_commands == ["a", "b"]
    other = StreamState()
    other.feed(json.dumps({"type": "system", "subtype": "init", "session_id": "s"}).encode())
    assert other.slash_commands is None
