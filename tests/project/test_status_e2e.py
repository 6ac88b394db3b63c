"""projects.status / orchestrate.preview through the real daemon, and their CLI verbs."""

from __future__ import annotations

import json
import subprocess

from specflowctl.demo import create_demo_project
from tests.support import SPECFLOWCTL, Daemon, RawClient


def test_status_and_batches_for_the_demo_project(daemon: Daemon) -> None:
    root = create_demo_project(daemon.root / "demo")
    entry = daemon.rpc("projects.register", {"path": str(root)})
    status = daemon.rpc("projects.status", {"project": entry["id"]})
    assert status["tasks"] == {"total": 20, "done": 0, "open": 20, "blocked": 0, "deferred": 0}
    assert status["current_section"] == "Phase 1: Setup" and status["feature"] == "0001-todo-cli"
    preview = daemon.rpc("orchestrate.preview", {"project": str(root), "config": {"skip_analyze": True}})
    assert preview["summary"] == "4 batches from tasks.md sections (20 tasks)"
    assert [len(b["task_ids"]) for b in preview["batches"]] == [4, 6, 5, 5]
    assert preview["config"]["skip_analyze"] is True and preview["budget"]["total"] == 50.0
    # the CLI: PROJECT defaults to the registered project containing the current directory
    text = subprocess.run(
        [SPECFLOWCTL, "batches"], cwd=root / "specs", env=daemon.env, capture_output=True, text=True, timeout=30
    )
    assert text.returncode == 0, text.stderr
    assert "4 batches from tasks.md sections" in text.stdout and "Core Components" in text.stdout
    as_json = json.loads(daemon.ctl("status", str(root), "--json").stdout)
    assert as_json["project"]["tasks"]["open"] == 20 and as_json["orchestration"] is None
    assert "next: implement" in daemon.ctl("status", entry["id"]).stdout


def test_preview_rejects_out_of_bounds_config_and_unknown_project(daemon: Daemon) -> None:
    root = create_demo_project(daemon.root / "demo")
    daemon.rpc("projects.register", {"path": str(root)})
    with RawClient(daemon.socket) as client:
        bad = client.request("orchestrate.preview", {"project": str(root), "config": {"max_heal_attempts": 9}})
        assert bad["error"]["data"]["kind"] == "invalid_config"
        assert "max_heal_attempts" in bad["error"]["message"]
        unknown = client.request("projects.status", {"project": "/nowhere/at/all"})
        assert unknown["error"]["data"]["kind"] == "not_found"
    outside = daemon.ctl("status", cwd=daemon.root)  # not inside a registered project: the overview, no error
    assert f"{daemon.root} is not inside a registered project; all orchestrations:" in outside.stdout
    named = daemon.ctl("status", "/nowhere/at/all", check=False)  # a project the user names must exist
    assert named.returncode == 1 and "/nowhere/at/all does not exist" in named.stderr


def test_settings_file_supplies_defaults(daemon: Daemon) -> None:
    root = create_demo_project(daemon.root / "demo")
    daemon.rpc("projects.register", {"path": str(root)})
    config_dir = daemon.root / "home" / ".config" / "specflow"
    config_dir.mkdir(parents=True)
    (config_dir / "specflowd.toml").write_text(
        "[orchestrate]\nbatch_size_fallback = 7\n[orchestrate.budget]\ntotal = 12.5\n"
    )
    preview = daemon.rpc("orchestrate.preview", {"project": str(root)})
    assert preview["config"]["batch_size_fallback"] == 7 and preview["budget"]["total"] == 12.5
    override = daemon.rpc("orchestrate.preview", {"project": str(root), "config": {"budget": {"total": 3}}})
    assert override["budget"]["total"] == 3
