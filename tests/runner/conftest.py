from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from specflowd.event_catalogue import EventPayload
from specflowd.runner.manager import RunManager
from specflowd.runner.records import RunnerSettings, RunRecord, RunSpec

FAKE_CLAUDE = Path(__file__).resolve().parent.parent / "fake_claude" / "claude"

TASKS_MD = """# Tasks: demo

## Phase 1: Setup
- [ ] T001 Create the project
- [ ] T0011 Not the same task as T001
- [ ] T002 [P] Another task (depends on T001)
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Harness:
    root: Path
    project: Path
    script: Path
    argv_log: Path
    events: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)

    def emit(self, project: str | None, payload: EventPayload) -> None:
        self.events.append((payload.event_type(), project, payload.model_dump(mode="json")))

    def settings(self, **overrides: Any) -> RunnerSettings:
        values: dict[str, Any] = {"claude": str(FAKE_CLAUDE), "kill_grace_s": 1.0, "poll_interval_s": 0.05}
        values.update(overrides)
        return RunnerSettings(**values)

    def manager(self, **overrides: Any) -> RunManager:
        return RunManager(emit=self.emit, settings=self.settings(**overrides))

    def script_steps(self, *steps: dict[str, Any]) -> None:
        self.script.write_text(json.dumps(list(steps)))

    def spec(self, prompt: str = "/flow.implement Execute T001 only.", **overrides: Any) -> RunSpec:
        values: dict[str, Any] = {
            "project_root": self.project,
            "prompt": prompt,
            "step": "implement",
            "orchestration_id": "orch-1",
            "batch": "Phase 1: Setup",
            "budget_usd": 2.0,
            "extra_env": {"FAKE_CLAUDE_SCRIPT": str(self.script), "FAKE_CLAUDE_ARGV_LOG": str(self.argv_log)},
        }
        values.update(overrides)
        return RunSpec(**values)

    def invocations(self) -> list[dict[str, Any]]:
        if not self.argv_log.exists():
            return []
        return [json.loads(line) for line in self.argv_log.read_text().splitlines()]

    def event_types(self) -> list[str]:
        return [e[0] for e in self.events]


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    project = tmp_path / "project"
    project.mkdir()
    (project / "tasks.md").write_text(TASKS_MD)
    h = Harness(root=tmp_path, project=project, script=tmp_path / "script.json", argv_log=tmp_path / "argv.jsonl")
    h.script_steps()
    return h


@asynccontextmanager
async def supervising(manager: RunManager) -> AsyncIterator[RunManager]:
    """Run the manager's supervisor loop for the duration of the block, then cancel it (like a daemon
    shutting down: children are left alone)."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(manager.run)
        try:
            yield manager
        finally:
            await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()


async def wait_for(predicate: Any, timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``predicate`` with a deadline (no fixed sleeps as synchronisation)."""
    with anyio.fail_after(timeout):
        while not (value := predicate()):
            await anyio.sleep(0.02)
    return value


async def abandoned_hanging_run(harness: Harness) -> RunRecord:
    """A run that printed its first turn and hangs, whose supervisor then went away (what a SIGKILL of the
    daemon leaves): the child lives on in its own session."""
    harness.script_steps({"action": "hang", "turns": 1})
    first = harness.manager()
    async with supervising(first):
        started = await first.start(harness.spec())
        await wait_for(lambda: first.get(started.run_id).turns == 1, what="first turn")
    return started
