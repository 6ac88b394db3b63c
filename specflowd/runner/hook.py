"""Optional user hook: run a command for every event (config ``[agent] on_event``).

The template is an argv list, e.g. ``["notify-send", "specflowd: {type}", "{message}"]``; each element is
formatted with the event's fields (``type``, ``project`` and the event data's top-level keys; unknown
placeholders become ''). The command runs detached, never through a shell; failures are logged, never
raised — a broken notifier must not disturb the daemon.
"""

from __future__ import annotations

import logging
import string
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["EventHook", "render_hook_argv", "run_detached"]

log = logging.getLogger(__name__)


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render_hook_argv(
    template: Sequence[str], event_type: str, project: str | None, data: Mapping[str, Any]
) -> list[str]:
    """Pure: the argv for one event. Values are substituted per element, so a value with spaces or shell
    characters stays one argument."""
    fields = _Fields({k: v if isinstance(v, str) else str(v) for k, v in data.items()})
    fields.update(type=event_type, project=project or "")
    fields.setdefault("message", str(data.get("message") or data.get("detail") or data.get("status") or event_type))
    formatter = string.Formatter()
    out: list[str] = []
    for element in template:
        try:
            out.append(formatter.vformat(element, (), fields))
        except (ValueError, IndexError, KeyError, AttributeError):
            out.append(element)  # a malformed template element is passed literally
    return out


def run_detached(argv: list[str]) -> None:
    """Start a notifier command in its own session, not waited for; a failure is logged, never raised."""
    try:
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        log.warning("event hook %s failed: %s", argv[:1], exc)


class EventHook:
    def __init__(self, template: Sequence[str] | None) -> None:
        self.template = list(template or [])

    def __call__(self, event_type: str, project: str | None, data: Mapping[str, Any]) -> None:
        if not self.template:
            return
        run_detached(render_hook_argv(self.template, event_type, project, data))
