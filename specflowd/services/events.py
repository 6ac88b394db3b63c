"""In-process event bus: services emit typed payloads, subscribed connections receive ``event`` notifications.

``emit(project, payload)`` is the one way an event is published: the payload is a model of the event catalogue
(specflowd/event_catalogue.py), which also gives the event's type. Listeners (the engine, the notifier, the
daemon's own wiring) get the typed ``Event``; subscribers get its JSON form.

Each subscriber has its own bounded queue, so a slow reader never slows the daemon or the other readers:
- a progress snapshot (a payload with a ``coalesce_key``) replaces the same run's snapshot still queued, so a
  reader that keeps up with the decisions keeps up with progress too;
- a reader ``queue_limit`` events behind loses what is queued and is then sent one ``events.lost`` (the count
  and the time of the first dropped event) before the events that follow: it knows to read the state again.
  The connection stays open; the transport's write timeout still closes one that reads nothing at all.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import anyio

from specflowd.event_catalogue import EventPayload, EventsLost

__all__ = ["DEFAULT_QUEUE_LIMIT", "FLUSH_TIMEOUT_S", "Event", "EventBus", "Subscription"]

log = logging.getLogger(__name__)

DEFAULT_QUEUE_LIMIT = 1000  # events queued for one subscriber before it is told it lost them
# how long stopping waits for subscribers to be written ``daemon.stopping``: a reader keeping up needs a few
# loop iterations; one that stopped reading must not hold the stop (the server's grace is 3 s)
FLUSH_TIMEOUT_S = 2.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Event:
    type: str
    project: str | None
    payload: EventPayload
    time: str

    @cached_property
    def data(self) -> dict[str, Any]:
        """The payload as JSON (what subscribers and the user's hook command see)."""
        return self.payload.model_dump(mode="json")

    def to_params(self) -> dict[str, Any]:
        return {"type": self.type, "project": self.project, "data": self.data, "time": self.time}


@dataclass
class _Slot:
    event: Event | None  # None: superseded by a newer snapshot queued later


class Subscription:
    """One subscriber's queue: ``put`` never blocks (the bus calls it for every event), ``next`` waits."""

    def __init__(
        self, project: str | None, limit: int = DEFAULT_QUEUE_LIMIT, on_drop: Callable[[int], None] | None = None
    ) -> None:
        self.project = project
        self.limit = limit
        self._on_drop = on_drop  # told how many events it drops (the bus counts them for daemon.metrics)
        self._slots: deque[_Slot] = deque()
        self._queued = 0  # slots still holding an event
        self._latest: dict[str, _Slot] = {}  # coalesce key -> its queued snapshot
        self._lost = 0
        self._lost_since: str | None = None
        self._ready = anyio.Event()
        self._awaiting = False  # the sender is back for more: what it took before is written
        self._flushed = anyio.Event()
        self.closed = False

    def wants(self, event: Event) -> bool:
        return self.project is None or event.project is None or event.project == self.project

    @property
    def queued(self) -> int:
        return self._queued

    def put(self, event: Event) -> None:
        if self.closed:
            return
        key = event.payload.coalesce_key()
        if key is not None and (older := self._latest.pop(key, None)) is not None:
            older.event = None  # the newer snapshot goes at the end: nothing queued before it contradicts it
            self._queued -= 1
        if self._queued >= self.limit:
            self._drop_queued(event.time)
        slot = _Slot(event)
        self._slots.append(slot)
        self._queued += 1
        if key is not None:
            self._latest[key] = slot
        self._ready.set()

    def _drop_queued(self, now: str) -> None:
        first = next((s.event.time for s in self._slots if s.event is not None), now)
        if not self._lost:
            log.warning("a subscriber is %d events behind: dropping them, it is sent events.lost", self._queued)
            self._lost_since = first
        self._lost += self._queued
        if self._on_drop is not None:
            self._on_drop(self._queued)
        self._slots.clear()
        self._latest.clear()
        self._queued = 0

    async def next(self) -> Event | None:
        """The next event to send (``events.lost`` first when events were dropped); None once closed."""
        while not self.closed:
            if self._lost:
                lost = EventsLost(dropped=self._lost, since=self._lost_since or _now())
                self._lost, self._lost_since = 0, None
                return Event(lost.event_type(), self.project, lost, _now())
            while self._slots:
                slot = self._slots.popleft()
                if slot.event is None:
                    continue
                self._queued -= 1
                key = slot.event.payload.coalesce_key()
                if key is not None and self._latest.get(key) is slot:
                    del self._latest[key]
                return slot.event
            self._ready = anyio.Event()
            self._awaiting = True
            self._flushed.set()
            try:
                await self._ready.wait()
            finally:
                self._awaiting = False
        return None

    async def flushed(self) -> None:
        """Wait until every event queued so far has been handed to the connection: the sender calls ``next``
        only once it has written the event it took before, so an empty queue it waits on means all is out."""
        while not self.closed and not (self._awaiting and not self._queued and not self._lost):
            self._flushed = anyio.Event()
            await self._flushed.wait()

    def close(self) -> None:
        self.closed = True
        self._slots.clear()
        self._latest.clear()
        self._queued = 0
        self._ready.set()
        self._flushed.set()


@dataclass
class EventBus:
    queue_limit: int = DEFAULT_QUEUE_LIMIT  # per subscriber (``specflowd --event-queue``)
    _subscriptions: set[Subscription] = field(default_factory=set)
    listeners: list[Callable[[Event], None]] = field(default_factory=list)
    dropped: int = 0  # events dropped for subscribers that fell behind, since the daemon started

    def subscribe(self, project: str | None) -> Subscription:
        sub = Subscription(project, self.queue_limit, self._count_dropped)
        self._subscriptions.add(sub)
        return sub

    def _count_dropped(self, count: int) -> None:
        self.dropped += count

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)
        sub.close()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    async def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
        """Wait (at most ``timeout_s``) until every subscriber has been written what is queued for it; False
        when one has not (a reader that stopped reading). The daemon's last event goes out before it stops."""
        with anyio.move_on_after(timeout_s):
            for sub in list(self._subscriptions):
                await sub.flushed()
            return True
        return False

    def emit(self, project: str | None, payload: EventPayload) -> Event:
        """Publish ``payload`` (its type is the payload's) concerning ``project`` (None: the daemon's own)."""
        event = Event(payload.event_type(), project, payload, _now())
        for sub in self._subscriptions:
            if sub.wants(event):
                sub.put(event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")
        return event
