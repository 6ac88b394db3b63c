"""Run the Neovim plugin headless against a real daemon: a Lua script under tests/editors/nvim/ drives it
and writes what the user would have seen to a JSON file, which the test then asserts on."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "nvim"
NVIM = shutil.which("nvim")
MIN_VERSION = (0, 7)


def nvim_version() -> tuple[int, int] | None:
    if NVIM is None:
        return None
    out = subprocess.run([NVIM, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    match = re.search(r"NVIM v(\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2])) if match else None


def skip_reason() -> str | None:
    version = nvim_version()
    if version is None:
        return "nvim is not installed (Debian: apt-get install neovim; .ci/run installs it)"
    if version < MIN_VERSION:
        return f"nvim {version[0]}.{version[1]} is older than the plugin's minimum 0.7"
    return None


def run_script(name: str, env: dict[str, str], cwd: Path, out_dir: Path, timeout: float = 180.0) -> dict[str, Any]:
    """Run ``tests/editors/nvim/<name>.lua`` headless; return its recorded observations."""
    assert NVIM is not None
    result = out_dir / f"nvim-{name}.json"
    full_env = {**env, "SPECFLOW_REPO": str(REPO), "SPECFLOW_NVIM_RESULT": str(result)}
    proc = subprocess.run(
        [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {SCRIPTS / name}.lua"],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if not result.exists():
        pytest.fail(f"nvim wrote no result (exit {proc.returncode})\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    data: dict[str, Any] = json.loads(result.read_text())
    assert not data.get("error"), f"{data['error']}\nobserved: {json.dumps(data, indent=1)[:4000]}"
    return data
