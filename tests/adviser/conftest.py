from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adviser.fake_api import FakeMessagesApi


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def api() -> Iterator[FakeMessagesApi]:
    with FakeMessagesApi() as server:
        yield server
