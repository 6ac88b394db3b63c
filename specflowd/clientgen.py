"""``python -m specflowd.clientgen [--check] [--document FILE]``: write the clients' copies of the shared facts.

The daemon defines its steps, statuses, wait reasons, attention kinds and config defaults once and publishes
them in ``rpc.discover`` (``x-shared``, handlers/rpc.py). The CLI, the Neovim plugin and the VS Code extension
each need them as constants in their own language; this writes those constants from the same document, so no
client retypes them. ``--check`` writes nothing and exits 1 naming each committed file that differs (CI runs
it, and a fast test does the same in memory). ``--document FILE`` reads a saved ``rpc.discover`` result
instead of building the document in-process.

The output is deterministic: the lists keep the document's order (steps run in theirs), defaults are sorted by
key, and nothing depends on the time or the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from specflowd.daemon import build_router
from specflowd.handlers.rpc import SharedFacts, discover_document

__all__ = ["COMMAND", "TARGETS", "generated", "main", "render_lua", "render_python", "render_typescript", "stale"]

REPO = Path(__file__).resolve().parents[1]
COMMAND = "python -m specflowd.clientgen"
_SOURCE = "the daemon's rpc.discover document (x-shared; specflowd/handlers/rpc.py)"
_WHAT = "Steps, statuses, wait reasons, attention kinds and config defaults, as the daemon defines them."


def _lists(facts: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(key, value) for key, value in facts.items() if isinstance(value, list)]


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def render_python(facts: dict[str, Any]) -> str:
    lines = [
        f"# GENERATED from {_SOURCE}: do not edit.",
        f"# Regenerate: {COMMAND}",
        f'"""{_WHAT}"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Final, Literal",
        "",
    ]
    for key, values in _lists(facts):
        lines += _wrapped(f"{key.upper()}: Final[tuple[str, ...]] = (", values, ")")
        lines += _wrapped(f"{_camel(key)} = Literal[", values, "]")
    lines.append("CONFIG_DEFAULTS: Final[dict[str, bool | int | float | str | None]] = {")
    lines += [f"    {json.dumps(k)}: {_python_value(v)}," for k, v in facts["config_defaults"].items()]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _wrapped(head: str, values: list[str], tail: str) -> list[str]:
    """One line when it fits the project's 120 columns, else one value a line (as a formatter would)."""
    one = f"{head}{', '.join(json.dumps(v) for v in values)}{',' if len(values) == 1 and tail == ')' else ''}{tail}"
    if len(one) <= 120:
        return [one]
    return [head, *(f"    {json.dumps(v)}," for v in values), tail]


def _python_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # double quotes, as in the rest of the code
    return repr(value)  # bool, int, float, None: repr is Python source, and stable


def render_lua(facts: dict[str, Any]) -> str:
    lines = [
        f"-- GENERATED from {_SOURCE}: do not edit.",
        f"-- Regenerate: {COMMAND}",
        f"-- {_WHAT}",
        "local M = {}",
        "",
    ]
    for key, values in _lists(facts):
        lines.append(f"M.{key} = {{ {', '.join(json.dumps(v) for v in values)} }}")
    lines.append("-- a nil default (no value: the daemon decides) leaves its key out")
    lines.append("M.config_defaults = {")
    lines += [f"  [{json.dumps(k)}] = {_lua_value(v)}," for k, v in facts["config_defaults"].items() if v is not None]
    lines += ["}", "", "return M"]
    return "\n".join(lines) + "\n"


def _lua_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # numbers and strings: JSON's spelling is Lua's (no escapes beyond \" \\ \n here)


def render_typescript(facts: dict[str, Any]) -> str:
    lines = [
        f"// GENERATED from {_SOURCE}: do not edit.",
        f"// Regenerate: {COMMAND}",
        f"/** {_WHAT} */",
        "",
    ]
    for key, values in _lists(facts):
        lines.append(f"export const {key.upper()}: readonly string[] = [{', '.join(json.dumps(v) for v in values)}];")
    lines.append("export const CONFIG_DEFAULTS: Readonly<Record<string, boolean | number | string | null>> = {")
    lines += [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in facts["config_defaults"].items()]
    lines.append("};")
    return "\n".join(lines) + "\n"


# each client's generated file (from the repository's root) and how it is written
TARGETS: dict[str, Callable[[dict[str, Any]], str]] = {
    "client/specflowctl/shared_facts.py": render_python,
    "client/nvim/lua/specflow/shared_facts.lua": render_lua,
    "client/vscode/src/daemon/shared_facts.ts": render_typescript,
}


def generated(document: dict[str, Any]) -> dict[str, str]:
    """Every generated file's text from an ``rpc.discover`` document (validated: a document without the shared
    facts, or with a fact of the wrong shape, is refused rather than written out as empty constants)."""
    facts = SharedFacts.model_validate(document["x-shared"]).model_dump(mode="json")
    return {path: render(facts) for path, render in TARGETS.items()}


def stale(root: Path, document: dict[str, Any]) -> list[str]:
    """The generated files under ``root`` that are missing or differ from what ``document`` generates."""
    out = []
    for path, text in generated(document).items():
        target = root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            out.append(path)
    return out


def _document(source: Path | None) -> dict[str, Any]:
    if source is None:
        return discover_document(build_router().specs)
    loaded = json.loads(source.read_text(encoding="utf-8"))
    return loaded.get("result", loaded) if isinstance(loaded, dict) else {}  # a whole JSON-RPC reply, or its result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Write the clients' shared-facts modules.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is stale")
    parser.add_argument("--document", type=Path, help="a saved rpc.discover result (default: built in-process)")
    parser.add_argument("--root", type=Path, default=REPO, help="the repository to write into (default: this one)")
    args = parser.parse_args(argv)
    try:
        document = _document(args.document)
        generated(document)
    except (OSError, ValueError, KeyError) as exc:  # pydantic's ValidationError is a ValueError
        print(f"{COMMAND}: not an rpc.discover document with x-shared ({args.document}): {exc}", file=sys.stderr)
        return 2
    if args.check:
        wrong = stale(args.root, document)
        for path in wrong:
            print(f"{path} is stale: regenerate with `{COMMAND}`", file=sys.stderr)
        return 1 if wrong else 0
    for path, text in generated(document).items():
        target = args.root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
