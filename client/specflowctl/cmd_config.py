"""specflowctl config show|set|unset|edit|path: the settings file ~/.config/specflow/specflowd.toml.

The daemon reads the file on use, so a change applies to the next orchestration (and to notifications at
once) without a restart. The client imports no daemon code: the daemon names the file (`settings.get`) and
checks every proposed version of it with its own settings models (`settings.check`) before the client
replaces the file atomically; comments, layout and sections specflowd does not know are kept (tomlkit).
A daemon is started when none answers, as for `demo`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from specflowctl import core
from specflowctl.app import JsonOpt, SocketOpt, fail, rpc
from specflowctl.render import flatten, toml_value

app = typer.Typer(help="The settings file (defaults for every orchestrate option, the agent, notifications).")

_TEMPLATE = """\
# specflowd settings (`specflowctl config show` lists every key with its effective value)
#
# [orchestrate]                 defaults for `specflowctl orchestrate`, e.g.
# auto_merge = true
# [orchestrate.budget]
# total = 20.0
# [agent]
# claude = "/usr/local/bin/claude"
# [notify]
# desktop = false
"""
_UNSET_NOTES = {
    "agent.claude": "unset: $SPECFLOW_CLAUDE, else claude on PATH",
    "agent.on_event": "unset: no command",
    "orchestrate.agent": "unset: [agent] claude",
    "orchestrate.fallback_model": "unset",
    "specflow.cli": "unset: specflow on PATH",
}


def _state(sock: Path | None) -> dict[str, Any]:
    """The daemon's view of the settings file (its path, effective values); starts a daemon if none answers."""
    from specflowctl.cmd_daemon import ensure_daemon

    status, started = ensure_daemon(sock)
    if started:
        typer.echo(f"specflowctl: started specflowd (pid {status['pid']}) to read and check the settings", err=True)
    return dict(rpc(sock, "settings.get"))


def _load(path: Path) -> Any:
    """The file as a tomlkit document (comments kept); an empty one when it does not exist."""
    import tomlkit

    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return tomlkit.document()
    except (OSError, ValueError) as exc:  # tomlkit's ParseError is a ValueError
        fail(f"cannot read {path}: {exc}; fix it with `specflowctl config edit`")


def _problem(sock: Path | None, text: str) -> str | None:
    """Why the daemon would refuse this file, or None; settings that only look wrong together are warned."""
    checked = rpc(sock, "settings.check", {"text": text})
    if checked["ok"]:
        for warning in checked.get("warnings") or []:
            typer.echo(f"specflowctl: warning: {warning}", err=True)
    return None if checked["ok"] else str(checked["problem"])


def _write(path: Path, text: str) -> None:
    """Replace the file atomically (a crash leaves the old file or the new one, never half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parse_value(text: str) -> Any:
    """A TOML value (true, 20.0, "text", ["a", "b"]); anything that is not one is taken as a string."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


@app.command("path")
def path_cmd(sock: SocketOpt = None) -> None:
    """Print the settings file's path (the one the daemon reads; it may not exist yet)."""
    typer.echo(_state(sock)["file"])


@app.command("show")
def show(json_out: JsonOpt = False, sock: SocketOpt = None) -> None:
    """Every setting with its effective value; `# set here` marks what the file sets."""
    state = _state(sock)
    if state.get("problem"):
        typer.echo(f"specflowctl: warning: {state['problem']}", err=True)
    if json_out:
        sys.stdout.write(json.dumps(state, indent=2) + "\n")
        return
    in_file = set(state["set_in_file"])
    lines = [f"# {state['file']}" + ("" if state["exists"] else " (not created yet: built-in defaults)")]
    for section, values in state["effective"].items():
        lines.append(f"[{section}]")
        for key, value in flatten(values).items():
            name = f"{section}.{key}"
            if value is None:
                lines.append(f"# {key} = ({_UNSET_NOTES.get(name, 'unset')})")
            else:
                lines.append(f"{key} = {toml_value(value)}" + ("  # set here" if name in in_file else ""))
    typer.echo("\n".join(lines))


def _set_in(document: Any, dotted: str, value: Any, sections: list[str]) -> None:
    """Set (or, with None, remove) ``dotted`` in the tomlkit document, creating tables as needed."""
    import tomlkit

    keys = dotted.split(".")
    if len(keys) < 2 or keys[0] not in sections or not all(keys):
        fail(f"KEY is SECTION.NAME with SECTION one of {', '.join(sections)} (got {dotted!r})", core.EXIT_USAGE)
    table = document
    for key in keys[:-1]:
        if key not in table:
            table[key] = tomlkit.table()
        table = table[key]
        if not isinstance(table, dict):
            fail(f"{dotted}: {key} is not a table in the file", core.EXIT_USAGE)
    if value is None:
        if keys[-1] not in table:
            fail(f"{dotted} is not set in the file")
        del table[keys[-1]]
    else:
        table[keys[-1]] = value


def _change(sock: Path | None, key: str, value: Any) -> Path:
    import tomlkit

    state = _state(sock)
    path = Path(state["file"])
    document = _load(path)
    _set_in(document, key, value, list(state["effective"]))
    text = tomlkit.dumps(document)
    problem = _problem(sock, text)
    if problem:
        fail(f"{problem}; {path} is unchanged")
    _write(path, text)
    return path


# a value such as -5 is a value, not an option: Click would otherwise say "No such option: -5"
@app.command("set", context_settings={"ignore_unknown_options": True})
def set_cmd(
    key: Annotated[
        str, typer.Argument(metavar="KEY", help="SECTION.NAME, e.g. orchestrate.auto_merge or orchestrate.budget.total")
    ],
    value: Annotated[
        str, typer.Argument(metavar="VALUE", help='A TOML value: true, 20.0, "text", ["a", "b"]; other text = a string')
    ],
    sock: SocketOpt = None,
) -> None:
    """Set one setting (checked by the daemon before the file is written; comments and other keys are kept)."""
    parsed = _parse_value(value)
    path = _change(sock, key, parsed)
    typer.echo(f"{key} = {toml_value(parsed)}  ({path})")


@app.command("unset")
def unset_cmd(
    key: Annotated[str, typer.Argument(metavar="KEY", help="SECTION.NAME to remove from the file")],
    sock: SocketOpt = None,
) -> None:
    """Remove one setting from the file (its built-in default applies again)."""
    path = _change(sock, key, None)
    typer.echo(f"removed {key} ({path})")


@app.command("edit")
def edit(sock: SocketOpt = None) -> None:
    """Open the file in $VISUAL / $EDITOR; it is only replaced once what you saved is valid."""
    path = Path(_state(sock)["file"])
    text = path.read_text(encoding="utf-8") if path.exists() else _TEMPLATE
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="specflowd-config-") as tmpdir:
        draft = Path(tmpdir) / "specflowd.toml"
        draft.write_text(text, encoding="utf-8")
        while True:
            try:
                subprocess.run([*editor.split(), str(draft)], check=True)
            except (OSError, subprocess.CalledProcessError) as exc:
                fail(f"editor {editor!r} failed: {exc}; {path} is unchanged")
            edited = draft.read_text(encoding="utf-8")
            problem = _problem(sock, edited)
            if problem is None:
                break
            typer.echo(f"specflowctl: not saved: {problem}", err=True)
            if not (sys.stdin.isatty() and typer.confirm("Edit again?", default=True)):
                fail(f"{path} is unchanged")
    if edited == text and path.exists():
        typer.echo(f"{path} unchanged")
        return
    _write(path, edited)
    typer.echo(f"saved {path}")
