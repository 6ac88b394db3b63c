"""The ``SkillStateWriter`` contract (engine/ports.py) without a SpecFlow CLI, held on ``FakeSkillState``
(tests/engine/fakes.py) and ``SkillStateFile`` (engine/adapters.py): ``mark_running`` writes the step as the
running one (current, index, status=in_progress) into the state file in one write, keeping the rest of it, and
says so (ok, ``via`` the file); ``implement_gate`` is None (no CLI to ask: decide() judged by the task states).
With a CLI: test_skill_state_cli_contract_e2e.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specflowctl.demo import create_demo_project
from specflowd.domain.config import Step
from tests.contracts.skill_state_under_test import Kind, WriterUnderTest, state_step, writer_under_test

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["fake", "real"])
def subject(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriterUnderTest:
    kind: Kind = request.param
    return writer_under_test(kind, tmp_path, monkeypatch)


async def test_the_running_step_is_written_into_the_state_file_keeping_the_rest(
    subject: WriterUnderTest, tmp_path: Path
) -> None:
    root = create_demo_project(tmp_path / "demo")
    state = root / ".specflow" / "orchestration-state.json"
    phase_before = json.loads(state.read_text())["orchestration"]["phase"]
    written = await subject.writer.mark_running(root, Step.IMPLEMENT)
    assert written.ok and written.via == f"file {state}", written
    assert state_step(root) == {"current": "implement", "index": 2, "status": "in_progress"}
    assert json.loads(state.read_text())["orchestration"]["phase"] == phase_before


async def test_a_project_without_a_state_file_gets_one(subject: WriterUnderTest, tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    (root / ".specflow" / "orchestration-state.json").unlink()
    written = await subject.writer.mark_running(root, Step.ANALYZE)
    assert written.ok, written
    assert state_step(root) == {"current": "analyze", "index": 1, "status": "in_progress"}


async def test_without_a_cli_there_is_no_implement_gate_to_ask(subject: WriterUnderTest, tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    subject.cli_judges(root)
    assert await subject.writer.implement_gate(root) is None
