"""Pure parts of the runner: argv, stream-json parsing, the outcome table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specflowd.domain.config import PermissionMode
from specflowd.errors import AgentUnavailable
from specflowd.runner.command import RESULT_SCHEMA, RunSpec, build_argv, resolve_binary
from specflowd.runner.streamjson import RunProgress, feed, price_of
from specflowd.runner.verdict import RunStatus, judge

REF = Path(__file__).resolve().parents[1] / "fixtures" / "claude-cli"  # copies of shared/reference


def test_argv_has_the_real_flags_in_a_list() -> None:
    spec = RunSpec(
        project_root="/p",
        prompt="x",
        step="implement",
        model="claude-sonnet-4-5",
        fallback_model="claude-haiku-4-5",
        budget_usd=2.5,
        append_system_prompt="be brief",
    )
    argv = build_argv("/bin/claude", spec, "sid-1")
    assert argv[:5] == ["/bin/claude", "-p", "--output-format", "stream-json", "--verbose"]
    pairs = dict(zip(argv[5::2], argv[6::2], strict=False))
    assert pairs["--session-id"] == "sid-1" and pairs["--model"] == "claude-sonnet-4-5"
    assert pairs["--fallback-model"] == "claude-haiku-4-5" and pairs["--max-budget-usd"] == "2.5"
    assert pairs["--permission-mode"] == "bypassPermissions" and pairs["--disallowedTools"] == "AskUserQuestion"
    assert json.loads(pairs["--json-schema"]) == RESULT_SCHEMA and pairs["--append-system-prompt"] == "be brief"
    resumed = build_argv(
        "/bin/claude", spec.model_copy(update={"permission_mode": PermissionMode.ACCEPT_EDITS}), "sid-1", resume=True
    )
    assert "--resume" in resumed and "--session-id" not in resumed and "acceptEdits" in resumed


def test_missing_binary_is_agent_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECFLOW_CLAUDE", "/no/such/claude")
    with pytest.raises(AgentUnavailable, match="SPECFLOW_CLAUDE"):
        resolve_binary(None)


@pytest.mark.parametrize("name", ["structured-output-run", "plain-text-run", "resumed-run", "budget-exceeded-run"])
def test_reference_samples_parse(name: str) -> None:
    progress = RunProgress()
    feed(progress, (REF / f"{name}.stream.jsonl").read_bytes())
    assert progress.bad_lines == 0 and progress.session_id and progress.result is not None
    assert progress.cost_usd == progress.result["total_cost_usd"]


def test_partial_lines_wait_and_bad_lines_are_counted() -> None:
    progress = RunProgress()
    feed(progress, b'{"type":"system","subtype":"init","session_id":"s","model":"claude-haiku-4-5"}\n{"type":"assis')
    assert progress.session_id == "s" and progress.turns == 0
    feed(
        progress,
        b'tant","message":{"content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":1000000,"output_tokens":0}}}\nnot json\n',
    )
    assert progress.turns == 1 and progress.bad_lines == 1 and list(progress.last_texts) == ["hi"]
    assert progress.cost_usd == pytest.approx(1.0)  # haiku input $1/MTok


def test_unknown_models_are_priced_as_the_most_expensive() -> None:
    assert price_of("mystery-model", {"output_tokens": 1_000_000}, {"haiku": (1, 5), "opus": (15, 75)}) == 75


def _progress(*lines: dict[str, object]) -> RunProgress:
    progress = RunProgress()
    feed(progress, b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    return progress


OK = {"type": "result", "subtype": "success", "is_error": False, "total_cost_usd": 0.1}


@pytest.mark.parametrize(
    ("lines", "kwargs", "status"),
    [
        ([{**OK, "structured_output": {"status": "completed"}}], {"exit_code": 0}, RunStatus.COMPLETED),
        ([OK], {"exit_code": 0}, RunStatus.COMPLETED),
        ([{**OK, "structured_output": {"status": "needs_input", "questions": [{"question": "Q?"}]}}], {"exit_code": 0}, RunStatus.WAITING_INPUT),
        ([{**OK, "structured_output": {"status": "needs_input", "questions": []}}], {"exit_code": 0}, RunStatus.FAILED),
        ([{**OK, "structured_output": {"status": "error", "message": "boom"}}], {"exit_code": 0}, RunStatus.FAILED),
        ([{**OK, "subtype": "error_during_execution", "is_error": True, "errors": ["x"]}], {"exit_code": 1}, RunStatus.FAILED),
        ([{**OK, "subtype": "error_max_budget_usd", "is_error": True}], {"exit_code": 1}, RunStatus.BUDGET_EXCEEDED),
        ([{**OK, "subtype": "error_during_execution", "is_error": True, "api_error_status": 429}], {"exit_code": 1}, RunStatus.RATE_LIMITED),
        ([{"type": "system", "subtype": "api_retry", "error_status": 529, "error": "overloaded"}], {"exit_code": 1}, RunStatus.RATE_LIMITED),
        ([], {"exit_code": 3}, RunStatus.FAILED),
        ([], {"exit_code": None}, RunStatus.FAILED),
        ([], {"exit_code": None, "after_restart": True}, RunStatus.INTERRUPTED),
        ([OK], {"exit_code": 0, "cancelled": True}, RunStatus.CANCELLED),
        ([], {"exit_code": -15, "budget_stopped": True}, RunStatus.BUDGET_EXCEEDED),
        ([], {"exit_code": -15, "stale_stopped": True}, RunStatus.STALE),
    ],
    ids=["completed", "success-no-structured", "needs-input", "needs-input-without-questions", "structured-error",
         "error-result", "cli-budget", "rate-limit-result", "overloaded-retries", "exit-nonzero-no-result",
         "died-mid-stream", "dead-after-restart", "cancelled", "daemon-budget-stop", "stale"],
)  # fmt: skip
def test_outcome_table(lines: list[dict[str, object]], kwargs: dict[str, object], status: RunStatus) -> None:
    assert judge(_progress(*lines), **kwargs).status is status  # type: ignore[arg-type]


def test_rate_limit_keeps_reset_time_and_failure_keeps_stderr() -> None:
    limited = judge(
        _progress(
            {
                **OK,
                "subtype": "error_during_execution",
                "is_error": True,
                "errors": ["429 Rate limit reached, resets at 2026-11-24T12:00:00Z"],
            }
        ),
        exit_code=1,
    )
    assert limited.status is RunStatus.RATE_LIMITED and limited.rate_limit_reset == "2026-11-24T12:00:00Z"
    crashed = judge(_progress(), exit_code=2, stderr_tail="Traceback...\nValueError: bad")
    assert "ValueError: bad" in (crashed.error or "")
