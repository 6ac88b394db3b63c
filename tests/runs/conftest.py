from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from specflowd.runner.command import RunSpec
from specflowd.runner.supervisor import RunManager, RunnerSettings

FAKE_CLAUDE = str(Path(__file__).resolve().parents[1] / "agents" / "claude")

TASKS = "# Tasks: t\n\n## Phase 1: One\n- [ ] T001 a\n- [ ] T002 b\n\n## Phase 2: Two\n- [ ] T003 c\n"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "specs" / "0001-x").mkdir(parents=True)
    (root / "specs" / "0001-x" / "tasks.md").write_text(TASKS)
    return root


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[list[dict[str, Any]]], Path]:
    argv_log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_CLAUDE_ARGV_LOG", str(argv_log))

    def write(steps: list[dict[str, Any]]) -> Path:
        path = tmp_path / "script.json"
        path.write_text(json.dumps(steps))
        monkeypatch.setenv("FAKE_CLAUDE_SCRIPT", str(path))
        return argv_log

    return write


@pytest.fixture
async def manager() -> AsyncIterator[tuple[RunManager, list[tuple[str, dict[str, Any]]]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    mgr = RunManager(
        publish=lambda t, _p, d: events.append((t, d)),
        settings=RunnerSettings(binary=FAKE_CLAUDE, grace_s=2.0, tick_s=0.05, progress_interval_s=0.0),
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(mgr.run)
        yield mgr, events
        tg.cancel_scope.cancel()


def spec(root: Path, prompt: str = '/flow.implement Execute only "Phase 1: One" (T001, T002).', **kw: Any) -> RunSpec:
    return RunSpec(project_root=str(root), prompt=prompt, step="implement", **kw)
