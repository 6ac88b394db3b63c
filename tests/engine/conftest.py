from __future__ import annotations

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
