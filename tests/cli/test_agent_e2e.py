"""A missing or broken agent is caught before anything starts, and one that disappears mid-phase stops the
orchestration at once with the true reason (real CLI, real daemon)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli.conftest import demo_project
from tests.engine.common import FAKE, SIM, decision_log, status
from tests.support import running_daemon, set_sim_pace, wait_until

SKILLS = ("flow.analyze", "flow.implement", "flow.verify", "flow.merge")


def test_preview_shows_the_agent_models_mode_and_missing_skills(tmp_path: Path) -> None:
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=FAKE) as d:
        root = demo_project(d)
        shown = d.ctl("orchestrate", str(root), "--dry-run", "--model", "implement=claude-sonnet-4-6").stdout
        assert f"agent: {FAKE}  (from SPECFLOW_CLAUDE)\n  version 2.1.197 (Claude Code) · permission mode acceptEdits" in shown
        assert f"sandbox: Claude Code's, on every run\n  writes: {root}, " in shown
        assert "  network: none ([sandbox] allowed_domains)\n  limits: not enforced\n" in shown
        assert "  models: implement=claude-sonnet-4-6\n" in shown
        assert "! skills not found: /flow.analyze, /flow.implement, /flow.verify, /flow.merge" in shown
        home_commands = Path(d.env["HOME"]) / ".claude" / "commands"
        home_commands.mkdir(parents=True)
        for name in SKILLS[:3]:
            (home_commands / f"{name}.md").write_text("the skill\n")
        assert "! skills not found: /flow.merge" in d.ctl("orchestrate", str(root), "--dry-run").stdout
        (root / ".claude" / "commands").mkdir(parents=True)  # the project's own commands count too
        (root / ".claude" / "commands" / "flow.merge.md").write_text("the skill\n")
        assert "skills: /flow.* found" in d.ctl("orchestrate", str(root), "--dry-run").stdout
        preview = d.rpc("orchestrate.preview", {"project": str(root)})
        assert preview["agent"]["ok"] and preview["agent"]["skills_missing"] == []


def test_orchestrate_refuses_without_a_working_agent(tmp_path: Path) -> None:
    broken = tmp_path / "broken-claude"
    broken.write_text("#!/bin/sh\necho 'claude: cannot load its runtime' >&2\nexit 3\n")
    broken.chmod(0o755)
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=str(tmp_path / "no-such-claude")) as d:
        root = demo_project(d)
        refused = d.ctl("orchestrate", str(root), "--yes", check=False)
        assert refused.returncode == 1
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        line = refused.stderr
        assert "no-such-claude" in line and "[agent] claude" in line and "SPECFLOW_CLAUDE" in line and "PATH" in line
        assert "✗ 'no-such-claude'" not in refused.stdout and "is not found" in refused.stdout  # the preview said it
        failed = d.ctl("orchestrate", str(root), "--yes", "--agent", str(broken), check=False)
        assert failed.returncode == 1 and "--version` failed: claude: cannot load its runtime" in failed.stderr
        assert d.rpc("orchestrate.list", {"include_finished": True})["orchestrations"] == []  # nothing started
        with_rpc = d.raw("orchestrate.start", {"project": str(root)})
        assert with_rpc["error"]["data"]["kind"] == "agent_unavailable"  # editors get the same refusal


def test_an_agent_that_disappears_mid_phase_stops_it_at_once(tmp_path: Path) -> None:
    agent = tmp_path / "bin" / "claude"
    agent.parent.mkdir()
    shutil.copy(SIM, agent)
    with running_daemon(tmp_path, SPECFLOW_SIM_DELAY="0.3") as d:
        root = demo_project(d)
        config = {"skip_analyze": True, "auto_merge": True, "agent": str(agent)}
        orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": config})["record"]["id"]
        def batch_one_working() -> bool:  # past its interpreter's start-up: the script file has been read
            runs = d.rpc("runs.list", {"project": str(root)})["runs"]
            return bool(runs) and runs[0]["status"] == "running" and runs[0]["tool_calls"] >= 1

        wait_until(batch_one_working, timeout=60, what="batch 1 working")
        agent.unlink()  # uninstalled while batch 1 works (its process goes on)
        stopped = wait_until(lambda: (r := status(d, orch_id))["status"] == "needs_attention" and r, timeout=60, what="stop")
        attention = stopped["attention"]
        assert attention["kind"] == "agent_unavailable" and attention["options"] == ["retry", "abort"]
        assert str(agent) in attention["reason"] and "not found" in attention["reason"]
        actions = [e["action"] for e in decision_log(root, orch_id)]
        assert actions[-2:] == ["spawn_batch", "needs_attention"] and "heal" not in actions  # at once, no heal
        assert "stopped before exec" not in d.ctl("status", str(root)).stdout
        shutil.copy(SIM, agent)  # back again: retry picks up where it stopped
        set_sim_pace(root, 0)  # the rest of the phase needs no time to act in
        d.ctl("recover", "retry", str(root))
        wait_until(lambda: status(d, orch_id)["status"] in ("completed", "needs_attention"), timeout=120, what="done")
        assert status(d, orch_id)["status"] == "completed"


def test_a_failing_agent_is_named_by_where_its_value_came_from(tmp_path: Path) -> None:
    with running_daemon(tmp_path, SPECFLOW_CLAUDE=SIM) as d:  # a working agent the failing values override
        root = demo_project(d)
        given = d.ctl("orchestrate", str(root), "--yes", "--agent", "/nonexistent", check=False)
        assert given.returncode == 1
        assert given.stderr == (
            "specflowctl: no working agent (--agent): '/nonexistent' is not found or not executable. Check the path "
            "given to --agent, or leave --agent out to use [agent] claude, SPECFLOW_CLAUDE or claude on PATH "
            "[agent_unavailable]\n"
        )
        d.ctl("config", "set", "agent.claude", "/nowhere/claude")
        configured = d.ctl("orchestrate", str(root), "--yes", check=False)
        assert configured.stderr == (
            "specflowctl: no working agent ([agent] claude): '/nowhere/claude' is not found or not executable. Fix it "
            "(`specflowctl config set agent.claude PATH`) or remove it (`specflowctl config unset agent.claude`) to "
            "use SPECFLOW_CLAUDE or claude on PATH [agent_unavailable]\n"
        )
        refused = d.raw("orchestrate.start", {"project": str(root)})["error"]["message"]  # editors: the same source
        assert refused.startswith("no working agent ([agent] claude): ") and "SPECFLOW_CLAUDE in" not in refused
