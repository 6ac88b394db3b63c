"""Loop detection with the real Claude Code CLI: a scripted model asks for the very same Bash call turn after
turn (what a session stuck on a failing command does); the runner, reading the CLI's real stream-json, stops
it as ``looping`` after 8 identical calls, long before the script runs out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specflowd.runner import process
from specflowd.runner.manager import RunManager
from specflowd.runner.records import RunnerSettings, RunSpec
from specflowd.runner.rundir import RunDir
from specflowd.vocabulary import RunStatus
from tests.e2e.conftest import cli_env
from tests.e2e.messages_api import ScriptedMessagesAPI, bash, structured_output, tools
from tests.runner.conftest import supervising

pytestmark = [pytest.mark.real_cli, pytest.mark.anyio]

COMMAND = "echo 'FAIL: 1 test failing'; exit 1"
SCRIPTED_CALLS = 40


async def test_the_real_cli_repeating_one_bash_call_is_stopped_as_looping(
    claude_cli: Path, project: Path, scripted_api: ScriptedMessagesAPI, cli_home: Path
) -> None:
    scripted_api.extend([tools(bash(COMMAND, "Run the tests")) for _ in range(SCRIPTED_CALLS)])
    scripted_api.extend([tools(structured_output(status="completed", message="unreachable"))])
    env = cli_env(scripted_api.base_url, cli_home)
    manager = RunManager(emit=lambda project, payload: None, settings=RunnerSettings(claude=str(claude_cli)))
    spec = RunSpec(
        project_root=project,
        prompt="Make the tests pass.",
        step="implement",
        budget_usd=5.0,
        extra_env={k: v for k, v in env.items() if k != "PATH"},  # HOME, the API's URL and key
    )
    async with supervising(manager):
        record = await manager.wait_final((await manager.start(spec)).run_id)
    stderr = RunDir(project, record.run_id).stderr.read_text(errors="replace")
    assert record.status == RunStatus.LOOPING, (record, stderr)
    loop = record.loop
    assert loop is not None and loop.repeats == 8 and [c.tool for c in loop.cycle] == ["Bash"]
    assert json.loads(loop.cycle[0].input) == {"command": COMMAND, "description": "Run the tests"}
    identity = RunDir(project, record.run_id).load_identity()
    # no live member left: the sandbox's helpers (bubblewrap, socat) outlive the CLI by an instant and are
    # reparented to PID 1, which in a container that is no init may never reap them — a zombie is not alive
    assert identity is not None and not process.group_alive(identity.pgid)
    turns = [r for r in scripted_api.requests if r.main_loop]
    assert 8 <= len(turns) < SCRIPTED_CALLS and scripted_api.exhausted_hits == 0  # stopped mid-way
    print(f"stopped after {record.tool_calls} calls, {len(turns)} model turns, ${record.cost_usd:.4f}")
