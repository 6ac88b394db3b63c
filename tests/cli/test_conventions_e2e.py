"""Clear refusals before anything is shown or started: a busy project, an unregistered or missing path (real
CLI, real daemon)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import demo_project
from tests.engine.common import FAKE
from tests.support import running_daemon


def test_refusals_before_any_preview(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text('[{"action": "hang"}]')
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=FAKE, FAKE_CLAUDE_SCRIPT=str(script)) as d:
        root = demo_project(d)
        busy = d.rpc("orchestrate.start", {"project": str(root), "config": {}})["record"]["id"]  # analyze hangs
        shown = d.ctl_json("status", str(root))["orchestration"]["progress"]
        assert (shown["tasks_done"], shown["tasks_total"]) == (0, 20)  # no batches planned yet: never "0/0"
        second = d.ctl("orchestrate", str(root), "--yes", check=False)
        assert second.returncode == 1 and second.stdout == ""  # refused before the preview
        assert f"orchestration {busy[:8]} is already active" in second.stderr and "[already_active]" in second.stderr
        d.rpc("orchestrate.cancel", {"id": busy})
        (d.root / "other").mkdir()
        unregistered = d.ctl("status", str(d.root / "other"), check=False)
        assert unregistered.returncode == 1 and "`specflowctl projects add PATH`" in unregistered.stderr
        nowhere = d.ctl("orchestrate", str(d.root / "nowhere"), check=False)
        assert nowhere.returncode == 1 and f"{d.root / 'nowhere'} does not exist" in nowhere.stderr
