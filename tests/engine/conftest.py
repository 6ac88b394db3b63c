from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.common import SIM
from tests.support import Daemon, running_daemon


@pytest.fixture
def sim_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """The real daemon with the simulated agent as `claude`, instant (SPECFLOW_SIM_DELAY=0)."""
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=SIM, SPECFLOW_SIM_DELAY="0") as d:
        yield d


@pytest.fixture(autouse=True)
def _no_helper_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process engines ask the Claude Helper through the environment: without a key (its deterministic
    fallback) unless a test sets one."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "SPECFLOW_HELPER_MODEL", "SPECFLOW_HELPER_FALLBACK_MODELS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process engines write their records through the real journal (atomic replace, then the log line);
    durability across a power loss is not what these tests check (the crash tier kills real daemons), and an
    fsync costs milliseconds to hundreds of them on a busy disk: skip it here. Daemons the e2e tests start
    are other processes and fsync as always."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)
