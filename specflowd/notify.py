"""Notifications worth having: a question, merge ready, needs attention, completed, failed.

``notification_for(event)`` (pure) turns the few events a user cares about into a ``Notification`` whose
message carries the substance — the question and its options, the reason of a stop. ``Notifier`` (I/O) sends
the ones ``[notify] events`` selects to the desktop (``notify-send``, when a session bus exists and
``[notify] desktop`` is on) and to the user's ``[agent] on_event`` command. Settings are re-read when the
file changes, so ``specflowctl config set notify.desktop false`` applies without a restart.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specflowd.event_catalogue import Decision, QuestionAsked, StatusChanged
from specflowd.runner.hook import render_hook_argv, run_detached
from specflowd.services.events import Event
from specflowd.settings import Settings, load_settings
from specflowd.vocabulary import Question
from specflowd.watch import Fingerprint, fingerprint

__all__ = ["Notification", "Notifier", "desktop_argv", "notification_for", "wanted"]

# orchestration.status values that are worth a notification, and what they are called in [notify] events
_STATUS_KINDS = {
    "waiting_merge": "merge_ready",
    "waiting_user_gate": "merge_ready",
    "needs_attention": "needs_attention",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "paused": "paused",
}
_TITLES = {
    "question": "{name}: a question for you",
    "merge_ready": "{name}: ready to merge",
    "needs_attention": "{name} needs attention",
    "completed": "{name}: phase completed",
    "failed": "{name}: orchestration failed",
    "cancelled": "{name}: orchestration cancelled",
    "paused": "{name}: orchestration paused",
    "warning": "{name}: warning",
}
_URGENT = frozenset({"needs_attention", "failed", "question"})


@dataclass(frozen=True)
class Notification:
    kind: str  # one of settings.NOTIFY_KINDS, or "event" for a raw event selected by type
    title: str
    message: str


def _questions_text(questions: Sequence[Question], run_id: str) -> str:
    parts = []
    for q in questions:
        options = " / ".join(o.label for o in q.options)
        parts.append(q.question + (f" ({options})" if options else ""))
    answer = f"specflowctl answer {run_id[:8]}" if run_id else "specflowctl answer"
    return " · ".join(parts) + f" — {answer}"


def notification_for(event: Event) -> Notification | None:
    """Pure: the notification an event is worth, or None."""
    name = Path(event.project).name if event.project else "specflowd"
    kind: str | None = None
    message = ""
    match event.payload:
        case QuestionAsked(questions=questions, run_id=run_id):
            kind, message = "question", _questions_text(questions, run_id)
        case StatusChanged(status=status, reason=reason):
            kind = _STATUS_KINDS.get(status)
            message = reason or status
            if kind == "merge_ready":
                message += " — specflowctl merge"
        case Decision(action="warning", reason=reason):
            kind, message = "warning", reason
    if kind is None:
        return None
    return Notification(kind=kind, title=_TITLES[kind].format(name=name), message=message)


def wanted(selection: Sequence[str], event: Event, note: Notification | None) -> bool:
    """Pure: does ``[notify] events`` select this event?"""
    if "*" in selection or event.type in selection:
        return True
    return note is not None and note.kind in selection


def desktop_argv(note: Notification) -> list[str]:
    urgency = "critical" if note.kind in _URGENT else "normal"
    return ["notify-send", "--app-name=specflowd", f"--urgency={urgency}", note.title, note.message]


class Notifier:
    """An event-bus listener. ``environ`` decides whether a desktop session exists (the daemon's own)."""

    def __init__(
        self, settings_path: Path, environ: Mapping[str, str], run: Callable[[list[str]], None] = run_detached
    ) -> None:
        self.settings_path = settings_path
        self.environ = environ
        self._run = run
        self._seen: Fingerprint | object = object()
        self._settings = Settings()

    def settings(self) -> Settings:
        current = fingerprint(self.settings_path)
        if current != self._seen:
            self._seen = current
            self._settings = load_settings(self.settings_path)
        return self._settings

    def desktop_available(self) -> bool:
        return bool(self.environ.get("DBUS_SESSION_BUS_ADDRESS")) and (
            shutil.which("notify-send", path=self.environ.get("PATH", os.defpath)) is not None
        )

    def __call__(self, event: Event) -> None:
        settings = self.settings()
        hook = settings.agent.on_event
        desktop = settings.notify.desktop
        if not hook and not desktop:
            return
        note = notification_for(event)
        if not wanted(settings.notify.events, event, note):
            return
        if desktop and note is not None and self.desktop_available():
            self._run(desktop_argv(note))
        if hook:
            fields: dict[str, Any] = dict(event.data)
            if note is not None:
                fields.update(message=note.message, title=note.title, kind=note.kind)
            self._run(render_hook_argv(hook, event.type, event.project, fields))
