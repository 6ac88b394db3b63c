"""Writes to the skills' state file ``.specflow/orchestration-state.json`` (I/O only: which keys and when is
the engine's business, see engine/bookkeeping.py).

Through the SpecFlow CLI when one is available — ``specflow state set k=v …`` in one call, in the project
directory, as the skills do (the CLI re-validates the file and may drop keys it does not know inside its
objects) — else an atomic rewrite of the JSON document that changes only the given keys and keeps every
other key as it is. The CLI prints its ``Error:`` lines on *stdout* and exits 1; the result carries both
streams either way.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from specflowd.files.atomic import atomic_write_json

__all__ = ["STATE_FILE", "StateWrite", "check_gate", "find_specflow_cli", "set_state_values"]

STATE_FILE = Path(".specflow") / "orchestration-state.json"
CLI_TIMEOUT_S = 60.0
_OUTPUT_LIMIT = 4000


@dataclass(frozen=True)
class StateWrite:
    ok: bool
    via: str  # the command line, or "file <path>" for the direct write
    output: str  # what the command printed (stdout, then stderr), or the error


def find_specflow_cli(configured: str | None) -> str | None:
    """``[specflow] cli`` from the settings file (a path, or a name looked up on PATH; returned as given when
    it cannot be found, so running it reports the problem; ``""`` = use no CLI, e.g. when another tool named
    ``specflow`` is on PATH), else ``specflow`` on PATH, else None (the direct file write)."""
    if configured is not None:
        if not configured.strip():
            return None
        expanded = str(Path(configured).expanduser())
        return shutil.which(expanded) or expanded
    return shutil.which("specflow")


def _literal(value: Any) -> str:
    # the CLI parses each value as JSON when it can, else keeps the text: strings go in bare
    return value if isinstance(value, str) else json.dumps(value)


async def set_state_values(project_root: Path, values: dict[str, Any], cli: str | None) -> StateWrite:
    if cli is not None:
        return await _through_cli(project_root, values, cli)
    return await anyio.to_thread.run_sync(_write_file, project_root, values)


async def check_gate(project_root: Path, cli: str, gate: str) -> StateWrite:
    """``specflow check --gate <gate>`` in the project: ok = the gate passed (exit 0)."""
    return await _run(project_root, [cli, "check", "--gate", gate])


async def _through_cli(project_root: Path, values: dict[str, Any], cli: str) -> StateWrite:
    pairs = [f"{key}={_literal(value)}" for key, value in values.items()]
    return await _run(project_root, [cli, "state", "set", *pairs])


async def _run(project_root: Path, argv: list[str]) -> StateWrite:
    cli, via = argv[0], " ".join(argv)
    try:
        with anyio.fail_after(CLI_TIMEOUT_S):
            done = await anyio.run_process(argv, cwd=project_root, check=False)
    except TimeoutError:
        return StateWrite(False, via, f"no answer after {CLI_TIMEOUT_S:.0f}s")
    except OSError as exc:
        return StateWrite(False, via, f"cannot run {cli}: {exc.strerror or exc}")
    output = (done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")).strip()
    if done.returncode != 0:
        return StateWrite(False, via, f"exit status {done.returncode}: {output[-_OUTPUT_LIMIT:] or '(no output)'}")
    return StateWrite(True, via, output[-_OUTPUT_LIMIT:])


def _write_file(project_root: Path, values: dict[str, Any]) -> StateWrite:
    path = project_root / STATE_FILE
    via = f"file {path}"
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        document = {}
    except (OSError, ValueError) as exc:
        return StateWrite(False, via, f"cannot read it, not rewriting it: {exc}")
    if not isinstance(document, dict):
        return StateWrite(False, via, "it is not a JSON object, not rewriting it")
    for key, value in values.items():
        *parents, leaf = key.split(".")
        node = document
        for part in parents:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                return StateWrite(False, via, f"{key}: {part} is not an object, not rewriting the file")
            node = child
        node[leaf] = value
    try:
        atomic_write_json(path, document)
    except OSError as exc:
        return StateWrite(False, via, f"cannot write it: {exc}")
    return StateWrite(True, via, "")
