"""Claude Code's own sandbox for every agent run (docs/sandbox.md): the ``--settings`` JSON that turns it on,
the flags that go with it, the run's own temp dir, the systemd scope that limits its resources, and what a
run's record says about all of it. Pure: no I/O (the platform checks live in ``runner/sandboxcheck.py``).

specflowd writes no sandbox of its own. Claude Code confines every Bash command (bubblewrap and socat on
Linux, Seatbelt on macOS) to writes in the project checkout and the run's temp dir, and routes its network
through a proxy that lets only ``allowed_domains`` through; its Write/Edit tools are confined to the project
by ``--permission-mode acceptEdits`` (a headless run refuses what it would have to ask for).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from specflowd.vocabulary import PermissionMode

__all__ = [
    "DOMAIN_PATTERN",
    "SANDBOX_PROMPT_NOTE",
    "ProjectSandbox",
    "RunSandbox",
    "SandboxLimits",
    "merge_settings",
    "mode_problem",
    "run_sandbox",
    "run_temp_dir",
    "sandbox_flags",
    "scope_argv",
    "settings_json",
]

# a host name, or `*.` and a host name (the CLI's own wildcard form); no scheme, port or path
DOMAIN_PATTERN = r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62}\.)*[A-Za-z0-9-]{1,63}$"

# The safety keys specflowd sets: a user's own settings cannot turn them off (merge_settings).
_SANDBOX_KEYS: dict[str, Any] = {
    "enabled": True,
    # no run starts half-protected: the CLI refuses to run when it cannot sandbox
    "failIfUnavailable": True,
    # every command runs sandboxed, so none needs a question (a headless run could not ask one)
    "autoAllowBashIfSandboxed": True,
    # the model may not ask to leave the sandbox (dangerouslyDisableSandbox)
    "allowUnsandboxedCommands": False,
}

# Measured with the CLI 2.1.197 (docs/sandbox.md#what-the-agent-sees): inside the sandbox the project shows
# read-only placeholders for shell and editor dotfiles it does not have (.bashrc, .gitconfig, .vscode, …),
# so `git add -A` fails on them; named paths work.
SANDBOX_PROMPT_NOTE = (
    "Your shell commands run in a sandbox: you can write only inside the project and $TMPDIR; "
    "network access is limited to the allowed domains. Stage files by name (`git add path …`), "
    "not with `git add -A` or `git add .`: the sandbox shows placeholder dotfiles that git cannot add. "
    "If a command is refused by the sandbox, do not retry it: say what was refused in your result."
)


class SandboxLimits(BaseModel):
    """systemd resource-control properties of each run's transient scope; None or "" = that limit is off."""

    model_config = ConfigDict(extra="forbid")
    memory_max: str | None = Field(
        None, pattern=r"^(\d+[KMGT]?|\d{1,3}%|infinity)?$", description="MemoryMax (bytes, K/M/G/T, or % of RAM)"
    )
    cpu_quota: str | None = Field(None, pattern=r"^(\d{1,5}%)?$", description="CPUQuota (100% = one core)")
    tasks_max: int | None = Field(None, ge=1, le=4_194_304, description="TasksMax (processes and threads)")

    def properties(self) -> list[str]:
        props = []
        if self.memory_max:
            props.append(f"MemoryMax={self.memory_max}")
        if self.cpu_quota:
            props.append(f"CPUQuota={self.cpu_quota}")
        if self.tasks_max:
            props.append(f"TasksMax={self.tasks_max}")
        return props


class ProjectSandbox(BaseModel):
    """What the settings file says for one project's runs, resolved (``[sandbox]`` and its per-project table)."""

    model_config = ConfigDict(extra="forbid")
    allowed_domains: list[str] = Field(default_factory=list)
    limits: SandboxLimits = Field(default_factory=SandboxLimits)
    claude_settings: dict[str, Any] = Field(
        default_factory=dict, description="the user's own Claude Code settings for every run ([agent] settings)"
    )


class RunSandbox(BaseModel):
    """How one run is confined: in its record (``runs.get``), its events' consumers and the preview."""

    model_config = ConfigDict(extra="ignore")
    enabled: bool = Field(description="Bash commands run in Claude Code's sandbox")
    write_paths: list[str] = Field(default_factory=list, description="where sandboxed commands may write")
    allowed_domains: list[str] = Field(default_factory=list, description="hosts sandboxed commands may reach")
    edit_tools_confined: bool = Field(
        description="the Write/Edit tools refuse paths outside the project (false under bypassPermissions)"
    )
    limits: list[str] = Field(default_factory=list, description="systemd scope properties enforced on the run")
    limits_enforced: bool = Field(False, description="the run is in its own systemd scope with those limits")
    note: str | None = Field(None, description="what is not confined, when something is not")

    def describe(self) -> str:
        """One line for a preview or a status view."""
        if not self.enabled:
            return "not sandboxed: shell commands can write anywhere you can (sandbox = false)"
        domains = ", ".join(self.allowed_domains) or "none"
        line = f"sandboxed: writes in {', '.join(self.write_paths)} only · network: {domains}"
        if not self.edit_tools_confined:
            line += " · Write/Edit tools NOT confined (bypassPermissions)"
        return line


def run_temp_dir(temp_root: Path, uid: int, run_id: str) -> Path:
    """The run's own temp dir, given to the agent as ``$TMPDIR``; the CLI's sandbox makes its
    ``claude-<uid>`` subdirectory writable and points sandboxed commands' ``$TMPDIR`` there. Short: the CLI
    puts its network bridge's Unix sockets directly in it, and a socket path has at most 107 bytes."""
    return temp_root / f"specflowd-{uid}" / run_id.replace("-", "")[:16]


def _sandbox_write_dir(temp_dir: Path, uid: int) -> Path:
    return temp_dir / f"claude-{uid}"


def run_sandbox(
    *,
    enabled: bool,
    project_root: Path,
    temp_dir: Path | None,
    uid: int,
    permission_mode: PermissionMode,
    settings: ProjectSandbox,
    limits_enforced: bool,
) -> RunSandbox:
    """What a run will be (pure): the preview shows it, the runner records it and builds the flags from it."""
    limits = settings.limits.properties()
    notes = []
    if not limits_enforced:
        notes.append("resource limits are not enforced (no systemd user manager)")
    if not enabled:
        mode_confines = permission_mode == PermissionMode.ACCEPT_EDITS
        return RunSandbox(
            enabled=False,
            edit_tools_confined=mode_confines,
            limits=limits if limits_enforced else [],
            limits_enforced=limits_enforced and bool(limits),
            note="; ".join(["shell commands are not sandboxed", *notes]),
        )
    writes = [str(project_root)]
    if temp_dir is not None:
        writes.append(str(_sandbox_write_dir(temp_dir, uid)))
    bypass = permission_mode == PermissionMode.BYPASS
    if bypass:
        notes.insert(0, "bypassPermissions: the Write/Edit tools are not confined to the project")
    return RunSandbox(
        enabled=True,
        write_paths=writes,
        allowed_domains=list(dict.fromkeys(settings.allowed_domains)),
        edit_tools_confined=not bypass,
        limits=limits if limits_enforced else [],
        limits_enforced=limits_enforced and bool(limits),
        note="; ".join(notes) or None,
    )


def mode_problem(enabled: bool, permission_mode: PermissionMode, is_root: bool) -> str | None:
    """A combination the CLI refuses: bypassPermissions as root without a sandbox (it would need IS_SANDBOX=1,
    which specflowd says only when the run is sandboxed)."""
    if is_root and not enabled and permission_mode == PermissionMode.BYPASS:
        return (
            "permission_mode bypassPermissions as root needs the sandbox (Claude Code refuses it otherwise): "
            "turn the sandbox on or use acceptEdits"
        )
    return None


def merge_settings(user: Mapping[str, Any], ours: Mapping[str, Any]) -> dict[str, Any]:
    """The user's Claude Code settings with ours on top: objects merge, lists are joined (without repeats),
    our scalars win — so the user can add write paths or domains, never turn the sandbox off."""
    merged: dict[str, Any] = dict(user)
    for key, value in ours.items():
        mine = merged.get(key)
        if isinstance(value, Mapping) and isinstance(mine, Mapping):
            merged[key] = merge_settings(mine, value)
        elif isinstance(value, list) and isinstance(mine, list):
            merged[key] = list(dict.fromkeys([*mine, *value]))
        else:
            merged[key] = value
    return merged


def settings_json(sandbox: RunSandbox, user_settings: Mapping[str, Any]) -> str:
    """``--settings``: the sandbox on, writes beyond the project (cwd, which the CLI allows itself) limited to
    the run's temp dir, the domains allowed through the proxy; merged over the user's own settings."""
    ours: dict[str, Any] = {"sandbox": dict(_SANDBOX_KEYS)}
    extra_writes = sandbox.write_paths[1:]
    if extra_writes:
        ours["sandbox"]["filesystem"] = {"allowWrite": extra_writes}
    ours["sandbox"]["network"] = {"allowedDomains": list(sandbox.allowed_domains)}
    return json.dumps(merge_settings(user_settings, ours), separators=(",", ":"), sort_keys=True)


def sandbox_flags(sandbox: RunSandbox | None, user_settings: Mapping[str, Any]) -> list[str]:
    """The flags a run adds: every shell command allowed (each one is sandboxed, or the user turned the sandbox
    off), and the settings. Unsandboxed, the user's own settings still go through ``--settings``."""
    flags = ["--allowedTools", "Bash"]
    if sandbox is not None and sandbox.enabled:
        flags += ["--settings", settings_json(sandbox, user_settings)]
    elif user_settings:
        flags += ["--settings", json.dumps(dict(user_settings), separators=(",", ":"), sort_keys=True)]
    return flags


def scope_argv(systemd_run: str, run_id: str, properties: Sequence[str]) -> list[str]:
    """The prefix that puts a run in its own transient systemd user scope. ``--scope`` execs the command in
    the same process (the pid the runner records and re-adopts is the agent's); ``--collect`` unloads a
    failed scope too, so the unit name is free again for a continuation."""
    argv = [systemd_run, "--user", "--scope", "--quiet", "--collect", f"--unit=specflowd-run-{run_id}"]
    for prop in properties:
        argv += ["-p", prop]
    return [*argv, "--"]

