"""The fault-injection module: parsing, arming, dying at the n-th hit, and that every named point exists in
the code and in docs/faults.md (a point no test can reach, or one the docs miss, fails here)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from specflowd import faults

REPO = Path(__file__).resolve().parents[2]


def test_parse_names_and_hit_numbers() -> None:
    assert faults.parse("") == {}
    assert faults.parse("after_fork") == {"after_fork": 1}
    assert faults.parse(" after_fork@3 , mid_atomic_write ") == {"after_fork": 3, "mid_atomic_write": 1}
    for bad in ("no_such_point", "after_fork@0", "after_fork@x", "after_fork@-1"):
        with pytest.raises(ValueError):
            faults.parse(bad)


def test_configure_takes_the_variable_out_of_the_environment() -> None:
    environ = {faults.ENV: "before_fork@2", "PATH": "/bin"}
    try:
        assert faults.configure(environ) == {"before_fork": 2}
        assert environ == {"PATH": "/bin"}  # agent runs inherit the daemon's environment: never this
        faults.fault("before_fork")  # the first hit passes
        faults.fault("after_fork")  # other points pass
    finally:
        faults.configure({})
    faults.fault("before_fork")  # disarmed: nothing happens


def test_the_armed_hit_kills_the_process_at_once() -> None:
    code = (
        "import os, sys; from specflowd import faults\n"
        "faults.configure({'SPECFLOWD_FAULT': 'after_fork@3'})\n"
        "for n in range(1, 5):\n"
        "    print(n, flush=True); faults.fault('after_fork')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["1", "2", "3"]  # died on the third hit, before printing 4


def test_every_point_is_placed_in_the_code_and_documented() -> None:
    used = {
        m
        for path in (REPO / "specflowd").rglob("*.py")
        if path.name != "faults.py"
        for m in re.findall(r'\bfault\("([a-z_]+)"\)', path.read_text())
    }
    assert used == set(faults.POINTS)
    docs = (REPO / "docs" / "faults.md").read_text()
    assert [p for p in faults.POINTS if f"`{p}`" not in docs] == []


def test_the_daemon_refuses_an_unknown_point(tmp_path: Path) -> None:
    from tests.support import SPECFLOWD, sandbox_env

    env = {**sandbox_env(tmp_path), faults.ENV: "after_forks"}
    done = subprocess.run([SPECFLOWD], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "unknown fault point 'after_forks'" in done.stderr
