"""What RPC handlers see: the daemon's services and the calling connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio

from specflowd.project.registry import Registry
from specflowd.protocol.rpc import MethodSpec
from specflowd.services.events import EventBus
from specflowd.transport.server import Connection

__all__ = ["Call", "Services"]

T = TypeVar("T")


@dataclass
class Services:
    socket_path: Path
    registry: Registry
    bus: EventBus
    stop: anyio.Event
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    specs: dict[str, MethodSpec] = field(default_factory=dict)
    socket_activated: bool = False
    extensions: dict[str, Any] = field(default_factory=dict)

    def extension(self, name: str, kind: type[T], unavailable: str) -> T:
        """A service the daemon wired in under ``name``; ``InvalidState(unavailable)`` when it is not there
        (e.g. a handler test that runs without the engine)."""
        from specflowd.errors import InvalidState

        value = self.extensions.get(name)
        if not isinstance(value, kind):
            raise InvalidState(unavailable)
        return value


@dataclass(frozen=True)
class Call:
    services: Services
    conn: Connection
