"""Claude Code's own sandbox, as specflowd turns it on for every run, probed with the real CLI.

The command line and the environment are the runner's own (``build_argv`` with the run's ``RunSandbox``,
``child_env`` with the run's temp dir); the scripted model asks for the probes and the CLI really runs them.
What each probe got back is asserted here and listed in docs/sandbox.md#what-the-real-cli-answered.
Needs bubblewrap and socat (``.ci/run`` installs them); without them this module skips and says why.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from specflowd.runner.argv import build_argv, child_env
from specflowd.runner.denials import SandboxDenials
from specflowd.runner.sandbox import ProjectSandbox, RunSandbox, run_sandbox, run_temp_dir
from specflowd.runner.sandboxcheck import make_temp_dir, sandbox_problem
from specflowd.vocabulary import PermissionMode
from tests.e2e.conftest import CLI_TIMEOUT_S, CliRun, cli_env
from tests.e2e.messages_api import ScriptedMessagesAPI, bash, structured_output, tools, write
from tests.support import Daemon, sandbox_env

pytestmark = [
    pytest.mark.real_cli,
    pytest.mark.skipif(
        sandbox_problem(os.environ) is not None, reason=f"no sandbox on this machine: {sandbox_problem(os.environ)}"
    ),
]

REPO = Path(__file__).resolve().parents[2]
FAKE_SPECFLOW = REPO / "tests" / "fake_specflow" / "specflow"
ALLOWED = "example.org"  # in the allow-list; no host is reachable from the test machine, so only the proxy answers
NOT_ALLOWED = "example.com"


def _sandbox(project: Path, temp_dir: Path, mode: PermissionMode = PermissionMode.ACCEPT_EDITS) -> RunSandbox:
    return run_sandbox(
        enabled=True,
        project_root=project,
        temp_dir=temp_dir,
        uid=os.geteuid(),
        permission_mode=mode,
        settings=ProjectSandbox(allowed_domains=[ALLOWED]),
        limits_enforced=False,
    )


cleanups: list[Path] = []


@pytest.fixture(autouse=True)
def _remove_temp_dirs() -> Iterator[None]:
    yield
    while cleanups:
        shutil.rmtree(cleanups.pop(), ignore_errors=True)


def _run(
    claude_cli: Path, api: ScriptedMessagesAPI, home: Path, project: Path, sandbox: RunSandbox, *, path: str | None = None
) -> CliRun:
    """One run as the runner starts it: its argv, its environment (no IS_SANDBOX from outside, its TMPDIR)."""
    session = str(uuid.uuid4())
    # where the runner puts it: pytest's own tmp_path is too long for the socket paths the CLI makes in it
    temp_dir = run_temp_dir(Path(tempfile.gettempdir()), os.geteuid(), session)
    make_temp_dir(temp_dir)
    cleanups.append(temp_dir)
    sandbox = sandbox.model_copy(update={"write_paths": [str(project), str(temp_dir / f"claude-{os.geteuid()}")]})
    argv = build_argv(str(claude_cli), session_id=session, budget_usd=1, sandbox=sandbox, permission_mode=_mode(sandbox))
    base = cli_env(api.base_url, home)
    if path is not None:
        base["PATH"] = path
    env = child_env(
        base, {}, permission_mode=_mode(sandbox), is_root=os.geteuid() == 0, sandboxed=True, temp_dir=temp_dir
    )
    proc = subprocess.run(
        argv, input="Probe the sandbox.", capture_output=True, text=True, cwd=project, env=env,
        timeout=CLI_TIMEOUT_S, check=False,
    )  # fmt: skip
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return CliRun(proc.returncode, proc.stdout, proc.stderr, lines)


def _mode(sandbox: RunSandbox) -> PermissionMode:
    return PermissionMode.ACCEPT_EDITS if sandbox.edit_tools_confined else PermissionMode.BYPASS


def _results(run: CliRun) -> list[dict[str, Any]]:
    """Every tool_result, in call order: {"error": bool, "text": str}."""
    out = []
    for line in run.lines:
        if line.get("type") != "user":
            continue
        for block in line["message"]["content"]:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                content = block.get("content")
                text = content if isinstance(content, str) else json.dumps(content)
                out.append({"error": bool(block.get("is_error")), "text": text})
    return out


def _python(code: str) -> str:
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def _fetch(host: str) -> str:
    """Through the sandbox's proxy (HTTPS_PROXY is set inside): prints what the proxy answered."""
    code = (
        "import urllib.request\n"
        "try:\n"
        f"    urllib.request.urlopen('https://{host}/', timeout=10); print('FETCH {host} ok')\n"
        "except Exception as exc:\n"
        f"    print('FETCH {host}', exc); raise SystemExit(1)\n"
    )
    return _python(code)


@pytest.fixture
def git_project(project: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".specflow").mkdir()  # a SpecFlow project, for the SpecFlow CLI
    return project


def test_the_sandbox_confines_bash_and_the_write_tool(
    claude_cli: Path, git_project: Path, cli_home: Path, tmp_path: Path
) -> None:
    project = git_project
    outside = cli_home / "outside-bash"
    written_outside = cli_home / "outside-write"
    git = "git -c user.email=agent@example.org -c user.name=agent"
    probes: Sequence[str] = [
        f"touch {outside}",  # 0: outside the project
        "touch inside-bash && echo made",  # 1: inside
        "touch $TMPDIR/scratch && echo tmp-ok $TMPDIR",  # 2: the run's temp dir
        f"{git} add inside-bash && {git} commit -qm inside && echo committed",  # 3: git inside
        f"{shlex.quote(str(FAKE_SPECFLOW))} mark T001",  # 4: the skills' own CLI inside
        "git add -A",  # 5: the placeholder dotfiles the sandbox shows (why the prompt says: stage by name)
        _fetch(ALLOWED),  # 6
        _fetch(NOT_ALLOWED),  # 7
    ]
    script = [tools(bash(cmd)) for cmd in probes]
    script += [
        tools(write(str(written_outside), "x\n")),  # 8: the Write tool outside the project
        tools(write(str(project / "inside-write"), "x\n")),  # 9: and inside
        tools(structured_output(status="completed", message="probed")),
    ]
    with ScriptedMessagesAPI(script) as api:
        run = _run(claude_cli, api, cli_home, project, _sandbox(project, tmp_path))
    assert run.returncode == 0, run.stderr
    results = _results(run)
    assert len(results) == len(script), results
    texts = [r["text"] for r in results]

    assert results[0]["error"] and "Read-only file system" in texts[0] and not outside.exists()
    assert not results[1]["error"] and (project / "inside-bash").exists()
    assert not results[2]["error"] and "tmp-ok" in texts[2] and f"claude-{os.geteuid()}" in texts[2]
    assert not results[3]["error"] and "committed" in texts[3], texts[3]
    log = subprocess.run(["git", "log", "--format=%s", "--name-only"], cwd=project, capture_output=True, text=True)
    assert log.stdout.split() == ["inside", "inside-bash"]
    assert not results[4]["error"] and "Marked T001" in texts[4], texts[4]
    assert "- [x] T001 " in (project / "specs" / "0001-x" / "tasks.md").read_text()
    assert results[5]["error"] and ".bash_profile" in texts[5]  # a placeholder, not a file of the project
    # The allow-list reached the CLI's proxy: it tried the allowed host (no upstream here: 502) and refused
    # the other one outright (403).
    assert "502" in texts[6], texts[6]
    assert "403" in texts[7], texts[7]
    assert results[8]["error"] and "haven't granted" in texts[8] and not written_outside.exists()
    assert not results[9]["error"] and (project / "inside-write").exists()
    denied = run.result["permission_denials"]
    assert [d["tool_input"]["file_path"] for d in denied] == [str(written_outside)]
    assert sorted(os.listdir(project)) == [".git", ".specflow", "inside-bash", "inside-write", "specs"]  # no placeholders left
    # the runner reads the refusals from the real stream, as it does for a run's outcome and its heal
    denials = SandboxDenials()
    for line in run.lines:
        denials.feed(line)
    assert len(denials.items) == 3, denials.items  # the allowed host's 502 is no refusal of the sandbox
    assert denials.items[0] == f"writing {outside} was refused by the sandbox (Bash: touch {outside})"
    assert denials.items[1].startswith("a network connection was refused by the sandbox: its host is not allowed")
    assert denials.items[2] == f"writing {written_outside} was refused: outside the project (Write tool)"


def test_bypass_permissions_keeps_bash_sandboxed_but_not_the_write_tool(
    claude_cli: Path, project: Path, cli_home: Path, tmp_path: Path
) -> None:
    """Why the preview warns when bypassPermissions is set: the Bash sandbox holds, the Write tool does not."""
    outside, written_outside = cli_home / "outside-bash", cli_home / "outside-write"
    script = [
        tools(bash(f"touch {outside}")),
        tools(write(str(written_outside), "x\n")),
        tools(structured_output(status="completed", message="probed")),
    ]
    sandbox = _sandbox(project, tmp_path, PermissionMode.BYPASS)
    with ScriptedMessagesAPI(script) as api:
        run = _run(claude_cli, api, cli_home, project, sandbox)
    assert run.returncode == 0, run.stderr
    assert run.init["permissionMode"] == "bypassPermissions"  # as root: accepted through IS_SANDBOX=1
    results = _results(run)
    assert results[0]["error"] and "Read-only file system" in results[0]["text"] and not outside.exists()
    assert not results[1]["error"] and written_outside.exists()
    assert not sandbox.edit_tools_confined and "not confined" in (sandbox.note or "")


def _path_without_bwrap(tmp_path: Path) -> str:
    """A PATH with every program of this one except bubblewrap."""
    shadow = tmp_path / "bin-without-bwrap"
    shadow.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not Path(directory).is_dir():
            continue
        for entry in os.scandir(directory):
            target = shadow / entry.name
            if entry.name != "bwrap" and not target.exists() and not target.is_symlink():
                target.symlink_to(entry.path)
    return str(shadow)


def test_without_bubblewrap_nothing_starts(claude_cli: Path, project: Path, cli_home: Path, tmp_path: Path) -> None:
    path = _path_without_bwrap(tmp_path)
    # The CLI itself (failIfUnavailable) refuses to run at all, before any tool call:
    with ScriptedMessagesAPI([tools(bash("touch inside"))]) as api:
        run = _run(claude_cli, api, cli_home, project, _sandbox(project, tmp_path), path=path)
        assert [r for r in api.requests if r.main_loop] == []
    assert run.returncode != 0
    assert "sandbox required but unavailable" in run.stderr and "bubblewrap" in run.stderr, run.stderr
    assert not (project / "inside").exists()
    # and specflowd refuses the start before it gets that far, saying what to install:
    env = sandbox_env(tmp_path / "daemon")
    env.update(PATH=path, SPECFLOW_CLAUDE=str(claude_cli))
    d = Daemon(tmp_path / "daemon", env).start()
    try:
        d.rpc("projects.register", {"path": str(project)})
        preview = d.rpc("orchestrate.preview", {"project": str(project)})
        assert preview["agent"]["ok"] is False and preview["agent"]["sandbox_ok"] is False
        error = d.raw("orchestrate.start", {"project": str(project)})["error"]
        assert error["data"]["kind"] == "agent_unavailable"
        assert "apt-get install bubblewrap socat" in error["message"], error
        assert d.rpc("orchestrate.list", {"project": str(project)})["orchestrations"] == []
        run_error = d.raw("runs.start", {"project": str(project), "skill": "verify"})["error"]
        assert run_error["data"]["kind"] == "agent_unavailable"
        # asked for explicitly, an unconfined run may start (as root, in acceptEdits: no IS_SANDBOX needed)
        preview = d.rpc("orchestrate.preview", {"project": str(project), "config": {"sandbox": False}})
        assert preview["agent"]["ok"] is True and preview["sandbox"]["enabled"] is False
    finally:
        d.stop()
