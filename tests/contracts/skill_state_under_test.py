"""The two ``SkillStateWriter`` implementations the skill-state contract holds to the same rules, each behind
one small driver (test_skill_state_contract.py without a SpecFlow CLI, test_skill_state_cli_contract_e2e.py
with one):

- ``fake``: ``FakeSkillState`` (tests/engine/fakes.py): the direct edit of the state file; a CLI's failure is its
  ``fail_with``, the CLI's implement gate its ``gate`` (it asks no CLI: ``cli_judges`` sets what the CLI would
  answer for the project now);
- ``real``: ``SkillStateFile`` (engine/adapters.py): the CLI the settings file names (the fake ``specflow`` in
  tests/fake_specflow/), else the direct edit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from specflowd.domain.merge_ready import GateCheck
from specflowd.engine.adapters import SkillStateFile
from specflowd.engine.ports import SkillStateWriter
from specflowd.project.snapshot import read_project_snapshot
from tests.engine.fakes import FakeSkillState

Kind = Literal["fake", "real"]

FAKE_SPECFLOW = Path(__file__).resolve().parents[1] / "fake_specflow" / "specflow"
REFUSED = "Invalid format for"  # what the fake `specflow` prints for a pair it refuses (FAKE_SPECFLOW_FAIL)


@dataclass
class WriterUnderTest:
    writer: SkillStateWriter
    install_cli: Callable[[], None]  # the SpecFlow CLI is installed (named in the settings file)
    cli_refuses_writes: Callable[[], None]  # the CLI fails every `state set`
    cli_judges: Callable[[Path], None]  # the CLI would judge the project as it is now (the fake's stand-in)


def writer_under_test(kind: Kind, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriterUnderTest:
    settings = tmp_path / "config" / "specflow" / "specflowd.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text('[specflow]\ncli = ""\n')  # no CLI, even where a `specflow` is on PATH
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    if kind == "real":

        def install_real() -> None:
            settings.write_text(f'[specflow]\ncli = "{FAKE_SPECFLOW}"\n')

        return WriterUnderTest(
            SkillStateFile(),
            install_real,
            lambda: monkeypatch.setenv("FAKE_SPECFLOW_FAIL", "orchestration.step"),
            lambda root: None,
        )
    fake = FakeSkillState()
    installed: list[bool] = []

    def judges(root: Path) -> None:
        if installed:
            fake.gate = _implement_gate(root)

    def refuses() -> None:
        fake.fail_with = f'Error: {REFUSED} "orchestration.step.current=…". Expected key=value'

    def install() -> None:
        installed.append(True)

    return WriterUnderTest(fake, install, refuses, judges)


def _implement_gate(root: Path) -> GateCheck:
    """What ``specflow check --gate implement`` answers: passed when every task of tasks.md is done."""
    tasks = read_project_snapshot(root).tasks
    open_tasks = [t.id for t in tasks.tasks if t.state.value != "done"] if tasks else []
    output = f"✗ {len(open_tasks)} tasks incomplete" if open_tasks else "✓ All checks passed"
    return GateCheck(passed=not open_tasks, via="specflow check --gate implement", output=output)


def state_step(root: Path) -> Any:
    return json.loads((root / ".specflow" / "orchestration-state.json").read_text())["orchestration"]["step"]
