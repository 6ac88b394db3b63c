"""Notifications: which events are worth one, what they say, and how the settings steer them (pure parts and
the Notifier with a recording runner)."""

from __future__ import annotations

from pathlib import Path

from specflowd.event_catalogue import EventPayload, QuestionAsked, RunProgress, StatusChanged
from specflowd.notify import Notifier, desktop_argv, notification_for, wanted
from specflowd.services.events import Event
from specflowd.settings import DEFAULT_NOTIFY_EVENTS
from specflowd.vocabulary import Question
from tests.cli.conftest import QUESTIONS


def _event(payload: EventPayload) -> Event:
    return Event(payload.event_type(), "/home/u/todo-app", payload, "2026-11-27T10:00:00.000+00:00")


def _status(status: str, reason: str = "") -> Event:
    return _event(StatusChanged(orchestration="o1", status=status, before="running", step="merge", reason=reason))


def _progress() -> Event:
    return _event(RunProgress(run_id="r1", orchestration="o1", step="implement", batch="0", started_at=None,
                              budget_usd=5.0, cost_usd=0.1, cost_is_estimate=True, turns=1, tool_calls=0,
                              last_tool=None, last_text=None, model=None))  # fmt: skip


def test_what_a_notification_says() -> None:
    questions = [Question.model_validate(q) for q in QUESTIONS]
    asked = notification_for(
        _event(QuestionAsked(run_id="3f2a9c1b-aaaa", orchestration="o1", step="implement", message=None, questions=questions))
    )
    assert asked is not None and asked.kind == "question" and asked.title == "todo-app: a question for you"
    assert asked.message == "Which storage should the todo list use? (json / sqlite) — specflowctl answer 3f2a9c1b"
    stop = notification_for(_status("needs_attention", "heal used up"))
    assert stop is not None and (stop.kind, stop.message) == ("needs_attention", "heal used up")
    ready = notification_for(_status("waiting_merge", "auto_merge is off"))
    assert ready is not None and ready.kind == "merge_ready" and ready.message.endswith("specflowctl merge")
    assert notification_for(_status("running")) is None
    assert notification_for(_progress()) is None
    assert desktop_argv(stop)[:3] == ["notify-send", "--app-name=specflowd", "--urgency=critical"]


def test_the_filter_selects_kinds_raw_types_or_everything() -> None:
    progress = _progress()
    done = _status("completed")
    note = notification_for(done)
    assert wanted(DEFAULT_NOTIFY_EVENTS, done, note) and not wanted(DEFAULT_NOTIFY_EVENTS, progress, None)
    assert wanted(["run.progress"], progress, None) and wanted(["*"], progress, None)
    assert not wanted(["failed"], done, note)


def test_desktop_and_hook_follow_the_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "specflowd.toml"
    sent: list[list[str]] = []
    env = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent", "PATH": str(tmp_path)}
    (tmp_path / "notify-send").write_text("#!/bin/sh\n")
    (tmp_path / "notify-send").chmod(0o755)
    notifier = Notifier(settings, env, run=sent.append)
    done = _status("completed", "merge closed the phase")
    notifier(done)
    assert sent == [desktop_argv(notification_for(done))]  # type: ignore[arg-type]
    settings.write_text('[notify]\ndesktop = false\n[agent]\non_event = ["hook", "{kind}: {message}"]\n')
    notifier(done)
    notifier(_progress())  # not selected: nothing
    assert sent[1:] == [["hook", "completed: merge closed the phase"]]
    assert not Notifier(settings, {"PATH": str(tmp_path)}, run=sent.append).desktop_available()  # no session bus
