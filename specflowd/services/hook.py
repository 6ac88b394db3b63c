"""The user's event hook (``[agent] on_event`` argv template): run detached for every event, never
through a shell; a failing hook is logged, never raised."""

from __future__ import annotations

import logging
import subprocess
from typing import Any

from specflowd.services.events import Event

__all__ = ["EventHook"]

log = logging.getLogger(__name__)


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


class EventHook:
    def __init__(self, template: list[str]) -> None:
        self.template = template

    def argv_for(self, event: Event) -> list[str]:
        fields = _Fields(type=event.type, project=event.project or "", time=event.time)
        fields.update({k: v for k, v in event.data.items() if isinstance(v, str | int | float | bool) or v is None})
        fields.setdefault("message", event.data.get("message") or event.type)
        return [part.format_map(fields) for part in self.template]

    def __call__(self, event: Event) -> None:
        try:
            argv = self.argv_for(event)
            subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except (OSError, ValueError, KeyError, IndexError) as exc:
            log.warning("on_event hook %s failed: %s", self.template[:1], exc)
