from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Daemon, running_daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    with running_daemon(tmp_path) as d:
        yield d


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
