"""Run the VS Code extension's node tests (client/vscode/src/test, compiled to out/test) against a real daemon."""

from __future__ import annotations

import fcntl
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


def _outputs() -> list[tuple[Path, Path]]:
    src = VSCODE / "src"
    return [(ts, VSCODE / "out" / ts.relative_to(src).with_suffix(".js")) for ts in src.rglob("*.ts")]


def _out_of_date() -> bool:
    """Some out/*.js is missing or older than its source (or than the compiler settings)."""
    settings = max((VSCODE / name).stat().st_mtime for name in ("tsconfig.json", "package-lock.json"))
    return any(not js.exists() or js.stat().st_mtime < max(ts.stat().st_mtime, settings) for ts, js in _outputs())


def compile_extension() -> None:
    """Type-check and compile the extension and its tests into client/vscode/out, unless every output is newer
    than its source (CI's vsix build has just compiled it; even an incremental tsc costs seconds).
    pytest-xdist workers share out/: a lock beside it lets one compile while the others wait, then find it current."""
    with (VSCODE / "node_modules" / ".specflowd-tests-tsc.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _out_of_date():
            return
        proc = subprocess.run([str(TSC), "-p", str(VSCODE)], capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            pytest.fail(f"tsc failed:\n{proc.stdout}\n{proc.stderr}")
        for _, js in _outputs():  # tsc leaves an unchanged output alone: mark it current
            js.touch()


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
