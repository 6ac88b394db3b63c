"""Whether runs are sandboxed, where they may write and what they may reach is visible everywhere a user looks:
the preview, status, daemon status, the run record and rpc.discover's schema (real daemon, fake agent)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import QUESTIONS, demo_project
from tests.engine.common import FAKE
from tests.support import running_daemon, wait_until


def test_sandbox_is_shown_and_reaches_every_run(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"action": "ask", "questions": QUESTIONS}]))  # the first run waits: a stable view
    argv_log = tmp_path / "argv.jsonl"
    env = {"SPECFLOW_CLAUDE": FAKE, "FAKE_CLAUDE_SCRIPT": str(script), "FAKE_CLAUDE_ARGV_LOG": str(argv_log)}
    with running_daemon(tmp_path, **env) as d:
        root = demo_project(d)
        settings = Path(d.env["XDG_CONFIG_HOME"]) / "specflow" / "specflowd.toml"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(
            '[sandbox]\nallowed_domains = ["pypi.org", "files.pythonhosted.org"]\n'
            f'[sandbox.projects."{root}"]\nallowed_domains = ["registry.npmjs.org"]\n'
        )
        bad = d.ctl("config", "set", "sandbox.allowed_domains", '["https://pypi.org/simple"]', check=False)
        assert bad.returncode != 0 and "sandbox.allowed_domains" in bad.stderr, bad.stderr  # refused, file kept
        assert "registry.npmjs.org" in settings.read_text()
        assert "allowed_domains = [" in d.ctl("config", "show").stdout
        shown = d.ctl("daemon", "status").stdout
        assert "sandbox: on by default (Claude Code's) · network: pypi.org, files.pythonhosted.org" in shown
        assert "limits: not enforced" in shown  # no systemd user manager here

        off = d.ctl("orchestrate", str(root), "--dry-run", "--no-sandbox").stdout
        assert "sandbox: OFF — shell commands can write anywhere you can" in off
        on = d.ctl("orchestrate", str(root), "--dry-run").stdout
        assert "  network: registry.npmjs.org\n" in on  # the project's own list replaces the default
        warned = d.rpc("orchestrate.preview", {"project": str(root), "config": {"sandbox": False}})["warnings"]
        assert any("not sandboxed" in w for w in warned)
        bypass = d.rpc("orchestrate.preview", {"project": str(root), "config": {"permission_mode": "bypassPermissions"}})
        assert any("Write/Edit tools are not confined" in w for w in bypass["warnings"])
        assert bypass["sandbox"]["edit_tools_confined"] is False
        quiet = d.rpc("orchestrate.preview", {"project": str(root)})
        assert not any("sandbox" in w or "confined" in w for w in quiet["warnings"])

        asked = d.ctl("orchestrate", str(root), "--yes", "--skip-analyze", check=False, timeout=120)
        assert asked.returncode == 5, asked.stdout + asked.stderr  # waiting for the answer
        status = d.ctl("status", str(root)).stdout
        assert f"sandbox: writes {root}, " in status and "network: registry.npmjs.org" in status

        (run,) = d.rpc("runs.list", {"project": str(root)})["runs"]
        assert run["sandbox"]["enabled"] and run["sandbox"]["allowed_domains"] == ["registry.npmjs.org"]
        assert run["sandbox"]["write_paths"][0] == str(root)
        assert run["sandbox_denials"] == []
        (call,) = [json.loads(line) for line in argv_log.read_text().splitlines()]
        argv = call["argv"]
        sent = json.loads(argv[argv.index("--settings") + 1])["sandbox"]
        assert sent["network"]["allowedDomains"] == ["registry.npmjs.org"]  # the allow-list reached the CLI
        assert sent["filesystem"]["allowWrite"] == run["sandbox"]["write_paths"][1:]
        assert call["is_sandbox"] is None  # acceptEdits: no claim needed, none made

        answered = d.ctl("answer", "--answer", "storage=json", cwd=root)  # the run goes on; then one run unconfined
        assert answered.returncode == 0
        wait_until(lambda: d.rpc("runs.list", {"project": str(root)})["runs"][-1]["status"] not in ("starting", "running"),
                   timeout=60, what="the answered run to end")  # fmt: skip
        started = json.loads(d.ctl("run", str(root), "verify", "--no-sandbox", "--json").stdout)
        assert started["sandbox"]["enabled"] is False and "--settings" not in started["argv"]

        schema = json.dumps(d.rpc("rpc.discover"))
        assert '"sandbox_denials"' in schema and '"edit_tools_confined"' in schema and '"limits_enforced"' in schema
