"""Loop detection on stream-json shaped tool calls (the shape of the real CLI's assistant lines)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specflowd.runner.loops import DEFAULT_REPEATS, LoopDetector, ToolCall, tool_calls

SAMPLES = Path(__file__).resolve().parents[1] / "e2e" / "samples"  # real stream-json from the pinned CLI
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "claude-cli"
SESSION = "e180d96c-9e56-44c0-bef7-74eef75c19cd"


def assistant_line(*blocks: dict[str, Any]) -> bytes:
    """An assistant line as Claude Code 2.1.197 prints it (one line per content block, usage repeated)."""
    event = {
        "type": "assistant",
        "message": {
            "id": "msg_" + uuid.uuid4().hex[:24],
            "type": "message",
            "role": "assistant",
            "model": "claude-opus-4-8",
            "content": list(blocks),
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 1200, "output_tokens": 1},
            "context_management": None,
        },
        "parent_tool_use_id": None,
        "session_id": SESSION,
        "uuid": str(uuid.uuid4()),
    }
    return json.dumps(event, separators=(",", ":")).encode()


def tool_use(name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:20], "name": name, "input": tool_input}


def bash(command: str) -> bytes:
    return assistant_line(tool_use("Bash", {"command": command, "description": "scripted command"}))


def feed_lines(detector: LoopDetector, lines: list[bytes]) -> list[bool]:
    """Feed each line's tool calls; per call, whether the run reads as looping after it."""
    seen = []
    for line in lines:
        for call in tool_calls(json.loads(line)):
            seen.append(detector.feed(call) is not None)
    return seen


def test_the_same_bash_call_eight_times_in_a_row_is_a_loop() -> None:
    detector = LoopDetector()
    seen = feed_lines(detector, [bash("npm test -- --watch=false")] * 9)
    assert seen == [False] * 7 + [True, True]  # from the 8th call on, and it stays
    report = detector.report
    assert report is not None and report.repeats == DEFAULT_REPEATS and report.calls == 8
    assert [c.name for c in report.cycle] == ["Bash"]
    assert report.describe() == (
        'the same tool call 8 times in a row: Bash {"command":"npm test -- --watch=false",'
        '"description":"scripted command"}'
    )


def test_key_order_and_whitespace_of_the_input_do_not_make_calls_different() -> None:
    detector = LoopDetector(repeats=2)
    a = assistant_line(tool_use("Read", {"file_path": "/p/tasks.md", "limit": 50}))
    b = (
        b'{"type":"assistant","message":{"content":[{"type":"tool_use","id":"toolu_x","name":"Read",'
        b'"input":{ "limit" : 50, "file_path":"/p/tasks.md"}}]}}'
    )
    assert feed_lines(detector, [a, b]) == [False, True]


def test_a_cycle_of_two_calls_repeated_is_a_loop() -> None:
    read = assistant_line(tool_use("Read", {"file_path": "/p/src/app.py"}))
    edit = assistant_line(
        tool_use("Edit", {"file_path": "/p/src/app.py", "old_string": "x = 1", "new_string": "x = 2"})
    )
    detector = LoopDetector()
    seen = feed_lines(detector, [read, edit] * 8)
    assert seen.index(True) == 15  # 8 repetitions of the pair = 16 calls
    report = detector.report
    assert report is not None and [c.name for c in report.cycle] == ["Read", "Edit"] and report.calls == 16
    assert report.describe().startswith("the same 2 tool calls 8 times in a row: Read ")


def test_work_that_changes_between_repeated_calls_is_not_a_loop() -> None:
    """Re-running the tests after every edit repeats a call, but the edits in between differ."""
    detector = LoopDetector()
    lines = []
    for i in range(30):
        edit = tool_use("Edit", {"file_path": "/p/a.py", "old_string": f"v{i}", "new_string": f"v{i + 1}"})
        lines += [assistant_line(edit), bash("pytest -q")]
    assert not any(feed_lines(detector, lines))
    assert detector.report is None


def test_a_long_cycle_needs_a_window_that_holds_it() -> None:
    cycle = [bash(f"step {i}") for i in range(5)]
    assert not any(feed_lines(LoopDetector(), cycle * 8))  # 40 calls do not fit the default window of 32
    assert any(feed_lines(LoopDetector(window=40), cycle * 8))


def test_repeats_is_settable_and_zero_switches_it_off() -> None:
    assert feed_lines(LoopDetector(repeats=3), [bash("ls")] * 3) == [False, False, True]
    off = LoopDetector(repeats=0)
    assert not off.enabled
    assert not any(feed_lines(off, [bash("ls")] * 100))
    with pytest.raises(ValueError):
        LoopDetector(repeats=-1)


def test_several_tool_uses_in_one_message_count_in_order() -> None:
    line = assistant_line(
        {"type": "text", "text": "checking"},
        tool_use("Read", {"file_path": "/p/a"}),
        tool_use("Read", {"file_path": "/p/b"}),
    )
    calls = tool_calls(json.loads(line))
    assert [(c.name, c.input) for c in calls] == [("Read", {"file_path": "/p/a"}), ("Read", {"file_path": "/p/b"})]


@pytest.mark.parametrize(
    "event",
    [
        {"type": "user", "message": {"content": [{"type": "tool_use", "name": "Bash", "input": {}}]}},
        {"type": "assistant"},
        {"type": "assistant", "message": "text"},
        {"type": "assistant", "message": {"content": "plain"}},
        {"type": "assistant", "message": {"content": [None, 3, {"type": "text", "text": "hi"}]}},
        {"type": "result", "subtype": "success"},
    ],
)
def test_lines_without_tool_calls_give_none(event: dict[str, Any]) -> None:
    assert tool_calls(event) == []


def test_a_tool_use_without_a_name_or_input_still_counts() -> None:
    calls = tool_calls({"type": "assistant", "message": {"content": [{"type": "tool_use"}]}})
    assert calls == [ToolCall("?", None)]
    detector = LoopDetector(repeats=2)
    assert detector.feed(calls[0]) is None
    assert detector.feed(calls[0]) is not None


def test_the_summary_of_a_huge_input_is_cut() -> None:
    call = ToolCall("Write", {"file_path": "/p/big.txt", "content": "x" * 100_000})
    assert len(call.summary()) == 300 and call.summary().endswith("…")


RECORDED = [
    path
    for path in [*sorted(SAMPLES.glob("*.jsonl")), *sorted(FIXTURES.glob("*.jsonl"))]
    if b'"type":"tool_use"' in path.read_bytes()
]


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name)
def test_recorded_healthy_runs_are_not_loops(path: Path) -> None:
    detector = LoopDetector(repeats=2)  # even at the most sensitive setting
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    calls = [call for line in lines for call in tool_calls(json.loads(line))]
    assert calls, f"{path.name} holds tool calls"
    assert not any(detector.feed(call) for call in calls)


distinct_calls = st.lists(st.text(min_size=1, max_size=8), unique=True, min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(distinct_calls)
def test_calls_that_never_repeat_are_never_a_loop(commands: list[str]) -> None:
    detector = LoopDetector(repeats=2, window=64)
    assert not any(detector.feed(ToolCall("Bash", {"command": c})) for c in commands)


@settings(max_examples=150, deadline=None)
@given(
    distinct_calls, st.lists(st.text(min_size=1, max_size=8), unique=True, min_size=1, max_size=4), st.integers(2, 8)
)
def test_any_cycle_repeated_n_times_is_found_with_that_cycle(prefix: list[str], cycle: list[str], n: int) -> None:
    detector = LoopDetector(repeats=n, window=n * len(cycle))
    calls = [ToolCall("Bash", {"command": c}) for c in prefix] + [ToolCall("Read", {"file_path": c}) for c in cycle] * n
    reports = [detector.feed(call) for call in calls]
    assert reports[-1] is not None
    assert reports[-2] is None  # not a call earlier: the prefix differs and the cycle has no shorter period
    assert [c.input["file_path"] for c in reports[-1].cycle] == cycle
