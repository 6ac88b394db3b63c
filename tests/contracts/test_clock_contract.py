"""The ``Clock`` contract (engine/ports.py), held on ``FakeClock`` (tests/engine/fakes.py) and ``SystemClock``
(engine/adapters.py): ``now`` is aware UTC and never goes back; ``sleep_until`` returns at once for a moment
already past, and for a later one not before ``now() >= moment`` (rate-limit waits and the safety timer rely
on both). Time passes for the fake when the test advances it, for the real one by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from specflowd.engine.adapters import SystemClock
from specflowd.engine.ports import Clock
from tests.engine.fakes import FakeClock

pytestmark = pytest.mark.anyio

AHEAD_S = 0.2  # how far ahead the sleeper's moment is (the real clock really waits it)


@dataclass
class ClockUnderTest:
    clock: Clock
    let_time_pass: Callable[[float], None]  # the fake's test advances it; the real one's passes by itself


@pytest.fixture(params=["fake", "real"])
def subject(request: pytest.FixtureRequest) -> ClockUnderTest:
    if request.param == "fake":
        fake = FakeClock()
        return ClockUnderTest(fake, fake.advance)
    return ClockUnderTest(SystemClock(), lambda seconds: None)


async def test_now_is_aware_utc_and_never_goes_back(subject: ClockUnderTest) -> None:
    first = subject.clock.now()
    subject.let_time_pass(0.001)
    second = subject.clock.now()
    assert first.utcoffset() == timedelta(0) and first.tzinfo is not None
    assert second.astimezone(UTC) >= first.astimezone(UTC)


async def test_sleeping_until_a_moment_already_past_returns_at_once(subject: ClockUnderTest) -> None:
    with anyio.fail_after(1):
        await subject.clock.sleep_until(subject.clock.now())
        await subject.clock.sleep_until(subject.clock.now() - timedelta(hours=1))


async def test_sleeping_until_a_later_moment_returns_once_it_has_come_and_not_before(subject: ClockUnderTest) -> None:
    moment = subject.clock.now() + timedelta(seconds=AHEAD_S)
    woke: list[datetime] = []  # what the clock said when the sleeper returned

    async def sleeper() -> None:
        await subject.clock.sleep_until(moment)
        woke.append(subject.clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
        subject.let_time_pass(AHEAD_S / 2)
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
        assert all(t >= moment for t in woke)  # not woken before its moment (the fake's is not come yet)
        subject.let_time_pass(AHEAD_S)
        with anyio.fail_after(5):
            while not woke:
                await anyio.sleep(0.01)
    assert woke[0] >= moment
