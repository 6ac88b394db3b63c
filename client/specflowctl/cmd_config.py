"""specflowctl config show|set|unset|edit|path: the settings file ~/.config/specflow/specflowd.toml.

The daemon reads the file on use, so a change applies to the next orchestration (and to notifications at
once) without a restart. Every write is validated with the daemon's own settings models first and replaces
the file atomically; comments, layout and sections specflowd does not know are kept (tomlkit).
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
from specflowctl.app import JsonOpt, fail
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
}


def _path() -> Path:
    from specflowd.paths import user_config_path

    return user_config_path()


def _load(path: Path) -> Any:
    """The file as a tomlkit document (comments kept); an empty one when it does not exist."""
    import tomlkit

    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return tomlkit.document()
    except (OSError, ValueError) as exc:  # tomlkit's ParseError is a ValueError
        fail(f"cannot read {path}: {exc}; fix it with `specflowctl config edit`")


def _validate(document: dict[str, Any]) -> Any:
    from specflowd.errors import InvalidConfig
    from specflowd.settings import validate_document

    try:
        return validate_document(document)
    except InvalidConfig as exc:
        fail(exc.message)


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
def path_cmd() -> None:
    """Print the settings file's path (it may not exist yet)."""
    typer.echo(str(_path()))


@app.command("show")
def show(json_out: JsonOpt = False) -> None:
    """Every setting with its effective value; `# set here` marks what the file sets."""
    from specflowd.settings import load_settings, merge_config

    path = _path()
    settings = load_settings(path)
    if settings.problem:
        typer.echo(f"specflowctl: warning: {settings.problem}", err=True)
    effective = {
        "orchestrate": merge_config(settings.orchestrate, {}).model_dump(mode="json"),
        "agent": settings.agent.model_dump(mode="json"),
        "notify": settings.notify.model_dump(mode="json"),
    }
    in_file = set(flatten(_load(path).unwrap()))
    if json_out:
        data = {"file": str(path), "exists": path.exists(), "problem": settings.problem, "settings": effective}
        data["set_in_file"] = sorted(in_file)
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    state = "" if path.exists() else " (not created yet: built-in defaults)"
    lines = [f"# {path}{state}"]
    for section, values in effective.items():
        lines.append(f"[{section}]")
        for key, value in flatten(values).items():
            name = f"{section}.{key}"
            mark = "  # set here" if name in in_file else ""
            if value is None:
                lines.append(f"# {key} = ({_UNSET_NOTES.get(name, 'unset')})")
            else:
                lines.append(f"{key} = {toml_value(value)}{mark}")
    typer.echo("\n".join(lines))


def _set_in(document: Any, dotted: str, value: Any) -> None:
    import tomlkit

    from specflowd.settings import SECTIONS

    keys = dotted.split(".")
    if len(keys) < 2 or keys[0] not in SECTIONS or not all(keys):
        fail(f"KEY is SECTION.NAME with SECTION one of {', '.join(SECTIONS)} (got {dotted!r})", core.EXIT_USAGE)
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


@app.command("set")
def set_cmd(
    key: Annotated[str, typer.Argument(help="SECTION.NAME, e.g. orchestrate.auto_merge or orchestrate.budget.total")],
    value: Annotated[str, typer.Argument(help='A TOML value: true, 20.0, "text", ["a", "b"]; other text = a string')],
) -> None:
    """Set one setting (validated before the file is written; comments and other keys are kept)."""
    path = _path()
    document = _load(path)
    parsed = _parse_value(value)
    _set_in(document, key, parsed)
    _validate(document.unwrap())
    import tomlkit

    _write(path, tomlkit.dumps(document))
    typer.echo(f"{key} = {toml_value(parsed)}  ({path})")


@app.command("unset")
def unset_cmd(key: Annotated[str, typer.Argument(help="SECTION.NAME to remove from the file")]) -> None:
    """Remove one setting from the file (its built-in default applies again)."""
    import tomlkit

    path = _path()
    document = _load(path)
    _set_in(document, key, None)
    _validate(document.unwrap())
    _write(path, tomlkit.dumps(document))
    typer.echo(f"removed {key} ({path})")


@app.command("edit")
def edit() -> None:
    """Open the file in $VISUAL / $EDITOR; it is only replaced once what you saved is valid."""
    import tomllib

    from specflowd.errors import InvalidConfig
    from specflowd.settings import validate_document

    path = _path()
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
            try:
                validate_document(tomllib.loads(edited))
            except (tomllib.TOMLDecodeError, InvalidConfig) as exc:
                problem = getattr(exc, "message", str(exc))
                typer.echo(f"specflowctl: not saved: {problem}", err=True)
                if sys.stdin.isatty() and typer.confirm("Edit again?", default=True):
                    continue
                fail(f"{path} is unchanged")
            break
    if edited == text and path.exists():
        typer.echo(f"{path} unchanged")
        return
    _write(path, edited)
    typer.echo(f"saved {path}")
