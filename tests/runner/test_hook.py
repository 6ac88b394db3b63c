from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from specflowd.runner.hook import EventHook, render_hook_argv
from tests.runner.conftest import wait_for


def test_render_substitutes_per_element_without_a_shell() -> None:
    argv = render_hook_argv(
        ["notify-send", "specflowd: {type}", "{message}", "{run_id}", "{nope}", "{bad"],
        "run.finished",
        "/p",
        {"run_id": "r1", "status": "failed", "detail": "x; rm -rf / $(boom)"},
    )
    assert argv == ["notify-send", "specflowd: run.finished", "x; rm -rf / $(boom)", "r1", "", "{bad"]


def test_render_message_falls_back_to_the_type() -> None:
    assert render_hook_argv(["{message}", "{project}"], "daemon.ready", None, {}) == ["daemon.ready", ""]


@pytest.mark.anyio
async def test_hook_runs_detached_and_failures_do_not_raise(tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    script = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"
    EventHook([sys.executable, "-c", script, str(out), "{type}", "{message}"])(
        "question.asked", "/p", {"message": "it's \"quoted\" & spaced"}
    )
    await wait_for(lambda: out.exists() and out.read_text(), what="hook output")
    assert json.loads(out.read_text()) == ["question.asked", "it's \"quoted\" & spaced"]
    EventHook([str(tmp_path / "missing-binary"), "{type}"])("run.finished", None, {})  # logged, not raised
    EventHook(None)("run.finished", None, {})  # no hook configured: nothing happens
