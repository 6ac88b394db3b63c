"""The built-in desktop notifier and [agent] on_event with a fake notify-send on PATH (real daemon, the fake
`claude` asking a question)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.cli.conftest import QUESTIONS, demo_project
from tests.engine.common import FAKE, status
from tests.support import running_daemon, wait_until

RECORDER = """#!{python}
import json, sys
with open({log!r}, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


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
