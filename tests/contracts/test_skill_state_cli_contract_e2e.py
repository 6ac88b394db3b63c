"""The ``SkillStateWriter`` contract (engine/ports.py) with the SpecFlow CLI installed, held on
``FakeSkillState`` (tests/engine/fakes.py) and ``SkillStateFile`` (engine/adapters.py) running the fake
``specflow`` (tests/fake_specflow/) as a child process (hence e2e): ``mark_running`` writes the running step
(through the CLI); a write the CLI refuses is not ok, names the `state set` it ran, carries what the CLI said and
leaves the state file as it was (the engine stops before the spawn); ``implement_gate`` is the CLI's verdict:
failed while a task is open, passed once every task is done.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from specflowctl.demo import DEMO_FEATURE, create_demo_project
from specflowd.domain.config import Step
from tests.contracts.skill_state_under_test import REFUSED, Kind, WriterUnderTest, state_step, writer_under_test

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["fake", "real"])
def subject(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriterUnderTest:
    kind: Kind = request.param
    subject = writer_under_test(kind, tmp_path, monkeypatch)
    subject.install_cli()
    return subject


async def test_the_running_step_is_written_through_the_cli(subject: WriterUnderTest, tmp_path: Path) -> None:
    root = create_demo_project(tmp_path / "demo")
    written = await subject.writer.mark_running(root, Step.VERIFY)
    assert written.ok, written
    assert state_step(root) == {"current": "verify", "index": 3, "status": "in_progress"}


async def test_a_write_the_cli_refuses_is_reported_and_changes_nothing(
    subject: WriterUnderTest, tmp_path: Path
) -> None:
    root = create_demo_project(tmp_path / "demo")
    before = state_step(root)
    subject.cli_refuses_writes()
    written = await subject.writer.mark_running(root, Step.IMPLEMENT)
    assert not written.ok and "state set" in written.via, written
    assert REFUSED in written.output
    assert state_step(root) == before


async def test_the_implement_gate_fails_while_a_task_is_open_and_passes_once_all_are_done(
    subject: WriterUnderTest, tmp_path: Path
) -> None:
    root = create_demo_project(tmp_path / "demo")
    subject.cli_judges(root)
    failed = await subject.writer.implement_gate(root)
    assert failed is not None and not failed.passed and failed.via.endswith("check --gate implement")
    assert "incomplete" in failed.output
    tasks = root / "specs" / DEMO_FEATURE / "tasks.md"
    tasks.write_text(tasks.read_text().replace("- [ ]", "- [x]"))
    subject.cli_judges(root)
    passed = await subject.writer.implement_gate(root)
    assert passed is not None and passed.passed, passed
