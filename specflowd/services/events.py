"""In-process event bus: services publish, subscribed connections receive ``event`` notifications."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["Event", "EventBus", "Subscription"]

log = logging.getLogger(__name__)

_QUEUE = 1000  # a subscriber this far behind is dropped rather than blocking the daemon


@dataclass(frozen=True)
class Event:
    type: str
    project: str | None
    data: dict[str, Any]
    time: str

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

    def publish(self, type_: str, project: str | None, data: dict[str, Any]) -> Event:
        event = Event(type_, project, data, datetime.now(UTC).isoformat(timespec="milliseconds"))
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
