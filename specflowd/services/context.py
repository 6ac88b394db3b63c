"""What RPC handlers see: the daemon's services and the calling connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from specflowd.project.registry import Registry
from specflowd.protocol.rpc import MethodSpec
from specflowd.services.events import EventBus
from specflowd.transport.server import Connection

__all__ = ["Call", "Services"]


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


@dataclass(frozen=True)
class Call:
    services: Services
    conn: Connection
