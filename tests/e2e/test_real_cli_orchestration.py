"""A whole orchestration through the real daemon, with the real Claude Code CLI as the agent.

The daemon runs with ``SPECFLOW_CLAUDE`` set to the pinned CLI, which talks to a ScriptedMessagesAPI: every
agent run really executes its Bash tool call in the project, so the engine confirms each step from the files
exactly as it would with a real model — the batch from the checked boxes in tasks.md, verify from the state
file's step, merge from the closed phase. Nothing is simulated on the daemon's side.

What the pinned CLI does with specflowd's prompts (measured, see the assertions): a prompt starting with
``/flow.implement`` is expanded from ``$HOME/.claude/commands/flow.implement.md`` in ``-p`` mode; the text after
the command name becomes the command's arguments (``$ARGUMENTS`` in the body, or an ``ARGUMENTS: …`` suffix
when the body has no placeholder). An unknown ``/flow.*`` command is *not* an error: the CLI sends the prompt
verbatim, so a missing skill file only shows in what the model receives.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from specflowd.domain.prompts import SKILL_COMMANDS
from tests.e2e.messages_api import RecordedRequest, ScriptedMessagesAPI, Turn, bash, structured_output, tools
from tests.support import Daemon, sandbox_env, wait_until

pytestmark = pytest.mark.real_cli

FEATURE = "0001-greeting"
PHASE_NUMBER = "0001"
SECTION = "Phase 1: Setup"
TASKS_MD = f"""# Tasks: Greeting

## {SECTION}

- [ ] T001 Create the greeting module
- [ ] T002 Add the greeting test
"""
STATE_FILE = Path(".specflow") / "orchestration-state.json"
ORCHESTRATION_TIMEOUT_S = 50.0


def _command_body(name: str) -> str:
    """A short stand-in for a SpecFlow skill, spec-kit style: frontmatter, a marker, the user's arguments."""
    return f"---\ndescription: {name} (test stand-in)\n---\nSKILL BODY OF {name}.\n\nUser input:\n\n$ARGUMENTS\n"


def _write_commands(home: Path) -> None:
    commands = home / ".claude" / "commands"
    commands.mkdir(parents=True)
    for command in SKILL_COMMANDS.values():
        name = command.lstrip("/")
        (commands / f"{name}.md").write_text(_command_body(name))


def _create_project(root: Path) -> Path:
    """ROADMAP, spec, plan (so design is skipped), one section of two tasks, a state file on phase 0001."""
    feature = root / "specs" / FEATURE
    feature.mkdir(parents=True)
    (root / "ROADMAP.md").write_text(
        "# Roadmap\n\n| Phase | Name | Status | Verification Gate |\n|-------|------|--------|-------------------|\n"
        f"| {PHASE_NUMBER} | Greeting | 🔄 In Progress | Tests pass |\n"
    )
    (feature / "spec.md").write_text("# Spec: Greeting\n\nSay hello.\n")
    (feature / "plan.md").write_text("# Plan: Greeting\n\nOne module, one test.\n")
    (feature / "tasks.md").write_text(TASKS_MD)
    state = {
        "schema_version": "3.0",
        "orchestration": {
            "phase": {
                "id": None,
                "number": PHASE_NUMBER,
                "name": "Greeting",
                "branch": FEATURE,
                "status": "in_progress",
                "hasUserGate": False,
                "userGateStatus": None,
            },
            "step": {"current": "implement", "index": 2, "status": "in_progress"},
        },
        "actions": {"history": []},
    }
    (root / STATE_FILE).parent.mkdir(parents=True)
    (root / STATE_FILE).write_text(json.dumps(state, indent=2))
    return root


def _python(code: str) -> str:
    """A Bash command running ``code`` with this interpreter (no dependency on ``python3`` being on PATH)."""
    return f"{shlex.quote(sys.executable)} - <<'PY'\n{code.strip()}\nPY"


# What the skills do through the `specflow` CLI, done here by the model's Bash tool call.
VERIFY_MARKS_STATE = _python(
    f"""
import json, pathlib
path = pathlib.Path({str(STATE_FILE)!r})
doc = json.loads(path.read_text())
doc["orchestration"]["step"] = {{"current": "verify", "index": 3, "status": "complete"}}
path.write_text(json.dumps(doc, indent=2))
"""
)
# As `specflow phase close` leaves the file (docs/specflow-cli.md): phase reset, step back to design.
MERGE_CLOSES_PHASE = _python(
    f"""
import json, pathlib
path = pathlib.Path({str(STATE_FILE)!r})
doc = json.loads(path.read_text())
orch = doc["orchestration"]
orch["phase"].update(id=None, number=None, name=None, branch=None, status="not_started")
orch["step"] = {{"current": "design", "index": 0, "status": "not_started"}}
doc.setdefault("actions", {{}}).setdefault("history", []).append(
    {{"type": "phase_completed", "phase_number": {PHASE_NUMBER!r}, "branch": {FEATURE!r}}}
)
path.write_text(json.dumps(doc, indent=2))
"""
)
CHECK_BOTH_TASKS = (
    f"sed -i -e 's/^- \\[ \\] T001 /- [x] T001 /' -e 's/^- \\[ \\] T002 /- [x] T002 /' specs/{FEATURE}/tasks.md"
)

SCRIPT: list[Turn] = [
    # implement: the one batch ("Phase 1: Setup")
    tools(bash(CHECK_BOTH_TASKS, "check off T001 and T002"), say="Implementing T001 and T002."),
    tools(structured_output(status="completed", message="T001 and T002 done")),
    # verify
    tools(bash(VERIFY_MARKS_STATE, "report verify complete"), say="Verifying the phase."),
    tools(structured_output(status="completed", message="phase verified")),
    # merge
    tools(bash(MERGE_CLOSES_PHASE, "close the phase"), say="Merging and closing the phase."),
    tools(structured_output(status="completed", message="phase merged and closed")),
]


def _daemon_env(tmp_path: Path, claude_cli: Path, base_url: str) -> dict[str, str]:
    env = sandbox_env(tmp_path)  # strips SPECFLOW*/ANTHROPIC_*; HOME is tmp_path/home
    # Nothing of a developer's own Claude Code session may steer the child (e.g. CLAUDE_CONFIG_DIR would
    # move ~/.claude and with it the commands).
    env = {k: v for k, v in env.items() if not k.startswith(("CLAUDE", "CLAUDECODE"))}
    env.update(
        SPECFLOW_CLAUDE=str(claude_cli),
        ANTHROPIC_BASE_URL=base_url,
        ANTHROPIC_API_KEY="test-key",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
        # No IS_SANDBOX: as root, specflowd's child_env adds it for an explicit bypassPermissions, and only
        # because the run is sandboxed (docs/sandbox.md).
    )
    return env


def _session_of(request: RecordedRequest) -> str | None:
    """The CLI names its session in ``metadata.user_id`` (a JSON string)."""
    raw = ((request.body or {}).get("metadata") or {}).get("user_id")
    try:
        return json.loads(raw).get("session_id") if isinstance(raw, str) else None
    except ValueError:
        return None


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _first_user_text(request: RecordedRequest) -> str:
    messages = (request.body or {}).get("messages") or []
    first = messages[0]["content"]
    return first if isinstance(first, str) else "\n".join(b.get("text", "") for b in first if isinstance(b, Mapping))


def _diagnosis(d: Daemon, root: Path, record: Mapping[str, Any]) -> str:
    runs = root / ".specflow" / "workflows"
    outputs = {p.parent.name: p.read_text()[-3000:] for p in runs.glob("*/output.jsonl")}
    stderr = {p.parent.name: p.read_text()[-1500:] for p in runs.glob("*/stderr.log") if p.stat().st_size}
    return (
        f"status {record.get('status')!r}, attention: {json.dumps(record.get('attention'))}\n\n"
        f"record: {json.dumps(record, indent=1)[:4000]}\n\ndaemon log:\n{d.log()[-4000:]}\n\n"
        f"run outputs: {json.dumps(outputs, indent=1)}\n\nrun stderr: {json.dumps(stderr, indent=1)}"
    )


@pytest.mark.parametrize("mode", [None, "bypassPermissions"], ids=["default", "bypass"])
def test_whole_orchestration_with_the_real_cli(tmp_path: Path, claude_cli: Path, mode: str | None) -> None:
    """The whole phase in Claude Code's sandbox (the default): acceptEdits, or bypassPermissions when asked."""
    root = _create_project(tmp_path / "project")
    with ScriptedMessagesAPI(SCRIPT) as api:
        env = _daemon_env(tmp_path, claude_cli, api.base_url)
        _write_commands(Path(env["HOME"]))
        d = Daemon(tmp_path, env).start()
        try:
            d.rpc("projects.register", {"path": str(root)})
            config = {
                "skip_analyze": True,
                "auto_merge": True,
                "budget": {"per_batch": 2.0, "total": 10.0, "heal": 1.0},
            }
            if mode:
                config["permission_mode"] = mode
            orch_id = d.rpc("orchestrate.start", {"project": str(root), "config": config})["record"]["id"]

            seen: dict[str, Any] = {}

            def finished() -> bool:
                seen.update(d.rpc("orchestrate.status", {"id": orch_id})["record"])
                return seen["status"] in ("completed", "needs_attention", "failed", "cancelled")

            try:
                wait_until(finished, timeout=ORCHESTRATION_TIMEOUT_S, interval=0.2, what="orchestration end")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{_diagnosis(d, root, seen)}") from None
            record = dict(seen)
            runs: list[dict[str, Any]] = d.rpc("runs.list", {"project": str(root)})["runs"]
        finally:
            d.stop()

        why = _diagnosis(d, root, record)
        assert record["status"] == "completed", why

        # implement: the one section became one batch, confirmed from the checked boxes.
        tasks = (root / "specs" / FEATURE / "tasks.md").read_text()
        assert "- [x] T001 " in tasks and "- [x] T002 " in tasks, tasks
        assert [(b["name"], b["task_ids"], b["status"]) for b in record["batches"]] == [
            (SECTION, ["T001", "T002"], "completed")
        ], why
        # merge: the state file was closed the way `phase close` leaves it.
        state = json.loads((root / STATE_FILE).read_text())["orchestration"]
        assert state["phase"]["status"] == "not_started" and state["phase"]["number"] is None

        # One run per step, each completed, in order; design and analyze were skipped without a run.
        assert [(r["step"], r["status"]) for r in runs] == [
            ("implement", "completed"),
            ("verify", "completed"),
            ("merge", "completed"),
        ], why
        assert [r["step"] for r in record["runs"].values()] == ["implement", "verify", "merge"]
        run_ids = [r["run_id"] for r in runs]

        # The run id is the CLI's session id: passed as --session-id, echoed by the CLI's init and result.
        for run in runs:
            run_id = run["run_id"]
            argv = run["argv"]
            assert argv[0] == str(claude_cli)
            assert argv[argv.index("--session-id") + 1] == run_id
            lines = _lines(root / ".specflow" / "workflows" / run_id / "output.jsonl")
            init = next(ln for ln in lines if ln.get("type") == "system" and ln.get("subtype") == "init")
            result = lines[-1]
            assert init["session_id"] == run_id
            # the CLI took our mode; bypassPermissions as root only because the run is sandboxed (IS_SANDBOX)
            assert init["permissionMode"] == (mode or "acceptEdits")
            settings = json.loads(argv[argv.index("--settings") + 1])["sandbox"]
            assert settings["enabled"] and settings["failIfUnavailable"] and not settings["allowUnsandboxedCommands"]
            assert argv[argv.index("--allowedTools") + 1] == "Bash"
            assert run["sandbox"]["enabled"] and run["sandbox"]["write_paths"][0] == str(root.resolve())
            assert run["sandbox"]["edit_tools_confined"] is (mode is None)
            assert result["type"] == "result" and result["subtype"] == "success", lines[-1]
            assert result["session_id"] == run_id
            assert result["structured_output"]["status"] == "completed"
            assert run["cost_usd"] == pytest.approx(result["total_cost_usd"])
            assert run["exit_code"] == 0

        # The daemon's environment reached the CLI: every model call came here, from the runs' own sessions,
        # in order, and each step's first call carries the expanded skill plus specflowd's constraints.
        main_loop = [r for r in api.requests if r.main_loop]
        sessions = [_session_of(r) for r in main_loop]
        assert sessions == [run_ids[0]] * 2 + [run_ids[1]] * 2 + [run_ids[2]] * 2
        implement, verify, merge = (_first_user_text(main_loop[sessions.index(run_id)]) for run_id in run_ids)
        assert "<command-name>/flow.implement</command-name>" in implement
        assert "SKILL BODY OF flow.implement." in implement
        assert f'Execute only the "{SECTION}" section: T001, T002.' in implement
        assert "`specflow mark <id>`" in implement
        assert "SKILL BODY OF flow.verify." in verify and "Verify the current phase, do not merge it." in verify
        assert "SKILL BODY OF flow.merge." in merge and "Merge and close the current phase." in merge
        # the headless rule travels in the system prompt (--append-system-prompt), not in $ARGUMENTS
        for request in (main_loop[sessions.index(run_id)] for run_id in run_ids):
            system = (request.body or {}).get("system") or []
            texts = [str(block.get("text", "")) for block in system if isinstance(block, Mapping)]
            assert any("You run headless" in text for text in texts)
            assert any("Your shell commands run in a sandbox" in text for text in texts)
        assert "You run headless" not in merge
        assert api.remaining_turns == 0
        assert api.exhausted_hits == 0

        # Spend comes from the CLI's own total_cost_usd, summed over the ledger.
        assert record["totals"]["spent_usd"] > 0
        assert record["totals"]["spent_usd"] == pytest.approx(sum(r["cost_usd"] for r in runs))
