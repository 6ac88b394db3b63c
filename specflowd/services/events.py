"""In-process event bus: services emit typed payloads, subscribed connections receive ``event`` notifications.

``emit(project, payload)`` is the one way an event is published: the payload is a model of the event catalogue
(specflowd/event_catalogue.py), which also gives the event's type. Listeners (the engine, the notifier, the
daemon's own wiring) get the typed ``Event``; subscribers get its JSON form.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from specflowd.event_catalogue import EventPayload

__all__ = ["Event", "EventBus", "Subscription"]

log = logging.getLogger(__name__)

_QUEUE = 1000  # a subscriber this far behind is dropped rather than blocking the daemon


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


@dataclass(eq=False)
class Subscription:
    project: str | None
    send: MemoryObjectSendStream[Event]
    receive: MemoryObjectReceiveStream[Event]

    def wants(self, event: Event) -> bool:
        return self.project is None or event.project is None or event.project == self.project


@dataclass
class EventBus:
    _subscriptions: set[Subscription] = field(default_factory=set)
    listeners: list[Callable[[Event], None]] = field(default_factory=list)

    def subscribe(self, project: str | None) -> Subscription:
        send, receive = anyio.create_memory_object_stream[Event](_QUEUE)
        sub = Subscription(project, send, receive)
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)
        sub.send.close()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def emit(self, project: str | None, payload: EventPayload) -> Event:
        """Publish ``payload`` (its type is the payload's) concerning ``project`` (None: the daemon's own)."""
        event = Event(payload.event_type(), project, payload, datetime.now(UTC).isoformat(timespec="milliseconds"))
        for sub in list(self._subscriptions):
            if not sub.wants(event):
                continue
            try:
                sub.send.send_nowait(event)
            except anyio.WouldBlock:
                log.warning("dropping a subscriber %d events behind", _QUEUE)
                self.unsubscribe(sub)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscriptions.discard(sub)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")
        return event
