"""What the sandbox refused, read from a run's stream, named in its outcome and for a heal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specflowd.engine.evidence_adapters import run_evidence
from specflowd.runner.denials import SandboxDenials
from specflowd.runner.manager import _with_denials
from specflowd.runner.outcome import Outcome
from specflowd.runner.records import RunRecord
from specflowd.runner.stream import StreamState
from specflowd.vocabulary import RunStatus


def _call(tool_id: str, name: str, **tool_input: Any) -> dict[str, Any]:
    block = {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}
    return {"type": "assistant", "message": {"id": f"m{tool_id}", "content": [block]}}


def _result(tool_id: str, text: str, error: bool = True) -> dict[str, Any]:
    block = {"type": "tool_result", "tool_use_id": tool_id, "is_error": error, "content": text}
    return {"type": "user", "message": {"content": [block]}}


# the texts the CLI 2.1.197 answered in tests/e2e/test_real_cli_sandbox.py
EVENTS = [
    _call("1", "Bash", command="touch /home/u/.bashrc"),
    _result("1", "Exit code 1\ntouch: cannot touch '/home/u/.bashrc': Read-only file system"),
    _call("2", "Write", file_path="/home/u/notes.txt", content="x"),
    _result("2", "Claude requested permissions to write to /home/u/notes.txt, but you haven't granted it yet."),
    _call("3", "Bash", command="curl -sS https://evil.example/"),
    _result("3", "curl: (56) CONNECT tunnel failed, response 403"),
    _call("4", "Bash", command="pytest"),
    _result("4", "Exit code 1\n1 failed", error=True),  # an ordinary failure: not the sandbox
    _call("5", "Bash", command="touch /home/u/.bashrc"),
    _result("5", "touch: cannot touch '/home/u/.bashrc': Read-only file system"),  # the same again: said once
    {
        "type": "result",
        "subtype": "success",
        "permission_denials": [{"tool_name": "Write", "tool_input": {"file_path": "/home/u/notes.txt"}}],
    },
]


def test_each_kind_of_refusal_is_named_once() -> None:
    denials = SandboxDenials()
    for event in EVENTS:
        denials.feed(event)
    assert denials.items == [
        "writing /home/u/.bashrc was refused by the sandbox (Bash: touch /home/u/.bashrc)",
        "writing /home/u/notes.txt was refused: outside the project (Write tool)",
        "a network connection was refused by the sandbox: its host is not allowed (Bash: curl -sS https://evil.example/)",
    ]
    described = denials.describe()
    assert described is not None and "do not retry these" in described
    assert SandboxDenials().describe() is None


def _record(status: RunStatus, **kw: Any) -> RunRecord:
    return RunRecord(
        run_id="r1", project_root=Path("/p"), step="implement", batch="0", status=status,
        created_at=datetime.now(UTC), **kw,
    )  # fmt: skip


def _state() -> StreamState:
    state = StreamState(denials=SandboxDenials())
    for event in EVENTS[:4]:
        state.denials.feed(event)  # type: ignore[union-attr]
    return state


def test_a_failed_runs_error_names_what_was_refused_so_the_heal_prompt_does() -> None:
    record = _record(RunStatus.RUNNING)
    outcome = _with_denials(record, Outcome(RunStatus.FAILED, "error result", error="tests fail"), _state())
    assert outcome.error is not None and outcome.error.startswith("tests fail; writing /home/u/.bashrc was refused")
    assert len(record.sandbox_denials) == 2
    done = Outcome(RunStatus.COMPLETED, "completed")
    assert _with_denials(_record(RunStatus.RUNNING), done, _state()) is done  # completed: its error stays empty


def test_a_completed_run_with_open_tasks_tells_the_heal_through_its_messages() -> None:
    denied = ["writing /home/u/.bashrc was refused by the sandbox (Bash: touch /home/u/.bashrc)"]
    evidence = run_evidence(_record(RunStatus.COMPLETED, sandbox_denials=denied, last_text="done"))
    assert evidence.last_messages == [f"The sandbox refused: {denied[0]}", "done"]
    assert run_evidence(_record(RunStatus.COMPLETED, last_text="done")).last_messages == ["done"]
