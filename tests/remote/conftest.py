from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.remote.sshd import Sshd, missing, short_root


@pytest.fixture
def sshd() -> Iterator[Sshd]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    root = short_root()
    server = Sshd(root).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
