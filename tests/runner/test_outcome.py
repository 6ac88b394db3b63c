from __future__ import annotations

from typing import Any

import pytest

from specflowd.runner.outcome import OutcomeInputs, decide_outcome
from specflowd.runner.records import StopReason
from specflowd.runner.stream import ResultInfo
from specflowd.vocabulary import LoopCall, RunStatus, ToolLoop


def result(subtype: str = "success", *, structured: dict[str, Any] | None = None, errors: tuple[str, ...] = (),
           text: str = "", api_status: int | None = None) -> ResultInfo:
    return ResultInfo(
        subtype=subtype,
        is_error=subtype != "success",
        text=text,
        errors=errors,
        total_cost_usd=0.01,
        num_turns=1,
        api_error_status=api_status,
        structured_output=structured,
    )


QUESTION = {"question": "Which DB?", "header": "DB", "options": [{"label": "SQLite"}], "multiSelect": False}

TABLE: list[tuple[str, OutcomeInputs, RunStatus]] = [
    ("structured completed", OutcomeInputs(result(structured={"status": "completed", "message": "ok"})),
     RunStatus.COMPLETED),
    ("success without structured output", OutcomeInputs(result()), RunStatus.COMPLETED),
    ("needs_input with questions",
     OutcomeInputs(result(structured={"status": "needs_input", "message": "?", "questions": [QUESTION]})),
     RunStatus.WAITING_INPUT),
    ("needs_input without questions",
     OutcomeInputs(result(structured={"status": "needs_input", "message": "?", "questions": []})), RunStatus.FAILED),
    ("structured error", OutcomeInputs(result(structured={"status": "error", "message": "tests broke"})),
     RunStatus.FAILED),
    ("unknown structured status", OutcomeInputs(result(structured={"status": "maybe"})), RunStatus.FAILED),
    ("error result", OutcomeInputs(result("error_during_execution", errors=("boom",)), exit_code=1),
     RunStatus.FAILED),
    ("max turns", OutcomeInputs(result("error_max_turns")), RunStatus.FAILED),
    ("cli budget", OutcomeInputs(result("error_max_budget_usd", errors=("Reached maximum budget ($1)",))),
     RunStatus.BUDGET_EXCEEDED),
    ("rate limit text", OutcomeInputs(result("error_during_execution", errors=("rate limit exceeded",))),
     RunStatus.RATE_LIMITED),
    ("api status 529", OutcomeInputs(result("error_during_execution", text="x", api_status=529)),
     RunStatus.RATE_LIMITED),
    ("error after 429 retries", OutcomeInputs(result("error_during_execution", text="gave up"), rate_limit_seen=True),
     RunStatus.RATE_LIMITED),
    ("success after 429 retries", OutcomeInputs(result(), rate_limit_seen=True), RunStatus.COMPLETED),
    ("non-zero exit, no result", OutcomeInputs(None, exit_code=2), RunStatus.FAILED),
    ("died mid-stream (unknown exit)", OutcomeInputs(None), RunStatus.FAILED),
    ("no result, only 429 retries", OutcomeInputs(None, exit_code=1, rate_limit_seen=True), RunStatus.RATE_LIMITED),
    ("found dead after restart", OutcomeInputs(None, found_dead_after_restart=True), RunStatus.INTERRUPTED),
    ("found dead but result present", OutcomeInputs(result(), found_dead_after_restart=True), RunStatus.COMPLETED),
    ("cancelled beats result", OutcomeInputs(result(), stop_reason=StopReason.CANCELLED), RunStatus.CANCELLED),
    ("stopped for budget", OutcomeInputs(None, exit_code=-15, stop_reason=StopReason.BUDGET),
     RunStatus.BUDGET_EXCEEDED),
    ("stopped stale", OutcomeInputs(None, exit_code=-15, stop_reason=StopReason.STALE), RunStatus.STALE),
    ("stopped looping", OutcomeInputs(None, exit_code=-15, stop_reason=StopReason.LOOPING), RunStatus.LOOPING),
    ("looping beats a late result", OutcomeInputs(result(), stop_reason=StopReason.LOOPING), RunStatus.LOOPING),
    ("never started after a restart", OutcomeInputs(None, found_dead_after_restart=True, never_started=True),
     RunStatus.NOT_STARTED),
]


@pytest.mark.parametrize(("name", "inputs", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_outcome_table(name: str, inputs: OutcomeInputs, expected: RunStatus) -> None:
    assert decide_outcome(inputs).status == expected, name


def test_failed_outcomes_keep_their_error_text() -> None:
    assert decide_outcome(OutcomeInputs(result("error_during_execution", errors=("boom",)))).error == "boom"
    assert decide_outcome(OutcomeInputs(result(structured={"status": "error", "message": "no"}))).error == "no"
    assert "code 2" in (decide_outcome(OutcomeInputs(None, exit_code=2)).error or "")


def test_waiting_input_carries_questions() -> None:
    out = decide_outcome(
        OutcomeInputs(result(structured={"status": "needs_input", "message": "?", "questions": [QUESTION, "junk"]}))
    )
    assert [q.question for q in out.questions] == ["Which DB?"]
    assert out.questions[0].options[0].label == "SQLite"


def test_rate_limit_keeps_reset_time() -> None:
    out = decide_outcome(OutcomeInputs(result("error_during_execution", errors=("usage limit reached|1764000000",))))
    assert out.status == RunStatus.RATE_LIMITED
    assert out.rate_limit_reset == "2025-11-24T16:00:00+00:00"


def test_a_looping_stop_names_what_repeated() -> None:
    loop = ToolLoop(cycle=[LoopCall(tool="Bash", input='{"command":"npm test"}')], repeats=8, calls=8)
    out = decide_outcome(OutcomeInputs(None, exit_code=-15, stop_reason=StopReason.LOOPING, loop=loop))
    assert out.status == RunStatus.LOOPING
    assert out.error == (
        'stopped by the daemon: the agent repeated the same tool calls: it called Bash {"command":"npm test"} '
        "8 times in a row"
    )
    cycle = ToolLoop(cycle=[LoopCall(tool="Read", input="{}"), LoopCall(tool="Edit", input="{}")], repeats=8, calls=16)
    assert cycle.describe() == "repeated the same 2 tool calls 8 times in a row: Read {} → Edit {}"
