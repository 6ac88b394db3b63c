"""The test double must speak the real CLI's stream-json (compared with the reference samples)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.runner.conftest import FAKE_CLAUDE

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "claude-cli"  # real CLI output (tests/fixtures/README.md)
SID = "11111111-2222-4333-8444-555555555555"
HEADLESS = ["-p", "--output-format", "stream-json", "--verbose", "--session-id", SID]


def run_fake(args: list[str], tmp_path: Path, *, prompt: str = "do T001", **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "IS_SANDBOX": "1", **env}
    full_env.pop("FAKE_CLAUDE_SCRIPT", None)
    return subprocess.run(
        [str(FAKE_CLAUDE), *args], input=prompt, capture_output=True, text=True, cwd=tmp_path, env=full_env, timeout=20
    )


def lines_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference samples not present")
def test_default_run_has_the_reference_shape(tmp_path: Path) -> None:
    done = run_fake([*HEADLESS, "--json-schema", '{"type":"object"}'], tmp_path)
    assert done.returncode == 0, done.stderr
    fake = lines_of(done.stdout)
    real = lines_of((REFERENCE / "structured-output-run.stream.jsonl").read_text())
    assert [line["type"] for line in (fake[0], fake[-1])] == ["system", "result"]
    assert fake[0]["session_id"] == SID and fake[-1]["session_id"] == SID
    # every key the fake prints is a key the real CLI prints for that line type
    assert set(fake[0]) <= set(real[0])
    assert set(fake[-1]) <= set(real[-1]) | {"errors"}
    assert set(fake[1]["message"]) <= set(real[1]["message"])
    assert fake[-1]["structured_output"] == {"status": "completed", "message": "done"}


def test_no_schema_means_no_structured_output_and_resume_keeps_the_id(tmp_path: Path) -> None:
    done = run_fake(["-p", "--output-format", "stream-json", "--verbose", "--resume", SID], tmp_path)
    result = lines_of(done.stdout)[-1]
    assert done.returncode == 0 and "structured_output" not in result and result["session_id"] == SID


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([*HEADLESS, "--no-such-flag"], "unrecognized arguments"),
        (["-p", "--output-format", "stream-json", "--session-id", SID], "requires --verbose"),
        (["-p", "--output-format", "stream-json", "--verbose", "--session-id", "not-a-uuid"], "valid UUID"),
    ],
)
def test_rejects_what_the_real_cli_rejects(tmp_path: Path, args: list[str], needle: str) -> None:
    done = run_fake(args, tmp_path)
    assert done.returncode != 0 and needle in done.stderr and done.stdout == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="the CLI only refuses bypass for root")
def test_root_bypass_needs_is_sandbox_1(tmp_path: Path) -> None:
    done = run_fake([*HEADLESS, "--permission-mode", "bypassPermissions"], tmp_path, IS_SANDBOX="yes")
    assert done.returncode == 1 and "root" in done.stderr
