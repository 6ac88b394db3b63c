from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.common import SIM
from tests.support import Daemon, sandbox_env


@pytest.fixture
def sim_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """The real daemon with the simulated agent as `claude`, instant (SPECFLOW_SIM_DELAY=0)."""
    env = sandbox_env(tmp_path)
    env.update(SPECFLOW_CLAUDE=SIM, SPECFLOW_SIM_DELAY="0")
    d = Daemon(tmp_path, env).start()
    try:
        yield d
    finally:
        if d.proc and d.proc.poll() is None:
            d.stop()
