"""Notifications: which events are worth one, what they say, and the built-in desktop notifier with a fake
notify-send on PATH (real daemon)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from specflowd.services.events import Event
from specflowd.notify import Notifier, desktop_argv, notification_for, wanted
from specflowd.settings import DEFAULT_NOTIFY_EVENTS
from tests.cli.conftest import QUESTIONS, demo_project
from tests.engine.common import FAKE, status
from tests.support import running_daemon, wait_until

RECORDER = """#!{python}
import json, sys
with open({log!r}, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def _event(type_: str, **data: object) -> Event:
    return Event(type_, "/home/u/todo-app", dict(data), "2026-11-27T10:00:00.000+00:00")


def test_what_a_notification_says() -> None:
    asked = notification_for(_event("question.asked", run_id="3f2a9c1b-aaaa", questions=QUESTIONS))
    assert asked is not None and asked.kind == "question" and asked.title == "todo-app: a question for you"
    assert asked.message == "Which storage should the todo list use? (json / sqlite) — specflowctl answer 3f2a9c1b"
    stop = notification_for(_event("orchestration.status", status="needs_attention", reason="heal used up"))
    assert stop is not None and (stop.kind, stop.message) == ("needs_attention", "heal used up")
    ready = notification_for(_event("orchestration.status", status="waiting_merge", reason="auto_merge is off"))
    assert ready is not None and ready.kind == "merge_ready" and ready.message.endswith("specflowctl merge")
    assert notification_for(_event("orchestration.status", status="running")) is None
    assert notification_for(_event("run.progress", cost_usd=0.1)) is None
    assert desktop_argv(stop)[:3] == ["notify-send", "--app-name=specflowd", "--urgency=critical"]


def test_the_filter_selects_kinds_raw_types_or_everything() -> None:
    progress = _event("run.progress")
    done = _event("orchestration.status", status="completed")
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
    done = _event("orchestration.status", status="completed", reason="merge closed the phase")
    notifier(done)
    assert sent == [desktop_argv(notification_for(done))]  # type: ignore[arg-type]
    settings.write_text('[notify]\ndesktop = false\n[agent]\non_event = ["hook", "{kind}: {message}"]\n')
    notifier(done)
    notifier(_event("run.progress"))  # not selected: nothing
    assert sent[1:] == [["hook", "completed: merge closed the phase"]]
    assert not Notifier(settings, {"PATH": str(tmp_path)}, run=sent.append).desktop_available()  # no session bus


def test_fake_notify_send_gets_the_question_and_the_merge(tmp_path: Path) -> None:
    bin_dir, log, hook_log = tmp_path / "bin", tmp_path / "notify.jsonl", tmp_path / "hook.jsonl"
    bin_dir.mkdir()
    (bin_dir / "notify-send").write_text(RECORDER.format(python=sys.executable, log=str(log)))
    (bin_dir / "notify-send").chmod(0o755)
    (tmp_path / "hook.py").write_text(RECORDER.format(python=sys.executable, log=str(hook_log)))
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"action": "ask", "questions": QUESTIONS}, {"action": "complete", "tasks": ["T001", "T002", "T003", "T004"]}]))
    extra = {"SPECFLOW_CLAUDE": FAKE, "FAKE_CLAUDE_SCRIPT": str(script), "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"}
    with running_daemon(tmp_path, **extra) as d:
        d.stop()
        d.env["PATH"] = f"{bin_dir}:{d.env['PATH']}"
        d.start()
        d.ctl("config", "set", "agent.on_event", json.dumps([sys.executable, str(tmp_path / "hook.py"), "{kind}", "{message}"]))
        root = demo_project(d)
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": {"skip_analyze": True}})["record"]["id"]
        sent = wait_until(lambda: log.exists() and [json.loads(x) for x in log.read_text().splitlines()], timeout=60, what="notify-send")
        assert sent[0][:3] == ["--app-name=specflowd", "--urgency=critical", "demo: a question for you"]
        assert sent[0][3].startswith("Which storage should the todo list use? (json / sqlite) — specflowctl answer ")
        hooked = wait_until(lambda: hook_log.exists() and [json.loads(x) for x in hook_log.read_text().splitlines()], timeout=30, what="hook")
        assert hooked[0][0] == "question" and "Which storage" in hooked[0][1]
        d.ctl("config", "set", "notify.desktop", "false")  # applies without a restart
        d.rpc("questions.answer", {"orchestration": orch_id, "answers": {"storage": "json"}})
        wait_until(lambda: status(d, orch_id)["status"] == "needs_attention", timeout=90, what="the fake verify stops")
        wait_until(lambda: len(hook_log.read_text().splitlines()) >= 2, timeout=30, what="hook")
        assert json.loads(hook_log.read_text().splitlines()[-1])[0] == "needs_attention"
        assert len(log.read_text().splitlines()) == 1  # desktop notifications are off now
