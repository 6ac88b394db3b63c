"""Run the VS Code extension's node tests (client/vscode/src/test, compiled to out/test) against a real daemon."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

VSCODE = Path(__file__).resolve().parents[2] / "client" / "vscode"
NODE = shutil.which("node")
TSC = VSCODE / "node_modules" / ".bin" / "tsc"


def skip_reason() -> str | None:
    if NODE is None:
        return "node is not installed"
    if not TSC.exists():
        return "client/vscode/node_modules is absent (run `npm ci` in client/vscode; .ci/run does)"
    return None


def _out_of_date() -> bool:
    built = VSCODE / "out" / ".tsbuildinfo"
    if not built.exists():
        return True
    sources = [*(VSCODE / "src").rglob("*.ts"), VSCODE / "tsconfig.json", VSCODE / "package-lock.json"]
    return max(p.stat().st_mtime for p in sources if p.exists()) > built.stat().st_mtime


def compile_extension() -> None:
    """Type-check and compile the extension and its tests into client/vscode/out, unless out/ is newer than every
    source (CI's vsix build has just compiled it; even an incremental tsc costs seconds)."""
    if not _out_of_date():
        return
    proc = subprocess.run([str(TSC), "-p", str(VSCODE)], capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        pytest.fail(f"tsc failed:\n{proc.stdout}\n{proc.stderr}")
    (VSCODE / "out" / ".tsbuildinfo").touch()  # tsc leaves it alone when nothing changed


def run_node_test(name: str, env: dict[str, str], *, expect_pass: int, timeout: float = 180.0) -> str:
    """Run out/test/<name>.test.js with node's test runner; every test must pass, none may be skipped."""
    assert NODE is not None
    proc = subprocess.run(
        [NODE, "--test", "--test-reporter=tap", f"out/test/{name}.test.js"],
        cwd=VSCODE,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = proc.stdout + proc.stderr
    counts = {key: int(value) for key, value in re.findall(r"^# (pass|fail|skipped|todo) (\d+)$", proc.stdout, re.M)}
    assert proc.returncode == 0 and counts.get("fail") == 0, output
    assert counts.get("pass") == expect_pass and counts.get("skipped") == 0, output
    return output
