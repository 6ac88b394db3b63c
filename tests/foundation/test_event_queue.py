"""A subscriber's queue: progress snapshots coalesce, a reader that falls behind is told ``events.lost``."""

from __future__ import annotations

import anyio
import pytest

from specflowd.event_catalogue import CATALOGUE, EventPayload, EventsLost, RegistryChanged, RunProgress
from specflowd.services.events import Event, EventBus, Subscription

pytestmark = pytest.mark.anyio


def progress(run_id: str, tool_calls: int) -> RunProgress:
    return RunProgress(run_id=run_id, orchestration="o1", step="implement", batch="1", started_at=None,
                       budget_usd=5.0, cost_usd=0.1, cost_is_estimate=True, turns=1, tool_calls=tool_calls,
                       last_tool="Bash", last_text=None, model=None)  # fmt: skip


def changed(n: int) -> RegistryChanged:
    return RegistryChanged(added=[f"p{n}"], removed=[])


async def drain(sub: Subscription) -> list[Event]:
    """What is queued now, in sending order (``next`` does not wait while something is queued)."""
    out: list[Event] = []
    while sub.queued or sub._lost:
        event = await sub.next()
        assert event is not None
        out.append(event)
    return out


def describe(events: list[Event]) -> list[tuple[str, object]]:
    def key(payload: EventPayload) -> object:
        if isinstance(payload, RunProgress):
            return (payload.run_id, payload.tool_calls)
        if isinstance(payload, EventsLost):
            return payload.dropped
        assert isinstance(payload, RegistryChanged)
        return payload.added[0]

    return [(e.type, key(e.payload)) for e in events]


async def test_a_newer_snapshot_of_a_run_replaces_the_unsent_one_and_goes_last() -> None:
    bus = EventBus()
    sub = bus.subscribe(None)
    bus.emit("/p", progress("r1", 1))
    bus.emit("/p", changed(1))
    bus.emit("/p", progress("r2", 1))
    bus.emit("/p", progress("r1", 2))
    assert sub.queued == 3
    assert describe(await drain(sub)) == [
        ("registry.changed", "p1"),
        ("run.progress", ("r2", 1)),
        ("run.progress", ("r1", 2)),
    ]
    bus.emit("/p", progress("r1", 3))  # the sent snapshot is not replaced: the next one is queued anew
    assert describe(await drain(sub)) == [("run.progress", ("r1", 3))]


async def test_a_reader_that_keeps_up_with_decisions_never_loses_progress() -> None:
    bus = EventBus(queue_limit=5)
    sub = bus.subscribe(None)
    for n in range(10_000):
        bus.emit("/p", progress(f"r{n % 3}", n))
    assert describe(await drain(sub)) == [("run.progress", (f"r{n % 3}", n)) for n in range(9_997, 10_000)]


async def test_a_reader_too_far_behind_gets_events_lost_first_then_what_follows() -> None:
    bus = EventBus(queue_limit=3)
    sub = bus.subscribe(None)
    first = bus.emit("/p", changed(1))
    for n in range(2, 6):
        bus.emit("/p", changed(n))
    events = await drain(sub)
    assert describe(events) == [("events.lost", 3), ("registry.changed", "p4"), ("registry.changed", "p5")]
    lost = events[0]
    assert isinstance(lost.payload, EventsLost) and lost.payload.since == first.time
    assert lost.to_params()["data"] == {"dropped": 3, "since": first.time}
    # told once per episode: a reader that caught up and falls behind again is told again, with the new count
    for n in range(6, 13):
        bus.emit("/p", changed(n))
    assert describe(await drain(sub)) == [
        ("events.lost", 6),  # p6..p8 at the first overflow, p9..p11 at the second
        ("registry.changed", "p12"),
    ]


async def test_the_lost_notice_names_the_subscription_project_and_other_projects_do_not_count() -> None:
    bus = EventBus(queue_limit=2)
    mine, everything = bus.subscribe("/a"), bus.subscribe(None)
    for n in range(4):
        bus.emit("/b", changed(n))
    assert mine.queued == 0
    bus.emit("/a", changed(9))
    assert describe(await drain(mine)) == [("registry.changed", "p9")]
    events = await drain(everything)
    assert events[0].type == "events.lost" and events[0].project is None


async def test_next_waits_for_an_event_and_ends_when_unsubscribed() -> None:
    bus = EventBus()
    sub = bus.subscribe(None)
    got: list[Event | None] = []

    async def reader() -> None:
        got.append(await sub.next())
        got.append(await sub.next())

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.wait_all_tasks_blocked()
        bus.emit(None, changed(1))
        await anyio.wait_all_tasks_blocked()
        assert len(got) == 1
        bus.unsubscribe(sub)
    assert got[1] is None and bus.subscriber_count == 0
    bus.emit(None, changed(2))  # nothing queued for a closed subscription
    assert sub.queued == 0


def test_events_lost_is_in_the_published_catalogue() -> None:
    assert CATALOGUE["events.lost"] is EventsLost


async def test_flush_waits_until_the_sender_has_written_what_was_queued() -> None:
    bus = EventBus()
    sub = bus.subscribe(None)
    written: list[str] = []

    async def sender() -> None:  # as the connection's pump: take one, write it, come back for more
        while (event := await sub.next()) is not None:
            await anyio.lowlevel.checkpoint()
            written.append(event.type)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        bus.emit(None, changed(1))
        bus.emit(None, progress("r1", 1))
        assert await bus.flush(5.0)
        assert written == ["registry.changed", "run.progress"]
        bus.unsubscribe(sub)


async def test_flush_gives_up_on_a_subscriber_that_is_not_written_to() -> None:
    bus = EventBus()
    stuck = bus.subscribe(None)  # nobody sends its events
    closed = bus.subscribe(None)
    bus.emit(None, changed(1))
    closed.close()
    assert not await bus.flush(0.05)
    assert stuck.queued == 1
