"""Is the agent usable before anything starts? (I/O: PATH lookup, ``<binary> --version``, skill files.)

``orchestrate.preview`` shows the result and ``orchestrate.start`` refuses without a working binary, so a
missing or broken agent is caught at the prompt rather than as a failed first run. The binary is chosen as
the runner does: the orchestration's ``agent``, else ``[agent] claude``, else ``$SPECFLOW_CLAUDE``, else
``claude`` on PATH. Skills: the real CLI expands ``/flow.<step>`` from ``~/.claude/commands/flow.<step>.md``
or ``<project>/.claude/commands/flow.<step>.md``; a missing one is not fatal (the run would get the words
verbatim, and a plugin may provide it), so it is reported, not refused.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, Field

from specflowd.errors import AgentUnavailable
from specflowd.runner.process import resolve_binary

__all__ = ["AgentCheck", "agent_fix", "agent_source", "check_agent", "require_agent"]

VERSION_TIMEOUT_S = 15.0
_SIMULATED = "simulated agent"  # specflowd-sim-agent's --version says so; it needs no skill files
_version_cache: dict[tuple[str, int, int], str] = {}  # a working binary is asked once per (path, mtime, size)


class AgentCheck(BaseModel):
    binary: str = Field(description="the binary as configured (a name looked up on PATH, or a path)")
    source: str = Field(description="where it came from: --agent | [agent] claude | SPECFLOW_CLAUDE | PATH")
    path: str | None = Field(None, description="the resolved executable")
    version: str | None = Field(None, description="first line of `<binary> --version`")
    ok: bool = Field(description="the binary resolves and `--version` succeeded")
    problem: str | None = None
    skills_dirs: list[str] = Field(default_factory=list, description="where the CLI looks for /flow.* commands")
    skills_missing: list[str] = Field(default_factory=list, description="/flow.* commands the plan needs, not found")
    skills_note: str | None = None


def agent_source(override: str | None, configured: str | None, environ: Mapping[str, str]) -> tuple[str, str]:
    """(binary, source) in the runner's order of precedence. Pure."""
    if override:
        return override, "--agent"
    if configured:
        return configured, "[agent] claude"
    if environ.get("SPECFLOW_CLAUDE"):
        return environ["SPECFLOW_CLAUDE"], "SPECFLOW_CLAUDE"
    return "claude", "PATH"


def agent_fix(source: str) -> str:
    """How to fix the agent where its value came from (never a setting that was not used). Pure."""
    return {
        "--agent": "check the binary the orchestration's `agent` setting (--agent) names, or leave it out to use "
        "[agent] claude, SPECFLOW_CLAUDE or claude on PATH",
        "[agent] claude": "fix [agent] claude in the settings file (`specflowctl config set agent.claude PATH`), "
        "or remove it to use SPECFLOW_CLAUDE or claude on PATH",
        "SPECFLOW_CLAUDE": "fix or unset SPECFLOW_CLAUDE in the daemon's environment and restart it, or set "
        "[agent] claude (`specflowctl config set agent.claude PATH`)",
    }.get(
        source,
        "install Claude Code so that claude is on the daemon's PATH, or name the binary with [agent] claude "
        "(`specflowctl config set agent.claude PATH`) or SPECFLOW_CLAUDE",
    )


def _version(path: str, environ: Mapping[str, str]) -> str:
    """First line of ``--version``; AgentUnavailable when it cannot run, fails or hangs."""
    try:
        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
    except OSError as exc:
        raise AgentUnavailable(f"agent binary {path} cannot be read: {exc.strerror}", binary=path) from None
    if key in _version_cache:
        return _version_cache[key]
    try:
        done = subprocess.run(
            [path, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=VERSION_TIMEOUT_S,
            env=dict(environ),
            check=False,
        )
    except subprocess.TimeoutExpired:
        message = f"`{path} --version` did not answer within {VERSION_TIMEOUT_S:.0f}s"
        raise AgentUnavailable(message, binary=path) from None
    except OSError as exc:
        raise AgentUnavailable(f"agent binary {path} cannot be executed: {exc.strerror}", binary=path) from None
    out = done.stdout.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        err = (done.stderr.decode("utf-8", "replace").strip() or out).splitlines()
        detail = err[-1] if err else f"exit status {done.returncode}"
        raise AgentUnavailable(f"`{path} --version` failed: {detail}", binary=path)
    version = out.splitlines()[0] if out else "(no version printed)"
    _version_cache[key] = version
    return version


def require_agent(override: str | None, configured: str | None, environ: Mapping[str, str]) -> str:
    """The resolved binary, after checking that it runs; AgentUnavailable (one line, naming every way to set
    it) otherwise."""
    binary, source = agent_source(override, configured, environ)
    try:
        path = resolve_binary(binary, environ)
        _version(path, environ)
    except AgentUnavailable as exc:
        problem = exc.message if exc.data.get("source") is None else f"{binary!r} is not found or not executable"
        raise AgentUnavailable(
            f"no working agent ({source}): {problem}; {agent_fix(source)}",
            binary=binary,
            source=source,
        ) from None
    return path


def check_agent(
    override: str | None,
    configured: str | None,
    environ: Mapping[str, str],
    project_root: Path,
    skills: Iterable[str],
) -> AgentCheck:
    """Everything the preview shows about the agent; never raises."""
    binary, source = agent_source(override, configured, environ)
    home = Path(environ.get("HOME") or Path.home())
    dirs = [home / ".claude" / "commands", project_root / ".claude" / "commands"]
    check = AgentCheck(binary=binary, source=source, ok=False, skills_dirs=[str(d) for d in dirs])
    try:
        check.path = resolve_binary(binary, environ)
    except AgentUnavailable:
        where = "" if "/" in binary else " on PATH"
        check.problem = f"{binary!r} is not found{where} or not executable"
        return check
    try:
        check.version = _version(check.path, environ)
        check.ok = True
    except AgentUnavailable as exc:
        check.problem = exc.message
        return check
    if _SIMULATED in (check.version or ""):
        check.skills_note = "not needed: the simulated agent does not read skill files"
        return check
    check.skills_missing = [f"/{name}" for name in skills if not any((d / f"{name}.md").is_file() for d in dirs)]
    if check.skills_missing:
        check.skills_note = (
            "install the SpecFlow commands (flow.*.md) in one of these directories; without them the agent "
            "gets the words verbatim (a plugin may provide them: the first run warns if not)"
        )
    return check
