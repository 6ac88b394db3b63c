"""The scripted server on its own (no CLI needed): event order, side requests, the non-streaming form."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.e2e.messages_api import (
    SIDE_REQUEST_TEXT,
    ScriptedMessagesAPI,
    bash,
    is_main_loop_request,
    sse_events,
    structured_output,
    text,
    tools,
)

pytestmark = pytest.mark.real_cli

MAIN_BODY = {"model": "claude-opus-4-8", "tools": [{"name": "Bash"}, {"name": "StructuredOutput"}], "messages": []}


def _post(base_url: str, body: dict[str, Any]) -> bytes:
    request = urllib.request.Request(
        f"{base_url}/v1/messages?beta=true",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def test_stream_events_follow_the_messages_api_order_and_reassemble() -> None:
    turn = tools(bash("echo hi"), structured_output(status="completed"), say="hello", output_tokens=42)
    events = sse_events(turn, "m", iter(["toolu_a", "toolu_b"]))
    names = [name for name, _ in events]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 3
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert "".join(d["text"] for d in deltas if d["type"] == "text_delta") == "hello"
    partial = [d["partial_json"] for d in deltas if d["type"] == "input_json_delta"]
    assert json.loads(partial[0] + partial[1]) == {"command": "echo hi", "description": "scripted command"}
    assert json.loads(partial[2] + partial[3]) == {"status": "completed"}
    message_delta = events[-2][1]
    assert message_delta["delta"]["stop_reason"] == "tool_use"
    assert message_delta["usage"] == {"output_tokens": 42}


def test_main_loop_is_recognised_by_the_tools_offered() -> None:
    assert is_main_loop_request(MAIN_BODY)
    assert not is_main_loop_request({"model": "claude-haiku", "messages": []})
    assert not is_main_loop_request({"tools": [{"name": "WebSearch"}]})


def test_side_requests_do_not_consume_the_script_and_json_mode_works() -> None:
    with ScriptedMessagesAPI([text("scripted turn")]) as api:
        side = json.loads(_post(api.base_url, {"model": "claude-haiku", "messages": [], "stream": False}))
        assert side["content"] == [{"type": "text", "text": SIDE_REQUEST_TEXT}]
        assert api.remaining_turns == 1

        main = json.loads(_post(api.base_url, {**MAIN_BODY, "stream": False}))
        assert main["content"] == [{"type": "text", "text": "scripted turn"}]
        assert main["stop_reason"] == "end_turn"
        assert api.remaining_turns == 0

        streamed = _post(api.base_url, {**MAIN_BODY, "stream": True}).decode()
        assert "SCRIPT EXHAUSTED" in streamed
        assert api.exhausted_hits == 1
        assert [r.main_loop for r in api.requests] == [False, True, True]
