"""Fixtures for the real-Claude-Code-CLI tier: the binary, a sandboxed environment, a throwaway project."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.messages_api import ScriptedMessagesAPI

REPO = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO / ".ci" / "install-claude-cli"
SAMPLES = Path(__file__).resolve().parent / "samples"
CLI_TIMEOUT_S = 60.0

TASKS_MD = """# Tasks: x

## Phase 1: Setup

- [ ] T001 Create the project skeleton
- [ ] T002 Add the configuration loader
- [ ] T003 Write the README
"""


def pinned_version() -> str:
    """The version .ci/install-claude-cli pins (single source of truth for the cache layout)."""
    match = re.search(r'^CLAUDE_CODE_VERSION="([^"]+)"', INSTALL_SCRIPT.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no CLAUDE_CODE_VERSION= line in {INSTALL_SCRIPT}")
    return match.group(1)


def find_cli() -> Path | None:
    """``$SPECFLOW_E2E_CLAUDE``, else the binary .ci/install-claude-cli leaves in its cache."""
    explicit = os.environ.get("SPECFLOW_E2E_CLAUDE")
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("SPECFLOW_E2E_CACHE") or Path.home() / ".cache" / "specflowd-e2e")
    prefix = cache / f"claude-code-{pinned_version()}" / "node_modules" / "@anthropic-ai"
    for candidate in sorted(prefix.glob("claude-code-*/claude")):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def claude_cli() -> Path:
    binary = find_cli()
    if binary is None:
        pytest.skip(
            "real Claude Code CLI not installed: run .ci/install-claude-cli "
            "(or set SPECFLOW_E2E_CLAUDE to a claude binary)"
        )
    if not os.access(binary, os.X_OK):
        pytest.fail(f"SPECFLOW_E2E_CLAUDE={binary} is not an executable file")
    return binary


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "specs" / "0001-x").mkdir(parents=True)
    (root / "specs" / "0001-x" / "tasks.md").write_text(TASKS_MD)
    return root


@pytest.fixture
def cli_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def cli_env(base_url: str, home: Path) -> dict[str, str]:
    """A closed environment: nothing from the developer's HOME or real API key leaks into the run."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "test-key",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
    }


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    lines: list[dict[str, Any]]

    @property
    def init(self) -> dict[str, Any]:
        return next(ln for ln in self.lines if ln.get("type") == "system" and ln.get("subtype") == "init")

    @property
    def result(self) -> dict[str, Any]:
        results = [ln for ln in self.lines if ln.get("type") == "result"]
        assert len(results) == 1, f"expected exactly one result line, got {len(results)}:\n{self.stdout}"
        assert self.lines[-1] is results[0], "the result line must be the last line"
        return results[0]

    def save_sample(self, name: str) -> None:
        """Refresh tests/e2e/samples/<name>.jsonl when SPECFLOW_E2E_SAVE_SAMPLES=1 (never by default)."""
        if os.environ.get("SPECFLOW_E2E_SAVE_SAMPLES") == "1":
            SAMPLES.mkdir(exist_ok=True)
            (SAMPLES / f"{name}.jsonl").write_text(self.stdout)


RunCli = Callable[[Sequence[str], str, Path], CliRun]


@pytest.fixture
def scripted_api() -> Iterator[ScriptedMessagesAPI]:
    with ScriptedMessagesAPI() as api:
        yield api


@pytest.fixture
def run_cli(scripted_api: ScriptedMessagesAPI, cli_home: Path) -> RunCli:
    """Run an argv (from specflowd's own builder) with the prompt on stdin against ``scripted_api``."""

    def run(argv: Sequence[str], prompt: str, cwd: Path) -> CliRun:
        proc = subprocess.run(
            list(argv),
            input=prompt,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=cli_env(scripted_api.base_url, cli_home),
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
        lines = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.strip()]
        return CliRun(proc.returncode, proc.stdout, proc.stderr, lines)

    return run


__all__ = ["CliRun", "RunCli", "cli_env", "find_cli", "pinned_version"]
