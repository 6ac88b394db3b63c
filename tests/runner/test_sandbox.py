"""Claude Code's sandbox on every run: the settings JSON, the flags, what a run's record says (pure parts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specflowd.runner.argv import build_argv
from specflowd.runner.sandbox import (
    SANDBOX_PROMPT_NOTE,
    ProjectSandbox,
    RunSandbox,
    SandboxLimits,
    merge_settings,
    mode_problem,
    run_sandbox,
    run_temp_dir,
    scope_argv,
)
from specflowd.vocabulary import PermissionMode

SID = "11111111-2222-4333-8444-555555555555"
ROOT = Path("/home/u/app")
TEMP = run_temp_dir(Path("/tmp"), 1000, SID)
SHORT = SID.replace("-", "")[:16]


def _value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def _sandbox(**kw: object) -> RunSandbox:
    args: dict[str, object] = {
        "enabled": True,
        "project_root": ROOT,
        "temp_dir": TEMP,
        "uid": 1000,
        "permission_mode": PermissionMode.ACCEPT_EDITS,
        "settings": ProjectSandbox(allowed_domains=["pypi.org", "github.com", "pypi.org"]),
        "limits_enforced": False,
    }
    args.update(kw)
    return run_sandbox(**args)  # type: ignore[arg-type]


def test_a_sandboxed_run_writes_in_the_project_and_its_temp_dir_only() -> None:
    sandbox = _sandbox()
    assert sandbox.enabled and sandbox.edit_tools_confined
    assert sandbox.write_paths == [str(ROOT), f"/tmp/specflowd-1000/{SHORT}/claude-1000"]
    assert sandbox.allowed_domains == ["pypi.org", "github.com"]  # repeats dropped
    assert sandbox.note == "resource limits are not enforced (no systemd user manager)"
    assert "sandboxed: writes in /home/u/app, /tmp/specflowd-1000/" in sandbox.describe()


def test_the_settings_turn_the_sandbox_on_with_every_safety_key() -> None:
    argv = build_argv("claude", session_id=SID, budget_usd=1, sandbox=_sandbox())
    assert _value(argv, "--permission-mode") == "acceptEdits"
    assert _value(argv, "--allowedTools") == "Bash"
    settings = json.loads(_value(argv, "--settings"))["sandbox"]
    assert settings["enabled"] is True
    assert settings["failIfUnavailable"] is True
    assert settings["autoAllowBashIfSandboxed"] is True
    assert settings["allowUnsandboxedCommands"] is False
    assert settings["filesystem"] == {"allowWrite": [f"/tmp/specflowd-1000/{SHORT}/claude-1000"]}
    assert settings["network"] == {"allowedDomains": ["pypi.org", "github.com"]}
    assert SANDBOX_PROMPT_NOTE in _value(argv, "--append-system-prompt")


def test_the_users_settings_are_merged_but_cannot_turn_the_sandbox_off() -> None:
    user = {
        "model": "x",
        "sandbox": {"enabled": False, "allowUnsandboxedCommands": True, "network": {"allowedDomains": ["a.io"]}},
    }
    argv = build_argv("claude", session_id=SID, budget_usd=1, sandbox=_sandbox(), user_settings=user)
    merged = json.loads(_value(argv, "--settings"))
    assert merged["model"] == "x"
    assert merged["sandbox"]["enabled"] is True and merged["sandbox"]["allowUnsandboxedCommands"] is False
    assert merged["sandbox"]["network"]["allowedDomains"] == ["a.io", "pypi.org", "github.com"]
    assert merge_settings({"a": [1, 2]}, {"a": [2, 3]}) == {"a": [1, 2, 3]}


def test_unsandboxed_runs_get_no_sandbox_settings_and_say_so() -> None:
    sandbox = _sandbox(enabled=False, temp_dir=None)
    argv = build_argv("claude", session_id=SID, budget_usd=1, sandbox=sandbox)
    assert "--settings" not in argv
    assert SANDBOX_PROMPT_NOTE not in " ".join(argv)
    assert sandbox.write_paths == [] and sandbox.describe().startswith("not sandboxed")


def test_bypass_permissions_is_named_as_not_confining_the_edit_tools() -> None:
    sandbox = _sandbox(permission_mode=PermissionMode.BYPASS)
    assert sandbox.enabled and not sandbox.edit_tools_confined
    assert sandbox.note is not None and "Write/Edit tools are not confined" in sandbox.note
    assert "NOT confined" in sandbox.describe()


@pytest.mark.parametrize(
    ("enabled", "mode", "root", "refused"),
    [
        (False, PermissionMode.BYPASS, True, True),
        (True, PermissionMode.BYPASS, True, False),
        (False, PermissionMode.BYPASS, False, False),
        (False, PermissionMode.ACCEPT_EDITS, True, False),
    ],
)
def test_root_bypass_without_the_sandbox_is_refused(
    enabled: bool, mode: PermissionMode, root: bool, refused: bool
) -> None:
    assert (mode_problem(enabled, mode, root) is not None) == refused


def test_limits_go_into_a_transient_scope_that_execs_the_agent() -> None:
    limits = SandboxLimits(memory_max="50%", cpu_quota="150%", tasks_max=4096)
    sandbox = _sandbox(settings=ProjectSandbox(limits=limits), limits_enforced=True)
    assert sandbox.limits_enforced and sandbox.limits == ["MemoryMax=50%", "CPUQuota=150%", "TasksMax=4096"]
    prefix = scope_argv("/usr/bin/systemd-run", SID, limits.properties())
    assert prefix == [
        "/usr/bin/systemd-run", "--user", "--scope", "--quiet", "--collect", f"--unit=specflowd-run-{SID}",
        "-p", "MemoryMax=50%", "-p", "CPUQuota=150%", "-p", "TasksMax=4096", "--",
    ]  # fmt: skip
    argv = build_argv("/bin/claude", session_id=SID, budget_usd=1, sandbox=sandbox, prefix=prefix)
    assert argv[: len(prefix) + 2] == [*prefix, "/bin/claude", "-p"]
    assert not _sandbox(settings=ProjectSandbox(limits=limits)).limits  # no manager: nothing claimed


def test_bad_limits_and_domains_are_refused_by_the_settings_model() -> None:
    from specflowd.errors import InvalidConfig
    from specflowd.settings import validate_document

    with pytest.raises(InvalidConfig, match="memory_max"):
        validate_document({"sandbox": {"memory_max": "lots"}})
    with pytest.raises(InvalidConfig, match="allowed_domains"):
        validate_document({"sandbox": {"allowed_domains": ["https://pypi.org/simple"]}})
    good = validate_document({"sandbox": {"allowed_domains": ["*.pythonhosted.org", "pypi.org"]}})
    assert good.sandbox.allowed_domains == ["*.pythonhosted.org", "pypi.org"]


def test_a_project_table_replaces_the_domains_for_that_project(tmp_path: Path) -> None:
    from specflowd.settings import validate_document

    app, other = tmp_path / "app", tmp_path / "other"
    app.mkdir()
    other.mkdir()
    settings = validate_document(
        {"sandbox": {"allowed_domains": ["pypi.org"], "projects": {str(app): {"allowed_domains": ["npmjs.org"]}}}}
    )
    assert settings.sandbox.for_project(app.resolve(), {}).allowed_domains == ["npmjs.org"]
    assert settings.sandbox.for_project(other.resolve(), {}).allowed_domains == ["pypi.org"]
    limits = settings.sandbox.for_project(app.resolve(), {}).limits
    assert limits.properties() == ["MemoryMax=50%", "TasksMax=4096"]  # the defaults; no CPU quota


def test_a_machine_without_bubblewrap_is_refused_with_the_install_hint(tmp_path: Path) -> None:
    from specflowd.errors import AgentUnavailable
    from specflowd.runner.agentcheck import check_agent, require_agent
    from specflowd.runner.sandboxcheck import sandbox_problem

    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\necho '2.1.197 (Claude Code)'\n")
    fake.chmod(0o755)
    environ = {"PATH": str(tmp_path)}  # no bwrap, no socat
    problem = sandbox_problem(environ, platform="linux")
    assert problem is not None and "bubblewrap and socat" in problem and "apt-get install bubblewrap socat" in problem
    with pytest.raises(AgentUnavailable, match="apt-get install bubblewrap socat") as info:
        require_agent(str(fake), None, environ)
    assert info.value.data["sandbox"] is False
    assert require_agent(str(fake), None, environ, sandboxed=False) == str(fake)  # asked for: runs unconfined
    check = check_agent(str(fake), None, environ, tmp_path, [])
    assert not check.ok and check.sandbox_ok is False and "bubblewrap" in (check.problem or "")
    assert check_agent(str(fake), None, environ, tmp_path, [], sandboxed=False).sandbox_ok is None
