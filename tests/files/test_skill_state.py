"""Writing the running step into the skills' state file: through a SpecFlow CLI, or a merge that keeps the rest."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import anyio
import pytest

from specflowd.domain.config import Step
from specflowd.engine.bookkeeping import running_step_values
from specflowd.files.skill_state import STATE_FILE, find_specflow_cli, set_state_values
from specflowd.settings import load_settings

FAKE = Path(__file__).resolve().parents[1] / "fake_specflow" / "specflow"
VALUES = running_step_values(Step.VERIFY)


def _write(root: Path, text: str) -> Path:
    path = root / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_values_of_each_step() -> None:
    assert running_step_values(Step.MERGE) == {
        "orchestration.step.current": "merge", "orchestration.step.index": 4, "orchestration.step.status": "in_progress",
    }  # fmt: skip
    assert [running_step_values(s)["orchestration.step.index"] for s in Step] == [0, 1, 2, 3, 4]


def test_without_a_cli_the_file_is_merged_and_every_other_key_kept(tmp_path: Path) -> None:
    original = {"schema_version": "3.0", "x": [1], "orchestration": {"step": {"current": "analyze", "odd": 1},
                "phase": {"number": "0040", "hasIntegrationArchitecture": True}, "lastError": "e"}}  # fmt: skip
    path = _write(tmp_path, json.dumps(original))
    result = anyio.run(set_state_values, tmp_path, VALUES, None)
    assert result.ok and result.via == f"file {path}"
    doc = json.loads(path.read_text())
    assert doc["orchestration"]["step"] == {"current": "verify", "odd": 1, "index": 3, "status": "in_progress"}
    assert doc["orchestration"]["phase"] == original["orchestration"]["phase"] and doc["x"] == [1]  # type: ignore[index]
    assert doc["orchestration"]["lastError"] == "e"
    assert anyio.run(set_state_values, tmp_path, VALUES, None).ok  # idempotent
    assert json.loads(path.read_text()) == doc


def test_without_a_cli_a_missing_file_is_created_and_a_broken_one_left_alone(tmp_path: Path) -> None:
    assert anyio.run(set_state_values, tmp_path, VALUES, None).ok
    assert json.loads((tmp_path / STATE_FILE).read_text())["orchestration"]["step"]["current"] == "verify"
    for text in ("{broken", "[1]", '{"orchestration": {"step": 3}}'):
        path = _write(tmp_path, text)
        result = anyio.run(set_state_values, tmp_path, VALUES, None)
        assert not result.ok and "not rewriting" in result.output and path.read_text() == text


def test_through_the_cli_in_one_call(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    _write(tmp_path, json.dumps({"schema_version": "3.0", "project": {"id": "i", "name": "n", "path": "/"},
                                 "orchestration": {"step": {"current": "design", "index": 0, "status": "x"}}}))  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FAKE_SPECFLOW_LOG", str(log))
        result = anyio.run(set_state_values, tmp_path, VALUES, str(FAKE))
    assert result.ok and "Set orchestration.step.index = 3" in result.output
    (call,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert call["argv"] == ["state", "set", "orchestration.step.current=verify", "orchestration.step.index=3",
                            "orchestration.step.status=in_progress"] and call["cwd"] == str(tmp_path)  # fmt: skip
    assert json.loads((tmp_path / STATE_FILE).read_text())["orchestration"]["step"]["index"] == 3


def test_a_failing_cli_reports_its_stdout_and_a_missing_one_its_name(tmp_path: Path) -> None:
    failing = tmp_path / "specflow"
    failing.write_text("#!/bin/sh\necho 'Error: State file not found or unreadable'\necho 'Hint: x'\nexit 1\n")
    failing.chmod(failing.stat().st_mode | stat.S_IXUSR)
    result = anyio.run(set_state_values, tmp_path, VALUES, str(failing))
    assert not result.ok and result.output.startswith("exit status 1: Error: State file not found or unreadable")
    missing = anyio.run(set_state_values, tmp_path, VALUES, str(tmp_path / "nope"))
    assert not missing.ok and missing.output.startswith(f"cannot run {tmp_path / 'nope'}")


def test_the_cli_setting_and_the_path_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tmp_path / "specflowd.toml"
    settings.write_text('[specflow]\ncli = "~/bin/specflow"\n')
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_settings(settings).specflow.cli == "~/bin/specflow"
    assert find_specflow_cli("~/bin/specflow") == str(tmp_path / "bin" / "specflow")  # named even if missing
    monkeypatch.setenv("PATH", str(FAKE.parent))
    assert find_specflow_cli(None) == str(FAKE)
    assert find_specflow_cli("") is None  # another tool named specflow on PATH: write the file directly
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_specflow_cli(None) is None
    settings.write_text('[specflow]\nclii = "x"\n')
    assert load_settings(settings).problem is not None
