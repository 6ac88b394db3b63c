"""A batch that failed because the sandbox refused something, through the real engine in-process: the heal
prompt quotes the refusal (in the runner's own words), so the heal does not try it again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from specflowctl.demo import create_demo_project
from specflowd.runner.denials import SandboxDenials
from specflowd.runner.manager import _with_denials
from specflowd.runner.outcome import Outcome
from specflowd.runner.records import RunRecord
from specflowd.runner.stream import StreamState
from specflowd.vocabulary import RunStatus
from tests.engine.fakes import FakeRuns, Script, engine, fail

pytestmark = pytest.mark.anyio


def _runner_error() -> str:
    """The error the runner gives a run whose Bash write outside the project was refused, then failed."""
    state = StreamState(denials=SandboxDenials())
    assert state.denials is not None
    call = {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "npm install -g pnpm"}}
    state.denials.feed({"type": "assistant", "message": {"id": "m1", "content": [call]}})
    refused = "mkdir: cannot create directory '/usr/local/lib/node_modules/pnpm': Read-only file system"
    result = {"type": "tool_result", "tool_use_id": "t1", "is_error": True, "content": refused}
    state.denials.feed({"type": "user", "message": {"content": [result]}})
    record = RunRecord(run_id="r", project_root=Path("/p"), step="implement", created_at=datetime.now(UTC))
    outcome = _with_denials(record, Outcome(RunStatus.FAILED, "error result", error="pnpm: not found"), state)
    assert outcome.error is not None
    return outcome.error


async def test_the_heal_prompt_names_what_the_sandbox_refused(tmp_path: Path) -> None:
    error = _runner_error()
    assert "writing /usr/local/lib/node_modules/pnpm was refused by the sandbox (Bash: npm install -g pnpm)" in error
    root = create_demo_project(tmp_path / "demo")
    async with engine(root, runs=FakeRuns(Script(fail(error)))) as h:  # the first batch fails, the rest complete
        await h.start(skip_analyze=True, auto_merge=True)
        record = await h.status()
    assert record.status.value == "completed", record.attention
    (heal_run,) = h.runs.started("heal")
    prompt = heal_run.prompts[0]
    assert "writing /usr/local/lib/node_modules/pnpm was refused by the sandbox (Bash: npm install -g pnpm)" in prompt
    assert "do not retry these: the sandbox allows writes only in the project and $TMPDIR" in prompt
