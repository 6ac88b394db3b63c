"""CLI conventions: --version, completion, clean help with a text on every option, usage errors for invalid
choices (the real CLI, no daemon needed)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from tests.support import SPECFLOWCTL, sandbox_env


def _ctl(env: dict[str, str], *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SPECFLOWCTL, *args], env=env, capture_output=True, text=True, timeout=30, **kw)


def _commands() -> list[tuple[str, Any]]:
    import typer.main

    from specflowctl.cli import build_app

    found: list[tuple[str, Any]] = []

    def walk(name: str, command: Any) -> None:
        found.append((name, command))
        for sub_name, sub in getattr(command, "commands", {}).items():
            walk(f"{name} {sub_name}".strip(), sub)

    walk("", typer.main.get_command(build_app()))
    return found


def test_every_option_and_argument_has_help_and_no_type_noise() -> None:
    import typer

    missing = [
        f"specflowctl {name} {param.name}"
        for name, command in _commands()
        for param in command.params
        if not (getattr(param, "help", None) or "").strip()
    ]
    assert missing == []
    for name, command in _commands():
        with typer.Context(command, info_name=f"specflowctl {name}".strip()) as ctx:
            text = command.get_help(ctx)
        assert "<bool>" not in text and "<list[" not in text, (name, text)
        usage = text.splitlines()[0]  # `Usage: specflowctl status [OPTIONS] [PROJECT]`: one bracket, upper case
        placeholders = re.findall(r"[\[{]+([^\]}]+)[\]}]+", usage.partition("[OPTIONS]")[2])
        assert "[[" not in usage and all(p.isupper() for p in placeholders), usage


def test_version_and_completion(tmp_path: Path) -> None:
    env = dict(sandbox_env(tmp_path), SHELL="/bin/bash")
    assert _ctl(env, "--version").stdout == "specflowctl 0.1.0\n"
    shown = _ctl(env, "--show-completion")
    assert shown.returncode == 0 and "_SPECFLOWCTL_COMPLETE" in shown.stdout
    env.update(_SPECFLOWCTL_COMPLETE="complete_bash", COMP_WORDS="specflowctl recover ", COMP_CWORD="2")
    assert _ctl(env).stdout.split() == ["retry", "skip", "abort"]


def test_usage_errors_exit_2_and_name_the_valid_choices(tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)  # no daemon: these never get as far as asking it
    for args, valid in ((("go-back", "foo"), "'design', 'analyze'"), (("recover", "foo"), "'retry', 'skip', 'abort'")):
        result = _ctl(env, *args)
        assert result.returncode == 2 and valid in result.stderr, result.stderr
    quiet = _ctl(env, "orchestrate", "--json")
    assert quiet.returncode == 2 and quiet.stdout == "" and "--yes" in quiet.stderr
